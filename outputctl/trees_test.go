package outputctl_test

import (
	"errors"
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
