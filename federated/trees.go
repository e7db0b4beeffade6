package federated

import (
	"fmt"

	"github.com/medchain/medchain/zk"
)

// LinkTrees is the Link of a boosted-trees study.
const LinkTrees = "trees"

// TreesSpec is the public part of a boosted-trees study (package gbt):
// Spec.Columns counts the features, each cut into Bins bins on its public
// plausible range (the workers derive the edges from the schema, never
// from data), and the ensemble has Trees trees of at most Depth levels.
//
// Every step of a trees study is one tree node's histogram, in the layout
// gbt.NodeHistogram writes: per feature and bin the sums of the rows'
// gradients and Hessians (fixed point, gbt.FracBits), their count, and the
// site's veto — 1 when cutting the node after this bin would leave the
// site 1 to minimum−1 rows of its own on one side. The study's first step
// carries only the cohort's rows and events, in the count slots of the
// first feature's first two bins.
type TreesSpec struct {
	Bins  uint32 `json:"bins"`
	Depth uint32 `json:"depth"`
	Trees uint32 `json:"trees"`
}

// TreesFracBits is the fixed point of a trees step's gradients and
// Hessians (gbt.FracBits).
const TreesFracBits = 24

// TreesStepLen is the length of a trees step: features × bins × 4.
func TreesStepLen(features, bins int) int { return features * bins * 4 }

// MaxTreesStep bounds a trees step: one bounds proof covers at most
// zk.MaxBoundsValues values, and a step must fit one transaction.
const MaxTreesStep = 384

func (t *TreesSpec) validate(features int) error {
	if t.Bins < 2 || t.Bins > 64 {
		return fmt.Errorf("study.trees.bins: %d, want 2 to 64", t.Bins)
	}
	if t.Depth < 1 || t.Depth > 6 {
		return fmt.Errorf("study.trees.depth: %d, want 1 to 6", t.Depth)
	}
	if t.Trees < 1 || t.Trees > 500 {
		return fmt.Errorf("study.trees.trees: %d, want 1 to 500", t.Trees)
	}
	if n := TreesStepLen(features, int(t.Bins)); n > MaxTreesStep {
		return fmt.Errorf("study.trees: %d features in %d bins make steps of %d values, at most %d: use fewer features", features, t.Bins, n, MaxTreesStep)
	}
	return nil
}

// treesBounds are a trees step's bounds: a bin's gradient sum within
// ±nMax·2²⁴ (|p − y| ≤ 1 per row), its Hessian sum in [0, nMax·2²²]
// (p(1 − p) ≤ ¼), its count in [0, nMax], its veto 0 or 1. The first
// step's counts fit the count slots' bounds.
func (s Spec) treesBounds(nMax uint64) []zk.Interval {
	n := TreesStepLen(int(s.Columns), int(s.Trees.Bins))
	g := sat(mulSat(nMax, 1<<TreesFracBits), 1)
	h := sat(mulSat(nMax, 1<<(TreesFracBits-2)), 1)
	c := sat(nMax, 0)
	out := make([]zk.Interval, 0, n)
	for range n / 4 {
		out = append(out, zk.Interval{Lo: -g, Hi: g}, zk.Interval{Lo: 0, Hi: h}, zk.Interval{Lo: 0, Hi: c}, zk.Interval{Lo: 0, Hi: 1})
	}
	return out
}

// MaxSteps is the most step rounds a trees study can take: the counts,
// then at most one round per node above the last level of every tree.
// The ledger fails a study that goes on stepping beyond it.
func (t *TreesSpec) MaxSteps() uint32 { return 1 + t.Trees*(1<<t.Depth-1) }
