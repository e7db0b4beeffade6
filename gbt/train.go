package gbt

import (
	"errors"
	"fmt"
	"math"

	"github.com/medchain/medchain/analysis"
)

// ErrSmallLeaf: the cohort is smaller than the minimum leaf, so not even
// the root can be released.
var ErrSmallLeaf = errors.New("gbt: the cohort is smaller than the minimum leaf size")

// Site is one site's rows, binned, and its rows' state during training:
// the current log-odds of each row and the node of the tree being grown
// it sits in.
type Site struct {
	p     Params
	bins  [][]uint8 // bins[j][i]: feature j's bin of row i
	y     []bool
	score []float64
	node  []int32 // node of the current tree; -1 once the row is in a leaf
	slot  []int32 // slot[n]: node n's position in the level being grown, or -1
	// g, h are each row's gradient and Hessian at its score when the
	// current tree started (a row's score changes only once it has left
	// the tree), on the fixed-point grid.
	g, h []int64
}

// NewSite bins the complete cases of t (outcome and every feature
// present) for p, which must have its defaults (WithDefaults). The outcome
// must be 0/1; a feature must be a numeric column.
func NewSite(t *analysis.Table, p Params) (*Site, error) {
	d, err := analysis.NewDesign(t, p.Outcome, p.Features, nil)
	if err != nil {
		return nil, err
	}
	for j, f := range p.Features {
		if _, ok := t.Column(f); !ok || d.Features[j] != f {
			return nil, paramErr(fmt.Sprintf("features[%d]", j), "%q is not a column (trees take columns, not terms such as log(x))", f)
		}
	}
	n := d.N()
	s := &Site{p: p, bins: make([][]uint8, len(p.Features)), y: make([]bool, n), score: make([]float64, n), node: make([]int32, n),
		g: make([]int64, n), h: make([]int64, n)}
	cols, y, ok := d.Columns()
	if !ok {
		return nil, paramErr("outcome", "%q must be 0/1", p.Outcome)
	}
	for j := range p.Features {
		s.bins[j] = make([]uint8, n)
		for i, v := range cols[j] {
			s.bins[j][i] = p.bin(j, v)
		}
	}
	for i, v := range y {
		s.y[i] = v == 1
	}
	return s, nil
}

// Rows is the number of rows the site trains on.
func (s *Site) Rows() int { return len(s.y) }

// Counts is the site's first contribution: rows and events.
func (s *Site) Counts() []int64 {
	var e int64
	for _, v := range s.y {
		if v {
			e++
		}
	}
	return []int64{int64(len(s.y)), e}
}

// fixed rounds v to the fixed-point grid.
func fixed(v float64) int64 { return int64(math.Round(v * (1 << FracBits))) }

// gradHess is row i's gradient and Hessian of the log-loss at its score,
// on the fixed-point grid.
func (s *Site) gradHess(i int) (int64, int64) {
	p := 1 / (1 + math.Exp(-s.score[i]))
	y := 0.0
	if s.y[i] {
		y = 1
	}
	return fixed(p - y), fixed(p * (1 - p))
}

// startTree puts every row at the root of a new tree.
func (s *Site) startTree(base float64, first bool) {
	for i := range s.node {
		s.node[i] = 0
		if first {
			s.score[i] = base
		}
		s.g[i], s.h[i] = s.gradHess(i)
	}
	s.slot = append(s.slot[:0], 0)
}

// histograms is the site's contribution for a level with k active nodes:
// per node, feature and bin, the sums of gradients, Hessians and rows
// (layout [node][feature][bin][3]). With totalsOnly, per node only the
// three sums (the last level needs no split).
func (s *Site) histograms(k int, totalsOnly bool) []int64 {
	f, b := len(s.bins), s.p.Bins
	if totalsOnly {
		out := make([]int64, 3*k)
		for i, n := range s.node {
			if n < 0 || int(n) >= len(s.slot) || s.slot[n] < 0 {
				continue
			}
			g, h := s.g[i], s.h[i]
			o := 3 * int(s.slot[n])
			out[o] += g
			out[o+1] += h
			out[o+2]++
		}
		return out
	}
	out := make([]int64, k*f*b*3)
	for i, n := range s.node {
		if n < 0 || int(n) >= len(s.slot) || s.slot[n] < 0 {
			continue
		}
		g, h := s.g[i], s.h[i]
		base := int(s.slot[n]) * f * b * 3
		for j := range f {
			o := base + (j*b+int(s.bins[j][i]))*3
			out[o] += g
			out[o+1] += h
			out[o+2]++
		}
	}
	return out
}

// apply moves the rows down the level's decisions: a split node's rows to
// its children, a leaf's rows out of the tree with its value added to
// their score.
func (s *Site) apply(t *Tree, level []int) {
	for i, n := range s.node {
		if n < 0 {
			continue
		}
		nd := t.Nodes[n]
		switch {
		case nd.Leaf:
			s.score[i] += nd.Value
			s.node[i] = -1
		case int(s.bins[nd.Feature][i]) <= nd.Bin:
			s.node[i] = int32(nd.Left)
		default:
			s.node[i] = int32(nd.Right)
		}
	}
	// The next level's slots.
	for len(s.slot) < len(t.Nodes) {
		s.slot = append(s.slot, -1)
	}
	for n := range s.slot {
		s.slot[n] = -1
	}
	for k, n := range level {
		s.slot[n] = int32(k)
	}
}

// Aggregate adds the sites' contributions (each the same length): a plain
// sum for a single site or a trusted test, a masked sum through the ledger
// for a study. It must return exactly the integer sums.
type Aggregate func(contributions [][]int64) ([]int64, error)

// Plain is the Aggregate of one party holding every contribution.
func Plain(cs [][]int64) ([]int64, error) {
	if len(cs) == 0 {
		return nil, errors.New("gbt: nothing to sum")
	}
	out := make([]int64, len(cs[0]))
	for _, c := range cs {
		if len(c) != len(out) {
			return nil, errors.New("gbt: contributions of different lengths")
		}
		for i, v := range c {
			out[i] += v
		}
	}
	return out, nil
}

// Train grows the model over the sites' rows, summing every round's
// contributions with agg. minLeaf is the fewest rows a leaf may hold (the
// minimum cohort); p must have its defaults.
func Train(sites []*Site, p Params, minLeaf int64, agg Aggregate) (*Model, error) {
	if len(sites) == 0 {
		return nil, errors.New("gbt: no sites")
	}
	minLeaf = max(minLeaf, 1)
	round := func(f func(s *Site) []int64) ([]int64, error) {
		cs := make([][]int64, len(sites))
		for i, s := range sites {
			cs[i] = f(s)
		}
		return agg(cs)
	}
	counts, err := round((*Site).Counts)
	if err != nil {
		return nil, err
	}
	n, events := counts[0], counts[1]
	if n < minLeaf {
		return nil, ErrSmallLeaf
	}
	if events == 0 || events == n {
		return nil, paramErr("outcome", "the outcome does not vary")
	}
	m := &Model{Features: p.Features, Bounds: p.Bounds, Bins: p.Bins, Base: math.Log(float64(events) / float64(n-events))}
	for t := range p.Trees {
		tree := Tree{Nodes: []Node{{}}}
		for _, s := range sites {
			s.startTree(m.Base, t == 0)
		}
		level := []int{0}
		for depth := 0; len(level) > 0; depth++ {
			last := depth == p.Depth
			sums, err := round(func(s *Site) []int64 { return s.histograms(len(level), last) })
			if err != nil {
				return nil, err
			}
			var next []int
			for k, n := range level {
				var g, h, c int64
				var best split
				if last {
					g, h, c = sums[3*k], sums[3*k+1], sums[3*k+2]
				} else {
					node := sums[k*len(p.Features)*p.Bins*3 : (k+1)*len(p.Features)*p.Bins*3]
					g, h, c = totals(node, p.Bins, 3)
					best = bestSplit(node, len(p.Features), p.Bins, 3, g, h, c, p.Lambda, minLeaf)
				}
				if !best.ok {
					tree.Nodes[n] = Node{Leaf: true, Value: -p.LearningRate * toReal(g) / (toReal(h) + p.Lambda)}
					continue
				}
				l, r := len(tree.Nodes), len(tree.Nodes)+1
				tree.Nodes[n] = Node{Feature: best.feature, Bin: best.bin, Threshold: p.Edge(best.feature, best.bin), Left: l, Right: r}
				tree.Nodes = append(tree.Nodes, Node{}, Node{})
				next = append(next, l, r)
			}
			for _, s := range sites {
				s.apply(&tree, next)
			}
			level = next
		}
		m.Trees = append(m.Trees, tree)
	}
	return m, nil
}

// toReal is a fixed-point sum as a number.
func toReal(v int64) float64 { return float64(v) / (1 << FracBits) }

// totals are a node's sums (any one feature's bins cover every row);
// stride is the values per bin (3, or Stride with a veto).
func totals(node []int64, bins, stride int) (g, h, c int64) {
	for b := range bins {
		g += node[stride*b]
		h += node[stride*b+1]
		c += node[stride*b+2]
	}
	return g, h, c
}

type split struct {
	ok           bool
	feature, bin int
	gain         float64
}

// bestSplit is the split of largest gain ½[G_L²/(H_L+λ) + G_R²/(H_R+λ) −
// G²/(H+λ)] that leaves at least minLeaf rows on each side; the first in
// feature then bin order wins a tie, so every site and a central run pick
// the same one. With stride Stride, a cut some site vetoed (the bin's
// fourth value is above 0) is not taken.
func bestSplit(node []int64, features, bins, stride int, g, h, c int64, lambda float64, minLeaf int64) split {
	var best split
	parent := toReal(g) * toReal(g) / (toReal(h) + lambda)
	for j := range features {
		hist := node[j*bins*stride : (j+1)*bins*stride]
		var gl, hl, cl int64
		for b := 0; b < bins-1; b++ {
			gl += hist[stride*b]
			hl += hist[stride*b+1]
			cl += hist[stride*b+2]
			if cl < minLeaf {
				continue
			}
			if c-cl < minLeaf {
				break
			}
			if stride == Stride && hist[stride*b+3] > 0 {
				continue
			}
			gr, hr := g-gl, h-hl
			gain := 0.5 * (toReal(gl)*toReal(gl)/(toReal(hl)+lambda) + toReal(gr)*toReal(gr)/(toReal(hr)+lambda) - parent)
			if gain > 1e-12 && gain > best.gain {
				best = split{ok: true, feature: j, bin: b, gain: gain}
			}
		}
	}
	return best
}

// LeafCounts routes the site's rows through each of m's trees and counts
// the rows in each node that is a leaf (counts[t][n]; 0 for a split node).
// A release checks every leaf against the minimum cohort with it.
func (s *Site) LeafCounts(m *Model) ([][]int64, error) {
	out := make([][]int64, len(m.Trees))
	for t, tr := range m.Trees {
		out[t] = make([]int64, len(tr.Nodes))
		for i := range s.y {
			n := 0
			for steps := 0; !tr.Nodes[n].Leaf; steps++ {
				nd := tr.Nodes[n]
				if steps > MaxDepth || nd.Feature < 0 || nd.Feature >= len(s.bins) || nd.Left <= n || nd.Right <= n || nd.Left >= len(tr.Nodes) || nd.Right >= len(tr.Nodes) {
					return nil, errors.New("gbt: malformed tree")
				}
				if int(s.bins[nd.Feature][i]) <= nd.Bin {
					n = nd.Left
				} else {
					n = nd.Right
				}
			}
			out[t][n]++
		}
	}
	return out, nil
}

// AUC is the model's AUC on the site's rows (their scores after the last
// tree).
func (s *Site) AUC(m *Model) (float64, error) {
	if len(m.Trees) == 0 {
		return 0, errors.New("gbt: the model has no trees")
	}
	y := make([]float64, len(s.y))
	for i, v := range s.y {
		if v {
			y[i] = 1
		}
	}
	return analysis.AUC(s.score, y)
}
