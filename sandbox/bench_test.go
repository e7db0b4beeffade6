package sandbox_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/medchain/medchain/sandbox"
)

// BenchmarkCachedModuleStart is one run of the example module, compiled
// before: instantiating Go's runtime, one host call per column and
// output, exit. A job makes 12 such runs (8 blocks and 4 checks).
func BenchmarkCachedModuleStart(b *testing.B) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	wasm, h := meansd(b)
	cols := [][]float64{{1, 2, 3}}
	if _, err := e.Run(context.Background(), h, wasm, 1024, cols, 1); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := e.Run(context.Background(), h, wasm, 1024, cols, 1); err != nil {
			b.Fatal(err)
		}
	}
}

const tenMillion = 10_000_000

func values(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = 120 + float64(i%997)*0.1
	}
	return x
}

// meanSD is what the worker computes from a module's outputs (two passes).
func meanSD(x []float64) (float64, float64) {
	var s float64
	for _, v := range x {
		s += v
	}
	m := s / float64(len(x))
	var ss float64
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	return m, math.Sqrt(ss / float64(len(x)-1))
}

// BenchmarkMeanSD10MSandbox is a custom mean/SD over 10M values: the
// example module run over every row under the block plan (8 blocks, 4
// check blocks: 1.5 passes through the module, each value copied in and
// out of its memory) and the mean and SD of its output. Compare with
// BenchmarkMeanSD10MNative.
func BenchmarkMeanSD10MSandbox(b *testing.B) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	wasm, h := meansd(b)
	x := values(tenMillion)
	job := sandbox.Job{Hash: h, Wasm: wasm, Columns: [][]float64{x}, Outputs: 1,
		Limits: sandbox.Limits{MemoryPages: 4096, Timeout: 5 * time.Minute}}
	if _, err := e.Map(context.Background(), job, seeded(1)); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		out, err := e.Map(context.Background(), job, seeded(2))
		if err != nil {
			b.Fatal(err)
		}
		meanSD(out[0])
	}
}

// BenchmarkMeanSD10MNative is the mean and SD of 10M values in Go.
func BenchmarkMeanSD10MNative(b *testing.B) {
	x := values(tenMillion)
	for b.Loop() {
		meanSD(x)
	}
}
