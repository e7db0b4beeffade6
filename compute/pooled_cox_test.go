package compute_test

import (
	"encoding/json"
	"log/slog"
	"math"
	"os"
	"testing"
	"time"

	"context"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/vault"
)

// A survival job with a Cox model over three hospitals is one pooled
// model, run by default workers: every iteration each site posts its
// risk-set sums on a public grid (one of analysis.PooledCoxGrids), masked
// and proven in bounds; the ledger adds them; every site replays the same fit and releases the same model. It equals
// the Cox model of the pooled consented rows with times coarsened to the
// grid — the grid-central fit — to 1e-6 in the coefficients (the standard
// errors come from the information at the last point the study evaluated,
// a step of at most 1e-6 before the estimates, so they agree to 1e-5).
func TestPooledCoxEqualsGridCentral(t *testing.T) {
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
		denied       map[string]bool
	}
	var sites []site
	for i, s := range []struct {
		org, admin, ds string
		n              int
	}{{"st-mary", "st-mary-admin", "so-surv", 700}, {"northside", "northside-admin", "ni-surv", 600}, {"lakeview", "lakeview-admin", "lv-surv", 650}} {
		wk, people, _ := e.site(s.org, s.admin, s.ds, s.n, int64(61+i), ledger.ConsentOptOut)
		st := site{org: s.org, dataset: s.ds, worker: wk, denied: map[string]bool{}}
		for k := range 2 + i {
			e.patient(s.org, people[k], deny(ledger.ScopeAll, "", "research"))
			st.denied[e.pseudo.PatientPseudonym(people[k].ID)] = true
		}
		sites = append(sites, st)
	}
	grid := []float64{5, 10, 15, 20} // one of analysis.PooledCoxGrids
	// Measurements only: a 0/1 column such as smoker must be 1 (and 0) on
	// none or at least the minimum cell of each interval's events and
	// leavers at each site (outputctl.CheckGridSupport), which sites of a
	// few hundred rows do not meet on this grid.
	params := analysis.SurvivalParams{Time: "cvd_time", Event: "cvd_event", Grid: grid, Features: []string{"age", "sbp"}}
	raw, _ := json.Marshal(params)
	rita := e.key("rita-researcher")
	m := e.study(&ledger.SubmitJob{Datasets: []string{"so-surv", "ni-surv", "lv-surv"}, Analysis: "survival",
		Params: raw, Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()})
	if !compute.NeedsStudy(m) || m.Study.Spec.Cox == nil {
		t.Fatalf("a survival job with features over three datasets is not planned as a Cox study: %+v", m.Study)
	}
	id, err := client.JobID(e.submit(rita, m))
	if err != nil {
		t.Fatal(err)
	}
	store, err := compute.OpenResultStore(compute.ResultsDir(n.Home))
	if err != nil {
		t.Fatal(err)
	}
	var j *ledger.Job
	for round := 0; ; round++ {
		if round > 60 {
			t.Fatalf("job %d not completed after %d rounds", id, round)
		}
		for k, s := range sites {
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

	// The grid-central fit: every site's consented rows in one table, the
	// times coarsened to the grid.
	var tables []*analysis.Table
	var keep []bool
	for _, s := range sites {
		site := j.Sites[slicesIndex(j.Sites, s.dataset)]
		ident, err := vault.NewIdentity(s.worker.Enc)
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.v.Open(site.Dataset, site.Version, site.ContentRoot, ident)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := compute.LoadTable(v)
		if err != nil {
			t.Fatal(err)
		}
		tables = append(tables, tbl)
		for c, err := range v.Pseudonyms() {
			if err != nil {
				t.Fatal(err)
			}
			for r := 0; r < c.Rows; r++ {
				keep = append(keep, !s.denied[c.Strs[r]])
			}
		}
	}
	tbl := concatTables(t, tables, []string{"cvd_time", "cvd_event", "age", "sbp"})
	if tbl, err = tbl.Where(keep); err != nil {
		t.Fatal(err)
	}
	s, err := analysis.NewSurvivalData(tbl, params)
	if err != nil {
		t.Fatal(err)
	}
	central, err := analysis.FitCox(s.Coarsened(grid), analysis.TiesEfron, analysis.SolverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	worst := 0.0 // the largest relative difference of a coefficient
	for _, st := range j.Sites {
		res, _, err := compute.FetchResult(ctx, e.c, j, st.Dataset, rita)
		if err != nil {
			t.Fatal(err)
		}
		if res.ReleaseKind != compute.KindPooledSurvival {
			t.Fatalf("%s: release kind %q", st.Dataset, res.ReleaseKind)
		}
		var rel outputctl.SurvivalRelease
		if err := json.Unmarshal(res.Release, &rel); err != nil {
			t.Fatal(err)
		}
		cox := rel.Cox
		if cox == nil || len(cox.Coefficients) != len(central.Coefficients) {
			t.Fatalf("%s: released %+v", st.Dataset, rel)
		}
		for k, c := range cox.Coefficients {
			want := central.Coefficients[k]
			worst = max(worst, math.Abs(c.Estimate-want.Estimate)/math.Abs(want.Estimate))
			if c.Name != want.Name {
				t.Errorf("%s: coefficient %d is %q, central %q", st.Dataset, k, c.Name, want.Name)
			}
			if d := math.Abs(c.Estimate-want.Estimate) / math.Abs(want.Estimate); d > 1e-6 {
				t.Errorf("%s %s: pooled %.12g, central %.12g (relative difference %.2g)", st.Dataset, c.Name, c.Estimate, want.Estimate, d)
			}
			if d := math.Abs(c.SE-want.SE) / want.SE; d > 1e-5 {
				t.Errorf("%s %s: pooled SE %.12g, central %.12g (relative difference %.2g)", st.Dataset, c.Name, c.SE, want.SE, d)
			}
		}
		if d := math.Abs(cox.LogLik-central.LogLik) / math.Abs(central.LogLik); d > 1e-6 {
			t.Errorf("%s: pooled log-likelihood %.10g, central %.10g", st.Dataset, cox.LogLik, central.LogLik)
		}
		if cox.LogLikNull != 0 && math.Abs(cox.LogLikNull-central.LogLikNull)/math.Abs(central.LogLikNull) > 1e-6 {
			t.Errorf("%s: pooled null log-likelihood %.10g, central %.10g", st.Dataset, cox.LogLikNull, central.LogLikNull)
		}
		// The pooled counts are public sums, so every site adds noise to
		// its own (the coefficients are exact).
		if d := cox.N - central.N; d < -60 || d > 60 {
			t.Errorf("%s: pooled n=%d, central n=%d", st.Dataset, cox.N, central.N)
		}
		if cox.Concordance != nil || len(rel.Curves) != 0 {
			t.Errorf("%s: a pooled release with a concordance or curves", st.Dataset)
		}
	}
	t.Logf("pooled Cox: n=%d events=%d, %d sums on the ledger (the last one N and events); coefficients within %.2g of the grid-central fit", central.N, central.Events, len(view.Sums), worst)
	for _, c := range central.Coefficients {
		t.Logf("  %-8s %.6f (HR %.4f)", c.Name, c.Estimate, c.Ratio.Estimate)
	}
}

// concatTables puts the named numeric columns of tables one under the
// other.
func concatTables(t *testing.T, tables []*analysis.Table, names []string) *analysis.Table {
	t.Helper()
	var all []analysis.Column
	for _, name := range names {
		cc := analysis.Column{Name: name}
		for _, tbl := range tables {
			col, ok := tbl.Column(name)
			if !ok {
				t.Fatalf("a site has no column %s", name)
			}
			if col.Levels != nil {
				t.Fatalf("column %s is a dictionary: concatenating it would need its levels merged", name)
			}
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
		all = append(all, cc)
	}
	tbl, err := analysis.NewTable(all...)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}
