package gbt_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"errors"
	"math"
	mrand "math/rand/v2"
	"reflect"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/gbt"
)

// cohort is n synthetic rows with a non-linear risk: steep above an age
// of 60, a U-shape in BMI, an interaction of SBP and smoking.
func cohort(t testing.TB, seed uint64, n int) (age, bmi, sbp, smoker, y []float64) {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(seed, 7))
	age, bmi, sbp, smoker, y = make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		age[i] = 30 + 55*rng.Float64()
		bmi[i] = 18 + 20*rng.Float64()
		sbp[i] = 100 + 0.4*age[i] + 15*rng.NormFloat64()
		if rng.Float64() < 0.25 {
			smoker[i] = 1
		}
		eta := -3 + 0.08*max(age[i]-60, 0) + 0.02*(bmi[i]-27)*(bmi[i]-27) + 0.03*(sbp[i]-130)*smoker[i]
		if rng.Float64() < 1/(1+math.Exp(-eta)) {
			y[i] = 1
		}
	}
	return
}

func table(t testing.TB, cols ...[]float64) *analysis.Table {
	t.Helper()
	names := []string{"age", "bmi", "sbp", "smoker", "cvd"}
	cs := make([]analysis.Column, len(cols))
	for i, c := range cols {
		cs[i] = analysis.Column{Name: names[i], Values: c}
	}
	tbl, err := analysis.NewTable(cs...)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func params(t testing.TB, trees, depth int) gbt.Params {
	t.Helper()
	p, err := gbt.Params{Outcome: "cvd", Features: []string{"age", "bmi", "sbp", "smoker"},
		Bounds: []analysis.Bounds{{Lower: 18, Upper: 90}, {Lower: 15, Upper: 45}, {Lower: 80, Upper: 220}, {Lower: 0, Upper: 1}},
		Trees:  trees, Depth: depth}.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// masked sums the sites' histograms as a study does: each site adds its
// pairwise masks (X25519 agreements, one session per round) and only the
// sum of the masked vectors is seen.
func masked(t testing.TB, n int) gbt.Aggregate {
	keys := make([]*ecdh.PrivateKey, n)
	peers := make([]federated.Peer, n)
	for i := range keys {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
		peers[i] = federated.Peer{Site: string(rune('a' + i)), Key: k.PublicKey().Bytes()}
	}
	var round uint32
	return func(cs [][]int64) ([]int64, error) {
		round++
		s := federated.Session{ChainID: "test", Job: 1, Round: round, Phase: "trees"}
		var all [][]uint64
		for i, c := range cs {
			m, err := federated.PairMasks(keys[i], i, peers, s, len(c))
			if err != nil {
				return nil, err
			}
			v, err := m.Apply(c)
			if err != nil {
				return nil, err
			}
			all = append(all, v)
		}
		return federated.Sum(all)
	}
}

// Three sites of different sizes train through masked sums and get the
// very model a central run on the pooled rows gets: the same splits, the
// same leaf values, bit for bit.
func TestFederatedEqualsCentral(t *testing.T) {
	p := params(t, 20, 4)
	var sites []*gbt.Site
	var pooled [5][]float64
	for s, n := range []int{1500, 900, 2100} {
		cols := [5][]float64{}
		cols[0], cols[1], cols[2], cols[3], cols[4] = cohort(t, uint64(s+1), n)
		site, err := gbt.NewSite(table(t, cols[:]...), p)
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, site)
		for j := range pooled {
			pooled[j] = append(pooled[j], cols[j]...)
		}
	}
	fed, err := gbt.Train(sites, p, 50, masked(t, len(sites)))
	if err != nil {
		t.Fatal(err)
	}
	all, err := gbt.NewSite(table(t, pooled[:]...), p)
	if err != nil {
		t.Fatal(err)
	}
	central, err := gbt.Train([]*gbt.Site{all}, p, 50, gbt.Plain)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fed, central) {
		t.Fatal("the federated model differs from the central one")
	}
	splits := 0
	for _, tr := range central.Trees {
		for _, nd := range tr.Nodes {
			if !nd.Leaf {
				splits++
			}
		}
	}
	if splits < 20 {
		t.Fatalf("only %d splits in 20 trees: the test would not see a difference", splits)
	}
}

// Every leaf holds at least the minimum number of rows (counted by
// routing the training rows), the model beats a logistic regression on
// this non-linear risk, and it predicts from feature values.
func TestLeavesAndFit(t *testing.T) {
	age, bmi, sbp, smoker, y := cohort(t, 9, 6000)
	p := params(t, 60, 3)
	const minLeaf = 200
	site, err := gbt.NewSite(table(t, age, bmi, sbp, smoker, y), p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := gbt.Train([]*gbt.Site{site}, p, minLeaf, gbt.Plain)
	if err != nil {
		t.Fatal(err)
	}
	scores := make([]float64, len(y))
	for ti, tr := range m.Trees {
		counts := map[int]int{}
		for i := range y {
			n := 0
			for !tr.Nodes[n].Leaf {
				nd := tr.Nodes[n]
				x := []float64{age[i], bmi[i], sbp[i], smoker[i]}[nd.Feature]
				if x < nd.Threshold {
					n = nd.Left
				} else {
					n = nd.Right
				}
			}
			counts[n]++
		}
		for n, c := range counts {
			if c < minLeaf {
				t.Fatalf("tree %d leaf %d holds %d rows, fewer than %d", ti, n, c, minLeaf)
			}
		}
	}
	for i := range y {
		if scores[i], err = m.Predict([]float64{age[i], bmi[i], sbp[i], smoker[i]}); err != nil {
			t.Fatal(err)
		}
	}
	auc, err := analysis.AUC(scores, y)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := analysis.Regress(table(t, age, bmi, sbp, smoker, y), analysis.RegressionParams{Outcome: "cvd", Features: []string{"age", "bmi", "sbp", "smoker"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("AUC: boosted trees %.3f, logistic regression %.3f", auc, reg.AUC)
	if auc <= reg.AUC {
		t.Errorf("boosted trees AUC %.3f not above the linear model's %.3f on a non-linear risk", auc, reg.AUC)
	}
}

func TestParamsAndRefusals(t *testing.T) {
	base := gbt.Params{Outcome: "cvd", Features: []string{"age"}, Bounds: []analysis.Bounds{{Lower: 18, Upper: 90}}}
	for _, tc := range []struct {
		change func(*gbt.Params)
		param  string
	}{
		{func(p *gbt.Params) { p.Bounds = nil }, "bounds"},
		{func(p *gbt.Params) { p.Trees = 501 }, "trees"},
		{func(p *gbt.Params) { p.Depth = 7 }, "depth"},
		{func(p *gbt.Params) { p.LearningRate = 2 }, "learning_rate"},
		{func(p *gbt.Params) { p.Bins = 65 }, "bins"},
		{func(p *gbt.Params) { p.Bounds[0] = analysis.Bounds{Lower: 5, Upper: 5} }, "bounds[0]"},
		{func(p *gbt.Params) { p.Features = []string{"cvd"} }, "features[0]"},
	} {
		p := base
		p.Bounds = append([]analysis.Bounds(nil), base.Bounds...)
		tc.change(&p)
		var pe *analysis.ParamError
		if _, err := p.WithDefaults(); !errors.As(err, &pe) || pe.Param != tc.param {
			t.Errorf("want an error on %s, got %v", tc.param, err)
		}
	}
	age, bmi, sbp, smoker, y := cohort(t, 3, 300)
	p := params(t, 2, 2)
	site, err := gbt.NewSite(table(t, age, bmi, sbp, smoker, y), p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gbt.Train([]*gbt.Site{site}, p, 301, gbt.Plain); !errors.Is(err, gbt.ErrSmallLeaf) {
		t.Errorf("a cohort below the minimum leaf: %v", err)
	}
	bad := &gbt.Model{Features: []string{"age"}, Bounds: base.Bounds, Bins: 32, Trees: []gbt.Tree{{Nodes: []gbt.Node{{Left: 0, Right: 0}}}}}
	if _, err := bad.Predict([]float64{50}); err == nil {
		t.Error("a tree that loops was evaluated")
	}
}

// BenchmarkTrain is one site training 100 trees of depth 4 on rows×4
// features.
func BenchmarkTrain(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		age, bmi, sbp, smoker, y := cohort(b, 1, n)
		p := params(b, 100, 4)
		b.Run(map[int]string{100_000: "100k", 1_000_000: "1M"}[n], func(b *testing.B) {
			for b.Loop() {
				site, err := gbt.NewSite(table(b, age, bmi, sbp, smoker, y), p)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := gbt.Train([]*gbt.Site{site}, p, 50, gbt.Plain); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
