package ledger

import "slices"

// ConsentQuery asks whether one patient's record may be used.
type ConsentQuery struct {
	Dataset string // dataset id
	Org     string // the organisation holding the dataset
	Purpose string
	Height  int64  // the job's admission height: consents are read as of then
	Time    int64  // block time (unix seconds) at admission, for expiry
	Model   string // the dataset's consent model, ConsentOptIn or ConsentOptOut
}

// ConsentAllows decides, as a pure function of a patient's consents, whether
// a record may be used. A consent counts if it existed at q.Height, was not
// revoked at or before it, has not expired at q.Time, covers the dataset
// (by dataset, institution or "all" scope) and lists the purpose. Any
// counting deny wins; otherwise any counting permit allows; otherwise the
// dataset's consent model decides (opt-out allows, opt-in refuses).
func ConsentAllows(consents []Consent, q ConsentQuery) bool {
	permit := false
	for _, c := range consents {
		if !consentCounts(c, q) {
			continue
		}
		if c.Provision == Deny {
			return false
		}
		permit = true
	}
	if permit {
		return true
	}
	return q.Model == ConsentOptOut
}

func consentCounts(c Consent, q ConsentQuery) bool {
	if c.Created > q.Height {
		return false
	}
	if c.Revoked != 0 && c.Revoked <= q.Height {
		return false
	}
	if c.Expiry != 0 && c.Expiry <= q.Time {
		return false
	}
	switch c.Scope.Kind {
	case ScopeDataset:
		if c.Scope.ID != q.Dataset {
			return false
		}
	case ScopeInstitution:
		if c.Scope.ID != q.Org {
			return false
		}
	case ScopeAll:
	default:
		return false
	}
	return slices.Contains(c.Purposes, q.Purpose)
}
