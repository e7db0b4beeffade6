package ledger

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Listing: the ledger owns its key prefixes and the encoding of what it
// stores, so readers list collections through these functions instead of
// spelling prefixes and decoding values themselves.

// Iterator lists committed keys under a prefix in key order; fn returns
// false to stop. The API's backend provides it.
type Iterator interface {
	Iterate(prefix []byte, fn func(key, value []byte) bool) error
}

// Collection prefixes (the KeyX functions with an empty id).
var (
	prefixWorker  = KeyWorker("")
	prefixJob     = []byte(strings.TrimSuffix(string(KeyJob(0)), num(0)))
	prefixConsent = []byte(strings.TrimSuffix(string(KeyConsent("", 0)), "/"+num(0)))
	prefixAccess  = []byte(strings.TrimSuffix(string(KeyAccess(0)), num(0)))
)

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

// ListWorkers lists registered workers in address order.
func ListWorkers(it Iterator, keep func(*Worker) bool) ([]Worker, error) {
	return list(it, prefixWorker, keep)
}

// ListJobs lists jobs in id order.
func ListJobs(it Iterator, keep func(*Job) bool) ([]Job, error) {
	return list(it, prefixJob, keep)
}

// ListOrgs lists organisations in id order.
func ListOrgs(it Iterator) ([]Org, error) { return list[Org](it, KeyOrg(""), nil) }

// ListDatasets lists dataset head records in id order.
func ListDatasets(it Iterator) ([]Dataset, error) { return list[Dataset](it, KeyDataset(""), nil) }

// ListModels lists registered models in id order.
func ListModels(it Iterator, keep func(*Model) bool) ([]Model, error) {
	return list(it, KeyModel(""), keep)
}

// ListAccessRequests lists access requests in id order.
func ListAccessRequests(it Iterator, keep func(*AccessRequest) bool) ([]AccessRequest, error) {
	return list(it, prefixAccess, keep)
}

// ErrBadCursor: a consent page's after value is not a consent key.
var ErrBadCursor = fmt.Errorf("ledger: not a consent cursor")

// ListConsents lists up to limit consents after the cursor after (""
// for the first page), in state key order (by patient address, each
// patient's oldest first). next is the cursor of the following page, ""
// when there is none.
func ListConsents(it Iterator, after string, limit int) (consents []Consent, next string, err error) {
	if after != "" && !strings.HasPrefix(after, string(prefixConsent)) {
		return nil, "", ErrBadCursor
	}
	consents = []Consent{}
	var last []byte
	var derr error
	// Iterator has no start key: a later page skips the keys before it
	// (cheap: no decoding), O(consents) per page.
	err = it.Iterate(prefixConsent, func(k, v []byte) bool {
		if after != "" && string(k) <= after {
			return true
		}
		if len(consents) == limit {
			next = string(last)
			return false
		}
		var c Consent
		if derr = decodeState(v, &c); derr != nil {
			derr = fmt.Errorf("ledger: decode %s: %w", k, derr)
			return false
		}
		consents = append(consents, c)
		last = append(last[:0], k...)
		return true
	})
	if err == nil {
		err = derr
	}
	return consents, next, err
}
