package ledger

import (
	"slices"
	"testing"
)

// ConsentAllows decides whether a patient's record may be used by a job
// admitted at some height and block time. Each case below is one rule.
func TestConsentAllows(t *testing.T) {
	// The job: dataset cardio of hosp-a, for research, admitted at height
	// 10 when the block time was 1000.
	q := func(model string) ConsentQuery {
		return ConsentQuery{Dataset: "cardio", Org: "hosp-a", Purpose: "research", Height: 10, Time: 1000, Model: model}
	}
	// A consent given at height 5.
	c := func(provision, scope, id string, purposes ...string) Consent {
		return Consent{Patient: "p", Provision: provision, Scope: Scope{Kind: scope, ID: id}, Purposes: purposes, Created: 5}
	}
	permit := c(Permit, ScopeDataset, "cardio", "research")
	deny := c(Deny, ScopeDataset, "cardio", "research")
	with := func(con Consent, f func(*Consent)) Consent { f(&con); return con }

	for _, tc := range []struct {
		name     string
		consents []Consent
		model    string
		want     bool
	}{
		// With no consent that counts, the dataset's consent model decides.
		{"opt-in without consents refuses", nil, ConsentOptIn, false},
		{"opt-out without consents allows", nil, ConsentOptOut, true},
		{"an unknown model refuses", nil, "", false},

		// Scope: the dataset itself, its organisation, or everything.
		{"permit for the dataset", []Consent{permit}, ConsentOptIn, true},
		{"permit for another dataset", []Consent{c(Permit, ScopeDataset, "sleep", "research")}, ConsentOptIn, false},
		{"permit for the dataset's institution", []Consent{c(Permit, ScopeInstitution, "hosp-a", "research")}, ConsentOptIn, true},
		{"permit for another institution", []Consent{c(Permit, ScopeInstitution, "lab-b", "research")}, ConsentOptIn, false},
		{"institution scope does not match a dataset id", []Consent{c(Permit, ScopeInstitution, "cardio", "research")}, ConsentOptIn, false},
		{"permit for everything", []Consent{c(Permit, ScopeAll, "", "research")}, ConsentOptIn, true},
		{"an unknown scope never counts", []Consent{c(Permit, "galaxy", "cardio", "research")}, ConsentOptIn, false},

		// Purpose.
		{"permit for another purpose", []Consent{c(Permit, ScopeAll, "", "education")}, ConsentOptIn, false},
		{"permit listing the purpose among others", []Consent{c(Permit, ScopeAll, "", "education", "research")}, ConsentOptIn, true},
		{"deny for another purpose", []Consent{c(Deny, ScopeAll, "", "education")}, ConsentOptOut, true},

		// Deny overrides permit, whatever the scopes and the order.
		{"deny under opt-out", []Consent{deny}, ConsentOptOut, false},
		{"deny beats permit", []Consent{permit, deny}, ConsentOptIn, false},
		{"deny beats permit (other order)", []Consent{deny, permit}, ConsentOptIn, false},
		{"broad deny beats narrow permit", []Consent{permit, c(Deny, ScopeAll, "", "research")}, ConsentOptIn, false},
		{"narrow deny beats broad permit", []Consent{c(Permit, ScopeAll, "", "research"), deny}, ConsentOptIn, false},
		{"deny for another institution does not apply", []Consent{permit, c(Deny, ScopeInstitution, "lab-b", "research")}, ConsentOptIn, true},

		// Expiry is judged against the block time at admission.
		{"permit expiring after admission", []Consent{with(permit, func(c *Consent) { c.Expiry = 1001 })}, ConsentOptIn, true},
		{"permit expiring at admission", []Consent{with(permit, func(c *Consent) { c.Expiry = 1000 })}, ConsentOptIn, false},
		{"expired deny no longer denies", []Consent{with(deny, func(c *Consent) { c.Expiry = 999 })}, ConsentOptOut, true},

		// Revocation applies to jobs admitted at or after its height.
		{"permit revoked before admission", []Consent{with(permit, func(c *Consent) { c.Revoked = 9 })}, ConsentOptIn, false},
		{"permit revoked at the admission height", []Consent{with(permit, func(c *Consent) { c.Revoked = 10 })}, ConsentOptIn, false},
		{"permit revoked after admission still counts", []Consent{with(permit, func(c *Consent) { c.Revoked = 11 })}, ConsentOptIn, true},
		{"deny revoked after admission still denies", []Consent{with(deny, func(c *Consent) { c.Revoked = 11 })}, ConsentOptOut, false},
		{"deny revoked at admission no longer denies", []Consent{with(deny, func(c *Consent) { c.Revoked = 10 })}, ConsentOptOut, true},
		{"revoked permit, then a new one", []Consent{with(permit, func(c *Consent) { c.Revoked = 7 }), with(permit, func(c *Consent) { c.Seq, c.Created = 1, 8 })}, ConsentOptIn, true},

		// A consent given after admission does not count for that job.
		{"permit given at the admission height", []Consent{with(permit, func(c *Consent) { c.Created = 10 })}, ConsentOptIn, true},
		{"permit given after admission", []Consent{with(permit, func(c *Consent) { c.Created = 11 })}, ConsentOptIn, false},
		{"deny given after admission", []Consent{with(deny, func(c *Consent) { c.Created = 11 })}, ConsentOptOut, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ConsentAllows(tc.consents, q(tc.model)); got != tc.want {
				t.Errorf("ConsentAllows = %t, want %t", got, tc.want)
			}
			reversed := slices.Clone(tc.consents)
			slices.Reverse(reversed)
			if got := ConsentAllows(reversed, q(tc.model)); got != tc.want {
				t.Errorf("in reverse order: ConsentAllows = %t, want %t", got, tc.want)
			}
		})
	}
}
