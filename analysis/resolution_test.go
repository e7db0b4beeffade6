package analysis_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/analysis"
)

// rawScaleSites are three sites' designs in raw units (age in years,
// cholesterol in mg/dL) with an interaction: columns whose information
// entries are large, so the fixed-point rounding of the summed score moves
// the Newton step by more than the default tolerance of 1e-10 allows.
func rawScaleSites(t *testing.T, seed uint64) (sites []*analysis.Design, pooled *analysis.Design) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 4))
	names := []string{"age", "sbp", "total_chol", "hdl", "smoker", "y"}
	all := map[string][]float64{}
	features := []string{"age", "sbp", "total_chol", "hdl", "smoker", "age:smoker"}
	table := func(cols map[string][]float64) *analysis.Table {
		var cs []analysis.Column
		for _, c := range names {
			cs = append(cs, analysis.Column{Name: c, Values: cols[c]})
		}
		tbl, err := analysis.NewTable(cs...)
		if err != nil {
			t.Fatal(err)
		}
		return tbl
	}
	for s := range 3 {
		n := 800 + 400*s
		cols := map[string][]float64{}
		for _, c := range names {
			cols[c] = make([]float64, n)
		}
		for i := range n {
			age := 30 + 50*rng.Float64()
			sm := float64(rng.IntN(4) / 3)
			sbp := 110 + 0.5*age + 15*rng.NormFloat64()
			chol := 200 + 40*rng.NormFloat64()
			hdl := 50 + 12*rng.NormFloat64()
			eta := -9 + 0.07*age + 0.015*sbp + 0.004*chol - 0.02*hdl + 0.6*sm + 0.01*age*sm
			cols["age"][i], cols["sbp"][i], cols["total_chol"][i], cols["hdl"][i], cols["smoker"][i] = age, sbp, chol, hdl, sm
			if rng.Float64() < 1/(1+math.Exp(-eta)) {
				cols["y"][i] = 1
			}
		}
		for _, c := range names {
			all[c] = append(all[c], cols[c]...)
		}
		d, err := analysis.NewDesign(table(cols), "y", features, nil)
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, d)
	}
	pooled, err := analysis.NewDesign(table(all), "y", features, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sites, pooled
}

// fitMasked drives a solver with opts over the sites' masked fixed-point
// sums (30 fraction bits, as studies encode steps).
func fitMasked(t *testing.T, sites []*analysis.Design, rng *rand.Rand, opts analysis.SolverOptions) ([]float64, error) {
	combine := maskedWith(t, rng, analysis.FixedPoint{FracBits: 30, MaxSites: 64})
	steps := func(beta []float64) []analysis.NewtonStep {
		var out []analysis.NewtonStep
		for _, d := range sites {
			st, err := analysis.LocalStep(d, beta, analysis.Logit)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, st)
		}
		return out
	}
	first := combine(steps(make([]float64, sites[0].P())))
	solver, err := analysis.NewSolver(analysis.StartBeta(analysis.Logit, sites[0].P(), first.N, first.Events), opts)
	if err != nil {
		t.Fatal(err)
	}
	for {
		done, err := solver.Observe(combine(steps(solver.Beta())))
		if err != nil {
			return nil, err
		}
		if done {
			beta, _ := solver.Result()
			return beta, nil
		}
	}
}

// A pooled fit judged by the default tolerance alone can run out of
// iterations on raw-scale columns: the summed score carries each site's
// fixed-point rounding, and nearer the optimum than that the steps stop
// shrinking. Judged also by the sums' resolution (what rounding alone
// could move), every such study converges, to the central fit on the
// pooled rows within 1e-6.
func TestPooledFitConvergesAtTheSumsResolution(t *testing.T) {
	stuck := 0
	for seed := uint64(1); seed <= 8; seed++ {
		sites, pooled := rawScaleSites(t, seed)
		rng := rand.New(rand.NewPCG(seed, 99))
		if _, err := fitMasked(t, sites, rng, analysis.SolverOptions{}); err != nil {
			stuck++
		}
		beta, err := fitMasked(t, sites, rng, analysis.SolverOptions{Resolution: 3 * math.Ldexp(1, -31)})
		if err != nil {
			t.Fatalf("seed %d: with the sums' resolution: %v", seed, err)
		}
		central, err := analysis.FitDesign(pooled, analysis.Logit, analysis.SolverOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for j := range beta {
			if rel := math.Abs(beta[j]-central.Beta[j]) / math.Max(math.Abs(central.Beta[j]), 1e-3); rel > 1e-6 {
				t.Errorf("seed %d β%d: pooled %.12g, central %.12g (relative %.2g)", seed, j, beta[j], central.Beta[j], rel)
			}
		}
	}
	if stuck == 0 {
		t.Error("no study got stuck at the default tolerance: the test no longer shows what the resolution is for")
	}
	t.Logf("%d of 8 studies did not converge by the tolerance alone", stuck)
}
