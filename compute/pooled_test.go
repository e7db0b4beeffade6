package compute_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"os"
	"testing"
	"time"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/vault"
)

// TestPooledEqualsCentral runs a three-site logistic regression on a real
// node, coordinated through masked contributions (secure aggregation), and checks every pooled coefficient
// against a plain fit of the pooled consented rows.
func TestPooledEqualsCentral(t *testing.T) {
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	e := newEnv(t, ctx, n)
	type site struct {
		org, dataset string
		worker       *keys.Key
		denied       map[string]bool // pseudonyms whose patient refused
	}
	var sites []site
	for i, s := range []struct {
		org, admin, ds string
		n              int
	}{{"st-mary", "st-mary-admin", "so-cvd", 400}, {"northside", "northside-admin", "ni-cvd", 300}, {"lakeview", "lakeview-admin", "lv-cvd", 350}} {
		wk, people, _ := e.site(s.org, s.admin, s.ds, s.n, int64(21+i), ledger.ConsentOptOut)
		st := site{org: s.org, dataset: s.ds, worker: wk, denied: map[string]bool{}}
		for k := range 3 + i {
			e.patient(s.org, people[k], deny(ledger.ScopeAll, "", "research"))
			st.denied[e.pseudo.PatientPseudonym(people[k].ID)] = true
		}
		sites = append(sites, st)
	}
	rita := e.key("rita-researcher")
	features := []string{"age", "sbp", "total_chol", "hdl", "smoker"}
	params, _ := json.Marshal(analysis.RegressionParams{Outcome: "cvd_10y", Features: features})
	rec := e.submit(rita, e.study(&ledger.SubmitJob{Datasets: []string{"so-cvd", "ni-cvd", "lv-cvd"}, Analysis: "logistic_regression",
		Params: params, Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()}))
	id, err := client.JobID(rec)
	if err != nil {
		t.Fatal(err)
	}
	store, err := compute.OpenResultStore(compute.ResultsDir(n.Home))
	if err != nil {
		t.Fatal(err)
	}
	var j *ledger.Job
	for round := 0; ; round++ {
		if round > 40 {
			t.Fatalf("job %d not completed after %d rounds", id, round)
		}
		for k, s := range sites {
			// Fixed noise keys (the counts and the diagnostics' histograms
			// are noisy): the test's outcome does not depend on the draw.
			w := &compute.Worker{Key: s.worker, Org: s.org, Measurement: measurement, Vault: e.v, Ledger: e.c, Results: store,
				StudyNoiseKey: []byte{byte(k + 1)}, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
			if _, err := w.RunOnce(ctx); err != nil {
				t.Fatalf("%s worker: %v", s.org, err)
			}
		}
		if j, err = e.c.Job(ctx, id); err != nil {
			t.Fatal(err)
		}
		if j.Status != ledger.JobAdmitted {
			break
		}
	}
	if j.Status != ledger.JobCompleted {
		t.Fatalf("job %d is %s (%s)", id, j.Status, j.Reason)
	}
	view, err := e.c.Study(ctx, id)
	if err != nil {
		t.Fatal(err)
	}

	// The central fit: every site's consented rows in one table.
	cols := map[string]*analysis.Column{}
	var names []string
	var keep []bool
	for _, s := range sites {
		site := j.Sites[slicesIndex(j.Sites, s.dataset)]
		id, err := vault.NewIdentity(s.worker.Enc)
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.v.Open(site.Dataset, site.Version, site.ContentRoot, id)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := compute.LoadTable(v)
		if err != nil {
			t.Fatal(err)
		}
		for c, err := range v.Pseudonyms() {
			if err != nil {
				t.Fatal(err)
			}
			for r := 0; r < c.Rows; r++ {
				keep = append(keep, !s.denied[c.Strs[r]])
			}
		}
		if names == nil {
			names = tbl.Names()
		}
		for _, name := range names {
			col, ok := tbl.Column(name)
			if !ok {
				t.Fatalf("%s has no column %s", s.dataset, name)
			}
			if cols[name] == nil {
				cols[name] = &analysis.Column{Name: name}
			}
			cc := cols[name]
			cc.Values = append(cc.Values, col.Values...)
			valid := col.Valid
			if valid == nil {
				valid = make([]bool, len(col.Values))
				for i := range valid {
					valid[i] = true
				}
			}
			cc.Valid = append(cc.Valid, valid...)
		}
	}
	var all []analysis.Column
	for _, name := range names {
		all = append(all, *cols[name])
	}
	tbl, err := analysis.NewTable(all...)
	if err != nil {
		t.Fatal(err)
	}
	if tbl, err = tbl.Where(keep); err != nil {
		t.Fatal(err)
	}
	central, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "cvd_10y", Features: features})
	if err != nil {
		t.Fatal(err)
	}

	var first []analysis.Coefficient
	for _, s := range j.Sites {
		res, _, err := compute.FetchResult(ctx, e.c, j, s.Dataset, rita)
		if err != nil {
			t.Fatal(err)
		}
		var rel compute.PooledRelease
		if err := json.Unmarshal(res.Release, &rel); err != nil {
			t.Fatal(err)
		}
		// Pooled diagnostics from the sites' noisy risk-bin histograms:
		// close to the central fit's row-level AUC, a calibration table
		// whose groups all hold at least a minimum cell.
		if d := rel.Diagnostics; d == nil || math.Abs(d.AUC-central.AUC) > 0.06 || d.Calibration == nil || len(d.Bins) < 2 {
			t.Errorf("%s: diagnostics %+v, central AUC %.4f", s.Dataset, rel.Diagnostics, central.AUC)
		} else {
			for _, b := range d.Bins {
				if b.N < 11 {
					t.Errorf("%s: calibration group of %d rows", s.Dataset, b.N)
				}
			}
			if s.Dataset == j.Sites[0].Dataset {
				t.Logf("pooled AUC %.4f from 10 noisy bins (central, row level: %.4f); calibration intercept %.3f slope %.3f; %d groups",
					d.AUC, central.AUC, d.Calibration.Intercept, d.Calibration.Slope, len(d.Bins))
			}
		}
		// The pooled counts are public sums, so every site adds noise to
		// its own (the coefficients are exact).
		if d := rel.Regression.N - central.N; d < -60 || d > 60 {
			t.Errorf("%s: pooled n=%d, central n=%d", s.Dataset, rel.Regression.N, central.N)
		}
		if d := rel.Regression.Events - central.Events; d < -60 || d > 60 {
			t.Errorf("%s: pooled events=%d, central events=%d", s.Dataset, rel.Regression.Events, central.Events)
		}
		if len(rel.Regression.Coefficients) != len(central.Coefficients) {
			t.Fatalf("%s: %d coefficients, central %d", s.Dataset, len(rel.Regression.Coefficients), len(central.Coefficients))
		}
		for k, c := range rel.Regression.Coefficients {
			want := central.Coefficients[k]
			if d := math.Abs(c.Estimate-want.Estimate) / math.Abs(want.Estimate); d > 1e-6 {
				t.Errorf("%s %s: pooled %.12g, central %.12g (relative difference %.2g)", s.Dataset, c.Name, c.Estimate, want.Estimate, d)
			}
			if d := math.Abs(c.SE-want.SE) / want.SE; d > 1e-6 {
				t.Errorf("%s %s: pooled SE %.12g, central %.12g", s.Dataset, c.Name, c.SE, want.SE)
			}
		}
		if first == nil {
			first = rel.Regression.Coefficients
		} else {
			for k := range first {
				if first[k].Estimate != rel.Regression.Coefficients[k].Estimate {
					t.Errorf("%s: coefficient %s differs between sites", s.Dataset, first[k].Name)
				}
			}
		}
	}
	t.Logf("pooled fit: n=%d events=%d, %d sums on the ledger (the last one N and events)", central.N, central.Events, len(view.Sums))
	for _, c := range central.Coefficients {
		t.Logf("  %-10s %.6f", c.Name, c.Estimate)
	}
}

func slicesIndex(s []ledger.JobSite, ds string) int {
	for i := range s {
		if s[i].Dataset == ds {
			return i
		}
	}
	return -1
}
