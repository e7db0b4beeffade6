package client

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"time"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/audit"
	"github.com/medchain/medchain/ledger"
)

// Verification. A node can lie; what it cannot do is forge the validators'
// signatures. Each check below ends in a block header signed by the
// validators: the app hash of the commitment at height H is in the header
// at H+1, and the commitment opens to the state root (which the SMT proof
// checks a value against) and the audit log's size and root (which the RFC
// 6962 proofs check entries and earlier logs against).
//
// Without Client.Trusted, "the validators" are the set the node serves with
// the header; the header commits to that set's hash, so a node cannot swap
// in a different set for a real header, but a node that invents a whole
// chain with its own keys is caught only by pinning the set.

// HeaderCheck is what VerifyHeader established about a header.
type HeaderCheck struct {
	Height         int64           `json:"height"`
	Time           time.Time       `json:"time"`
	AppHash        ledger.HexBytes `json:"app_hash"`
	ValidatorsHash ledger.HexBytes `json:"validators_hash"`
	Signers        int             `json:"signers"`      // validators whose signature verified
	Validators     int             `json:"validators"`   // size of the set
	SignedPower    int64           `json:"signed_power"` // voting power of the signers
	TotalPower     int64           `json:"total_power"`
	Pinned         bool            `json:"pinned"` // the set is the client's trusted one
}

func (h *HeaderCheck) String() string {
	return fmt.Sprintf("header %d signed by %d/%d validators (power %d/%d)", h.Height, h.Signers, h.Validators, h.SignedPower, h.TotalPower)
}

// VerifyHeader checks a signed header for chainID: it is well formed and
// for chainID, its commit is for this header, the validator set is the one
// the header names (and, if trusted is not nil, the trusted one), and
// validators with more than two thirds of the voting power signed it. Every
// signature present is verified and counted.
func VerifyHeader(sh *api.SignedHeader, chainID string, trusted *cmttypes.ValidatorSet) (*HeaderCheck, error) {
	var h cmttypes.SignedHeader
	if err := cmtjson.Unmarshal(sh.SignedHeader, &h); err != nil {
		return nil, verifyErr("header %d: decode signed header: %v", sh.Height, err)
	}
	if h.Header == nil || h.Commit == nil {
		return nil, verifyErr("header %d: header or commit missing", sh.Height)
	}
	if err := h.ValidateBasic(chainID); err != nil {
		return nil, verifyErr("header %d: %v", sh.Height, err)
	}
	if h.Height != sh.Height {
		return nil, verifyErr("asked for header %d, got header %d", sh.Height, h.Height)
	}
	vals := trusted
	if vals == nil {
		var served cmttypes.ValidatorSet
		if err := cmtjson.Unmarshal(sh.Validators, &served); err != nil {
			return nil, verifyErr("header %d: decode validator set: %v", h.Height, err)
		}
		if err := served.ValidateBasic(); err != nil {
			return nil, verifyErr("header %d: validator set: %v", h.Height, err)
		}
		vals = &served
	}
	if got := vals.Hash(); !bytes.Equal(got, h.ValidatorsHash) {
		which := "served"
		if trusted != nil {
			which = "trusted"
		}
		return nil, verifyErr("header %d names validator set %X, the %s set is %X", h.Height, []byte(h.ValidatorsHash), which, got)
	}
	if err := vals.VerifyCommitLightAllSignatures(chainID, h.Commit.BlockID, h.Height, h.Commit); err != nil {
		return nil, verifyErr("header %d: commit: %v", h.Height, err)
	}
	hc := &HeaderCheck{Height: h.Height, Time: h.Time, AppHash: ledger.HexBytes(h.AppHash), ValidatorsHash: ledger.HexBytes(h.ValidatorsHash),
		Validators: vals.Size(), TotalPower: vals.TotalVotingPower(), Pinned: trusted != nil}
	for i, s := range h.Commit.Signatures {
		if s.BlockIDFlag == cmttypes.BlockIDFlagCommit {
			hc.Signers++
			hc.SignedPower += vals.Validators[i].VotingPower
		}
	}
	return hc, nil
}

func (c *Client) chainID(ctx context.Context) (string, error) {
	if c.ChainID != "" {
		return c.ChainID, nil
	}
	st, err := c.Status(ctx)
	if err != nil {
		return "", err
	}
	return st.ChainID, nil
}

// waitHeader fetches the header at height, waiting (up to HeaderWait) for
// the block to be committed.
func (c *Client) waitHeader(ctx context.Context, height int64) (*api.SignedHeader, error) {
	wait := c.HeaderWait
	if wait <= 0 {
		wait = 15 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for {
		sh, err := c.Header(ctx, height)
		if !IsNotFound(err) {
			return sh, err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for header %d: %w", height, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// VerifyCommitment checks that a commitment's parts hash to its app hash and
// that the header at its height+1, verified, carries that app hash.
func (c *Client) VerifyCommitment(ctx context.Context, com ledger.Commitment) (*HeaderCheck, error) {
	if err := com.Verify(); err != nil {
		return nil, verifyErr("%v", err)
	}
	chainID, err := c.chainID(ctx)
	if err != nil {
		return nil, err
	}
	sh, err := c.waitHeader(ctx, com.Height+1)
	if err != nil {
		return nil, err
	}
	hc, err := VerifyHeader(sh, chainID, c.Trusted)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(hc.AppHash, com.AppHash) {
		return nil, verifyErr("commitment at height %d has app hash %x, but signed header %d has %x", com.Height, []byte(com.AppHash), hc.Height, []byte(hc.AppHash))
	}
	return hc, nil
}

// StateCheck is what VerifyStateProof established.
type StateCheck struct {
	Key        string            `json:"key"`
	Value      []byte            `json:"value"` // nil: the key is absent
	Commitment ledger.Commitment `json:"commitment"`
	Header     *HeaderCheck      `json:"header"`
}

func (s *StateCheck) String() string {
	what := "absent from"
	if s.Value != nil {
		what = fmt.Sprintf("present (%d bytes, sha256 %x) in", len(s.Value), sha256.Sum256(s.Value))
	}
	return fmt.Sprintf("key %s %s state root %s at height %d; app hash matches %s",
		s.Key, what, s.Commitment.StateRoot, s.Commitment.Height, s.Header)
}

// VerifyStateProof fetches the proof of a state key and checks it: the
// value (or absence) against the state root, the root against the
// commitment's app hash, and that against the next signed header.
func (c *Client) VerifyStateProof(ctx context.Context, key string) (*StateCheck, error) {
	p, err := c.StateProof(ctx, key)
	if err != nil {
		return nil, err
	}
	if p.Key != key {
		return nil, verifyErr("asked for a proof of %q, got one of %q", key, p.Key)
	}
	if err := p.Verify(); err != nil {
		return nil, verifyErr("%v", err)
	}
	hc, err := c.VerifyCommitment(ctx, p.Commitment)
	if err != nil {
		return nil, err
	}
	return &StateCheck{Key: key, Value: p.Value, Commitment: p.Commitment, Header: hc}, nil
}

// InclusionCheck is what VerifyAuditInclusion established.
type InclusionCheck struct {
	Index      uint64            `json:"index"`
	Size       uint64            `json:"size"`
	Height     int64             `json:"height"`
	Entry      ledger.AuditEntry `json:"entry"`
	Commitment ledger.Commitment `json:"commitment"`
	Header     *HeaderCheck      `json:"header"`
}

func (ic *InclusionCheck) String() string {
	return fmt.Sprintf("entry %d included in log of size %d at height %d; app hash matches %s", ic.Index, ic.Size, ic.Height, ic.Header)
}

// VerifyAuditInclusion checks that audit entry index is in the log as
// committed at height (height <= 0: the latest commitment), and that the
// commitment is the one the validators signed.
func (c *Client) VerifyAuditInclusion(ctx context.Context, index uint64, height int64) (*InclusionCheck, error) {
	p, err := c.AuditInclusion(ctx, index, height)
	if err != nil {
		return nil, err
	}
	com := p.Commitment
	switch {
	case p.Index != index:
		return nil, verifyErr("asked for entry %d, got entry %d", index, p.Index)
	case height > 0 && com.Height != height:
		return nil, verifyErr("asked for the log at height %d, got the commitment of height %d", height, com.Height)
	case index >= com.AuditSize:
		return nil, verifyErr("entry %d cannot be in a log of %d entries", index, com.AuditSize)
	}
	if err := audit.VerifyInclusion(p.Raw, index, com.AuditSize, hashes(p.Proof), com.AuditRoot); err != nil {
		return nil, verifyErr("%v", err)
	}
	ic := &InclusionCheck{Index: index, Size: com.AuditSize, Height: com.Height, Commitment: com}
	if err := json.Unmarshal(p.Raw, &ic.Entry); err != nil {
		return nil, verifyErr("entry %d: proven bytes are not an audit entry: %v", index, err)
	}
	if ic.Header, err = c.VerifyCommitment(ctx, com); err != nil {
		return nil, err
	}
	return ic, nil
}

// VerifyTxAudit finds a committed transaction's audit entry and verifies its
// inclusion in the log as committed at the transaction's height.
func (c *Client) VerifyTxAudit(ctx context.Context, txHash string) (*InclusionCheck, error) {
	rec, err := c.Tx(ctx, txHash)
	if err != nil {
		return nil, err
	}
	ic, err := c.VerifyAuditInclusion(ctx, rec.AuditIndex, rec.Height)
	if err != nil {
		return nil, err
	}
	if ic.Entry.TxHash != txHash {
		return nil, verifyErr("audit entry %d records transaction %s, not %s", ic.Index, ic.Entry.TxHash, txHash)
	}
	return ic, nil
}

// ConsistencyCheck is what VerifyAuditConsistency established.
type ConsistencyCheck struct {
	From       ledger.Commitment `json:"from"`
	To         ledger.Commitment `json:"to"`
	FromHeader *HeaderCheck      `json:"from_header"`
	ToHeader   *HeaderCheck      `json:"to_header"`
}

func (cc *ConsistencyCheck) String() string {
	return fmt.Sprintf("log of size %d at height %d is a prefix of log of size %d at height %d; app hashes match %s and %s",
		cc.From.AuditSize, cc.From.Height, cc.To.AuditSize, cc.To.Height, cc.FromHeader, cc.ToHeader)
}

// VerifyAuditConsistency checks that the audit log as committed at height
// from is a prefix of the log as committed at height to: nothing logged by
// then was changed or dropped later.
func (c *Client) VerifyAuditConsistency(ctx context.Context, from, to int64) (*ConsistencyCheck, error) {
	p, err := c.AuditConsistency(ctx, from, to)
	if err != nil {
		return nil, err
	}
	if p.From.Height != from || p.To.Height != to {
		return nil, verifyErr("asked for heights %d and %d, got commitments of %d and %d", from, to, p.From.Height, p.To.Height)
	}
	if err := audit.VerifyConsistency(p.From.AuditSize, p.To.AuditSize, hashes(p.Proof), p.From.AuditRoot, p.To.AuditRoot); err != nil {
		return nil, verifyErr("%v", err)
	}
	cc := &ConsistencyCheck{From: p.From, To: p.To}
	if cc.FromHeader, err = c.VerifyCommitment(ctx, p.From); err != nil {
		return nil, err
	}
	if cc.ToHeader, err = c.VerifyCommitment(ctx, p.To); err != nil {
		return nil, err
	}
	return cc, nil
}

func hashes(hs []ledger.HexBytes) [][]byte {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out
}

// ValidatorSet builds the validator set of a CometBFT genesis file, for
// Client.Trusted.
func ValidatorSet(genesisFile string) (chainID string, vals *cmttypes.ValidatorSet, err error) {
	doc, err := cmttypes.GenesisDocFromFile(genesisFile)
	if err != nil {
		return "", nil, err
	}
	vs := make([]*cmttypes.Validator, len(doc.Validators))
	for i, v := range doc.Validators {
		vs[i] = cmttypes.NewValidator(v.PubKey, v.Power)
	}
	set := cmttypes.NewValidatorSet(vs)
	if err := set.ValidateBasic(); err != nil {
		return "", nil, fmt.Errorf("%s: validator set: %w", genesisFile, err)
	}
	return doc.ChainID, set, nil
}
