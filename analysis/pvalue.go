package analysis

import (
	"math"

	"gonum.org/v1/gonum/mathext"
)

// Tail probabilities for p-values. They are computed from complementary
// functions (erfc, the regularised incomplete beta and upper incomplete
// gamma functions), never as 1 − CDF: a coefficient with z = 10 has
// p = 1.5e-23, which 1 − Φ(z) rounds to 0 once Φ(z) rounds to 1 (at
// |z| ≈ 8.3). gonum's distuv.Normal.Survival is 0.5·(1 − erf), which has
// that flaw, so it is not used for p-values. Below the smallest double
// (about 4.9e-324) a p-value is 0.

// normalTwoSided is 2·P(Z > |z|) for a standard normal Z.
func normalTwoSided(z float64) float64 {
	if math.IsNaN(z) {
		return math.NaN()
	}
	return math.Erfc(math.Abs(z) / math.Sqrt2)
}

// tTwoSided is 2·P(T > |t|) for Student's t with df degrees of freedom:
// I_x(df/2, 1/2) at x = df/(df + t²), the regularised incomplete beta
// function, whose value is the tail itself (no subtraction).
func tTwoSided(t, df float64) float64 {
	if math.IsNaN(t) || !(df > 0) {
		return math.NaN()
	}
	if t == 0 {
		return 1
	}
	if math.IsInf(t, 0) {
		return 0
	}
	// df/(df+t²) without overflow of t² for huge t.
	r := df / t / t
	return mathext.RegIncBeta(df/2, 0.5, r/(1+r))
}

// chiSquaredUpper is P(X > x) for a chi-squared X with df degrees of
// freedom: the regularised upper incomplete gamma function Q(df/2, x/2).
func chiSquaredUpper(x, df float64) float64 {
	if math.IsNaN(x) || !(df > 0) {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	return mathext.GammaIncRegComp(df/2, x/2)
}

// fUpper is P(F > f) for Snedecor's F with (d1, d2) degrees of freedom:
// I_x(d2/2, d1/2) at x = d2/(d2 + d1·f), the regularised incomplete beta
// function, whose value is the tail itself.
func fUpper(f, d1, d2 float64) float64 {
	if math.IsNaN(f) || !(d1 > 0) || !(d2 > 0) {
		return math.NaN()
	}
	if f <= 0 {
		return 1
	}
	if math.IsInf(f, 1) {
		return 0
	}
	return mathext.RegIncBeta(d2/2, d1/2, d2/(d2+d1*f))
}
