package zk

import (
	"crypto/rand"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time: on a shared, loaded
// machine it measures the work better than the wall clock does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

func benchSetup(b *testing.B, d int) (*Params, Opening, Commitment, []int64, Bucket, *Proof) {
	m := Model{Weights: make([]float64, d), Intercept: -1.5, Scale: 16}
	x := make([]float64, d)
	for i := range m.Weights {
		m.Weights[i] = float64(i%7-3) / 10
		x[i] = float64(i%5) / 3
	}
	params, err := NewParams(d)
	if err != nil {
		b.Fatal(err)
	}
	c, o, err := Commit(m, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	xq, _ := QuantizeInputs(x, 16)
	s, _ := o.Score(xq)
	bk := Bucket{Lo: s - 10, Hi: s + 10}
	pf, err := Prove(params, o, c, xq, bk, []byte("ctx"), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return params, o, c, xq, bk, pf
}

func BenchmarkProve(b *testing.B) {
	params, o, c, x, bk, pf := benchSetup(b, 100)
	b.ReportMetric(float64(pf.Size()), "proof-bytes")
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := Prove(params, o, c, x, bk, []byte("ctx"), rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

func BenchmarkVerify(b *testing.B) {
	params, _, c, x, bk, pf := benchSetup(b, 100)
	b.ReportMetric(float64(pf.Size()), "proof-bytes")
	b.ResetTimer()
	start := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := Verify(params, c, x, bk, []byte("ctx"), pf); err != nil {
			b.Fatal(err)
		}
	}
	reportCPU(b, start)
}

// BenchmarkBatchVerify checks batches of distinct 100-feature proofs with
// one multi-scalar multiplication per batch and reports proofs/s.
func BenchmarkBatchVerify(b *testing.B) {
	for _, n := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			items := make([]BatchItem, n)
			for i := range items {
				params, _, c, x, bk, pf := benchSetup(b, 100)
				items[i] = BatchItem{params, c, x, bk, []byte("ctx"), pf}
			}
			b.ResetTimer()
			start, wall := cpuTime(), time.Now()
			for i := 0; i < b.N; i++ {
				if err := BatchVerify(items); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
			b.ReportMetric(float64(n*b.N)/time.Since(wall).Seconds(), "proofs/s")
			b.ReportMetric(float64(n*b.N)/(float64(cpuTime()-start)/float64(time.Second)), "proofs/cpu-s")
		})
	}
}
