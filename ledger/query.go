package ledger

import (
	"fmt"

	"github.com/medchain/medchain/smt"
	"github.com/medchain/medchain/store"
)

// Read-side accessors over committed state, used by the API and by workers.
// They return (nil, nil) when the object does not exist.

// GetAccount reads an account.
func GetAccount(r store.Reader, addr string) (*Account, error) { return getAccount(r, addr) }

func getOne[T any](r store.Reader, key []byte) (*T, error) {
	var v T
	found, err := getJSON(r, key, &v)
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

// GetOrg reads an organisation.
func GetOrg(r store.Reader, id string) (*Org, error) { return getOne[Org](r, KeyOrg(id)) }

// GetDataset reads a dataset's head record.
func GetDataset(r store.Reader, id string) (*Dataset, error) {
	return getOne[Dataset](r, KeyDataset(id))
}

// GetDatasetVersion reads one published version.
func GetDatasetVersion(r store.Reader, id string, v uint64) (*DatasetVersion, error) {
	return getOne[DatasetVersion](r, KeyDatasetVersion(id, v))
}

// GetPolicy reads a dataset's policy.
func GetPolicy(r store.Reader, id string) (*Policy, error) { return getOne[Policy](r, KeyPolicy(id)) }

// GetConsent reads one consent.
func GetConsent(r store.Reader, patient string, seq uint64) (*Consent, error) {
	return getOne[Consent](r, KeyConsent(patient, seq))
}

// GetConsents reads all of a patient's consents, oldest first.
func GetConsents(r store.Reader, patient string) ([]Consent, error) {
	var n uint64
	if _, err := getJSON(r, KeyConsentCount(patient), &n); err != nil {
		return nil, err
	}
	out := make([]Consent, 0, n)
	for i := uint64(0); i < n; i++ {
		c, err := GetConsent(r, patient, i)
		if err != nil {
			return nil, err
		}
		if c == nil {
			return nil, &Error{Code: CodeInternal, Msg: fmt.Sprintf("consent %d of %s missing", i, patient)}
		}
		out = append(out, *c)
	}
	return out, nil
}

// GetAccessRequest reads an access request.
func GetAccessRequest(r store.Reader, id uint64) (*AccessRequest, error) {
	return getOne[AccessRequest](r, KeyAccess(id))
}

// GetParams reads the chain parameters.
func GetParams(r store.Reader) (*Params, error) { return getOne[Params](r, KeyParams()) }

// GetSupply reads the total token supply.
func GetSupply(r store.Reader) (uint64, error) {
	var s uint64
	_, err := getJSON(r, KeySupply(), &s)
	return s, err
}

// GetTxRecord finds a committed transaction by hash (lower-case hex).
func GetTxRecord(r store.Reader, hash string) (*TxRecord, error) {
	return getOne[TxRecord](r, KeyTxResult(hash))
}

// GetCommitment reads the commitment made at a height.
func GetCommitment(r store.Reader, h int64) (*Commitment, error) {
	return getOne[Commitment](r, KeyCommitment(h))
}

// StateProof proves a state key's value (or absence) under a commitment.
type StateProof struct {
	Key        string     `json:"key"`
	Value      []byte     `json:"value"` // nil when absent
	Proof      *smt.Proof `json:"proof"`
	Commitment Commitment `json:"commitment"`
}

// ProveState builds a proof for a state key against the latest commitment.
// Only the latest height can be proven with values, because values are kept
// for the latest state only (old tree nodes are kept, old values are not).
func ProveState(r store.ReadWriter, c Commitment, key []byte) (*StateProof, error) {
	v, err := r.Get(key)
	if err != nil {
		return nil, err
	}
	p, err := smt.New(r, NodePrefix).Prove(c.StateRoot, key)
	if err != nil {
		return nil, err
	}
	return &StateProof{Key: string(key), Value: v, Proof: p, Commitment: c}, nil
}

// Verify checks the proof: the value against the state root, and the root
// against the app hash. The caller then compares the app hash with a signed
// block header at Commitment.Height+1.
func (p *StateProof) Verify() error {
	if err := p.Commitment.Verify(); err != nil {
		return err
	}
	if p.Proof == nil {
		return fmt.Errorf("state proof for %s: no proof", p.Key)
	}
	return p.Proof.Verify(p.Commitment.StateRoot, []byte(p.Key), p.Value)
}
