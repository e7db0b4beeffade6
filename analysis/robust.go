package analysis

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Robust (sandwich) standard errors and likelihood-ratio tests of nested
// models, for a single site's exact fit.

// CovarianceHC0 names the sandwich estimator Regress uses when asked for
// robust standard errors: White's HC0, B·M·B with B the inverse
// information (for least squares (X'X)⁻¹) and M = Σᵢ sᵢsᵢ' the outer
// products of the rows' score contributions — R's
// sandwich::vcovHC(fit, type = "HC0"). It stays valid when the variance
// function is wrong (over-dispersion, heteroscedasticity); it does not fix
// a wrong mean model.
const CovarianceHC0 = "HC0"

// sandwich is the HC0 covariance of a fit on d.
func (d *Design) sandwich(fit *Fit) *mat.SymDense {
	p := d.P()
	eta := d.linearPredictor(fit.Beta)
	w, r := make([]float64, d.n), make([]float64, d.n)
	weights(fit.Link, eta, d.y, w, r)
	// M = Σ rᵢ² xᵢxᵢ' over the intercept and the design columns.
	meat := mat.NewSymDense(p, nil)
	col := func(j, i int) float64 {
		if j == 0 {
			return 1
		}
		return d.x[j-1][i]
	}
	for j := range p {
		for k := j; k < p; k++ {
			var s float64
			for i, ri := range r {
				s += ri * ri * col(j, i) * col(k, i)
			}
			meat.SetSym(j, k, s)
		}
	}
	var bm mat.Dense
	bm.Mul(fit.Cov, meat)
	var bmb mat.Dense
	bmb.Mul(&bm, fit.Cov)
	out := mat.NewSymDense(p, nil)
	for j := range p {
		for k := j; k < p; k++ {
			out.SetSym(j, k, (bmb.At(j, k)+bmb.At(k, j))/2)
		}
	}
	return out
}

// LikelihoodRatio tests the model against the nested one without some of
// its terms, fitted on the same rows: for a binary outcome the
// likelihood-ratio χ² = 2(ℓ_full − ℓ_reduced) on the number of dropped
// columns (R's anova(reduced, full, test = "LRT")); for least squares the
// F test of the drop in the residual sum of squares (anova(reduced, full)).
type LikelihoodRatio struct {
	Dropped   []string `json:"dropped"`            // the terms, as the params name them
	Columns   []string `json:"columns"`            // the design columns they remove
	Test      string   `json:"test"`               // "chisq" or "F"
	Statistic float64  `json:"statistic"`          // χ² or F
	DF        int      `json:"df"`                 // columns dropped
	DFResid   int      `json:"df_resid,omitempty"` // F test: the full model's residual degrees of freedom
	P         float64  `json:"p"`
}

// DropTerms is features without the terms drop lists, each written as a
// feature is ("sex", "age:sex", "log(age)"; "age*sex" drops age, sex and
// age:sex), together with the factors the rest still uses. A term the
// model does not have is an error naming drop[i]; so is dropping every
// term (the reduced model must have one; an intercept-only comparison is
// the model's overall test).
func DropTerms(features, drop []string, factors []Factor, isColumn func(string) bool) ([]string, []Factor, error) {
	if err := validateFactors(factors); err != nil {
		return nil, nil, err
	}
	ps := &parser{factors: factors, isColumn: isColumn}
	var kept []term
	var keys []string
	for j, s := range features {
		ts, err := ps.parseEntry(fmt.Sprintf("features[%d]", j), s)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range ts {
			if k := t.key(); !slices.Contains(keys, k) {
				keys, kept = append(keys, k), append(kept, t)
			}
		}
	}
	gone := map[string]bool{}
	for i, s := range drop {
		param := fmt.Sprintf("lrt_drop[%d]", i)
		ts, err := ps.parseEntry(param, s)
		if err != nil {
			return nil, nil, err
		}
		for _, t := range ts {
			if !slices.Contains(keys, t.key()) {
				return nil, nil, paramErr(param, "%q is not a term of the model (its terms are %q)", t.String(), termStrings(kept))
			}
			gone[t.key()] = true
		}
	}
	if len(drop) == 0 {
		return nil, nil, paramErr("lrt_drop", "name at least one term to drop")
	}
	var out []string
	usedCols := map[string]bool{}
	for _, t := range kept {
		if gone[t.key()] {
			continue
		}
		out = append(out, t.String())
		for _, a := range t {
			usedCols[a.col] = true
		}
	}
	if len(out) == 0 {
		return nil, nil, paramErr("lrt_drop", "dropping every term leaves no model to compare with")
	}
	var fs []Factor
	for _, f := range factors {
		if usedCols[f.Column] {
			fs = append(fs, f)
		}
	}
	return out, fs, nil
}

// String writes a term as a feature entry: its atoms joined by ':'.
func (t term) String() string {
	s := ""
	for i, a := range t {
		if i > 0 {
			s += ":"
		}
		s += a.String()
	}
	return s
}

func termStrings(ts []term) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

// likelihoodRatio compares the full fit with the fit of reduced (a design
// on the same rows).
func likelihoodRatio(full *Design, fullFit *Fit, reduced *Design, link Link, opts SolverOptions, dropped []string) (*LikelihoodRatio, error) {
	if reduced.n != full.n {
		return nil, fmt.Errorf("analysis: the reduced model has %d rows, the full %d", reduced.n, full.n)
	}
	rfit, err := FitDesign(reduced, link, opts)
	if err != nil {
		return nil, fmt.Errorf("the reduced model (without %q): %w", dropped, err)
	}
	var cols []string
	for _, f := range full.Features {
		if !slices.Contains(reduced.Features, f) {
			cols = append(cols, f)
		}
	}
	df := full.P() - reduced.P()
	if df <= 0 {
		return nil, paramErr("lrt_drop", "dropping %q removes no column of the design", dropped)
	}
	lr := &LikelihoodRatio{Dropped: dropped, Columns: cols, DF: df}
	if link == Identity {
		rssFull, rssReduced := -2*fullFit.Step.LogLik, -2*rfit.Step.LogLik
		lr.Test, lr.DFResid = "F", full.n-full.P()
		lr.Statistic = math.Max(rssReduced-rssFull, 0) / float64(df) / (rssFull / float64(lr.DFResid))
		lr.P = fUpper(lr.Statistic, float64(df), float64(lr.DFResid))
	} else {
		lr.Test = "chisq"
		lr.Statistic = math.Max(2*(fullFit.Step.LogLik-rfit.Step.LogLik), 0)
		lr.P = chiSquaredUpper(lr.Statistic, float64(df))
	}
	if !finite(lr.Statistic) || !finite(lr.P) {
		return nil, fmt.Errorf("analysis: %w (likelihood-ratio test)", errNonFinite)
	}
	return lr, nil
}
