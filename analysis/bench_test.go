package analysis_test

import (
	"math"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/medchain/medchain/analysis"
)

// bigData is 1,000,000 rows of 20 standard-normal features and a 0/1
// outcome drawn from a logistic model, generated once per test binary.
var bigData = sync.OnceValue(func() struct {
	cols   []analysis.Column
	rowMaj []float64 // n × 21: 1 then the 20 features, for the plain IRLS
	y      []float64
} {
	const n, q = 1_000_000, 20
	rng := rand.New(rand.NewPCG(1, 2))
	beta := make([]float64, q+1)
	beta[0] = -1.5
	for j := 1; j <= q; j++ {
		beta[j] = 0.3 * math.Sin(float64(j))
	}
	cols := make([]analysis.Column, q+1)
	rowMaj := make([]float64, n*(q+1))
	for j := range q {
		cols[j] = analysis.Column{Name: "x" + string(rune('a'+j)), Values: make([]float64, n)}
	}
	y := make([]float64, n)
	for i := range n {
		eta := beta[0]
		rowMaj[i*(q+1)] = 1
		for j := range q {
			v := rng.NormFloat64()
			cols[j].Values[i] = v
			rowMaj[i*(q+1)+j+1] = v
			eta += beta[j+1] * v
		}
		if rng.Float64() < 1/(1+math.Exp(-eta)) {
			y[i] = 1
		}
	}
	cols[q] = analysis.Column{Name: "y", Values: y}
	return struct {
		cols   []analysis.Column
		rowMaj []float64
		y      []float64
	}{cols, rowMaj, y}
})

func bigDesign(b *testing.B) *analysis.Design {
	data := bigData()
	tbl := table(b, data.cols...)
	features := make([]string, 20)
	for j := range features {
		features[j] = data.cols[j].Name
	}
	d, err := analysis.NewDesign(tbl, "y", features, nil)
	if err != nil {
		b.Fatal(err)
	}
	return d
}

// plainIRLS is logistic regression as one would first write it: row-major
// data, one pass per iteration accumulating the score and the upper
// triangle of X'WX row by row, a Cholesky solve, stop when no coefficient
// moves by more than 1e-10 (relative).
func plainIRLS(x []float64, y []float64, p int) ([]float64, int) {
	n := len(y)
	beta := make([]float64, p)
	for iter := 1; iter <= 25; iter++ {
		g := make([]float64, p)
		h := mat.NewSymDense(p, nil)
		hr := make([]float64, p*p)
		for i := range n {
			row := x[i*p : (i+1)*p]
			eta := 0.0
			for j, v := range row {
				eta += beta[j] * v
			}
			mu := 1 / (1 + math.Exp(-eta))
			w, r := mu*(1-mu), y[i]-mu
			for j, vj := range row {
				g[j] += vj * r
				wv := w * vj
				for k := j; k < p; k++ {
					hr[j*p+k] += wv * row[k]
				}
			}
		}
		for j := range p {
			for k := j; k < p; k++ {
				h.SetSym(j, k, hr[j*p+k])
			}
		}
		var chol mat.Cholesky
		if !chol.Factorize(h) {
			panic("singular")
		}
		var d mat.VecDense
		if err := chol.SolveVecTo(&d, mat.NewVecDense(p, g)); err != nil {
			panic(err)
		}
		done := true
		for j := range p {
			if math.Abs(d.AtVec(j)) > 1e-10*max(1, math.Abs(beta[j])) {
				done = false
			}
			beta[j] += d.AtVec(j)
		}
		if done {
			return beta, iter
		}
	}
	panic("no convergence")
}

// cpuMs is the process's CPU time in milliseconds: on a shared machine it
// is steadier than wall time, and for the parallel code it shows the total
// work done by all cores.
func cpuMs() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(time.Duration(ru.Utime.Nano()+ru.Stime.Nano()).Microseconds()) / 1000
}

// measure runs f in b's loop and reports CPU time per op alongside.
func measure(b *testing.B, f func()) {
	c0 := cpuMs()
	for b.Loop() {
		f()
	}
	b.ReportMetric((cpuMs()-c0)/float64(b.N), "cpu-ms/op")
}

// BenchmarkLogistic1M20 fits a logistic regression on 1,000,000 rows × 20
// features: medchain's fit (coefficients and information only, as the
// plain IRLS does; then with the AUC, calibration and Hosmer–Lemeshow
// diagnostics), one LocalStep (the per-iteration cost), and the plain
// single-threaded IRLS for comparison.
func BenchmarkLogistic1M20(b *testing.B) {
	d := bigDesign(b)
	data := bigData()
	b.Run("medchain-fit", func(b *testing.B) {
		var iters int
		measure(b, func() {
			f, err := analysis.FitDesign(d, analysis.Logit, analysis.SolverOptions{})
			if err != nil {
				b.Fatal(err)
			}
			iters = f.Iterations
		})
		b.ReportMetric(float64(iters), "iterations")
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(iters), "ms/iteration")
	})
	b.Run("medchain-regress", func(b *testing.B) {
		tbl := table(b, data.cols...)
		features := d.Features
		measure(b, func() {
			if _, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "y", Features: features}); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("localstep", func(b *testing.B) {
		beta := make([]float64, 21)
		measure(b, func() {
			if _, err := analysis.LocalStep(d, beta, analysis.Logit); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("plain-irls", func(b *testing.B) {
		var iters int
		measure(b, func() {
			_, iters = plainIRLS(data.rowMaj, data.y, 21)
		})
		b.ReportMetric(float64(iters), "iterations")
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/float64(iters), "ms/iteration")
	})
}

// BenchmarkAUC1M: the C-statistic of 1,000,000 scores.
func BenchmarkAUC1M(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	score, y := make([]float64, 1_000_000), make([]float64, 1_000_000)
	for i := range score {
		score[i] = rng.NormFloat64()
		if rng.Float64() < 1/(1+math.Exp(-score[i])) {
			y[i] = 1
		}
	}
	measure(b, func() {
		if _, err := analysis.AUC(score, y); err != nil {
			b.Fatal(err)
		}
	})
}
