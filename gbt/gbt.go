// Package gbt trains gradient-boosted decision trees for a binary outcome
// the way a federation can: from histograms that add across sites.
//
// Each feature is cut into bins whose edges come from public bounds (the
// schema's plausible ranges, or the requester's), never from the data. A
// tree grows level by level: every site sums, for each node of the level,
// feature and bin, the gradients and Hessians of the logistic loss and the
// row count; the sums of all sites choose each node's split (XGBoost's
// second-order gain with an L2 penalty λ) and, at the last level, the leaf
// values −G/(H+λ) scaled by the learning rate. A split is taken only when
// each child keeps at least MinLeaf rows, so no leaf — the only thing a
// tree says about its rows — describes fewer rows than the minimum cohort.
//
// Gradients and Hessians are rounded to a fixed-point grid per row before
// they are summed, so the sums are integers: a federated run, whatever
// the split of the rows between sites and whatever masks hide each site's
// histogram, adds up to exactly the integers a central run on the pooled
// rows computes, and takes exactly the same splits and leaves (tested).
//
// The package is pure computation: histograms in, a model out. Carrying
// histograms between sites (secure aggregation through the ledger) is the
// caller's business; Train runs the rounds over a Sites interface that a
// single site, a test's simulated federation or a study implements.
package gbt

import (
	"errors"
	"fmt"
	"math"

	"github.com/medchain/medchain/analysis"
)

// Defaults and limits of the parameters.
const (
	DefaultTrees        = 100
	DefaultDepth        = 4
	DefaultLearningRate = 0.1
	DefaultLambda       = 1.0
	DefaultBins         = 32
	MaxTrees            = 500
	MaxDepth            = 6
	MaxBins             = 64
	MaxFeatures         = 50
)

// FracBits is the fixed-point precision of a row's gradient and Hessian:
// 2⁻²⁴ ≈ 6e-8, far below any gain difference a split decision turns on,
// with room for 2³⁹ rows' sums in an int64.
const FracBits = 24

// Params configure a model. Bounds are public: one interval per feature,
// cut into Bins equal bins (values outside fall into the end bins).
type Params struct {
	Outcome      string            `json:"outcome"`
	Features     []string          `json:"features"`
	Bounds       []analysis.Bounds `json:"bounds,omitempty"`
	Trees        int               `json:"trees,omitempty"`
	Depth        int               `json:"depth,omitempty"`
	LearningRate float64           `json:"learning_rate,omitempty"`
	Lambda       float64           `json:"lambda,omitempty"`
	Bins         int               `json:"bins,omitempty"`
}

// paramErr is a parameter error as every analysis reports it
// (analysis.ParamError: the parameter and why, never data).
func paramErr(param, format string, args ...any) *analysis.ParamError {
	return &analysis.ParamError{Param: param, Reason: fmt.Sprintf(format, args...)}
}

// WithDefaults fills the zero values and checks every parameter but the
// columns (Bind checks those against a table).
func (p Params) WithDefaults() (Params, error) {
	if p.Trees == 0 {
		p.Trees = DefaultTrees
	}
	if p.Depth == 0 {
		p.Depth = DefaultDepth
	}
	if p.LearningRate == 0 {
		p.LearningRate = DefaultLearningRate
	}
	if p.Lambda == 0 {
		p.Lambda = DefaultLambda
	}
	if p.Bins == 0 {
		p.Bins = DefaultBins
	}
	switch {
	case p.Outcome == "":
		return p, paramErr("outcome", "name the 0/1 outcome column")
	case len(p.Features) == 0 || len(p.Features) > MaxFeatures:
		return p, paramErr("features", "name 1 to %d numeric columns", MaxFeatures)
	case len(p.Bounds) != len(p.Features):
		return p, paramErr("bounds", "give one interval per feature (%d), in the order of features", len(p.Features))
	case p.Trees < 1 || p.Trees > MaxTrees:
		return p, paramErr("trees", "must be between 1 and %d", MaxTrees)
	case p.Depth < 1 || p.Depth > MaxDepth:
		return p, paramErr("depth", "must be between 1 and %d", MaxDepth)
	case !(p.LearningRate > 0 && p.LearningRate <= 1):
		return p, paramErr("learning_rate", "must be in (0, 1]")
	case !(p.Lambda >= 0 && p.Lambda <= 1e6):
		return p, paramErr("lambda", "must be between 0 and 1e6")
	case p.Bins < 2 || p.Bins > MaxBins:
		return p, paramErr("bins", "must be between 2 and %d", MaxBins)
	}
	for j, b := range p.Bounds {
		if !(b.Lower < b.Upper) || math.IsInf(b.Lower, 0) || math.IsInf(b.Upper, 0) {
			return p, paramErr(fmt.Sprintf("bounds[%d]", j), "lower must be below upper, both finite")
		}
	}
	for j, f := range p.Features {
		if f == p.Outcome {
			return p, paramErr(fmt.Sprintf("features[%d]", j), "%q is the outcome", f)
		}
		for k := range j {
			if p.Features[k] == f {
				return p, paramErr(fmt.Sprintf("features[%d]", j), "%q is listed twice", f)
			}
		}
	}
	return p, nil
}

// Edge is the upper edge of bin b of feature j (a row goes left of a split
// at bin b when its value is below Edge(j, b)).
func (p Params) Edge(j, b int) float64 {
	lo, hi := p.Bounds[j].Lower, p.Bounds[j].Upper
	return lo + (hi-lo)*float64(b+1)/float64(p.Bins)
}

// bin is the bin of value v for feature j.
func (p Params) bin(j int, v float64) uint8 {
	lo, hi := p.Bounds[j].Lower, p.Bounds[j].Upper
	b := int(math.Floor((v - lo) / (hi - lo) * float64(p.Bins)))
	return uint8(min(max(b, 0), p.Bins-1))
}

// Node is a tree node: a split (Left, Right index the node's children in
// the tree's Nodes) or a leaf with its value (added to the log-odds).
type Node struct {
	Feature   int     `json:"feature,omitempty"`
	Bin       int     `json:"bin,omitempty"`       // go left when the value's bin ≤ Bin
	Threshold float64 `json:"threshold,omitempty"` // Edge(Feature, Bin): go left when value < Threshold
	Left      int     `json:"left,omitempty"`
	Right     int     `json:"right,omitempty"`
	Leaf      bool    `json:"leaf,omitempty"`
	Value     float64 `json:"value,omitempty"`
}

// Tree is one tree; Nodes[0] is its root.
type Tree struct {
	Nodes []Node `json:"nodes"`
}

// Model is a trained ensemble: the log-odds is Base plus one leaf value
// per tree.
type Model struct {
	Features []string          `json:"features"`
	Bounds   []analysis.Bounds `json:"bounds"`
	Bins     int               `json:"bins"`
	Base     float64           `json:"base"`
	Trees    []Tree            `json:"trees"`
}

// LogOdds is the model's log-odds for one row of feature values (in the
// model's feature order).
func (m *Model) LogOdds(x []float64) (float64, error) {
	if len(x) != len(m.Features) {
		return 0, fmt.Errorf("gbt: %d values for %d features", len(x), len(m.Features))
	}
	p := Params{Bounds: m.Bounds, Bins: m.Bins}
	s := m.Base
	for _, t := range m.Trees {
		n := 0
		for steps := 0; !t.Nodes[n].Leaf; steps++ {
			nd := t.Nodes[n]
			if steps > MaxDepth || nd.Feature < 0 || nd.Feature >= len(x) || nd.Left <= n || nd.Right <= n || nd.Left >= len(t.Nodes) || nd.Right >= len(t.Nodes) {
				return 0, errors.New("gbt: malformed tree")
			}
			if int(p.bin(nd.Feature, x[nd.Feature])) <= nd.Bin {
				n = nd.Left
			} else {
				n = nd.Right
			}
		}
		s += t.Nodes[n].Value
	}
	return s, nil
}

// Predict is the model's probability for one row.
func (m *Model) Predict(x []float64) (float64, error) {
	s, err := m.LogOdds(x)
	if err != nil {
		return 0, err
	}
	return 1 / (1 + math.Exp(-s)), nil
}
