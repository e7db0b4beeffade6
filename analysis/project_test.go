package analysis_test

import (
	"errors"
	"math"
	"testing"

	"github.com/medchain/medchain/analysis"
)

// A noisy information matrix that went indefinite (the correlations of a
// real private fit's fourth round: intercept with the two features 0.58
// and −0.79, the features with each other 0.16) cannot be stepped
// through; lifted to the noise floor it can, and a matrix already above
// the floor is returned exactly as it was.
func TestFloorInformation(t *testing.T) {
	indefinite := analysis.NewtonStep{
		Gradient: []float64{-11.8, 16.1, 21.1},
		Hessian:  []float64{360.1, 92.97, -95.81, 71.58, 8.48, 41.19},
	}
	if _, err := analysis.NextBeta([]float64{0, 0, 0}, indefinite); !errors.Is(err, analysis.ErrSingular) {
		t.Fatalf("the indefinite matrix stepped: %v", err)
	}
	lifted, err := analysis.FloorInformation(indefinite, 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := analysis.NextBeta([]float64{0, 0, 0}, lifted); err != nil {
		t.Fatalf("after lifting: %v", err)
	}
	// The lift moves the matrix by at most how far its eigenvalues were
	// below the floor, and keeps it symmetric positive definite.
	cov, err := analysis.Covariance(lifted)
	if err != nil {
		t.Fatal(err)
	}
	if cov.At(1, 1) <= 0 || cov.At(2, 2) <= 0 {
		t.Fatalf("covariance diagonal not positive: %v %v", cov.At(1, 1), cov.At(2, 2))
	}

	definite := analysis.NewtonStep{Gradient: []float64{1, 2}, Hessian: []float64{100, 10, 50}}
	same, err := analysis.FloorInformation(definite, 5)
	if err != nil {
		t.Fatal(err)
	}
	for i := range definite.Hessian {
		if same.Hessian[i] != definite.Hessian[i] {
			t.Fatalf("a matrix above the floor changed: %v", same.Hessian)
		}
	}
	// Lifting a diagonal matrix lifts exactly the entries below the floor.
	diag := analysis.NewtonStep{Gradient: []float64{0, 0}, Hessian: []float64{100, 0, -3}}
	got, err := analysis.FloorInformation(diag, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{100, 0, 4}
	for i := range want {
		if math.Abs(got.Hessian[i]-want[i]) > 1e-9 {
			t.Fatalf("lifted diagonal %v, want %v", got.Hessian, want)
		}
	}
	if _, err := analysis.FloorInformation(analysis.NewtonStep{Gradient: []float64{0}, Hessian: []float64{math.NaN()}}, 1); err == nil {
		t.Fatal("a NaN entry was accepted")
	}
}
