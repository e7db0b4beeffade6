package federated

import (
	"crypto/ecdh"
	"errors"
	"fmt"
	"io"

	"github.com/medchain/medchain/zk"
)

// Contribution is what a site posts for one iteration of a study: its
// encoded values masked with the round's pairwise masks, a Pedersen
// commitment to each unmasked value (blinded by the pairwise blindings, so
// the commitments of all participants add up to a commitment to the sum
// with blinding zero) and a proof that every committed value lies in the
// study's bounds. Nothing in it reveals a value to anyone who does not hold
// every other participant's pair secret with this site.
type Contribution struct {
	Masked      []uint64        `json:"masked"`
	Commitments []zk.Commitment `json:"commitments"`
	Proof       []byte          `json:"proof"`
}

// ErrOutOfBounds: the site's own values are outside the study's bounds. An
// honest site refuses the study instead of posting something that would be
// flagged; the error names the position, never the value.
var ErrOutOfBounds = errors.New("federated: contribution outside the study's bounds")

// Contribute builds a site's contribution: masks for the site at index self
// of peers, commitments, the bounds proof bound to the session and site.
func Contribute(priv *ecdh.PrivateKey, self int, peers []Peer, s Session, values []int64, bounds []zk.Interval, rand io.Reader) (*Contribution, error) {
	if len(values) != len(bounds) {
		return nil, fmt.Errorf("federated: %d values, %d bounds", len(values), len(bounds))
	}
	for j, v := range values {
		if v < bounds[j].Lo || v > bounds[j].Hi {
			return nil, fmt.Errorf("%w: value %d", ErrOutOfBounds, j)
		}
	}
	m, err := PairMasks(priv, self, peers, s, len(values))
	if err != nil {
		return nil, err
	}
	cs, err := zk.CommitValues(values, m.Blindings)
	if err != nil {
		return nil, err
	}
	proof, err := zk.ProveBounds(ProofContext(s, peers[self].Site), values, m.Blindings, bounds, rand)
	if err != nil {
		return nil, err
	}
	pb, err := proof.MarshalBinary()
	if err != nil {
		return nil, err
	}
	masked, err := m.Apply(values)
	if err != nil {
		return nil, err
	}
	return &Contribution{Masked: masked, Commitments: cs, Proof: pb}, nil
}

// Verify checks a contribution's shape and its bounds proof (deterministic:
// validators run it). An error here is the site's fault.
func (c *Contribution) Verify(s Session, site string, bounds []zk.Interval) error {
	if len(c.Masked) != len(bounds) || len(c.Commitments) != len(bounds) {
		return fmt.Errorf("contribution has %d masked values and %d commitments; the study expects %d", len(c.Masked), len(c.Commitments), len(bounds))
	}
	var proof zk.BoundsProof
	if err := proof.UnmarshalBinary(c.Proof); err != nil {
		return fmt.Errorf("bounds proof: %w", err)
	}
	if err := zk.VerifyBounds(ProofContext(s, site), c.Commitments, bounds, &proof); err != nil {
		return fmt.Errorf("bounds proof: %w", err)
	}
	return nil
}

// Aggregate sums the participants' masked vectors and checks that the sum
// opens their commitments: Σ commitments = sum·B. A mismatch means some
// participant's masked vector is not the value it committed to (and proved
// in bounds); nothing is released then.
func Aggregate(cs []*Contribution) ([]int64, error) {
	masked := make([][]uint64, len(cs))
	comms := make([][]zk.Commitment, len(cs))
	for i, c := range cs {
		masked[i], comms[i] = c.Masked, c.Commitments
	}
	sum, err := Sum(masked)
	if err != nil {
		return nil, err
	}
	if err := zk.SumOpensTo(comms, sum); err != nil {
		return nil, ErrMismatch
	}
	return sum, nil
}

// ErrMismatch: the masked sum does not open the sum of the commitments.
var ErrMismatch = errors.New("federated: the masked sum does not match the participants' commitments")
