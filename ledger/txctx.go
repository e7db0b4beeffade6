package ledger

import (
	"encoding/hex"
	"slices"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/vocab"
)

// txCtx is what a handler sees: the transaction, its signer's account (nil
// only for a self-registering patient) and a private overlay of the state.
type txCtx struct {
	chainID string
	s       store.ReadWriter
	height  int64
	now     int64
	tx      *Tx
	signer  *Account
	addr    string
	cache   *TxCache // remembers verified proofs (may be nil)
	// admission is set when CheckCostly runs the handler before the
	// mempool: a contribution's bounds proof is then left to the block.
	admission bool
}

func ev(typ string, kv ...string) []Event {
	e := Event{Type: typ}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Attrs = append(e.Attrs, Attribute{Key: kv[i], Value: kv[i+1]})
	}
	return []Event{e}
}

func (c *txCtx) params() (Params, error) {
	var p Params
	found, err := getState(c.s, KeyParams(), &p)
	if err == nil && !found {
		err = errf(CodeInternal, "chain parameters missing")
	}
	return p, err
}

// validID checks an organisation or dataset id: lower-case, no '/', so it
// can be embedded in a key without ambiguity.
func validID(field, id string) error {
	if !vocab.IsID(id) {
		return errf(CodeInvalidField, "%s: %q is not a valid id (%s)", field, id, vocab.IDSyntax)
	}
	return nil
}

func validAddress(field, a string) error {
	if !vocab.IsAddress(a) {
		return errf(CodeInvalidField, "%s: %q is not an address (40 lower-case hex digits)", field, a)
	}
	return nil
}

func validHash(field, h string, required bool) error {
	if h == "" && !required {
		return nil
	}
	if b, err := hex.DecodeString(h); err != nil || len(b) != 32 {
		return errf(CodeInvalidField, "%s: want 64 hex digits (a SHA-256), got %q", field, h)
	}
	return nil
}

// validText bounds free text. Metadata text is institution-authored and
// public; the length bound keeps it metadata, not data.
func validText(field, s string, max int, required bool) error {
	if required && s == "" {
		return errf(CodeInvalidField, "%s: required", field)
	}
	if len(s) > max {
		return errf(CodeInvalidField, "%s: %d bytes, limit %d", field, len(s), max)
	}
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' {
			return errf(CodeInvalidField, "%s: control characters are not allowed", field)
		}
	}
	return nil
}

func validPurposes(field string, ps []string) error {
	if len(ps) == 0 {
		return errf(CodeInvalidField, "%s: at least one purpose is required", field)
	}
	for i, p := range ps {
		if !slices.Contains(Purposes, p) {
			return errf(CodeInvalidField, "%s[%d]: unknown purpose %q (known: %v)", field, i, p, Purposes)
		}
		if slices.Contains(ps[:i], p) {
			return errf(CodeInvalidField, "%s[%d]: duplicate purpose %q", field, i, p)
		}
	}
	return nil
}

func oneOf[T comparable](field string, v T, allowed []T) error {
	if !slices.Contains(allowed, v) {
		return errf(CodeInvalidField, "%s: %v is not one of %v", field, v, allowed)
	}
	return nil
}

func validKeyBytes(field string, b []byte) error {
	if len(b) != 32 {
		return errf(CodeInvalidField, "%s: want a 32-byte key, got %d bytes", field, len(b))
	}
	return nil
}
