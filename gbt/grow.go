package gbt

import (
	"errors"
	"fmt"
	"math"

	"github.com/medchain/medchain/analysis"
)

// Growing a model one node at a time. Train grows a level per round, which
// suits parties that sum freely; a study through the ledger sums one
// fixed-length vector per round, so there every round is one tree node's
// histogram (NodeHistogram), and the sites and every replaying worker
// follow the same Grower over the sums: it says which node is next, and
// from each sum decides that node's split or leaf exactly as Train does
// from the same integers. Children at the last level need no round of
// their own: their sums are the two sides of the parent's chosen cut.
//
// A node histogram also carries each site's veto per cut: 1 when the cut
// would leave the site itself 1 to minimum−1 rows on one side. With two
// sites either one learns the other's share of a node by subtraction, so a
// cut that would give any site a small group of its own is not taken,
// whatever the pooled counts (they must reach the study's minimum too).

// Stride is the number of values per feature and bin in a node histogram:
// gradient sum, Hessian sum, rows, veto.
const Stride = 4

// Step says what the next round sums: the cohort's counts (the first
// round), or the histogram of node Node of tree Tree.
type Step struct {
	Counts     bool
	Tree, Node int
}

// Grower is the training state over the sums of the rounds so far.
type Grower struct {
	p         Params
	minLeaf   int64
	n, events int64
	m         *Model
	tree      Tree
	queue     []pending
	started   bool
	// rows is the pooled row count of every node of every finished tree
	// (the release re-checks each leaf against the minimum with it).
	rows    [][]int64
	curRows []int64
}

type pending struct{ node, depth int }

// NewGrower starts training for p (with its defaults) where no node may
// hold fewer than minLeaf rows.
func NewGrower(p Params, minLeaf int64) *Grower {
	return &Grower{p: p, minLeaf: max(minLeaf, 1)}
}

// StepLen is the length of every round's vector: features × bins × Stride.
func (g *Grower) StepLen() int { return len(g.p.Features) * g.p.Bins * Stride }

// Next is the next round, or false once the model is complete.
func (g *Grower) Next() (Step, bool) {
	if !g.started {
		return Step{Counts: true}, true
	}
	if len(g.queue) == 0 {
		return Step{}, false
	}
	return Step{Tree: len(g.m.Trees), Node: g.queue[0].node}, true
}

// Counts are the pooled rows and events (after the first round).
func (g *Grower) Counts() (n, events int64) { return g.n, g.events }

// Model is the trained model, once Next says it is complete.
func (g *Grower) Model() (*Model, [][]int64, error) {
	if _, more := g.Next(); more {
		return nil, nil, errors.New("gbt: the model is not complete")
	}
	return g.m, g.rows, nil
}

// Add takes the sum of a round's contributions (in Next's order) and moves
// the sites' rows (the local rows a caller holds, if any) to follow it.
func (g *Grower) Add(sum []int64, sites ...*Site) error {
	if len(sum) != g.StepLen() {
		return fmt.Errorf("gbt: a sum of %d values, want %d", len(sum), g.StepLen())
	}
	step, more := g.Next()
	if !more {
		return errors.New("gbt: a sum after the model was complete")
	}
	if step.Counts {
		g.n, g.events = sum[2], sum[Stride+2]
		if g.n < g.minLeaf {
			return ErrSmallLeaf
		}
		if g.events <= 0 || g.events >= g.n {
			return paramErr("outcome", "the outcome does not vary")
		}
		g.started = true
		g.m = &Model{Features: g.p.Features, Bounds: g.p.Bounds, Bins: g.p.Bins, Base: math.Log(float64(g.events) / float64(g.n-g.events))}
		g.startTree(sites)
		return nil
	}
	at := g.queue[0]
	g.queue = g.queue[1:]
	f, b := len(g.p.Features), g.p.Bins
	gs, hs, c := totals(sum, b, Stride)
	g.curRows[at.node] = c
	best := bestSplit(sum, f, b, Stride, gs, hs, c, g.p.Lambda, g.minLeaf)
	if !best.ok {
		g.leaf(at.node, gs, hs, sites)
	} else {
		l, r := len(g.tree.Nodes), len(g.tree.Nodes)+1
		g.tree.Nodes[at.node] = Node{Feature: best.feature, Bin: best.bin, Threshold: g.p.Edge(best.feature, best.bin), Left: l, Right: r}
		g.tree.Nodes = append(g.tree.Nodes, Node{}, Node{})
		g.curRows = append(g.curRows, 0, 0)
		for _, s := range sites {
			s.route(at.node, best.feature, best.bin, l, r)
		}
		if at.depth+1 == g.p.Depth {
			// The children are leaves: their sums are the cut's two sides.
			hist := sum[best.feature*b*Stride:]
			var gl, hl, cl int64
			for k := 0; k <= best.bin; k++ {
				gl += hist[Stride*k]
				hl += hist[Stride*k+1]
				cl += hist[Stride*k+2]
			}
			g.curRows[l], g.curRows[r] = cl, c-cl
			g.leaf(l, gl, hl, sites)
			g.leaf(r, gs-gl, hs-hl, sites)
		} else {
			g.queue = append(g.queue, pending{l, at.depth + 1}, pending{r, at.depth + 1})
		}
	}
	if len(g.queue) == 0 {
		g.m.Trees = append(g.m.Trees, g.tree)
		g.rows = append(g.rows, g.curRows)
		if len(g.m.Trees) < g.p.Trees {
			g.startTree(sites)
		}
	}
	return nil
}

// startTree begins the next tree: one node, the root, awaiting its
// histogram.
func (g *Grower) startTree(sites []*Site) {
	g.tree = Tree{Nodes: []Node{{}}}
	g.curRows = []int64{0}
	g.queue = []pending{{0, 0}}
	for _, s := range sites {
		s.startTree(g.m.Base, len(g.m.Trees) == 0)
	}
}

// leaf makes node n a leaf with the value of its sums, as Train does.
func (g *Grower) leaf(n int, gs, hs int64, sites []*Site) {
	g.tree.Nodes[n] = Node{Leaf: true, Value: -g.p.LearningRate * toReal(gs) / (toReal(hs) + g.p.Lambda)}
	for _, s := range sites {
		s.settle(n, g.tree.Nodes[n].Value)
	}
}

// CountsStep is the site's first round: its rows and events in the count
// slots of the first feature's first two bins, every other value 0.
func (s *Site) CountsStep() []int64 {
	out := make([]int64, len(s.bins)*s.p.Bins*Stride)
	c := s.Counts()
	out[2], out[Stride+2] = c[0], c[1]
	return out
}

// NodeHistogram is the site's round for node n of the tree being grown:
// per feature and bin the sums of its rows' gradients and Hessians, their
// count, and its veto of cutting after that bin (1 when a side would keep
// 1 to minOwn−1 of the site's rows).
func (s *Site) NodeHistogram(n int, minOwn int64) []int64 {
	f, b := len(s.bins), s.p.Bins
	out := make([]int64, f*b*Stride)
	var total int64
	for i, nd := range s.node {
		if int(nd) != n {
			continue
		}
		total++
		for j := range f {
			o := (j*b + int(s.bins[j][i])) * Stride
			out[o] += s.g[i]
			out[o+1] += s.h[i]
			out[o+2]++
		}
	}
	small := func(c int64) bool { return c > 0 && c < minOwn }
	for j := range f {
		var cl int64
		for k := range b - 1 {
			cl += out[(j*b+k)*Stride+2]
			if small(cl) || small(total-cl) {
				out[(j*b+k)*Stride+3] = 1
			}
		}
	}
	return out
}

// route moves the rows of node n to its children.
func (s *Site) route(n, feature, bin, l, r int) {
	for i, nd := range s.node {
		if int(nd) != n {
			continue
		}
		if int(s.bins[feature][i]) <= bin {
			s.node[i] = int32(l)
		} else {
			s.node[i] = int32(r)
		}
	}
}

// settle takes the rows of leaf n out of the tree, adding its value to
// their scores.
func (s *Site) settle(n int, value float64) {
	for i, nd := range s.node {
		if int(nd) == n {
			s.score[i] += value
			s.node[i] = -1
		}
	}
}

// RiskHistogram is the site's rows by fixed bin of predicted risk after
// the last tree (analysis.RiskBin, k bins): events, non-events and the sum
// of predicted risks per bin — what a study adds up for the pooled AUC and
// calibration.
func (s *Site) RiskHistogram(k int) (events, nonEvents []int64, muSum []float64) {
	events, nonEvents, muSum = make([]int64, k), make([]int64, k), make([]float64, k)
	for i, sc := range s.score {
		mu := 1 / (1 + math.Exp(-sc))
		b := analysis.RiskBin(mu, k)
		if s.y[i] {
			events[b]++
		} else {
			nonEvents[b]++
		}
		muSum[b] += mu
	}
	return events, nonEvents, muSum
}

// TrainNodes trains over in-process sites one node per round, each site
// vetoing cuts that would leave it a small group of its own (minOwn[i]) —
// what a study through the ledger computes, without the ledger.
func TrainNodes(sites []*Site, minOwn []int64, p Params, minLeaf int64, agg Aggregate) (*Model, error) {
	g := NewGrower(p, minLeaf)
	for {
		step, more := g.Next()
		if !more {
			m, _, err := g.Model()
			return m, err
		}
		cs := make([][]int64, len(sites))
		for i, s := range sites {
			if step.Counts {
				cs[i] = s.CountsStep()
			} else {
				cs[i] = s.NodeHistogram(step.Node, minOwn[i])
			}
		}
		sum, err := agg(cs)
		if err != nil {
			return nil, err
		}
		if err := g.Add(sum, sites...); err != nil {
			return nil, err
		}
	}
}
