package federated_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/federated"
)

func coxSpec(p int, grid ...uint64) federated.Spec {
	s := federated.Spec{Columns: uint32(p), Link: federated.LinkCox, Cox: &federated.CoxSpec{Grid: grid, Ties: "efron", Center: make([]int64, p)}}
	for range p {
		s.MaxAbs = append(s.MaxAbs, 100<<federated.MaxAbsUnit)
	}
	return s
}

// A Cox spec is checked like a regression's, and a step must fit a
// transaction as the largest regression step does.
func TestCoxSpecValidate(t *testing.T) {
	if err := coxSpec(3, 1e6, 2e6, 5e6).Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		spec federated.Spec
		want string
	}{
		{coxSpec(3), "grid: 0 points"},
		{coxSpec(3, 2e6, 2e6), "strictly increasing"},
		{coxSpec(3, 0, 2e6), "strictly increasing"},
		{coxSpec(7, 1e6, 2e6, 3e6, 4e6, 5e6), "make steps of"},
		{func() federated.Spec { s := coxSpec(2, 1e6); s.Cox.Ties = "exact"; return s }(), "ties"},
		{func() federated.Spec { s := coxSpec(2, 1e6); s.Link = "logit"; return s }(), "study.cox"},
		{func() federated.Spec { s := coxSpec(2, 1e6); s.Cox = nil; return s }(), "study.cox"},
		{func() federated.Spec { s := coxSpec(2, 1e6); s.Bins = 10; return s }(), "risk bins"},
	} {
		if err := tc.spec.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.spec, err, tc.want)
		}
	}
}

// An honest site's grid sums — features within the declared bounds,
// weights scaled by the public shift — lie within the spec's bounds, in
// the layout of analysis.CoxGridSums; a site whose weights were not
// scaled does not.
func TestCoxBoundsHoldHonestSums(t *testing.T) {
	const n, p = 500, 3
	grid := []float64{1, 2.5, 4}
	spec := coxSpec(p, 1e6, 2.5e6, 4e6)
	r := rand.New(rand.NewPCG(1, 2))
	cols := []analysis.Column{{Name: "time"}, {Name: "event"}, {Name: "a"}, {Name: "b"}, {Name: "c"}}
	for range n {
		cols[0].Values = append(cols[0].Values, math.Round(r.ExpFloat64()*30)/10)
		cols[1].Values = append(cols[1].Values, float64(r.IntN(2)))
		for j := 2; j < 5; j++ {
			cols[j].Values = append(cols[j].Values, (2*r.Float64()-1)*10)
		}
	}
	tbl, err := analysis.NewTable(cols...)
	if err != nil {
		t.Fatal(err)
	}
	s, err := analysis.NewSurvivalData(tbl, analysis.SurvivalParams{Time: "time", Event: "event", Grid: grid, Features: []string{"a", "b", "c"}})
	if err != nil {
		t.Fatal(err)
	}
	beta := []float64{0.02, -0.01, 0.005}
	maxAbs := []float64{100, 100, 100}
	bounds, err := spec.Bounds(federated.PhaseStep, 20, n, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(bounds) != spec.Len(federated.PhaseStep) || spec.Len(federated.PhaseStep) != analysis.CoxGridLen(p, len(grid)) {
		t.Fatalf("%d bounds, spec length %d, analysis layout %d", len(bounds), spec.Len(federated.PhaseStep), analysis.CoxGridLen(p, len(grid)))
	}
	fp := analysis.FixedPoint{FracBits: federated.FracBits, MaxSites: federated.MaxSites}
	check := func(shift float64) (bad int) {
		sums, err := analysis.CoxGridSums(s, grid, beta, make([]float64, p), shift)
		if err != nil {
			t.Fatal(err)
		}
		sums[0], sums[1] = 0, 0 // counts go in the final phase
		enc, err := fp.EncodeValues(sums)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range enc {
			if v < bounds[i].Lo || v > bounds[i].Hi {
				bad++
			}
		}
		return bad
	}
	if bad := check(analysis.CoxShift(beta, maxAbs)); bad != 0 {
		t.Errorf("%d honest values outside the bounds", bad)
	}
	if bad := check(-analysis.CoxShift(beta, maxAbs)); bad == 0 {
		t.Error("sums with weights above 1 are within the bounds: the bounds bind nothing")
	}
}
