package federated_test

import (
	"strings"
	"testing"

	"github.com/medchain/medchain/federated"
)

// A trees study's spec: a step is one node histogram of features × bins ×
// 4 values, with bounds for each (gradient, Hessian, count, veto); steps
// too large for one proof, or a trees spec with another link, are refused.
func TestTreesSpec(t *testing.T) {
	spec := federated.Spec{Columns: 3, MaxAbs: []uint64{1 << 17, 1 << 18, 1 << 10}, Link: federated.LinkTrees, Bins: 10,
		Trees: &federated.TreesSpec{Bins: 32, Depth: 4, Trees: 100}}
	if err := spec.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := spec.Len(federated.PhaseStep); got != 3*32*4 {
		t.Fatalf("step length %d", got)
	}
	if got := spec.Trees.MaxSteps(); got != 1+100*15 {
		t.Fatalf("max steps %d", got)
	}
	b, err := spec.Bounds(federated.PhaseStep, 11, 1000, 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 384 {
		t.Fatalf("%d bounds", len(b))
	}
	// A bin of all 1000 rows with |p − y| = 1, p(1 − p) = ¼ is inside;
	// a veto of 2 or a negative count is not.
	g, h := int64(1000)<<24, int64(1000)<<22
	for _, tc := range []struct {
		at   int
		v    int64
		fits bool
	}{{0, g, true}, {0, -g, true}, {0, g + 2, false}, {1, h, true}, {1, -1, false}, {2, 1000, true}, {2, -1, false}, {3, 1, true}, {3, 2, false}} {
		if got := b[tc.at].Contains(tc.v); got != tc.fits {
			t.Errorf("value %d at %d: inside %v, want %v", tc.v, tc.at, got, tc.fits)
		}
	}
	if fb, err := spec.Bounds(federated.PhaseFinal, 11, 1000, 500); err != nil || len(fb) != spec.FinalLen() {
		t.Fatalf("final bounds: %d, %v", len(fb), err)
	}
	for _, tc := range []struct {
		change func(*federated.Spec)
		want   string
	}{
		{func(s *federated.Spec) { s.Columns, s.MaxAbs = 4, append(s.MaxAbs, 1) }, "at most 384"},
		{func(s *federated.Spec) { s.Link = "logit" }, "study.trees"},
		{func(s *federated.Spec) { s.Trees = nil }, "study.trees"},
		{func(s *federated.Spec) { s.Trees.Depth = 7 }, "study.trees.depth"},
	} {
		s := spec
		ts := *spec.Trees
		s.Trees = &ts
		s.MaxAbs = append([]uint64(nil), spec.MaxAbs...)
		tc.change(&s)
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error with %q, got %v", tc.want, err)
		}
	}
}
