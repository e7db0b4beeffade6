package ledger

import (
	"fmt"

	"github.com/medchain/medchain/smt"
	"github.com/medchain/medchain/store"
)

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
