package api

import (
	"testing"

	"github.com/medchain/medchain/ledger"
)

// TestMayRead is the consent-visibility rule as a table: the patient reads
// their own; a data holder (a worker or admin of Org) reads what concerns
// it; nobody else reads anything.
func TestMayRead(t *testing.T) {
	const alice, bob = "aa", "bb"
	patient := &viewer{Address: alice}
	stMary := &viewer{Address: "cc", Org: "st-mary", Datasets: map[string]bool{"cvd": true}}
	stranger := &viewer{Address: bob}
	consent := func(kind, id string) *ledger.Consent {
		return &ledger.Consent{Patient: alice, Scope: ledger.Scope{Kind: kind, ID: id}}
	}
	for _, c := range []struct {
		v    *viewer
		c    *ledger.Consent
		want bool
	}{
		{patient, consent(ledger.ScopeDataset, "elsewhere"), true},
		{patient, &ledger.Consent{Patient: bob, Scope: ledger.Scope{Kind: ledger.ScopeAll}}, false},
		{stMary, consent(ledger.ScopeDataset, "cvd"), true},
		{stMary, consent(ledger.ScopeDataset, "northside-cvd"), false},
		{stMary, consent(ledger.ScopeInstitution, "st-mary"), true},
		{stMary, consent(ledger.ScopeInstitution, "northside"), false},
		{stMary, consent(ledger.ScopeAll, ""), true},
		{stMary, consent("unknown", "st-mary"), false},
		{stranger, consent(ledger.ScopeAll, ""), false},
		{stranger, consent(ledger.ScopeInstitution, ""), false},
	} {
		if got := mayRead(c.v, c.c); got != c.want {
			t.Errorf("viewer %+v, consent %+v: %v, want %v", c.v, c.c.Scope, got, c.want)
		}
	}
}
