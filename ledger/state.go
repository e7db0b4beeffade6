package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/fxamacker/cbor/v2"

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

// StateFormat is the version of the encoding of everything the ledger
// stores through this file (state values and per-height metadata). Format
// 1 was JSON, and stores written in it carry no format key; format 2 is
// the CBOR encoding below. A store is written in one format from genesis:
// a node refuses to open a store of another format (StateFormatError),
// and such a network is recreated, not migrated (docs/ledger.md).
const StateFormat = 2

// KeyStateFormat holds the StateFormat of the store, as decimal digits, so
// that any version can read it whatever the encoding of the rest. It is
// written with the genesis state and is not part of the state root.
func KeyStateFormat() []byte { return []byte("m/format") }

// StateFormatError reports a store written in a state format this build
// does not read.
type StateFormatError struct {
	Found, Want int
}

func (e *StateFormatError) Error() string {
	return fmt.Sprintf("ledger: the store's state is in format %d (%s), but this build reads format %d (%s): "+
		"a store is neither read nor converted across formats; recreate the network "+
		"(a dev network: remove its home directory and run `medchain up` again)",
		e.Found, formatName(e.Found), e.Want, formatName(e.Want))
}

func formatName(f int) string {
	switch f {
	case 1:
		return "JSON values, written before state format versions"
	case 2:
		return "deterministic CBOR"
	}
	return "unknown"
}

// checkStateFormat accepts an empty store or one in StateFormat.
func checkStateFormat(r store.Reader) error {
	last, err := r.Get(KeyLast())
	if err != nil {
		return err
	}
	b, err := r.Get(KeyStateFormat())
	if err != nil {
		return err
	}
	if b == nil {
		if last == nil {
			return nil // no chain yet: InitChain writes the format
		}
		return &StateFormatError{Found: 1, Want: StateFormat}
	}
	f, err := strconv.Atoi(string(b))
	if err != nil || f < 1 {
		return fmt.Errorf("ledger: %s holds %q, not a state format number", KeyStateFormat(), b)
	}
	if f != StateFormat {
		return &StateFormatError{Found: f, Want: StateFormat}
	}
	return nil
}

// State values are CBOR (RFC 8949) in its core deterministic encoding
// (§4.2.1: shortest integer forms, definite lengths, sorted map keys), and
// the ledger's records encode as arrays of their fields in declaration order
// (the `cbor:",toarray"` marker), with no field names. Every node therefore
// writes the same bytes for the same value, as the state root requires, and
// a value costs a fraction of its JSON size and decoding time. Nested types
// of other packages without the marker (federated.Spec) encode as maps keyed
// by their JSON names, still sorted, so still deterministic.
//
// Decoding is strict: a record with the wrong number of fields, an unknown
// or duplicate map key, an indefinite length, a tag or invalid UTF-8 is
// refused, so a value written by another state format can never be misread
// as this one. Changing a record's fields changes the format: bump
// StateFormat (see docs/ledger.md, "State encoding").
var (
	stateEnc cbor.EncMode
	stateDec cbor.DecMode
)

func init() {
	var err error
	if stateEnc, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	stateDec, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// EncodeState is the stored form of a state value.
func EncodeState(v any) ([]byte, error) { return stateEnc.Marshal(v) }

// DecodeState decodes a stored state value (what a state proof proves, or
// what an Iterator yields) into v, a pointer to the record its key holds.
func DecodeState(b []byte, v any) error { return stateDec.Unmarshal(b, v) }

// getState reads and decodes a value; found is false when the key is absent.
func getState(r store.Reader, key []byte, v any) (found bool, err error) {
	b, err := r.Get(key)
	if err != nil {
		return false, &Error{Code: CodeInternal, Msg: fmt.Sprintf("read %s: %v", key, err)}
	}
	if b == nil {
		return false, nil
	}
	if err := DecodeState(b, v); err != nil {
		return false, &Error{Code: CodeInternal, Msg: fmt.Sprintf("decode %s: %v", key, err)}
	}
	return true, nil
}

// putState encodes and stages a value.
func putState(w store.Writer, key []byte, v any) error {
	b, err := EncodeState(v)
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
	found, err := getState(r, key, &v)
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

// list decodes every value under prefix that keep accepts (nil keeps all).
func list[T any](it Iterator, prefix []byte, keep func(*T) bool) ([]T, error) {
	out := []T{}
	var derr error
	err := it.Iterate(prefix, func(k, v []byte) bool {
		var x T
		if derr = DecodeState(v, &x); derr != nil {
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

// storedTypes names the Go type of the value of every kind of key the
// ledger writes, by an example key of the kind (from the key functions of
// the features that own them). Keys are "s/" or "m/", then the kind's name,
// then "/" and the variable parts, or no variable part for a singleton
// (s/supply, m/last): collection cuts a key to its kind.
var storedTypes = []struct {
	example []byte
	new     func() any
}{
	{KeyAccount(""), newOf[Account]},
	{KeySupply(), newOf[uint64]},
	{KeyAccessCount(), newOf[uint64]},
	{KeyAccess(0), newOf[AccessRequest]},
	{KeyAccessGrant("", "", ""), newOf[uint64]},
	{KeyConsentCount(""), newOf[uint64]},
	{KeyConsent("", 0), newOf[Consent]},
	{KeyDataset(""), newOf[Dataset]},
	{KeyDatasetVersion("", 0), newOf[DatasetVersion]},
	{KeyPolicy(""), newOf[Policy]},
	{KeyParams(), newOf[Params]},
	{KeyJobCount(), newOf[uint64]},
	{KeyJob(0), newOf[Job]},
	{KeyBudget(""), newOf[Budget]},
	{KeyPool(""), newOf[uint64]},
	{KeyModel(""), newOf[Model]},
	{KeyPrediction("", 0), newOf[Prediction]},
	{KeyPredictionProof("", ""), newOf[uint64]},
	{KeyOrg(""), newOf[Org]},
	{KeyStudyContribution(0, 0, 0, ""), newOf[StoredContribution]},
	{KeyStudySum(0, 0), newOf[StudySum]},
	{KeyWorker(""), newOf[Worker]},
	{KeyAttestationPolicy(""), newOf[AttestationPolicy]},
	{KeyOrgWorkers(""), newOf[[]string]},
	{KeyDevice(""), newOf[Device]},
	{KeyAnchor("", 0), newOf[Anchor]},
	{KeyLastAnchor(""), newOf[uint64]},
	{KeyShare(""), newOf[Share]},
	{KeySharesOf("", ""), newOf[Share]},
	{KeyReceiptSet(0, ""), newOf[ReceiptSet]},
	{KeyReceiptPart(0, "", 0), newOf[[]byte]},
	{KeyNullifier(""), newOf[uint64]},
	{KeyOrgPools(""), newOf[[]string]},
	{KeyDealCount(), newOf[uint64]},
	{KeyDeal(0), newOf[Deal]},
	{KeyAcceptance(0, ""), newOf[Acceptance]},
	{KeySuspension(""), newOf[Suspension]},
	{KeyLast(), newOf[Commitment]},
	{KeyCommitment(0), newOf[Commitment]},
	{KeyTxResult(""), newOf[TxRecord]},
}

func newOf[T any]() any { return new(T) }

// collection is the kind part of a key: through the second '/', or the
// whole key when it has none.
func collection(key []byte) string {
	if i := bytes.IndexByte(key, '/'); i >= 0 {
		if j := bytes.IndexByte(key[i+1:], '/'); j >= 0 {
			return string(key[:i+1+j+1])
		}
	}
	return string(key)
}

// typeOfKey returns a new value of the type stored under key, or nil for a
// key of no kind the ledger stores a record under.
func typeOfKey(key []byte) any {
	c := collection(key)
	for _, t := range storedTypes {
		if collection(t.example) == c {
			return t.new()
		}
	}
	return nil
}

// StateValueJSON renders the stored value of a state or metadata key as
// JSON, for people and tools (the CLI's `state proof`): the value is
// decoded as the record its key holds and re-encoded with the JSON names
// the API uses.
func StateValueJSON(key, value []byte) ([]byte, error) {
	v := typeOfKey(key)
	if v == nil {
		return nil, fmt.Errorf("ledger: %q is not a key the ledger stores a record under", key)
	}
	if err := DecodeState(value, v); err != nil {
		return nil, fmt.Errorf("ledger: decode %s: %w", key, err)
	}
	return json.Marshal(v)
}
