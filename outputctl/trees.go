package outputctl

import (
	"fmt"

	"github.com/medchain/medchain/gbt"
)

// TreesRelease is a released gradient-boosted tree model: the trees (split
// features and public bin edges, leaf values) and the cohort's size, with
// the training AUC when events and non-events both reach the minimum
// cohort.
type TreesRelease struct {
	Model  gbt.Model `json:"model"`
	N      int64     `json:"n"`
	Events int64     `json:"events"`
	AUC    float64   `json:"auc,omitempty"`
}

// MinLeaf is the fewest rows a tree's leaf may hold under the policy: the
// minimum cohort. A leaf value is a statistic of its rows, so a leaf of
// fewer rows than the minimum cohort would be a record.
func (r *Releaser) MinLeaf() int64 { return max(r.Policy.MinCohort, r.Policy.minCell()) }

// ReleaseTrees releases a model trained (gbt.Train with MinLeaf) on a
// cohort of n rows with the given events; leafCounts are the rows in each
// of its trees' leaves (gbt.Site.LeafCounts), every one of which must
// reach MinLeaf — checked here again, whatever the training did. Trees
// are exact statistics: a policy with an epsilon must allow exact models
// (exact_regression), as for an exact regression. auc is the model's AUC
// on its training rows; it is withheld below the minimum cohort of events
// or non-events (as a ROC curve is).
func (r *Releaser) ReleaseTrees(m *gbt.Model, leafCounts [][]int64, n, events int64, auc float64) (TreesRelease, error) {
	if err := r.Policy.Validate(); err != nil {
		return TreesRelease{}, err
	}
	if r.private() && !r.Policy.ExactRegression {
		return TreesRelease{}, fmt.Errorf("%w: boosted trees are exact statistics and need exact_regression", ErrNoPrivateRegression)
	}
	minCell := r.Policy.minCell()
	if n < r.Policy.MinCohort {
		return TreesRelease{}, fmt.Errorf("%w of %d rows", ErrBelowMinCohort, r.Policy.MinCohort)
	}
	if events < minCell || n-events < minCell {
		return TreesRelease{}, fmt.Errorf("%w: events and non-events must each be at least %d", ErrTooFewEvents, minCell)
	}
	if len(leafCounts) != len(m.Trees) {
		return TreesRelease{}, fmt.Errorf("outputctl: leaf counts for %d trees, the model has %d", len(leafCounts), len(m.Trees))
	}
	for t, tr := range m.Trees {
		if len(leafCounts[t]) != len(tr.Nodes) {
			return TreesRelease{}, fmt.Errorf("outputctl: leaf counts of tree %d do not match its nodes", t)
		}
		for k, nd := range tr.Nodes {
			if nd.Leaf && leafCounts[t][k] < r.MinLeaf() {
				return TreesRelease{}, fmt.Errorf("%w: a leaf of tree %d holds fewer rows", ErrBelowMinCohort, t)
			}
		}
	}
	out := TreesRelease{Model: *m, N: n, Events: events}
	if events >= r.Policy.MinCohort && n-events >= r.Policy.MinCohort {
		out.AUC = auc
	}
	return out, nil
}
