package analysis_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/analysis"
)

// split cuts a table's rows into sites of the given sizes, as three
// hospitals would each hold their own patients.
func split(t *testing.T, tbl *analysis.Table, sizes ...int) []*analysis.Table {
	t.Helper()
	var sites []*analysis.Table
	start := 0
	for _, n := range sizes {
		keep := make([]bool, tbl.Rows())
		for i := start; i < start+n; i++ {
			keep[i] = true
		}
		site, err := tbl.Where(keep)
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, site)
		start += n
	}
	if start != tbl.Rows() {
		t.Fatalf("sites hold %d rows of %d", start, tbl.Rows())
	}
	return sites
}

// federate fits a model across sites the way a study does: a first round
// sums N and events, then each round every site computes its LocalStep at
// the coordinator's coefficients and the coordinator adds them up. combine
// turns the sites' steps into the sum (plainly, or through masked fixed
// point).
func federate(t *testing.T, sites []*analysis.Design, link analysis.Link, combine func([]analysis.NewtonStep) analysis.NewtonStep) []float64 {
	t.Helper()
	p := sites[0].P()
	steps := func(beta []float64) []analysis.NewtonStep {
		var out []analysis.NewtonStep
		for _, d := range sites {
			s, err := analysis.LocalStep(d, beta, link)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
	first := combine(steps(make([]float64, p)))
	solver, err := analysis.NewSolver(analysis.StartBeta(link, p, first.N, first.Events), analysis.SolverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		done, err := solver.Observe(combine(steps(solver.Beta())))
		if err != nil {
			t.Fatal(err)
		}
		if done {
			beta, _ := solver.Result()
			return beta
		}
	}
}

func plainSum(t *testing.T) func([]analysis.NewtonStep) analysis.NewtonStep {
	return func(steps []analysis.NewtonStep) analysis.NewtonStep {
		s, err := analysis.CombineSteps(steps...)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// Three sites, each with its own rows, fit together exactly what one site
// holding all the rows fits: every coefficient agrees to 1e-9 (relative),
// for each link.
func TestFederatedFitEqualsPooledFit(t *testing.T) {
	for _, link := range []analysis.Link{analysis.Logit, analysis.CLogLog, analysis.Identity} {
		t.Run(string(link), func(t *testing.T) {
			tbl := simulate(21, 3000, analysis.Logit, []float64{-0.5, 0.8, -0.5, 0.3})
			outcome, features := "y", []string{"x2", "x3"}
			if link == analysis.Identity {
				outcome, features = "x1", []string{"x2", "x3", "y"}
			}
			pooled, err := analysis.NewDesign(tbl, outcome, features, nil)
			if err != nil {
				t.Fatal(err)
			}
			fit, err := analysis.FitDesign(pooled, link, analysis.SolverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var sites []*analysis.Design
			for _, site := range split(t, tbl, 1000, 800, 1200) {
				d, err := analysis.NewDesign(site, outcome, features, nil)
				if err != nil {
					t.Fatal(err)
				}
				sites = append(sites, d)
			}
			fed := federate(t, sites, link, plainSum(t))
			for j := range fed {
				if rel := math.Abs(fed[j]-fit.Beta[j]) / math.Abs(fit.Beta[j]); rel > 1e-9 {
					t.Errorf("β%d: federated %.15g, pooled %.15g (relative difference %.2g)", j, fed[j], fit.Beta[j], rel)
				}
			}
		})
	}
}

// masked is secure aggregation in miniature: each site encodes its step in
// fixed point and adds a random mask; the masks add up to zero mod 2⁶⁴, so
// the coordinator's wrapping sum of masked vectors is the sum of the
// unmasked ones, and no single masked vector tells it anything.
func masked(t *testing.T, rng *rand.Rand) func([]analysis.NewtonStep) analysis.NewtonStep {
	return maskedWith(t, rng, analysis.DefaultFixedPoint)
}

func maskedWith(t *testing.T, rng *rand.Rand, fp analysis.FixedPoint) func([]analysis.NewtonStep) analysis.NewtonStep {
	return func(steps []analysis.NewtonStep) analysis.NewtonStep {
		p := len(steps[0].Gradient)
		var encs [][]int64
		total := make([]int64, analysis.EncodedLen(p))
		for i, s := range steps {
			enc, err := fp.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			for k := range enc {
				var m int64
				if i < len(steps)-1 {
					m = int64(rng.Uint64())
					total[k] += m
				} else {
					m = -total[k] // the last mask cancels the others
				}
				enc[k] += m
			}
			encs = append(encs, enc)
		}
		sum, err := analysis.SumEncoded(encs...)
		if err != nil {
			t.Fatal(err)
		}
		s, err := fp.Decode(sum, p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// Through masked fixed-point aggregation the federated fit still matches
// the pooled one, to within what the 2⁻²⁰ quantisation allows.
func TestFederatedFitThroughMaskedFixedPoint(t *testing.T) {
	tbl := simulate(22, 3000, analysis.Logit, []float64{-0.5, 0.8, -0.5, 0.3})
	pooled, err := analysis.NewDesign(tbl, "y", simFeatures, nil)
	if err != nil {
		t.Fatal(err)
	}
	fit, err := analysis.FitDesign(pooled, analysis.Logit, analysis.SolverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var sites []*analysis.Design
	for _, site := range split(t, tbl, 700, 1500, 800) {
		d, err := analysis.NewDesign(site, "y", simFeatures, nil)
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, d)
	}
	fed := federate(t, sites, analysis.Logit, masked(t, rand.New(rand.NewPCG(8, 8))))
	for j := range fed {
		if d := math.Abs(fed[j] - fit.Beta[j]); d > 1e-6 {
			t.Errorf("β%d: federated %.10g, pooled %.10g", j, fed[j], fit.Beta[j])
		}
	}
}

// Encoding is exact for the counts and within half a unit of 2⁻²⁰ for
// everything else; the sum of encodings decodes to the combined step
// within S half-units; out-of-range values are refused.
func TestFixedPointRoundTrip(t *testing.T) {
	tbl := simulate(23, 2000, analysis.Logit, []float64{-0.5, 0.8, -0.5, 0.3})
	var steps []analysis.NewtonStep
	var encs [][]int64
	fp := analysis.DefaultFixedPoint
	half := math.Ldexp(1, -21)
	for _, site := range split(t, tbl, 500, 500, 1000) {
		d, err := analysis.NewDesign(site, "y", simFeatures, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := analysis.LocalStep(d, []float64{0.1, 0.2, -0.3, 0.4}, analysis.Logit)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := fp.Encode(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := fp.Decode(enc, 4)
		if err != nil {
			t.Fatal(err)
		}
		within(t, "round trip", back, s, half)
		steps, encs = append(steps, s), append(encs, enc)
	}
	combined, _ := analysis.CombineSteps(steps...)
	sum, _ := analysis.SumEncoded(encs...)
	decoded, err := fp.Decode(sum, 4)
	if err != nil {
		t.Fatal(err)
	}
	within(t, "sum", decoded, combined, 3*half)

	big := steps[0]
	big.Hessian = append([]float64(nil), big.Hessian...)
	big.Hessian[0] = fp.Limit()
	if _, err := fp.Encode(big); err == nil {
		t.Error("out-of-range value encoded")
	}
}

func within(t *testing.T, what string, got, want analysis.NewtonStep, tol float64) {
	t.Helper()
	if got.N != want.N || got.Events != want.Events {
		t.Errorf("%s: counts %d/%d, want %d/%d", what, got.N, got.Events, want.N, want.Events)
	}
	check := func(a, b float64) {
		if math.Abs(a-b) > tol {
			t.Errorf("%s: %.9g differs from %.9g by more than %g", what, a, b, tol)
		}
	}
	check(got.LogLik, want.LogLik)
	for j := range want.Gradient {
		check(got.Gradient[j], want.Gradient[j])
	}
	for j := range want.Hessian {
		check(got.Hessian[j], want.Hessian[j])
	}
}
