package ledger

import (
	"encoding/json"
	"fmt"

	"github.com/medchain/medchain/store"
)

// Key layout. Each feature's file builds the keys of what it stores (KeyAccount
// in accounts.go, KeyJob in jobs.go, …); this file holds the top-level prefixes,
// the per-height metadata keys and the one place state values are encoded and
// decoded. State keys (under StatePrefix) are committed by the sparse Merkle
// tree; the other prefixes hold the tree's nodes, the audit log and per-height
// metadata, which are authenticated through their own roots in the app hash.
//
// Variable parts are identifiers validated by validID (no '/'), addresses
// (fixed-length hex) or fixed-width hex numbers, so two different objects
// can never map to the same key.
var (
	StatePrefix = []byte("s/")
	NodePrefix  = []byte("n/")
	AuditPrefix = []byte("a/")
	MetaPrefix  = []byte("m/")
)

func num(n uint64) string { return fmt.Sprintf("%016x", n) }

// KeyLast holds the latest commitment (height, roots, app hash).
func KeyLast() []byte { return []byte("m/last") }

// KeyCommitment holds the commitment made at a height.
func KeyCommitment(h int64) []byte { return []byte("m/h/" + num(uint64(h))) }

// KeyTxResult indexes a transaction's result by its hash (hex).
func KeyTxResult(hash string) []byte { return []byte("m/tx/" + hash) }

// getJSON reads and decodes a value; found is false when the key is absent.
func getJSON(r store.Reader, key []byte, v any) (found bool, err error) {
	b, err := r.Get(key)
	if err != nil {
		return false, &Error{Code: CodeInternal, Msg: fmt.Sprintf("read %s: %v", key, err)}
	}
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, &Error{Code: CodeInternal, Msg: fmt.Sprintf("decode %s: %v", key, err)}
	}
	return true, nil
}

// putJSON encodes and stages a value. Encoding Go structs is deterministic:
// fields in declaration order, no maps.
func putJSON(w store.Writer, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return &Error{Code: CodeInternal, Msg: fmt.Sprintf("encode %s: %v", key, err)}
	}
	if err := w.Set(key, b); err != nil {
		return &Error{Code: CodeInternal, Msg: fmt.Sprintf("write %s: %v", key, err)}
	}
	return nil
}

func getOne[T any](r store.Reader, key []byte) (*T, error) {
	var v T
	found, err := getJSON(r, key, &v)
	if err != nil || !found {
		return nil, err
	}
	return &v, nil
}

// Listing: the ledger owns its key prefixes and the encoding of what it
// stores, so readers list collections through these functions instead of
// spelling prefixes and decoding values themselves.

// Iterator lists committed keys under a prefix in key order; fn returns
// false to stop. The API's backend provides it.
type Iterator interface {
	Iterate(prefix []byte, fn func(key, value []byte) bool) error
}

// decodeState decodes a stored value (state values are JSON).
func decodeState(b []byte, v any) error { return json.Unmarshal(b, v) }

// list decodes every value under prefix that keep accepts (nil keeps all).
func list[T any](it Iterator, prefix []byte, keep func(*T) bool) ([]T, error) {
	out := []T{}
	var derr error
	err := it.Iterate(prefix, func(k, v []byte) bool {
		var x T
		if derr = decodeState(v, &x); derr != nil {
			derr = fmt.Errorf("ledger: decode %s: %w", k, derr)
			return false
		}
		if keep == nil || keep(&x) {
			out = append(out, x)
		}
		return true
	})
	if err == nil {
		err = derr
	}
	return out, err
}
