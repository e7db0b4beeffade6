package analysis

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Fit is a converged maximum-likelihood fit on one design.
type Fit struct {
	Link       Link
	Beta       []float64  // intercept first
	Step       NewtonStep // the combined step at the last point evaluated
	Iterations int        // Newton steps, i.e. passes over the data
	Cov        *mat.SymDense
}

// FitDesign fits a design by Newton–Raphson, driving LocalStep and NextBeta
// through a Solver exactly as a federated study does with several sites.
// Cov is the inverse Fisher information (for the identity link, (X'X)⁻¹;
// Regress scales it by the residual variance).
func FitDesign(d *Design, link Link, opts SolverOptions) (*Fit, error) {
	if err := d.checkLink(link); err != nil {
		return nil, err
	}
	p := d.P()
	if d.n < p || (link == Identity && d.n == p) {
		return nil, fmt.Errorf("%w: %d complete rows for %d coefficients", ErrTooFewRows, d.n, p)
	}
	if link.binary() && (d.events == 0 || d.events == d.n) {
		return nil, fmt.Errorf("%w: the outcome does not vary", ErrSeparation)
	}
	opts.Names = d.Names()
	s, err := NewSolver(StartBeta(link, p, d.n, d.events), opts)
	if err != nil {
		return nil, err
	}
	for {
		step, err := LocalStep(d, s.Beta(), link)
		if err != nil {
			return nil, err
		}
		done, err := s.Observe(step)
		if err != nil {
			return nil, err
		}
		if done {
			break
		}
	}
	beta, at := s.Result()
	f, err := factorise(*at)
	if err != nil {
		return nil, err
	}
	return &Fit{Link: link, Beta: beta, Step: *at, Iterations: s.Iterations(), Cov: f.inverse()}, nil
}

// RegressionParams describe a regression job.
type RegressionParams struct {
	Outcome  string   `json:"outcome"`
	Features []string `json:"features"`
	Link     Link     `json:"link,omitempty"` // logit (default), cloglog or identity
	Filter   Filter   `json:"filter,omitempty"`
	// Factors declares the categorical predictors the features name.
	Factors []Factor `json:"factors,omitempty"`
	MaxIter int      `json:"max_iter,omitempty"` // default DefaultMaxIter
	Tol     float64  `json:"tol,omitempty"`      // default DefaultTol
	// Robust asks for sandwich (HC0) standard errors instead of those of
	// the inverse information.
	Robust bool `json:"robust,omitempty"`
	// LRTDrop asks for a likelihood-ratio (or, for least squares, F) test
	// of the model against the nested one without these terms.
	LRTDrop []string `json:"lrt_drop,omitempty"`
}

// Interval is an estimate with its 95% confidence interval.
type Interval struct {
	Estimate float64 `json:"estimate"`
	Lower    float64 `json:"lower"`
	Upper    float64 `json:"upper"`
}

// Coefficient is one row of a regression table. Stat is the Wald z (binary
// outcomes) or t (linear regression) statistic and P its two-sided p-value;
// the interval is the Wald 95% CI. Ratio is exp(β) with exp of the CI — an
// odds ratio for logit, a hazard ratio for cloglog — and is absent for the
// intercept and for linear regression.
type Coefficient struct {
	Name     string    `json:"name"`
	Estimate float64   `json:"estimate"`
	SE       float64   `json:"se"`
	Stat     float64   `json:"stat"`
	P        float64   `json:"p"`
	Lower    float64   `json:"lower"`
	Upper    float64   `json:"upper"`
	Ratio    *Interval `json:"ratio,omitempty"`
	// Levels counts the rows at each level of a 0/1 feature (nil for other
	// features and the intercept), for the output controls' small-group
	// rule. Worker-internal: never serialised.
	Levels *Levels `json:"-"`
}

// Levels counts a 0/1 feature's rows at 0 and at 1.
type Levels struct {
	Zeros, Ones int64
}

// Calibration is logistic recalibration of the predictions:
// logit P(y=1) = Intercept + Slope·logit(p̂). A well-calibrated model has
// intercept 0 and slope 1 (a logit model on its own fitting data has them
// exactly; a slope below 1 on new data means overfitting).
type Calibration struct {
	Intercept float64 `json:"intercept"`
	Slope     float64 `json:"slope"`
}

// Regression is a fitted regression with inference and diagnostics.
type Regression struct {
	Link         Link          `json:"link"`
	Outcome      string        `json:"outcome"`
	StatName     string        `json:"stat_name"`            // "z" or "t"
	RatioName    string        `json:"ratio_name,omitempty"` // "odds_ratio" or "hazard_ratio"
	N            int64         `json:"n"`
	Events       int64         `json:"events,omitempty"`
	Coefficients []Coefficient `json:"coefficients"`
	LogLik       float64       `json:"loglik,omitempty"` // binary outcomes
	Iterations   int           `json:"iterations"`
	Tol          float64       `json:"tol"`

	// Binary outcomes: discrimination and calibration on the fitting data.
	// ROC is the empirical ROC curve at the fixed grid FPR = 0, 0.05, …, 1
	// (see ROC), computed from the same sort as the AUC.
	AUC            float64         `json:"auc,omitempty"`
	ROC            []ROCPoint      `json:"roc,omitempty"`
	Calibration    *Calibration    `json:"calibration,omitempty"`
	HosmerLemeshow *HosmerLemeshow `json:"hosmer_lemeshow,omitempty"`

	// Linear regression.
	DF          int     `json:"df,omitempty"` // residual degrees of freedom
	RSquared    float64 `json:"r_squared,omitempty"`
	AdjRSquared float64 `json:"adj_r_squared,omitempty"`
	Sigma       float64 `json:"sigma,omitempty"` // residual standard deviation

	// Covariance is the estimator of the standard errors when it is not
	// the inverse information: CovarianceHC0 for robust ones.
	Covariance string `json:"covariance,omitempty"`
	// LRT is the test of the nested model asked for with lrt_drop.
	LRT *LikelihoodRatio `json:"lrt,omitempty"`

	Model Model `json:"model"`
}

// z975 is the 97.5% point of the standard normal distribution.
var z975 = distuv.UnitNormal.Quantile(0.975)

// Regress fits a regression of the outcome on the features over the
// selected complete cases and reports coefficients, standard errors from
// the inverse Fisher information, Wald tests and 95% intervals, odds or
// hazard ratios, and for a binary outcome the AUC with the ROC curve at a
// fixed false-positive-rate grid, calibration slope and intercept and the
// Hosmer–Lemeshow test.
func Regress(t *Table, p RegressionParams) (Regression, error) {
	if p.Link == "" {
		p.Link = Logit
	}
	if err := p.Link.validate(); err != nil {
		return Regression{}, err
	}
	opts := SolverOptions{MaxIter: p.MaxIter, Tol: p.Tol}
	if err := opts.validate(); err != nil {
		return Regression{}, err
	}
	d, err := NewFactorDesign(t, p.Outcome, p.Features, p.Factors, p.Filter)
	if err != nil {
		return Regression{}, err
	}
	fit, err := FitDesign(d, p.Link, opts)
	if err != nil {
		return Regression{}, err
	}
	r := Regression{
		Link: p.Link, Outcome: d.Outcome, N: int64(d.n), Iterations: fit.Iterations, Tol: opts.withDefaults().Tol,
		Model: Model{Link: p.Link, Features: d.Features, Factors: d.Factors, Intercept: fit.Beta[0], Coefficients: fit.Beta[1:]},
	}
	names := d.Names()
	if p.Robust {
		fit.Cov, r.Covariance = d.sandwich(fit), CovarianceHC0
	}
	if p.Link == Identity {
		err = r.linear(d, fit, names)
	} else {
		err = r.binary(d, fit, names)
	}
	if err != nil {
		return Regression{}, err
	}
	if len(p.LRTDrop) > 0 {
		features, factors, err := DropTerms(p.Features, p.LRTDrop, p.Factors, func(s string) bool { _, ok := t.byName[s]; return ok })
		if err != nil {
			return Regression{}, err
		}
		same, err := t.Where(d.Rows())
		if err != nil {
			return Regression{}, err
		}
		reduced, err := NewFactorDesign(same, p.Outcome, features, factors, p.Filter)
		if err != nil {
			return Regression{}, err
		}
		if r.LRT, err = likelihoodRatio(d, fit, reduced, p.Link, opts, p.LRTDrop); err != nil {
			return Regression{}, err
		}
	}
	for j, x := range d.x {
		r.Coefficients[j+1].Levels = binaryLevels(x)
	}
	return r, nil
}

func binaryLevels(x []float64) *Levels {
	var l Levels
	for _, v := range x {
		switch v {
		case 0:
			l.Zeros++
		case 1:
			l.Ones++
		default:
			return nil
		}
	}
	return &l
}

func (r *Regression) binary(d *Design, fit *Fit, names []string) error {
	r.StatName, r.Events, r.LogLik = "z", int64(d.events), fit.Step.LogLik
	r.RatioName = r.Link.RatioName()
	r.Coefficients = WaldTable(names, fit.Beta, fit.Cov, r.Link)
	eta := d.linearPredictor(fit.Beta)
	rk, err := rank(eta, d.y)
	if err != nil {
		return err
	}
	r.AUC = rk.auc()
	r.ROC = rk.roc()
	r.HosmerLemeshow = rk.hosmerLemeshow(r.Link)
	r.Calibration = calibrate(d, eta, r.Link, true)
	return r.checkFinite()
}

// RatioName is what exp(β) is for the link: "odds_ratio" (logit),
// "hazard_ratio" (cloglog), or "" (identity).
func (l Link) RatioName() string {
	switch l {
	case Logit:
		return "odds_ratio"
	case CLogLog:
		return "hazard_ratio"
	}
	return ""
}

// WaldTable is the coefficient table for estimates beta (intercept first)
// with covariance cov: standard errors, Wald z statistics, two-sided
// normal p-values and 95% intervals, and for a binary link exp(β) with its
// interval for every coefficient but the intercept.
func WaldTable(names []string, beta []float64, cov *mat.SymDense, link Link) []Coefficient {
	out := make([]Coefficient, len(beta))
	for j, b := range beta {
		se := math.Sqrt(cov.At(j, j))
		c := Coefficient{Name: names[j], Estimate: b, SE: se, Stat: b / se, P: normalTwoSided(b / se),
			Lower: b - z975*se, Upper: b + z975*se}
		if j > 0 && link.binary() {
			c.Ratio = &Interval{Estimate: math.Exp(b), Lower: math.Exp(c.Lower), Upper: math.Exp(c.Upper)}
		}
		out[j] = c
	}
	return out
}

// calibrate fits logit P(y=1) = a + b·logit(p̂). It is nil when that fit
// fails (for instance when every prediction is the same).
//
// For a logit model on its own fitting data no fit is needed: the score
// equations Σ(y − μ̂) = 0 and Σ(y − μ̂)x = 0 make the recalibration's score
// vanish at a = 0, b = 1, which is therefore its maximum-likelihood
// estimate.
func calibrate(d *Design, eta []float64, link Link, fittingData bool) *Calibration {
	if link == Logit && fittingData {
		return &Calibration{Intercept: 0, Slope: 1}
	}
	lp := make([]float64, len(eta))
	for i, e := range eta {
		mu := link.Mean(e)
		lp[i] = math.Log(mu) - math.Log1p(-mu)
	}
	for _, v := range lp {
		if !finite(v) {
			return nil
		}
	}
	cd := &Design{Outcome: d.Outcome, Features: []string{"logit(p)"}, x: [][]float64{lp}, y: d.y, n: d.n, events: d.events, binary: true}
	fit, err := FitDesign(cd, Logit, SolverOptions{})
	if err != nil {
		return nil
	}
	return &Calibration{Intercept: fit.Beta[0], Slope: fit.Beta[1]}
}

func (r *Regression) linear(d *Design, fit *Fit, names []string) error {
	r.StatName = "t"
	r.DF = d.n - d.P()
	rss := -2 * fit.Step.LogLik
	sigma2 := rss / float64(r.DF)
	r.Sigma = math.Sqrt(sigma2)
	mean := floats.Sum(d.y) / float64(d.n)
	var tss float64
	for _, v := range d.y {
		tss += (v - mean) * (v - mean)
	}
	if tss > 0 {
		r.RSquared = 1 - rss/tss
		r.AdjRSquared = 1 - (rss/float64(r.DF))/(tss/float64(d.n-1))
	}
	tdist := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(r.DF)}
	tq := tdist.Quantile(0.975)
	scale := sigma2
	if r.Covariance != "" { // a sandwich is already on the outcome's scale
		scale = 1
	}
	for j, b := range fit.Beta {
		se := math.Sqrt(scale * fit.Cov.At(j, j))
		c := Coefficient{Name: names[j], Estimate: b, SE: se, Lower: b - tq*se, Upper: b + tq*se}
		if se > 0 {
			c.Stat = b / se
			c.P = tTwoSided(c.Stat, float64(r.DF))
		} else {
			// A perfect fit: no residual variance to test against.
			c.Stat, c.P = 0, 0
		}
		r.Coefficients = append(r.Coefficients, c)
	}
	return r.checkFinite()
}

// errNonFinite: a statistic overflowed — JSON cannot carry it, and the
// fit is not usable.
var errNonFinite = errors.New("a statistic is not finite")

func (r *Regression) checkFinite() error {
	for _, c := range r.Coefficients {
		vals := []float64{c.Estimate, c.SE, c.Stat, c.P, c.Lower, c.Upper}
		if c.Ratio != nil {
			vals = append(vals, c.Ratio.Estimate, c.Ratio.Lower, c.Ratio.Upper)
		}
		for _, v := range vals {
			if !finite(v) {
				return fmt.Errorf("analysis: %w for %q (separation?)", errNonFinite, c.Name)
			}
		}
	}
	vals := []float64{r.LogLik, r.AUC, r.RSquared, r.AdjRSquared, r.Sigma}
	if r.Calibration != nil {
		vals = append(vals, r.Calibration.Intercept, r.Calibration.Slope)
	}
	if r.HosmerLemeshow != nil {
		vals = append(vals, r.HosmerLemeshow.Statistic, r.HosmerLemeshow.P)
	}
	for _, v := range vals {
		if !finite(v) {
			return fmt.Errorf("analysis: %w", errNonFinite)
		}
	}
	return nil
}

// linearPredictor is η = Xβ for every row of the design.
func (d *Design) linearPredictor(beta []float64) []float64 {
	eta := make([]float64, d.n)
	for i := range eta {
		eta[i] = beta[0]
	}
	for j, x := range d.x {
		floats.AddScaled(eta, beta[j+1], x)
	}
	return eta
}
