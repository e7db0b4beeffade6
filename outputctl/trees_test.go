package outputctl_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/gbt"
	"github.com/medchain/medchain/outputctl"
)

// A tree model is released only under a policy that allows exact models,
// on a cohort that reaches the minimum, with every leaf holding at least
// the minimum cohort; its AUC only when events and non-events both reach
// the minimum cohort.
func TestReleaseTrees(t *testing.T) {
	m := &gbt.Model{Features: []string{"age"}, Bounds: []analysis.Bounds{{Lower: 18, Upper: 90}}, Bins: 32,
		Trees: []gbt.Tree{{Nodes: []gbt.Node{{Feature: 0, Bin: 15, Left: 1, Right: 2}, {Leaf: true, Value: -0.1}, {Leaf: true, Value: 0.2}}}}}
	r := func(minCohort int64, eps uint64, exact bool) *outputctl.Releaser {
		return &outputctl.Releaser{Policy: outputctl.Policy{MinCohort: minCohort, EpsilonMilli: eps, ExactRegression: exact}, Budget: &outputctl.Budget{TotalMilli: 1000}}
	}
	counts := [][]int64{{0, 60, 40}}
	rel, err := r(30, 0, false).ReleaseTrees(m, counts, 100, 35, 0.7)
	if err != nil || rel.AUC != 0.7 || len(rel.Model.Trees) != 1 {
		t.Fatalf("a releasable model: %+v %v", rel, err)
	}
	if rel, err := r(40, 0, false).ReleaseTrees(m, counts, 100, 35, 0.7); err != nil || rel.AUC != 0 {
		t.Errorf("events below the minimum cohort should withhold the AUC: %+v %v", rel, err)
	}
	if _, err := r(41, 0, false).ReleaseTrees(m, counts, 100, 50, 0.7); !errors.Is(err, outputctl.ErrBelowMinCohort) {
		t.Errorf("a leaf of 40 rows under a minimum cohort of 41: %v", err)
	}
	if _, err := r(20, 1000, false).ReleaseTrees(m, counts, 100, 35, 0.7); !errors.Is(err, outputctl.ErrNoPrivateRegression) {
		t.Errorf("a policy with an epsilon and no exact models: %v", err)
	}
	if _, err := r(20, 1000, true).ReleaseTrees(m, counts, 100, 35, 0.7); err != nil {
		t.Errorf("a policy that allows exact models: %v", err)
	}
	if _, err := r(20, 0, false).ReleaseTrees(m, [][]int64{{0, 60}}, 100, 35, 0.7); err == nil {
		t.Error("leaf counts that do not match the tree were accepted")
	}
}

// An interaction of a measurement with a 0/1 column that is 1 for one
// patient (age:flag, flag no main effect) is nonzero on one row: the fit
// would reproduce that row's outcome. The design is refused, naming the
// term; so is its complement (zero on one row).
func TestSparseColumnsAreRefused(t *testing.T) {
	n := 200
	x, age, flag, y := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range n {
		x[i] = float64(i%17) + 0.5
		age[i] = 40 + float64(i%30)
		y[i] = 100 + 2*x[i] + float64(i%7)
	}
	flag[17] = 1
	tbl, err := analysis.NewTable(analysis.Column{Name: "x", Values: x}, analysis.Column{Name: "age", Values: age},
		analysis.Column{Name: "flag", Values: flag}, analysis.Column{Name: "y", Values: y})
	if err != nil {
		t.Fatal(err)
	}
	r := &outputctl.Releaser{Policy: outputctl.Policy{MinCohort: 20}}
	for _, features := range [][]string{{"x", "age:flag"}} {
		d, err := analysis.NewDesign(tbl, "y", features, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.CheckRegressionRules(d, analysis.Identity); !errors.Is(err, outputctl.ErrSmallGroup) || !strings.Contains(err.Error(), "age:flag") {
			t.Errorf("%v: %v", features, err)
		}
	}
	notFlag := make([]float64, n)
	for i := range notFlag {
		notFlag[i] = 1 - flag[i]
	}
	tbl2, _ := analysis.NewTable(analysis.Column{Name: "x", Values: x}, analysis.Column{Name: "age", Values: age},
		analysis.Column{Name: "notflag", Values: notFlag}, analysis.Column{Name: "y", Values: y})
	d, err := analysis.NewDesign(tbl2, "y", []string{"age", "age:notflag"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CheckRegressionRules(d, analysis.Identity); !errors.Is(err, outputctl.ErrSmallGroup) {
		t.Errorf("a column zero on one row: %v", err)
	}
	d, err = analysis.NewDesign(tbl, "y", []string{"x", "age"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CheckRegressionRules(d, analysis.Identity); err != nil {
		t.Errorf("measurements that are never 0: %v", err)
	}
}
