package rewards

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/medchain/medchain/ledger"
)

// Request is a patient's signed request to an institution: its balance,
// or vouchers for it. It goes to the institution's node, never to the
// ledger: the institution knows the patient, and no one else learns that
// they asked.
type Request struct {
	ChainID   string `json:"chain_id"`
	Org       string `json:"org"`
	Action    string `json:"action"`              // ActionBalance or ActionVouchers
	Recipient string `json:"recipient,omitempty"` // vouchers: the address they pay
	// Unit is the smallest denomination the vouchers may be (0 or 1: any):
	// the sum of a patient's claims shows their balance rounded down to it.
	Unit uint64 `json:"unit,omitempty"`
	// Notes, for vouchers, is the most notes to issue, the largest first
	// (0: all, up to MaxVouchers): a patient may take one note at a time,
	// each to a different recipient, at different times.
	Notes     uint32 `json:"notes,omitempty"`
	ID        string `json:"id"`      // 32 random bytes, hex: a request is answered once (Tally.Admit)
	Time      int64  `json:"time"`    // unix seconds, when signed
	PubKey    []byte `json:"pub_key"` // the patient's ed25519 key
	Signature []byte `json:"signature"`
}

// Request actions.
const (
	ActionBalance  = "balance"
	ActionVouchers = "vouchers"
)

// MaxRequestAge is how far a request's time may be from the node's clock.
const MaxRequestAge = 5 * time.Minute

const requestDomain = "medchain/rewards-request/v2"

// requestBytes is what a patient signs.
func requestBytes(r *Request) []byte {
	var b []byte
	for _, s := range []string{requestDomain, r.ChainID, r.Org, r.Action, r.Recipient, r.ID} {
		b = append(append(b, s...), 0)
	}
	b = binary.BigEndian.AppendUint64(b, r.Unit)
	b = binary.BigEndian.AppendUint32(b, r.Notes)
	return binary.BigEndian.AppendUint64(b, uint64(r.Time))
}

// Sign sets r's key and signature.
func (r *Request) Sign(key ed25519.PrivateKey) {
	r.PubKey = key.Public().(ed25519.PublicKey)
	r.Signature = ed25519.Sign(key, requestBytes(r))
}

// RequestError says what is wrong with a request (the field), never
// anything of the tally.
type RequestError struct{ Field, Problem string }

func (e *RequestError) Error() string { return "rewards request: " + e.Field + ": " + e.Problem }

// ErrRequest is matched (errors.Is) by every *RequestError.
var ErrRequest = errors.New("rewards request")

func (e *RequestError) Is(target error) bool { return target == ErrRequest }

// Verify checks a request for this chain and organisation at time now and
// returns the signing wallet's address. The caller must still check that
// the wallet is a registered patient account.
func (r *Request) Verify(chainID, org string, now time.Time) (string, error) {
	bad := func(f, format string, args ...any) error { return &RequestError{f, fmt.Sprintf(format, args...)} }
	switch {
	case r.ChainID != chainID:
		return "", bad("chain_id", "signed for chain %q, this is %q", r.ChainID, chainID)
	case r.Org != org:
		return "", bad("org", "addressed to %q; this node issues for %q", r.Org, org)
	case r.Action != ActionBalance && r.Action != ActionVouchers:
		return "", bad("action", "want %q or %q", ActionBalance, ActionVouchers)
	case r.Action == ActionVouchers && !isAddress(r.Recipient):
		return "", bad("recipient", "want an address (40 lower-case hex digits)")
	case r.Unit > 1 && !slices.Contains(ledger.RewardDenominations, r.Unit):
		return "", bad("unit", "want a denomination: a power of two from 1 to %d", ledger.RewardDenominations[len(ledger.RewardDenominations)-1])
	case r.Notes > MaxVouchers:
		return "", bad("notes", "at most %d", MaxVouchers)
	case len(r.ID) != 64 || !isHex(r.ID):
		return "", bad("id", "want 64 hex digits (32 random bytes)")
	case len(r.PubKey) != ed25519.PublicKeySize:
		return "", bad("pub_key", "want a %d-byte ed25519 key", ed25519.PublicKeySize)
	}
	if d := now.Sub(time.Unix(r.Time, 0)); d > MaxRequestAge || d < -MaxRequestAge {
		return "", bad("time", "signed %s from this node's clock; at most %s", d.Round(time.Second), MaxRequestAge)
	}
	if !ed25519.Verify(r.PubKey, requestBytes(r), r.Signature) {
		return "", bad("signature", "does not verify with pub_key")
	}
	return ledger.Address(r.PubKey), nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && s == strings.ToLower(s)
}

func isAddress(s string) bool { return len(s) == 40 && isHex(s) }

// Answer is what an institution's node answers a request: the patient's
// claimable balance, the job sites their rows were used in (as the
// institution's tally has them), and, for a vouchers request, the vouchers.
type Answer struct {
	Org      string           `json:"org"`
	Wallet   string           `json:"wallet"`
	Balance  uint64           `json:"balance"`
	Uses     []Use            `json:"uses"`
	Vouchers []ledger.Voucher `json:"vouchers,omitempty"`
	// Outstanding, for a vouchers request, are notes issued to earlier
	// requests of the wallet that the ledger does not show claimed (an
	// answer lost in transit, a claim not sent): each still pays the
	// recipient it names.
	Outstanding []ledger.Voucher `json:"outstanding,omitempty"`
}

// Use is one job site a patient's rows were used in. It carries no amount:
// what one use earned is about the share over the cohort, and the share is
// public, so it would tell the cohort's size; the balance sums every use.
type Use struct {
	Job     uint64 `json:"job"`
	Dataset string `json:"dataset"`
	Settled bool   `json:"settled"`
}

// ErrNoTally is matched by the error for a request to a node that keeps no
// tally for the organisation, or a wallet that is not a patient linked there.
var ErrNoTally = errors.New("rewards: no tally")
