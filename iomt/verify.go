package iomt

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/vault/series"
)

// StateProver reads a state key through a proof checked against a header
// the validators signed (*client.Client is one).
type StateProver interface {
	VerifyStateProof(ctx context.Context, key string) (*client.StateCheck, error)
}

// Verified is a stored reading shown to be signed by its registered device
// and included in an anchor the validators committed.
type Verified struct {
	Inclusion
	Gateway string             `json:"gateway"`
	Anchor  *ledger.Anchor     `json:"anchor"`
	Device  *ledger.Device     `json:"device"`
	State   *client.StateCheck `json:"state"` // the anchor's state proof and header check
}

// ErrVerify is wrapped by every check VerifyReading finds failing (as
// opposed to a reading or anchor that cannot be fetched).
var ErrVerify = errors.New("verification failed")

// VerifyReading proves a stored reading against the ledger: it builds the
// reading's inclusion proof from the store, reads the anchor gateway
// recorded under that number and the device's registration through state
// proofs checked against signed headers, and checks that the reading is
// signed by the registered key and that the proof leads to the anchor's
// root.
func VerifyReading(ctx context.Context, c StateProver, st *series.Store, gateway, dev string, seq uint64) (*Verified, error) {
	inc, err := Prove(st, dev, seq)
	if err != nil {
		return nil, err
	}
	return VerifyInclusion(ctx, c, gateway, inc)
}

// VerifyInclusion is VerifyReading's ledger half, for an inclusion proof
// obtained elsewhere (a tampered one must fail here).
func VerifyInclusion(ctx context.Context, c StateProver, gateway string, inc *Inclusion) (*Verified, error) {
	sc, err := c.VerifyStateProof(ctx, string(ledger.KeyAnchor(gateway, inc.AnchorSeq)))
	if err != nil {
		return nil, err
	}
	if sc.Value == nil {
		return nil, fmt.Errorf("%w: anchor %d of %s is not on the ledger (proven absent at height %d)", ErrVerify, inc.AnchorSeq, gateway, sc.Commitment.Height)
	}
	var a ledger.Anchor
	if err := ledger.DecodeState(sc.Value, &a); err != nil || a.Seq != inc.AnchorSeq || a.Gateway != gateway {
		return nil, fmt.Errorf("%w: the state key of anchor %d holds something else", ErrVerify, inc.AnchorSeq)
	}
	dc, err := c.VerifyStateProof(ctx, string(ledger.KeyDevice(inc.Reading.Device)))
	if err != nil {
		return nil, err
	}
	var d ledger.Device
	if dc.Value == nil || ledger.DecodeState(dc.Value, &d) != nil || d.ID != inc.Reading.Device {
		return nil, fmt.Errorf("%w: device %s is not registered on the ledger", ErrVerify, inc.Reading.Device)
	}
	if !inc.Reading.Verify(ed25519.PublicKey(d.PubKey)) {
		return nil, fmt.Errorf("%w: the reading is not signed by device %s's registered key", ErrVerify, d.ID)
	}
	root, err := hex.DecodeString(a.Root)
	if err != nil || len(root) != 32 {
		return nil, fmt.Errorf("%w: anchor %d's root is not 32 bytes of hex", ErrVerify, a.Seq)
	}
	if err := device.VerifyInclusion(&inc.Reading, inc.Proof, [32]byte(root)); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrVerify, err)
	}
	return &Verified{Inclusion: *inc, Gateway: gateway, Anchor: &a, Device: &d, State: sc}, nil
}
