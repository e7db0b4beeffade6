package main

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
)

// TestDemo plays `medchain demo` end to end: three institutions publish,
// patients decide, the pooled study runs through the ledger, the result
// verifies, the tokens land. The consented cohort is known from the demo's
// own set-up: St Mary's 1,500 minus patient-2's refusal, Northside's 200
// enrolled (patient-3 revoked, the rest never opted in), Lakeview's 800.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a whole network")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var out bytes.Buffer
	home := filepath.Join(t.TempDir(), "home")
	got, err := playDemo(ctx, home, &out, false)
	if err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	checkDemoAgainstCentralFit(t, home, got)
	text := out.String()
	for _, want := range []string{
		"job 0 completed",
		"rita-researcher      1000000 →    999760  (-240)",
		"st-mary-worker             0 →        10  (+10)",
		"st-mary-cvd        patient pool 30 tokens",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	// The pooled counts are noisy (public sums); the coefficients exact.
	if !regexp.MustCompile(`pooled fit on about \d+ consented patients`).MatchString(text) {
		t.Error("demo output lacks the pooled fit's line")
	}
	if strings.Contains(text, "FAIL") {
		t.Error("a verification check failed")
	}
	if n := len(regexp.MustCompile(`(?m)^   ok   `).FindAllString(text, -1)); n != 12 {
		t.Errorf("%d verification checks passed, want 4 for each of 3 sites", n)
	}
	if t.Failed() {
		t.Log(text)
	}
}

// checkDemoAgainstCentralFit fits, centrally, a plain logistic regression
// on exactly the rows the demo's consents allow — read back from the three
// institutions' vaults with their own keys — and requires the pooled study
// the workers released to agree on every coefficient (relative difference
// ≤ 1e-6), and on n and events.
func checkDemoAgainstCentralFit(t *testing.T, home string, got *demoOutcome) {
	t.Helper()
	v, err := vault.Open(filepath.Join(home, "vault"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := v.Secret()
	if err != nil {
		t.Fatal(err)
	}
	d, err := deid.New(deid.SafeHarbor(), secret)
	if err != nil {
		t.Fatal(err)
	}
	names := append([]string{"cvd_10y"}, demoFeatures...)
	pooled := make([]analysis.Column, len(names))
	for i, n := range names {
		pooled[i].Name = n
	}
	for _, site := range seed.DemoSites {
		people, err := synth.Generate(synth.Config{N: site.Patients, Seed: site.Seed, RefDate: seed.DemoRefDate})
		if err != nil {
			t.Fatal(err)
		}
		// Who may be used, by the demo's own consent set-up.
		keep := func(string) bool { return true } // opt-out: everyone but refusals
		switch site.Org {
		case "st-mary": // patient-2 (row 0) refused research
			refused := d.PatientPseudonym(people[0].ID)
			keep = func(p string) bool { return p != refused }
		case "northside": // opt-in: the enrolled rows 1..demoEnrolled; patient-3 (row 0) revoked
			enrolled := map[string]bool{}
			for _, p := range people[1 : demoEnrolled+1] {
				enrolled[d.PatientPseudonym(p.ID)] = true
			}
			keep = func(p string) bool { return enrolled[p] }
		}
		admin, err := keys.Load(node.KeysDir(home), site.Admin)
		if err != nil {
			t.Fatal(err)
		}
		id, err := vault.NodeIdentity(admin.Enc)
		if err != nil {
			t.Fatal(err)
		}
		var root string
		for _, s := range got.Job.Sites {
			if s.Dataset == site.Dataset {
				root = s.ContentRoot
			}
		}
		ver, err := v.Open(site.Dataset, 1, root, id)
		if err != nil {
			t.Fatal(err)
		}
		var mask []bool
		for c, err := range ver.Pseudonyms() {
			if err != nil {
				t.Fatal(err)
			}
			for r := 0; r < c.Rows; r++ {
				mask = append(mask, keep(c.Strs[r]))
			}
		}
		tab, err := compute.LoadTable(ver)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range names {
			col, ok := tab.Column(n)
			if !ok {
				t.Fatalf("%s has no column %s", site.Dataset, n)
			}
			for r, k := range mask {
				if k {
					pooled[i].Values = append(pooled[i].Values, col.Values[r])
					pooled[i].Valid = append(pooled[i].Valid, col.Valid[r])
				}
			}
		}
	}
	table, err := analysis.NewTable(pooled...)
	if err != nil {
		t.Fatal(err)
	}
	want, err := analysis.Regress(table, analysis.RegressionParams{Outcome: "cvd_10y", Features: demoFeatures})
	if err != nil {
		t.Fatal(err)
	}
	reg := got.Regression
	// N and events are sums of every site's noisy counts (public on the
	// ledger); the coefficients are exact. Each site's count noise is
	// discrete Laplace of scale 12 (sensitivity 2 for the pair, a third of
	// its ε = 0.5), so the sum of three has an SD of about 29: within 8 SD
	// (240), a wrong count is caught and noise almost never fails the test
	// (±80 failed one CI run in about a hundred, at −97).
	const tol = 240
	if d := reg.N - want.N; d < -tol || d > tol {
		t.Errorf("released n=%d, central fit n=%d", reg.N, want.N)
	}
	if d := reg.Events - want.Events; d < -tol || d > tol {
		t.Errorf("released events=%d, central fit events=%d", reg.Events, want.Events)
	}
	if len(reg.Coefficients) != len(want.Coefficients) {
		t.Fatalf("released %d coefficients, central fit %d", len(reg.Coefficients), len(want.Coefficients))
	}
	for i, c := range reg.Coefficients {
		w := want.Coefficients[i]
		if c.Name != w.Name || math.Abs(c.Estimate-w.Estimate) > 1e-6*math.Abs(w.Estimate) {
			t.Errorf("%s: pooled %.10g, central %s %.10g", c.Name, c.Estimate, w.Name, w.Estimate)
		}
	}
	t.Logf("pooled study = central fit on %d consented rows (%d events), %d coefficients within 1e-6", want.N, want.Events, len(want.Coefficients))
}
