package analysis_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
)

// The public grids are valid grids, distinct, and short enough to fit a
// study's contribution with at least one column; the list a researcher
// reads is the list the check uses.
func TestPooledCoxGrids(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range analysis.PooledCoxGrids {
		if err := analysis.ValidateGrid(g); err != nil {
			t.Errorf("%v: %v", g, err)
		}
		if err := analysis.CheckPooledCoxGrid(g); err != nil {
			t.Errorf("%v: %v", g, err)
		}
		k := fmt.Sprint(g)
		if seen[k] {
			t.Errorf("%v listed twice", g)
		}
		seen[k] = true
		if len(g) > 46 { // 1 + 2(1 + 1 + 1) values per point, at most 327
			t.Errorf("%v has %d points: no one-column study fits", g, len(g))
		}
	}
	if got := analysis.PooledCoxGridList(); !strings.HasPrefix(got, "[5,10], [5,10,15], ") {
		t.Errorf("list %q", got)
	}
	var pe *analysis.ParamError
	if err := analysis.CheckPooledCoxGrid([]float64{5, 10.000001}); !errors.As(err, &pe) || pe.Param != "grid" {
		t.Errorf("a grid next to a public one: %v", err)
	}
}

// A survival cohort is not chosen by its own time or event.
func TestSurvivalFilterOnOutcomeRefused(t *testing.T) {
	v := 2.0
	for _, col := range []string{"cvd_time", "cvd_event"} {
		p := analysis.SurvivalParams{Time: "cvd_time", Event: "cvd_event", Grid: []float64{5}, Filter: analysis.Filter{{Column: "age", Op: ">=", Value: &v}, {Column: col, Op: "<=", Value: &v}}}
		var pe *analysis.ParamError
		if err := p.Validate(); !errors.As(err, &pe) || pe.Param != "filter[1].column" || !strings.Contains(pe.Reason, col) {
			t.Errorf("filter on %s: %v", col, err)
		}
	}
	p := analysis.SurvivalParams{Time: "cvd_time", Event: "cvd_event", Grid: []float64{5}, Filter: analysis.Filter{{Column: "age", Op: ">=", Value: &v}}}
	if err := p.Validate(); err != nil {
		t.Errorf("filter on age: %v", err)
	}
}
