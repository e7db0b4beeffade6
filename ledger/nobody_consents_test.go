package ledger

import "testing"

// NobodyConsents: an opt-in dataset has no patient for a job when no
// patient's consents, decided as ConsentAllows decides them, permit it.
func TestNobodyConsents(t *testing.T) {
	q := ConsentQuery{Dataset: "cardio", Org: "hosp-a", Purpose: "research", Height: 10, Time: 1000, Model: ConsentOptIn}
	permit := func(p string, scope Scope, created, revoked int64) Consent {
		return Consent{Patient: p, Scope: scope, Provision: Permit, Purposes: []string{"research"}, Created: created, Revoked: revoked}
	}
	deny := func(p string) Consent {
		return Consent{Patient: p, Scope: Scope{Kind: ScopeAll}, Provision: Deny, Purposes: []string{"research"}, Created: 1}
	}
	ds := Scope{Kind: ScopeDataset, ID: "cardio"}
	for _, tc := range []struct {
		name   string
		all    []Consent
		model  string
		nobody bool
	}{
		{"no consents at all", nil, ConsentOptIn, true},
		{"opt-out: everyone without consents counts", nil, ConsentOptOut, false},
		{"a permit", []Consent{permit("a", ds, 5, 0)}, ConsentOptIn, false},
		{"a permit for another dataset", []Consent{permit("a", Scope{Kind: ScopeDataset, ID: "renal"}, 5, 0)}, ConsentOptIn, true},
		{"a permit for the institution", []Consent{permit("a", Scope{Kind: ScopeInstitution, ID: "hosp-a"}, 5, 0)}, ConsentOptIn, false},
		{"a permit made after admission", []Consent{permit("a", ds, 11, 0)}, ConsentOptIn, true},
		{"a revoked permit", []Consent{permit("a", ds, 5, 8)}, ConsentOptIn, true},
		{"a permit overruled by the same patient's deny", []Consent{permit("a", ds, 5, 0), deny("a")}, ConsentOptIn, true},
		{"one of two patients permits", []Consent{permit("a", ds, 5, 0), deny("a"), permit("b", ds, 6, 0)}, ConsentOptIn, false},
	} {
		q.Model = tc.model
		if got := NobodyConsents(tc.all, q); got != tc.nobody {
			t.Errorf("%s: NobodyConsents = %v, want %v", tc.name, got, tc.nobody)
		}
	}
}
