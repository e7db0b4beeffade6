package compute_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/vault"
)

// The attack that switched pooled survival off, rerun through the ledger
// against default workers. A researcher wants the date of St Mary's first
// CVD event. Before, a site refused a study whose grid put 1…min_cell−1 of
// its events in an interval, and recorded that on the ledger: one-point
// grids, binary-searched, dated the event to 0.001 of a year in 17 jobs.
// Now (1) a grid that is not one of the public grids is refused by every
// worker before it opens the data — the same answer, free, whatever the
// data — so the search learns nothing; (2) a filter on the time column,
// the other way to slide the event across a fixed public grid, is refused
// the same way; (3) a filter on another column (age) sweeps cohorts past
// the fixed grid, and the grid check answers only for cohorts that differ
// by at least the minimum cohort from every cohort it judged before —
// nearer ones meet the overlap rule — and each such data-dependent
// refusal costs the requester the site's price.
func TestPooledCoxGridOracleClosed(t *testing.T) {
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	e := newEnv(t, ctx, n)
	sites := []studySite{
		{org: "st-mary", admin: "st-mary-admin", dataset: "sm-att", n: 400},
		{org: "northside", admin: "northside-admin", dataset: "ns-att", n: 400},
	}
	for i := range sites {
		sites[i].worker, _, _ = e.site(sites[i].org, sites[i].admin, sites[i].dataset, sites[i].n, int64(71+i), ledger.ConsentOptOut)
	}
	target := sites[0]
	rita := e.key("rita-researcher")
	features := []string{"age", "sbp", "smoker"}

	// submit sends a pooled Cox job whose study the attacker declares by
	// hand, so that neither the CLI's nor the API's check stops it: the
	// study is planned on a public grid, then its grid set to the probe's.
	submit := func(p analysis.SurvivalParams) uint64 {
		t.Helper()
		planned := p
		planned.Grid, planned.Filter = analysis.PooledCoxGrids[0], nil
		raw, _ := json.Marshal(planned)
		m := e.study(&ledger.SubmitJob{Datasets: []string{sites[0].dataset, sites[1].dataset}, Analysis: "survival",
			Params: raw, Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()})
		m.Study.Spec.Cox.Grid = nil
		for _, g := range p.Grid {
			m.Study.Spec.Cox.Grid = append(m.Study.Spec.Cox.Grid, uint64(math.Round(g*1e6)))
		}
		if m.Params, err = json.Marshal(p); err != nil {
			t.Fatal(err)
		}
		id, err := client.JobID(e.submit(rita, m))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// ask submits a job and returns everything the ledger tells anyone
	// about the target's part in it: it runs the target's worker first,
	// then the other's, until the job closes or the target has touched
	// its data (its first contribution is on the ledger: it passed every
	// check).
	type answer struct {
		reason  string // the target's fail reason, or "contributed"
		refusal string // the recorded refusal's code and parameter
		touched bool   // the target computed on its data (and is charged)
		paid    uint64 // what the requester paid for a closed job
	}
	var lastJob *ledger.Job
	ask := func(p analysis.SurvivalParams) answer {
		t.Helper()
		before := balance(e, rita.Address())
		id := submit(p)
		j := e.runUntil(id, sites, func(j *ledger.Job) bool { return j.Sites[slicesIndex(j.Sites, target.dataset)].Touched != "" })
		lastJob = j
		s := j.Sites[slicesIndex(j.Sites, target.dataset)]
		a := answer{reason: "contributed", touched: s.Touched != ""}
		if r, ok := strings.CutPrefix(j.Reason, target.dataset+": "); ok {
			a.reason = r
		} else if !a.touched {
			a.reason = "other site: " + j.Reason
		}
		if j.Status != ledger.JobAdmitted {
			a.paid = before - balance(e, rita.Address())
		}
		if s.Refusal != nil {
			a.refusal = s.Refusal.Code + " " + s.Refusal.Param
		}
		return a
	}

	// The truth, read from the target's vault as only its worker can, and
	// what the old check would have said of each cohort on each grid.
	timeFilter := func(x float64) analysis.SurvivalParams {
		return analysis.SurvivalParams{Time: "cvd_time", Event: "cvd_event", Grid: []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, Features: features,
			Filter: analysis.Filter{{Column: "cvd_time", Op: "<=", Value: ptr(x)}}}
	}
	first := ask(timeFilter(1))
	site := lastJob.Sites[slicesIndex(lastJob.Sites, target.dataset)]
	tbl := targetTable(t, e, target, site)
	oldCheck := func(p analysis.SurvivalParams) bool {
		s, err := analysis.NewSurvivalData(tbl, p)
		if err != nil {
			t.Fatal(err)
		}
		counts, err := analysis.CountOnGrid(s, p.Grid)
		if err != nil {
			t.Fatal(err)
		}
		rel := &outputctl.Releaser{Policy: outputctl.Policy{MinCohort: int64(site.MinCohort), EpsilonMilli: site.EpsilonMilli, ExactRegression: true}}
		return rel.CheckGridCounts(counts[0], p.Grid) != nil
	}
	firstEvent := math.Inf(1)
	s, err := analysis.NewSurvivalData(tbl, analysis.SurvivalParams{Time: "cvd_time", Event: "cvd_event", Grid: []float64{1}, Features: features})
	if err != nil {
		t.Fatal(err)
	}
	for i, tm := range s.Time {
		if s.Event[i] {
			firstEvent = min(firstEvent, tm)
		}
	}

	// (1) The old binary search, 17 one-point grids on (0, 10]: refused →
	// the first event is before the point.
	lo, hi := 0.0, 10.0
	var answers []answer
	var oldSaid []bool
	for range 17 {
		mid := math.Round((lo+hi)/2*1e6) / 1e6
		p := analysis.SurvivalParams{Time: "cvd_time", Event: "cvd_event", Grid: []float64{mid}, Features: features}
		a := ask(p)
		answers = append(answers, a)
		oldSaid = append(oldSaid, oldCheck(p))
		if a.reason != "contributed" {
			hi = mid
		} else {
			lo = mid
		}
	}
	t.Logf("first event at %.4f; one-point search ended on (%.6f, %.6f]; the old check would have answered %v", firstEvent, lo, hi, oldSaid)
	for i, a := range answers {
		want := answer{reason: "invalid_params", refusal: "bad_value grid"}
		if a != want {
			t.Errorf("probe %d: the ledger answered %+v, want %+v for every probe", i, a, want)
		}
	}
	// Two more probes, placed with the truth in hand where the old check
	// answered differently: just after the earliest follow-up end, and at
	// 5 years. The ledger's answers do not move.
	earliest := slices.Min(s.Time)
	for _, x := range []float64{math.Ceil(earliest*1e6+1) / 1e6, 5} {
		p := analysis.SurvivalParams{Time: "cvd_time", Event: "cvd_event", Grid: []float64{x}, Features: features}
		oldSaid = append(oldSaid, oldCheck(p))
		if a := ask(p); a != answers[0] {
			t.Errorf("grid [%g]: the ledger answered %+v, before %+v", x, a, answers[0])
		}
	}
	if !slicesContainsBoth(oldSaid) {
		t.Fatalf("the old check said %v to every probe: the test shows nothing", oldSaid)
	}

	// (2) A fixed public grid, and the time filter swept instead: refused
	// before the data is opened, the same way each time, free.
	if want := (answer{reason: "invalid_params", refusal: "bad_value filter[0].column"}); first != want {
		t.Errorf("a filter on the time column: %+v, want %+v", first, want)
	}
	for _, x := range []float64{0.5, 2, 4} {
		a := ask(timeFilter(x))
		if a != first {
			t.Errorf("time filter <= %g: %+v, want %+v", x, a, first)
		}
	}

	// (3) The filter swept along age, on a public grid fine enough for the
	// check to refuse some cohorts. The grid check gives an answer only for
	// cohorts at least the minimum cohort away from every cohort judged
	// before (with the overlap record made after the check, as it was,
	// this sweep got eight grid answers on cohorts 0 to 10 patients
	// apart); each refusal made after reading the data is paid for.
	grid := analysis.PooledCoxGrids[len(analysis.PooledCoxGrids)-1]
	type judged struct {
		age  float64
		rows []bool
	}
	var checked []judged
	lo, hi = 40, 60
	overlaps, gridAnswers := 0, 0
	for range 8 {
		mid := (lo + hi) / 2
		p := analysis.SurvivalParams{Time: "cvd_time", Event: "cvd_event", Grid: grid, Features: features,
			Filter: analysis.Filter{{Column: "age", Op: ">=", Value: ptr(mid)}}}
		a := ask(p)
		s, err := analysis.NewSurvivalData(tbl, p)
		if err != nil {
			t.Fatal(err)
		}
		switch a.reason {
		case "cohort_overlap":
			overlaps++
		case "contributed", "cohort_too_small":
			gridAnswers++
			if want := oldCheck(p); (a.reason == "contributed") == want {
				t.Errorf("age >= %g: %s, but the grid check says refuse=%v", mid, a.reason, want)
			}
			for _, c := range checked {
				// The same cohort again gets the same answer: only a
				// near one would tell something new.
				if d := symDiff(c.rows, s.Rows); d > 0 && d < int(site.MinCohort) {
					t.Errorf("age >= %g was judged by the grid check %d rows from the cohort of age >= %g, judged before: a difference of fewer than %d patients", mid, d, c.age, site.MinCohort)
				}
			}
			checked = append(checked, judged{mid, s.Rows})
		default:
			t.Errorf("age >= %g: %+v", mid, a)
		}
		if a.reason != "contributed" {
			if !a.touched || a.paid < site.Price {
				t.Errorf("age >= %g: refused (%s) after reading the data, but the requester paid %d of the site's price %d (touched %v)", mid, a.reason, a.paid, site.Price, a.touched)
			}
			lo = mid
		} else {
			hi = mid
		}
		t.Logf("age >= %-8g %-28s (the old check on this cohort: refuse=%v)", mid, a.reason, oldCheck(p))
	}
	if overlaps == 0 || gridAnswers == 0 {
		t.Errorf("the sweep met the grid check %d times and the overlap rule %d times: want both", gridAnswers, overlaps)
	}
}

// targetTable opens the site's version as its worker does.
func targetTable(t *testing.T, e *env, s studySite, site ledger.JobSite) *analysis.Table {
	t.Helper()
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
	return tbl
}

func ptr(x float64) *float64 { return &x }

// slicesContainsBoth says whether bs holds both true and false.
func slicesContainsBoth(bs []bool) bool {
	var seen [2]bool
	for _, b := range bs {
		if b {
			seen[1] = true
		} else {
			seen[0] = true
		}
	}
	return seen[0] && seen[1]
}

// symDiff counts the rows in exactly one of two cohorts.
func symDiff(a, b []bool) int {
	if len(a) != len(b) {
		panic(fmt.Sprintf("cohorts of %d and %d rows", len(a), len(b)))
	}
	d := 0
	for i := range a {
		if a[i] != b[i] {
			d++
		}
	}
	return d
}
