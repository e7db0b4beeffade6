package outputctl_test

import (
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/synth"
)

// pooledSite is one site's design of a synthetic cohort whose outcome
// follows synth's default logistic model (known coefficients).
func pooledSite(t *testing.T, seed int64, n int, names []string, model *synth.Logistic) *analysis.Design {
	t.Helper()
	people, err := synth.Generate(synth.Config{N: n, Seed: seed, Outcome: synth.OutcomeLogistic, Logistic: model})
	if err != nil {
		t.Fatal(err)
	}
	cols := make([]analysis.Column, 0, len(names)+1)
	for _, name := range names {
		v := make([]float64, n)
		for i := range people {
			v[i], _ = people[i].LogisticFactor(name)
		}
		cols = append(cols, analysis.Column{Name: name, Values: v})
	}
	y := make([]float64, n)
	for i := range people {
		if people[i].CVD10y {
			y[i] = 1
		}
	}
	tbl, err := analysis.NewTable(append(cols, analysis.Column{Name: "cvd_10y", Values: y})...)
	if err != nil {
		t.Fatal(err)
	}
	d, err := analysis.NewDesign(tbl, "cvd_10y", names, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPooledPrivateCoversTheTruth runs the private study's arithmetic —
// every site's noisy, clipped step and counts, summed as the ledger sums
// the masked contributions (the masks cancel exactly), the release every
// site builds from the sums — on three sites' synth cohorts with known
// coefficients, over many seeds: the 95% intervals, which include every
// site's noise, cover the generating coefficients at about the nominal
// rate.
func TestPooledPrivateCoversTheTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("about 20 s")
	}
	// Three risk factors, so that a cohort of tens of thousands carries a
	// useful private fit (the information noise grows with p²).
	model := &synth.Logistic{Intercept: -5, Coefficients: map[string]float64{"age": 0.06, "smoker": 0.6, "male": 0.5}}
	names := []string{"age", "smoker", "male"}
	truth := []float64{model.Intercept}
	for _, n := range names {
		truth = append(truth, model.Coefficients[n])
	}
	// The public bounds PlanStudy would declare: normalize's plausible
	// range of age, 0/1 for the indicators.
	bounds := []analysis.Bounds{{Lower: 0, Upper: 130}, {Lower: 0, Upper: 1}, {Lower: 0, Upper: 1}}
	spec := federated.Spec{Columns: uint32(len(names) + 1), Link: "logit", Private: &federated.PrivateSpec{Rounds: 6}}
	eps := []uint64{10_000, 8_000, 12_000} // each site's epsilon for the job, milli
	const seeds, rows = 60, 15_000
	covered, total := 0, 0
	for seed := range int64(seeds) {
		var designs, scaled []*analysis.Design
		var rels []*outputctl.Releaser
		for s := range 3 {
			d := pooledSite(t, 1000*seed+int64(s), rows, names, model)
			sc, err := d.Scaled(bounds, nil)
			if err != nil {
				t.Fatal(err)
			}
			designs, scaled = append(designs, d), append(scaled, sc)
			rels = append(rels, private(eps[s], eps[s], uint64(1000*seed+int64(s))))
		}
		beta := make([]float64, spec.Columns)
		var last analysis.NewtonStep
		for range spec.Private.Rounds {
			var sum analysis.NewtonStep
			for s := range 3 {
				st, err := rels[s].PooledStep(scaled[s], beta, spec.NoiseShares())
				if err != nil {
					t.Fatal(err)
				}
				sum = addSteps(sum, st)
			}
			next, err := analysis.NextBeta(beta, sum)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			beta, last = next, sum
		}
		var n, events int64
		for s := range 3 {
			sn, se, err := rels[s].PooledCounts(int64(designs[s].N()), int64(designs[s].Events()), spec.NoiseShares())
			if err != nil {
				t.Fatal(err)
			}
			n, events = n+sn, events+se
		}
		rel, err := rels[0].ReleasePooledPrivate(designs[0], bounds, outputctl.PooledPrivateFit{Beta: beta, Last: last,
			SiteEpsilonMilli: eps, Shares: spec.NoiseShares(), N: n, Events: events, Rounds: int(spec.Private.Rounds)})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if rel.Regression.N < 3*rows-500 || rel.Regression.N > 3*rows+500 {
			t.Fatalf("seed %d: noisy N %d for %d rows", seed, rel.Regression.N, 3*rows)
		}
		for j, c := range rel.Regression.Coefficients {
			total++
			if c.Lower <= truth[j] && truth[j] <= c.Upper {
				covered++
			}
		}
	}
	rate := float64(covered) / float64(total)
	t.Logf("private pooled logistic (3 sites × %d rows, ε = 10/8/12 per site, %d rounds): coverage %.3f over %d intervals", rows, spec.Private.Rounds, rate, total)
	if rate < 0.88 || rate > 0.995 {
		t.Errorf("coverage %.3f, want about 0.95", rate)
	}
}

func addSteps(a, b analysis.NewtonStep) analysis.NewtonStep {
	if a.Gradient == nil {
		a.Gradient, a.Hessian = make([]float64, len(b.Gradient)), make([]float64, len(b.Hessian))
	}
	for j := range b.Gradient {
		a.Gradient[j] += b.Gradient[j]
	}
	for j := range b.Hessian {
		a.Hessian[j] += b.Hessian[j]
	}
	return a
}
