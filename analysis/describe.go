package analysis

import (
	"fmt"
	"math"
	"slices"
)

// QuantileProbs are the quantiles Describe reports.
var QuantileProbs = []float64{0.05, 0.25, 0.50, 0.75, 0.95}

// GridSteps is the resolution of a BoundedSummary: the clamping interval is
// cut into this many equal steps (an even number, so the midpoint is on the
// grid).
const GridSteps = 1000

// Bounds is a clamping interval given by the requester, not read from the
// data: differentially private statistics need the most one record can
// change them by, and clamping to public bounds fixes it.
type Bounds struct {
	Lower float64 `json:"lower"`
	Upper float64 `json:"upper"`
}

func (b Bounds) validate(param string) error {
	if !finite(b.Lower) || !finite(b.Upper) {
		return paramErr(param, "bounds must be finite numbers")
	}
	if b.Lower >= b.Upper {
		return paramErr(param, "lower bound %v is not below upper bound %v", b.Lower, b.Upper)
	}
	return nil
}

// Mid is the middle of the interval, grid point 0.
func (b Bounds) Mid() float64 { return b.Lower/2 + b.Upper/2 }

// Step is the distance between grid points.
func (b Bounds) Step() float64 { return (b.Upper - b.Lower) / GridSteps }

// Quantise clamps v into the bounds and rounds it to the nearest grid point,
// an integer in [-GridSteps/2, GridSteps/2].
func (b Bounds) Quantise(v float64) int64 {
	v = min(max(v, b.Lower), b.Upper)
	q := int64(math.Round((v - b.Mid()) / b.Step()))
	return min(max(q, -GridSteps/2), GridSteps/2)
}

// Value is the number at grid point q.
func (b Bounds) Value(q float64) float64 { return b.Mid() + q*b.Step() }

// Variable is a column to describe, with optional clamping bounds (needed
// for differentially private release).
type Variable struct {
	Column string  `json:"column"`
	Bounds *Bounds `json:"bounds,omitempty"`
}

// DescribeParams select a cohort and the variables to summarise.
type DescribeParams struct {
	Filter    Filter     `json:"filter,omitempty"`
	Variables []Variable `json:"variables"`
}

// Description summarises variables over a cohort.
type Description struct {
	N         int64     `json:"n"` // rows in the cohort
	Variables []Summary `json:"variables"`
}

// Quantile is the value below which a fraction P of the values lie.
type Quantile struct {
	P     float64 `json:"p"`
	Value float64 `json:"value"`
}

// Summary describes one variable over the cohort's non-null values: count,
// mean, standard deviation (n−1 denominator) and the QuantileProbs quantiles
// (linear interpolation between order statistics, "type 7" as in R and
// NumPy). Quantiles are close to record-level values; the output controls
// decide whether they leave.
type Summary struct {
	Column    string     `json:"column"`
	N         int64      `json:"n"`
	Missing   int64      `json:"missing"` // cohort rows where the value is null
	Mean      float64    `json:"mean"`    // 0 when N = 0
	SD        float64    `json:"sd"`      // 0 when N < 2
	Quantiles []Quantile `json:"quantiles,omitempty"`
	// Bounded holds the integer statistics the differentially private
	// release works from; present when the variable has bounds. It is a
	// fine histogram of the values, so it is never serialised.
	Bounded *BoundedSummary `json:"-"`
}

// BoundedSummary is a variable's values clamped to Bounds and rounded to the
// grid, as exact integers: the sum and sum of squares of the grid indices q
// and the count at each grid point (Counts[k] counts q = k − GridSteps/2).
// Integer statistics let the noise be added exactly, immune to the
// floating-point attacks on naive Laplace sampling.
type BoundedSummary struct {
	Bounds Bounds
	N      int64
	Sum    int64
	SumSq  int64
	Counts []int64
}

// Describe summarises the variables over the selected rows.
func Describe(t *Table, p DescribeParams) (Description, error) {
	if len(p.Variables) == 0 {
		return Description{}, paramErr("variables", "no variables to describe")
	}
	cols := make([]*Column, len(p.Variables))
	for i, v := range p.Variables {
		param := fmt.Sprintf("variables[%d]", i)
		c, err := t.numeric(param+".column", v.Column)
		if err != nil {
			return Description{}, err
		}
		if v.Bounds != nil {
			if err := v.Bounds.validate(param + ".bounds"); err != nil {
				return Description{}, err
			}
		}
		cols[i] = c
	}
	mask, n, err := t.selectRows(p.Filter, "filter")
	if err != nil {
		return Description{}, err
	}
	d := Description{N: int64(n), Variables: make([]Summary, len(cols))}
	vals := make([]float64, 0, n)
	for i, c := range cols {
		vals = vals[:0]
		for r, keep := range mask {
			if keep && c.valid(r) {
				vals = append(vals, c.Values[r])
			}
		}
		s := summarise(vals)
		s.Column, s.Missing = c.Name, int64(n)-s.N
		if b := p.Variables[i].Bounds; b != nil {
			s.Bounded = bounded(vals, *b)
		}
		d.Variables[i] = s
	}
	return d, nil
}

func summarise(x []float64) Summary {
	s := Summary{N: int64(len(x))}
	if len(x) == 0 {
		return s
	}
	var sum float64
	for _, v := range x {
		sum += v
	}
	s.Mean = sum / float64(len(x))
	if len(x) > 1 {
		var ss float64
		for _, v := range x {
			d := v - s.Mean
			ss += d * d
		}
		s.SD = math.Sqrt(ss / float64(len(x)-1))
	}
	sorted := slices.Clone(x)
	slices.Sort(sorted)
	for _, p := range QuantileProbs {
		s.Quantiles = append(s.Quantiles, Quantile{P: p, Value: quantile7(sorted, p)})
	}
	return s
}

// quantile7 is the type-7 sample quantile of sorted values.
func quantile7(sorted []float64, p float64) float64 {
	h := float64(len(sorted)-1) * p
	lo := int(math.Floor(h))
	if lo >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

func bounded(x []float64, b Bounds) *BoundedSummary {
	s := &BoundedSummary{Bounds: b, N: int64(len(x)), Counts: make([]int64, GridSteps+1)}
	for _, v := range x {
		q := b.Quantise(v)
		s.Sum += q
		s.SumSq += q * q
		s.Counts[q+GridSteps/2]++
	}
	return s
}
