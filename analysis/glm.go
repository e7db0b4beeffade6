package analysis

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Link is a regression's link function, which also fixes its family.
type Link string

// Links.
const (
	// Logit: logistic regression of a 0/1 outcome; exp(β) is an odds ratio.
	Logit Link = "logit"
	// CLogLog: binomial regression with the complementary log-log link,
	// log(−log(1−p)) = η. For a risk p = 1 − S0(t)^exp(β'x) over a fixed
	// follow-up, as in the Framingham scores (a Cox/Weibull model), η =
	// log(−log S0(t)) + β'x, so the fit recovers the hazard-model
	// coefficients and exp(β) is a hazard ratio.
	CLogLog Link = "cloglog"
	// Identity: linear regression (ordinary least squares).
	Identity Link = "identity"
)

func (l Link) validate() error {
	switch l {
	case Logit, CLogLog, Identity:
		return nil
	}
	return paramErr("link", "unknown link %q (want logit, cloglog or identity)", l)
}

func (l Link) binary() bool { return l == Logit || l == CLogLog }

// etaLimit keeps the linear predictor where exp cannot overflow.
const etaLimit = 700

// Mean is the inverse link: the expected outcome at linear predictor eta.
func (l Link) Mean(eta float64) float64 {
	switch l {
	case Logit:
		if eta >= 0 {
			return 1 / (1 + math.Exp(-eta))
		}
		z := math.Exp(eta)
		return z / (1 + z)
	case CLogLog:
		return -math.Expm1(-math.Exp(min(eta, etaLimit)))
	}
	return eta
}

// NewtonStep is one site's contribution to one Newton–Raphson step at given
// coefficients β (intercept first, p of them): the sufficient statistics of
// a Fisher-scoring iteration. Steps from disjoint sets of rows add up
// (CombineSteps) to the step of their union.
//
// For the binomial links it holds the score, the expected (Fisher)
// information and the log-likelihood; for the identity link, X'(y − Xβ),
// X'X and −½‖y − Xβ‖², the Gaussian quantities with unit variance.
type NewtonStep struct {
	// Gradient is the score ∂ℓ/∂β, length p.
	Gradient []float64 `json:"gradient"`
	// Hessian is the Fisher information −E[∂²ℓ/∂β∂β'] — the negated
	// Hessian, positive semi-definite — packed as its upper triangle row by
	// row: (0,0), (0,1), …, (0,p−1), (1,1), …, (p−1,p−1); p(p+1)/2 values.
	Hessian []float64 `json:"hessian"`
	LogLik  float64   `json:"loglik"`
	N       int       `json:"n"`
	Events  int       `json:"events"`
}

// PackedLen is the length of a packed p×p upper triangle.
func PackedLen(p int) int { return p * (p + 1) / 2 }

// PackedIndex is where entry (j, k), j ≤ k, of a p×p symmetric matrix sits
// in its packed upper triangle.
func PackedIndex(p, j, k int) int { return j*p - j*(j-1)/2 + (k - j) }

func (s *NewtonStep) dim() (int, error) {
	p := len(s.Gradient)
	if p == 0 {
		return 0, fmt.Errorf("analysis: Newton step has no coefficients")
	}
	if len(s.Hessian) != PackedLen(p) {
		return 0, fmt.Errorf("analysis: Newton step has %d gradient values but %d Hessian values (want %d)", p, len(s.Hessian), PackedLen(p))
	}
	return p, nil
}

// Rows are summed in blocks of blockRows: blocks are the unit of
// parallelism, and their sums are added in block order, so a step does not
// depend on the number of cores. Within a block, rows go through in tiles
// of tileRows, so that a tile's feature columns are still in cache while
// the p(p+1)/2 dot products read them (BenchmarkTileSize: 256–1024 rows
// are equally good on a 20-feature design, 64 and 2048 a little slower).
var (
	blockRows = 8192
	tileRows  = 512
)

// LocalStep computes a site's Newton step at coefficients beta.
//
// It is the hot path of every fit. For each tile of rows the linear
// predictor is built column by column (vectorised axpy), the weights and
// working residuals row by row, and the information matrix X'WX as dot
// products between the weighted column w⊙x_j and the plain columns x_k,
// k ≥ j (vectorised, from cache) — the upper triangle only.
func LocalStep(d *Design, beta []float64, link Link) (NewtonStep, error) {
	if err := d.checkLink(link); err != nil {
		return NewtonStep{}, err
	}
	p := d.P()
	if len(beta) != p {
		return NewtonStep{}, fmt.Errorf("analysis: %d coefficients given for a design with %d", len(beta), p)
	}
	for _, b := range beta {
		if !finite(b) {
			return NewtonStep{}, fmt.Errorf("analysis: coefficients must be finite")
		}
	}
	width := p + PackedLen(p) + 1
	nblocks := (d.n + blockRows - 1) / blockRows
	part := make([]float64, nblocks*width)
	var next atomic.Int64
	work := func() {
		buf := newTileBuf()
		for {
			b := int(next.Add(1) - 1)
			if b >= nblocks {
				return
			}
			out := part[b*width : (b+1)*width]
			for a := b * blockRows; a < min((b+1)*blockRows, d.n); a += tileRows {
				d.accumulate(buf, beta, link, a, min(a+tileRows, (b+1)*blockRows, d.n), out)
			}
		}
	}
	if workers := min(runtime.GOMAXPROCS(0), nblocks); workers > 1 {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(work)
		}
		wg.Wait()
	} else {
		work()
	}
	sum := make([]float64, width)
	for b := range nblocks {
		floats.Add(sum, part[b*width:(b+1)*width])
	}
	return NewtonStep{
		Gradient: sum[:p:p],
		Hessian:  sum[p : p+PackedLen(p) : p+PackedLen(p)],
		LogLik:   sum[width-1],
		N:        d.n,
		Events:   d.events,
	}, nil
}

type tileBuf struct {
	eta, w, r, wx []float64
}

func newTileBuf() *tileBuf {
	return &tileBuf{eta: make([]float64, tileRows), w: make([]float64, tileRows), r: make([]float64, tileRows), wx: make([]float64, tileRows)}
}

// accumulate adds rows [a, b)'s gradient, packed information and
// log-likelihood to out (layout: p gradient values, PackedLen(p)
// information values, the log-likelihood).
func (d *Design) accumulate(buf *tileBuf, beta []float64, link Link, a, b int, out []float64) {
	m, q, p := b-a, len(d.x), len(beta)
	eta, w, r, wx := buf.eta[:m], buf.w[:m], buf.r[:m], buf.wx[:m]
	for i := range eta {
		eta[i] = beta[0]
	}
	for j := range q {
		if beta[j+1] != 0 {
			floats.AddScaled(eta, beta[j+1], d.x[j][a:b])
		}
	}
	out[len(out)-1] += weights(link, eta, d.y[a:b], w, r)

	grad, info := out[:p], out[p:p+PackedLen(p)]
	grad[0] += floats.Sum(r)
	info[0] += floats.Sum(w)
	for j := range q {
		xj := d.x[j][a:b]
		grad[j+1] += floats.Dot(xj, r)
		info[j+1] += floats.Dot(w, xj)
		floats.MulTo(wx, w, xj)
		row := info[PackedIndex(p, j+1, j+1):]
		for k := j; k < q; k++ {
			row[k-j] += floats.Dot(wx, d.x[k][a:b])
		}
	}
}

// weights sets, for each row, the IRLS weight w (so the information is
// Σ w x x') and the working residual r (so the score is Σ r x), and returns
// the rows' log-likelihood.
func weights(link Link, eta, y, w, r []float64) float64 {
	var ll float64
	switch link {
	case Logit:
		// ℓ = Σ −log(1+z) − max(±η, 0) with z = e^−|η| ≤ 1 (+η for y = 0,
		// −η for y = 1), so nothing overflows. The logarithms are taken of
		// products of 64 factors 1+z ∈ (1, 2] — at most 2⁶⁴, no overflow —
		// one Log per 64 rows instead of per row: Log is the slowest thing
		// in the loop, and the product's rounding error is far below what
		// the convergence test can see.
		prod, k := 1.0, 0
		for i, e := range eta {
			z := math.Exp(-math.Abs(e))
			var mu float64
			if e >= 0 {
				mu = 1 / (1 + z)
			} else {
				mu = z / (1 + z)
			}
			if y[i] == 1 {
				ll -= max(-e, 0)
			} else {
				ll -= max(e, 0)
			}
			prod *= 1 + z
			if k++; k == 64 {
				ll -= math.Log(prod)
				prod, k = 1, 0
			}
			w[i] = mu * (1 - mu)
			r[i] = y[i] - mu
		}
		ll -= math.Log(prod)
	case CLogLog:
		for i, e := range eta {
			e = min(max(e, -etaLimit), etaLimit)
			ee := math.Exp(e)      // e^η
			surv := math.Exp(-ee)  // 1 − μ
			mu := -math.Expm1(-ee) // μ, accurate when small
			dmu := ee * surv       // dμ/dη
			// Score factor dμ/dη / (μ(1−μ)) = e^η/μ; weight (dμ/dη)²/(μ(1−μ)).
			w[i] = dmu * ee / mu
			r[i] = (y[i] - mu) * ee / mu
			if y[i] == 1 {
				ll += math.Log(mu)
			} else {
				ll -= ee
			}
		}
	default:
		for i, e := range eta {
			res := y[i] - e
			w[i] = 1
			r[i] = res
			ll -= res * res / 2
		}
	}
	return ll
}

// CombineSteps adds steps computed by sites on disjoint rows at the same
// coefficients. The sum is the step of the pooled rows.
func CombineSteps(steps ...NewtonStep) (NewtonStep, error) {
	if len(steps) == 0 {
		return NewtonStep{}, fmt.Errorf("analysis: no steps to combine")
	}
	p, err := steps[0].dim()
	if err != nil {
		return NewtonStep{}, err
	}
	out := NewtonStep{Gradient: make([]float64, p), Hessian: make([]float64, PackedLen(p))}
	for i := range steps {
		s := &steps[i]
		if q, err := s.dim(); err != nil {
			return NewtonStep{}, fmt.Errorf("step %d: %w", i, err)
		} else if q != p {
			return NewtonStep{}, fmt.Errorf("analysis: step %d has %d coefficients, step 0 has %d", i, q, p)
		}
		floats.Add(out.Gradient, s.Gradient)
		floats.Add(out.Hessian, s.Hessian)
		out.LogLik += s.LogLik
		out.N += s.N
		out.Events += s.Events
	}
	return out, nil
}

// NextBeta is the Newton–Raphson (Fisher scoring) update β + I⁻¹U from a
// combined step taken at beta. It fails with an error wrapping ErrSingular
// (a *SingularError) when the information cannot be inverted.
func NextBeta(beta []float64, s NewtonStep) ([]float64, error) {
	if len(beta) != len(s.Gradient) {
		return nil, fmt.Errorf("analysis: %d coefficients but a step for %d", len(beta), len(s.Gradient))
	}
	f, err := factorise(s)
	if err != nil {
		return nil, err
	}
	delta := f.solve(s.Gradient)
	floats.Add(delta, beta)
	return delta, nil
}

// Covariance is the inverse of a step's information matrix: the
// asymptotic covariance of maximum-likelihood estimates at which the step
// was taken.
func Covariance(s NewtonStep) (*mat.SymDense, error) {
	f, err := factorise(s)
	if err != nil {
		return nil, err
	}
	return f.inverse(), nil
}

// SingularError says which coefficient's column is (numerically) a linear
// combination of the ones before it, or carries no information at all.
type SingularError struct {
	Index int // coefficient index; 0 is the intercept
	Name  string
}

func (e *SingularError) Error() string {
	if e.Name != "" {
		return fmt.Sprintf("%v: %q is constant or a linear combination of the terms before it", ErrSingular, e.Name)
	}
	return fmt.Sprintf("%v: coefficient %d is constant or a linear combination of the ones before it", ErrSingular, e.Index)
}

func (e *SingularError) Unwrap() error { return ErrSingular }

// maxCond bounds the condition number of the information matrix after
// scaling it to unit diagonal: beyond it, coefficients are not determined
// to any useful precision.
const maxCond = 1e12

// information is a factorised information matrix I, held as the Cholesky
// factor of S I S with S = diag(1/√I_jj), which makes the conditioning test
// independent of the features' units.
type information struct {
	p     int
	scale []float64
	chol  mat.Cholesky
}

func factorise(s NewtonStep) (*information, error) {
	p, err := s.dim()
	if err != nil {
		return nil, err
	}
	f := &information{p: p, scale: make([]float64, p)}
	for j := range p {
		djj := s.Hessian[PackedIndex(p, j, j)]
		if !(djj > 0) || math.IsInf(djj, 0) {
			return nil, &SingularError{Index: j}
		}
		f.scale[j] = 1 / math.Sqrt(djj)
	}
	sym := mat.NewSymDense(p, nil)
	for j := range p {
		for k := j; k < p; k++ {
			sym.SetSym(j, k, s.Hessian[PackedIndex(p, j, k)]*f.scale[j]*f.scale[k])
		}
	}
	if !f.chol.Factorize(sym) || f.chol.Cond() > maxCond {
		return nil, &SingularError{Index: weakestPivot(sym)}
	}
	return f, nil
}

// weakestPivot finds the first coefficient whose column is nearly a linear
// combination of the earlier ones: its Cholesky pivot (its residual
// variance given the earlier columns, on the unit-diagonal scale) is the
// first to fall below a tolerance, or else the smallest.
func weakestPivot(a *mat.SymDense) int {
	p := a.SymmetricDim()
	l := mat.NewDense(p, p, nil)
	worst, worstPivot := 0, math.Inf(1)
	for j := range p {
		d := a.At(j, j)
		for k := range j {
			d -= l.At(j, k) * l.At(j, k)
		}
		if d < 1/maxCond {
			return j
		}
		if d < worstPivot {
			worst, worstPivot = j, d
		}
		ljj := math.Sqrt(d)
		l.Set(j, j, ljj)
		for i := j + 1; i < p; i++ {
			v := a.At(i, j)
			for k := range j {
				v -= l.At(i, k) * l.At(j, k)
			}
			l.Set(i, j, v/ljj)
		}
	}
	return worst
}

// solve returns I⁻¹g.
func (f *information) solve(g []float64) []float64 {
	b := mat.NewVecDense(f.p, nil)
	for j, v := range g {
		b.SetVec(j, v*f.scale[j])
	}
	var u mat.VecDense
	// The factorisation succeeded and passed the condition test, so the
	// solve cannot fail.
	_ = f.chol.SolveVecTo(&u, b)
	out := make([]float64, f.p)
	for j := range out {
		out[j] = u.AtVec(j) * f.scale[j]
	}
	return out
}

// inverse returns I⁻¹ (the asymptotic covariance of the estimates).
func (f *information) inverse() *mat.SymDense {
	var inv mat.SymDense
	_ = f.chol.InverseTo(&inv)
	for j := range f.p {
		for k := j; k < f.p; k++ {
			inv.SetSym(j, k, inv.At(j, k)*f.scale[j]*f.scale[k])
		}
	}
	return &inv
}
