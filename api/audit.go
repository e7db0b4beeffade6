package api

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/medchain/medchain/audit"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
)

// AuditEntry is GET /v1/audit/entries/{index}. Raw holds the entry's bytes
// exactly as logged (base64 in JSON), which is what proofs cover; Entry is
// the same, decoded, for reading.
type AuditEntry struct {
	Index    uint64            `json:"index"`
	LeafHash ledger.HexBytes   `json:"leaf_hash"`
	Raw      []byte            `json:"raw"`
	Entry    ledger.AuditEntry `json:"entry"`
}

// AuditInclusion is GET /v1/audit/inclusion: the proof that entry Index is
// in the log of Commitment.AuditSize entries whose root is
// Commitment.AuditRoot. Proof hashes run from the leaf upwards.
type AuditInclusion struct {
	AuditEntry
	Height     int64             `json:"height"`
	Size       uint64            `json:"size"`
	Proof      []ledger.HexBytes `json:"proof"`
	Commitment ledger.Commitment `json:"commitment"`
}

// AuditConsistency is GET /v1/audit/consistency: the proof that the log as
// committed at From.Height is a prefix of the log as committed at To.Height.
type AuditConsistency struct {
	From  ledger.Commitment `json:"from"`
	To    ledger.Commitment `json:"to"`
	Proof []ledger.HexBytes `json:"proof"`
}

func hexList(hs [][]byte) []ledger.HexBytes {
	out := make([]ledger.HexBytes, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

// auditView runs fn over the committed audit log and the latest commitment.
func (s *Server) auditView(fn func(r store.ReadWriter, l *audit.Log, last ledger.Commitment) error) error {
	return s.b.View(func(r store.ReadWriter, c ledger.Commitment) error {
		l, err := audit.Open(r, ledger.AuditPrefix)
		if err != nil {
			return err
		}
		return fn(r, l, c)
	})
}

func readEntry(l *audit.Log, index uint64) (AuditEntry, error) {
	if index >= l.Size() {
		return AuditEntry{}, notFound("no audit entry %d (the log has %d entries)", index, l.Size())
	}
	raw, err := l.Entry(index)
	if err != nil {
		return AuditEntry{}, err
	}
	e := AuditEntry{Index: index, LeafHash: audit.LeafHash(raw), Raw: raw}
	if err := json.Unmarshal(raw, &e.Entry); err != nil {
		return AuditEntry{}, apiError(ledger.CodeInternal, "decode audit entry %d: %v", index, err)
	}
	return e, nil
}

// commitmentAt reads the commitment at height, or says which heights exist.
func commitmentAt(r store.Reader, h int64, param string, last ledger.Commitment) (ledger.Commitment, error) {
	c, err := ledger.GetCommitment(r, h)
	if err != nil {
		return ledger.Commitment{}, err
	}
	if c == nil {
		e := notFound("%s: no commitment at height %d (latest is %d)", param, h, last.Height)
		e.Param = param
		return ledger.Commitment{}, e
	}
	return *c, nil
}

func (s *Server) auditEntry(r *http.Request) (any, error) {
	index, err := uintParam("index", r.PathValue("index"))
	if err != nil {
		return nil, err
	}
	var out AuditEntry
	err = s.auditView(func(_ store.ReadWriter, l *audit.Log, _ ledger.Commitment) error {
		out, err = readEntry(l, index)
		return err
	})
	return &out, err
}

// auditInclusion proves entry ?index in the log as of the commitment at
// ?height (default: the latest).
func (s *Server) auditInclusion(r *http.Request) (any, error) {
	iv, err := requiredQuery(r, "index")
	if err != nil {
		return nil, err
	}
	index, err := uintParam("index", iv)
	if err != nil {
		return nil, err
	}
	height := int64(-1)
	if hv := r.URL.Query().Get("height"); hv != "" {
		if height, err = heightParam("height", hv, 0); err != nil {
			return nil, err
		}
	}
	out := &AuditInclusion{}
	err = s.auditView(func(rd store.ReadWriter, l *audit.Log, last ledger.Commitment) error {
		if height < 0 {
			height = last.Height
		}
		c, err := commitmentAt(rd, height, "height", last)
		if err != nil {
			return err
		}
		if index >= c.AuditSize {
			return notFound("audit entry %d is not in the log as committed at height %d (%d entries)", index, height, c.AuditSize)
		}
		if out.AuditEntry, err = readEntry(l, index); err != nil {
			return err
		}
		p, err := l.InclusionProof(index, c.AuditSize)
		if err != nil {
			return err
		}
		out.Height, out.Size, out.Proof, out.Commitment = height, c.AuditSize, hexList(p), c
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// auditConsistency proves the log committed at ?from is a prefix of the log
// committed at ?to.
func (s *Server) auditConsistency(r *http.Request) (any, error) {
	var hs [2]int64
	for i, name := range []string{"from", "to"} {
		v, err := requiredQuery(r, name)
		if err != nil {
			return nil, err
		}
		if hs[i], err = heightParam(name, v, 0); err != nil {
			return nil, err
		}
	}
	if hs[0] > hs[1] {
		return nil, badParam("from", "height %d is after to=%d", hs[0], hs[1])
	}
	out := &AuditConsistency{}
	err := s.auditView(func(rd store.ReadWriter, l *audit.Log, last ledger.Commitment) error {
		var err error
		if out.From, err = commitmentAt(rd, hs[0], "from", last); err != nil {
			return err
		}
		if out.To, err = commitmentAt(rd, hs[1], "to", last); err != nil {
			return err
		}
		p, err := l.ConsistencyProof(out.From.AuditSize, out.To.AuditSize)
		if errors.Is(err, audit.ErrNotFound) {
			return apiError(ledger.CodeInternal, "commitments name log sizes %d and %d, the log has %d entries", out.From.AuditSize, out.To.AuditSize, l.Size())
		}
		out.Proof = hexList(p)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
