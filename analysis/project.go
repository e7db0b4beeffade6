package analysis

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// FloorInformation returns the step with its information matrix's
// eigenvalues lifted to at least floor (its eigenvectors kept).
//
// A differentially private fit adds noise to every entry of the
// information matrix. When the true matrix has a small eigenvalue — two
// correlated features, or a feature far from the centre of its public
// bounds — the noise can make the noisy matrix indefinite, and a Newton
// step through it is meaningless. Lifting the eigenvalues below the noise's
// own scale to that scale is post-processing of a noisy release, so it
// costs no privacy; it only shrinks the step along the directions the
// noise has swamped. floor ≤ 0 returns the step unchanged.
func FloorInformation(s NewtonStep, floor float64) (NewtonStep, error) {
	p, err := s.dim()
	if err != nil {
		return NewtonStep{}, err
	}
	if !(floor > 0) {
		return s, nil
	}
	if math.IsInf(floor, 0) {
		return NewtonStep{}, fmt.Errorf("analysis: information floor is not finite")
	}
	sym := mat.NewSymDense(p, nil)
	for j := range p {
		for k := j; k < p; k++ {
			v := s.Hessian[PackedIndex(p, j, k)]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return NewtonStep{}, fmt.Errorf("analysis: information entry (%d,%d) is not finite", j, k)
			}
			sym.SetSym(j, k, v)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(sym, true) {
		return NewtonStep{}, fmt.Errorf("analysis: the information matrix's eigen-decomposition did not converge")
	}
	values := eig.Values(nil)
	lifted := false
	for i, v := range values {
		if v < floor {
			values[i], lifted = floor, true
		}
	}
	if !lifted {
		return s, nil
	}
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	out := s
	out.Hessian = make([]float64, len(s.Hessian))
	for j := range p {
		for k := j; k < p; k++ {
			var v float64
			for i, l := range values {
				v += vecs.At(j, i) * l * vecs.At(k, i)
			}
			out.Hessian[PackedIndex(p, j, k)] = v
		}
	}
	return out, nil
}
