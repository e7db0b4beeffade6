package outputctl_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/outputctl"
)

// Every level of a factor — the reference too, which has no column of its
// own — must hold the minimum cohort; otherwise the regression is refused
// with a message that names the level (the requester's word) and no count.
func TestFactorLevelBelowMinCohortIsRefused(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	n := 2000
	x, g, y := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		x[i] = rng.NormFloat64()
		g[i] = float64(rng.IntN(2)) // "b" or "c"
		if i < 7 {
			g[i] = 2 // 7 rows of the rare level "a"
		}
		y[i] = b2f(rng.Float64() < 0.3)
	}
	tbl, err := analysis.NewTable(analysis.Column{Name: "x", Values: x}, analysis.Column{Name: "y", Values: y},
		analysis.Column{Name: "g", Values: g, Levels: []string{"b", "c", "a"}})
	if err != nil {
		t.Fatal(err)
	}
	r := &outputctl.Releaser{Policy: outputctl.Policy{MinCohort: 11}}
	for _, tc := range []struct {
		factor analysis.Factor
		ok     bool
	}{
		{analysis.Factor{Column: "g", Levels: []string{"a", "b", "c"}}, false},                      // "a", the reference, is rare
		{analysis.Factor{Column: "g", Levels: []string{"b", "c", "a"}}, false},                      // "a" has a column and is rare
		{analysis.Factor{Column: "g", Levels: []string{"b", "c"}}, true},                            // "a" left out: its rows are dropped
		{analysis.Factor{Column: "g", Levels: []string{"b", "c", "absent"}, Reference: "c"}, false}, // no row at all
	} {
		d, err := analysis.NewFactorDesign(tbl, "y", []string{"x", "g"}, []analysis.Factor{tc.factor}, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = r.CheckRegressionRules(d, analysis.Logit)
		if tc.ok && err != nil {
			t.Errorf("levels %q: %v", tc.factor.Levels, err)
		}
		if !tc.ok {
			if !errors.Is(err, outputctl.ErrSmallGroup) {
				t.Errorf("levels %q: %v, want ErrSmallGroup", tc.factor.Levels, err)
			} else if strings.Contains(err.Error(), " 7 ") || strings.Contains(err.Error(), "no row") { // the counts: 7 rows of "a", none of "absent"
				t.Errorf("the refusal %q says a count", err)
			}
		}
	}
}
