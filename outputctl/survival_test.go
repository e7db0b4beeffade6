package outputctl_test

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/outputctl"
)

var years = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

// refCohort is the cohort package analysis compares with R.
func refCohort(t *testing.T, p analysis.SurvivalParams) *analysis.SurvivalData {
	t.Helper()
	f, err := os.Open("../analysis/testdata/survival/cohort.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	cols := make([]analysis.Column, len(recs[0]))
	for j, h := range recs[0] {
		cols[j].Name = h
		for _, r := range recs[1:] {
			v, _ := strconv.ParseFloat(r[j], 64)
			cols[j].Values = append(cols[j].Values, v)
		}
	}
	tbl, err := analysis.NewTable(cols...)
	if err != nil {
		t.Fatal(err)
	}
	p.Time, p.Event = "time", "event"
	if p.Grid == nil {
		p.Grid = years
	}
	s, err := analysis.NewSurvivalData(tbl, p)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Without noise, a curve whose yearly intervals all pass the rules is R's
// survfit of the times coarsened to the years, read at the years
// (analysis/testdata/survival/km_grid.ref.csv: 1 year 0.9865, 2 years
// 0.96104528699315439, …), with the last point's censorings withheld.
func TestSurvivalCurveIsTheGridKaplanMeier(t *testing.T) {
	s := refCohort(t, analysis.SurvivalParams{})
	counts, err := analysis.CountOnGrid(s, years)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := (&outputctl.Releaser{Policy: outputctl.Policy{MinCohort: 20}}).ReleaseSurvival(outputctl.SurvivalResult{Grid: years, Counts: counts})
	if err != nil {
		t.Fatal(err)
	}
	want := analysis.KaplanMeier(s.Coarsened(years))[0].Steps
	c := rel.Curves[0]
	if len(c.Points) != len(years) || c.Truncated || len(c.Merged) > 0 {
		t.Fatalf("released %d points (truncated %v, merged %v), want all %d", len(c.Points), c.Truncated, c.Merged, len(years))
	}
	for k, p := range c.Points {
		w := want[k]
		if p.Time != w.Time || p.NRisk != int64(w.NRisk) || p.NEvent != int64(w.NEvent) || p.Surv != w.Surv || p.Lower != w.Lower || p.Upper != w.Upper {
			t.Errorf("point %v: %+v, Kaplan–Meier %+v", p.Time, p, w)
		}
		last := k == len(c.Points)-1
		if last != (p.NCensor == nil) {
			t.Errorf("point %v: censorings released %v", p.Time, p.NCensor != nil)
		}
	}
	if math.Abs(c.Points[1].Surv-0.96104528699315439) > 1e-15 {
		t.Errorf("2-year survival %v, R 0.96104528699315439", c.Points[1].Surv)
	}
}

// On many small random cohorts and grids, nothing released along a curve
// — no count, no difference of counts — is a small count, every risk set
// is at least the minimum cohort, and the curve is the Kaplan–Meier curve
// of the times coarsened to the released points.
func TestSurvivalCurveNeverRevealsASmallGroup(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const minCell = 11
	released := 0
	for trial := range 400 {
		n := 20 + rng.IntN(300)
		minCohort := int64(minCell + rng.IntN(40))
		time := make([]float64, n)
		event := make([]float64, n)
		for i := range time {
			time[i] = math.Ceil(rng.ExpFloat64()*5*10) / 10
			if rng.Float64() < 0.6 {
				event[i] = 1
			}
		}
		var grid []float64
		for g := 0.5 + rng.Float64(); g < 15; g += 0.2 + 2*rng.Float64() {
			grid = append(grid, math.Round(g*10)/10)
		}
		tbl, err := analysis.NewTable(analysis.Column{Name: "time", Values: time}, analysis.Column{Name: "event", Values: event})
		if err != nil {
			t.Fatal(err)
		}
		s, err := analysis.NewSurvivalData(tbl, analysis.SurvivalParams{Time: "time", Event: "event", Grid: grid})
		if err != nil {
			t.Fatal(err)
		}
		counts, _ := analysis.CountOnGrid(s, grid)
		rel, err := (&outputctl.Releaser{Policy: outputctl.Policy{MinCohort: minCohort}}).ReleaseSurvival(outputctl.SurvivalResult{Grid: grid, Counts: counts})
		if int64(n) < minCohort {
			if !errors.Is(err, outputctl.ErrBelowMinCohort) {
				t.Fatalf("trial %d: cohort %d below %d released (%v)", trial, n, minCohort, err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		small := func(v int64) bool { return v > 0 && v < minCell }
		pts := rel.Curves[0].Points
		released += len(pts)
		var times []float64
		for k, p := range pts {
			times = append(times, p.Time)
			if p.NRisk < minCohort || small(p.NEvent) || small(p.NRisk-p.NEvent) {
				t.Fatalf("trial %d point %d: %+v (min cohort %d)", trial, k, p, minCohort)
			}
			if p.NCensor != nil && small(*p.NCensor) {
				t.Fatalf("trial %d point %d: censored %d", trial, k, *p.NCensor)
			}
			if k > 0 && small(pts[k-1].NRisk-p.NRisk) {
				t.Fatalf("trial %d point %d: risk sets differ by %d", trial, k, pts[k-1].NRisk-p.NRisk)
			}
			if k < len(pts)-1 && p.NCensor == nil {
				t.Fatalf("trial %d point %d: censorings withheld before the last point", trial, k)
			}
			if p.NCensor != nil && p.NRisk-p.NEvent-*p.NCensor < minCohort {
				t.Fatalf("trial %d point %d: censorings released where the rest followed (%d) are fewer than the minimum cohort", trial, k, p.NRisk-p.NEvent-*p.NCensor)
			}
		}
		if len(times) == 0 {
			continue
		}
		km := analysis.KaplanMeier(s.Coarsened(times))[0].Steps
		for _, p := range pts {
			surv := 1.0 // the Kaplan–Meier curve at p.Time: its last step at or before it
			for _, st := range km {
				if st.Time <= p.Time {
					surv = st.Surv
				}
				if st.Time == p.Time && int64(st.NRisk) != p.NRisk {
					t.Fatalf("trial %d point %v: %d at risk, Kaplan–Meier on the released points %d", trial, p.Time, p.NRisk, st.NRisk)
				}
			}
			if math.Abs(surv-p.Surv) > 1e-12 {
				t.Fatalf("trial %d point %v: survival %v, Kaplan–Meier on the released points %v", trial, p.Time, p.Surv, surv)
			}
		}
	}
	if released < 400 {
		t.Errorf("only %d points released over all trials: the test exercises little", released)
	}
}

// With an epsilon the grid histogram is noisy, the epsilon is charged
// once, a Cox model needs exact_regression and a log-rank test is withheld
// without it.
func TestSurvivalReleaseUnderEpsilon(t *testing.T) {
	s := refCohort(t, analysis.SurvivalParams{Features: []string{"age", "smoker"}, Group: &analysis.Factor{Column: "male", Levels: []string{"0", "1"}}})
	counts, _ := analysis.CountOnGrid(s, years)
	fit, err := analysis.FitCox(s, analysis.TiesEfron, analysis.SolverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lr, err := analysis.LogRankTest(s)
	if err != nil {
		t.Fatal(err)
	}
	r := private(500, 2000, 9)
	if _, err := r.ReleaseSurvival(outputctl.SurvivalResult{Grid: years, Counts: counts, Cox: fit}); !errors.Is(err, outputctl.ErrNoPrivateRegression) {
		t.Fatalf("Cox under epsilon without exact_regression: %v", err)
	}
	if r.Budget.SpentMilli != 0 {
		t.Fatalf("a refused release spent %d", r.Budget.SpentMilli)
	}
	rel, err := r.ReleaseSurvival(outputctl.SurvivalResult{Grid: years, Counts: counts, LogRank: &lr})
	if err != nil {
		t.Fatal(err)
	}
	if !rel.Noisy || rel.EpsilonSpentMilli != 500 || r.Budget.SpentMilli != 500 || rel.LogRank != nil || !rel.LogRankWithheld {
		t.Fatalf("noisy %v spent %d (budget %d), log-rank %v withheld %v", rel.Noisy, rel.EpsilonSpentMilli, r.Budget.SpentMilli, rel.LogRank, rel.LogRankWithheld)
	}
	exactCounts := 0
	for g, c := range rel.Curves {
		for _, p := range c.Points {
			k := int(p.Time) - 1
			if p.NEvent == counts[g].Events[k] {
				exactCounts++
			}
		}
	}
	if exactCounts > 10 {
		t.Errorf("%d of the noisy event counts equal the exact ones", exactCounts)
	}
	r.Policy.ExactRegression = true
	rel, err = r.ReleaseSurvival(outputctl.SurvivalResult{Grid: years, Counts: counts, LogRank: &lr, Cox: fit})
	if err != nil {
		t.Fatal(err)
	}
	if rel.Cox == nil || rel.LogRank == nil || !rel.Noisy {
		t.Fatalf("with exact_regression: cox %v log-rank %v noisy %v", rel.Cox != nil, rel.LogRank != nil, rel.Noisy)
	}
}

// A Cox model with too few events, or a 0/1 column with a small group, is
// refused like a regression.
func TestCoxReleaseRules(t *testing.T) {
	fit := &analysis.CoxFit{N: 500, Events: 10, Coefficients: []analysis.Coefficient{{Name: "age"}}}
	if _, err := exact().ReleaseSurvival(outputctl.SurvivalResult{Grid: years, Cox: fit}); !errors.Is(err, outputctl.ErrTooFewEvents) {
		t.Errorf("10 events: %v", err)
	}
	fit = &analysis.CoxFit{N: 500, Events: 100, Coefficients: []analysis.Coefficient{{Name: "smoker", Levels: &analysis.Levels{Zeros: 495, Ones: 5}}}}
	if _, err := exact().ReleaseSurvival(outputctl.SurvivalResult{Grid: years, Cox: fit}); !errors.Is(err, outputctl.ErrSmallGroup) {
		t.Errorf("5 smokers: %v", err)
	}
	fit = &analysis.CoxFit{N: 40, Events: 20, Coefficients: []analysis.Coefficient{{Name: "age"}}}
	if _, err := exact().ReleaseSurvival(outputctl.SurvivalResult{Grid: years, Cox: fit}); !errors.Is(err, outputctl.ErrBelowMinCohort) {
		t.Errorf("40 rows: %v", err)
	}
}

// A site of a pooled Cox study contributes only when the counts its sums
// imply at zero coefficients are safe to add: every risk set 0 or at
// least the minimum cohort, every interval's events and censorings and the
// rows followed beyond the grid 0 or at least the minimum cell. The
// refusal names the grid point, never a count.
func TestCheckGridCounts(t *testing.T) {
	r := &outputctl.Releaser{Policy: outputctl.Policy{MinCohort: 50}}
	grid := []float64{2, 4, 6}
	ok := analysis.GridCounts{Events: []int64{20, 0, 15}, Censored: []int64{11, 30, 0}, Beyond: 54}
	if err := r.CheckGridCounts(ok, grid); err != nil {
		t.Fatalf("%+v: %v", ok, err)
	}
	for _, tc := range []struct {
		c    analysis.GridCounts
		want error
		at   string
	}{
		{analysis.GridCounts{Events: []int64{20, 3, 15}, Censored: []int64{11, 30, 0}, Beyond: 54}, outputctl.ErrSmallGroup, "ending at 4"},
		{analysis.GridCounts{Events: []int64{20, 0, 15}, Censored: []int64{11, 0, 40}, Beyond: 5}, outputctl.ErrSmallGroup, "beyond the grid"},
		{analysis.GridCounts{Events: []int64{20, 11, 15}, Censored: []int64{11, 30, 0}, Beyond: 0}, outputctl.ErrBelowMinCohort, "grid point 6"},
	} {
		err := r.CheckGridCounts(tc.c, grid)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.at) {
			t.Errorf("%+v: %v, want %v at %q", tc.c, err, tc.want, tc.at)
		}
		// The only numbers a refusal holds are the policy's and the grid's.
		for _, num := range regexp.MustCompile(`\d+`).FindAllString(fmt.Sprint(err), -1) {
			if num != "50" && num != "11" && num != "2" && num != "4" && num != "6" {
				t.Errorf("the refusal %q carries the number %s", err, num)
			}
		}
	}
}

// TestCheckGridSupport: a pooled Cox round publishes each grid interval's
// sums over its events and its leavers of every column and pair product,
// so one woman among an interval's eleven events would give her age
// (Σ age·female); the rule refuses that, and a woman fewer than eleven
// short of all of them, and passes when every interval's cells are 0 or
// at least the minimum cell.
func TestCheckGridSupport(t *testing.T) {
	r := &outputctl.Releaser{Policy: outputctl.Policy{MinCohort: 50}} // min cell 11
	grid := []float64{2, 4}
	// rows: 22 events in (0,2], 11 censored in (2,4], 30 followed beyond.
	build := func(women func(i int) bool) (*analysis.SurvivalData, [][]float64) {
		s := &analysis.SurvivalData{Features: []string{"age", "female"}}
		age, female := []float64{}, []float64{}
		add := func(t float64, ev bool) {
			i := len(s.Time)
			s.Time, s.Event = append(s.Time, t), append(s.Event, ev)
			age = append(age, 40+float64(i%30))
			f := 0.0
			if women(i) {
				f = 1
			}
			female = append(female, f)
		}
		for range 22 {
			add(1.5, true)
		}
		for range 11 {
			add(3, false)
		}
		for range 30 {
			add(9, false)
		}
		return s, [][]float64{age, female}
	}
	// Eleven women among the first interval's events, eleven among the
	// beyond rows: every cell is 0 or at least 11.
	s, x := build(func(i int) bool { return i < 11 || i >= 33+19 })
	if err := r.CheckGridSupport(s, x, grid); err != nil {
		t.Fatalf("cells of 0 or at least 11: %v", err)
	}
	for name, women := range map[string]func(int) bool{
		"one woman among the events":          func(i int) bool { return i == 5 },
		"all but one of the events are women": func(i int) bool { return i < 21 },
		"one woman among the censored":        func(i int) bool { return i == 25 || (i < 11) },
	} {
		s, x := build(women)
		err := r.CheckGridSupport(s, x, grid)
		if !errors.Is(err, outputctl.ErrSmallGroup) {
			t.Errorf("%s: %v, want ErrSmallGroup", name, err)
			continue
		}
		// The refusal names columns and the public grid, never counts or values.
		for _, num := range regexp.MustCompile(`\d+`).FindAllString(err.Error(), -1) {
			if num != "11" && num != "2" && num != "4" {
				t.Errorf("%s: the refusal %q carries the number %s", name, err, num)
			}
		}
	}
}
