package gbt_test

import (
	"reflect"
	"testing"

	"github.com/medchain/medchain/gbt"
)

// threeSites is three sites' cohorts and their pooled rows as one site.
func threeSites(t testing.TB, p gbt.Params, sizes []int) ([]*gbt.Site, *gbt.Site) {
	t.Helper()
	var sites []*gbt.Site
	var pooled [5][]float64
	for s, n := range sizes {
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
	all, err := gbt.NewSite(table(t, pooled[:]...), p)
	if err != nil {
		t.Fatal(err)
	}
	return sites, all
}

// Growing one node per round (as a study through the ledger does), with
// masked sums, gives exactly the model Train grows level by level on the
// pooled rows when no site's own groups are small.
func TestNodeRoundsEqualCentral(t *testing.T) {
	p := params(t, 10, 4)
	sites, all := threeSites(t, p, []int{1500, 900, 2100})
	fed, err := gbt.TrainNodes(sites, []int64{0, 0, 0}, p, 50, masked(t, len(sites)))
	if err != nil {
		t.Fatal(err)
	}
	central, err := gbt.Train([]*gbt.Site{all}, p, 50, gbt.Plain)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fed, central) {
		t.Fatal("the node-by-node model differs from the central one")
	}
}

// A cut that would leave one site a group of 1 to minimum−1 of its own
// rows is not taken, though the pooled groups are large enough: with a
// site minimum the central fit's splits are refused and the model
// differs; every site's own share of every leaf is 0 or at least its
// minimum.
func TestSiteVetoesSmallOwnGroups(t *testing.T) {
	p := params(t, 5, 4)
	sites, all := threeSites(t, p, []int{1500, 90, 2100})
	central, err := gbt.Train([]*gbt.Site{all}, p, 50, gbt.Plain)
	if err != nil {
		t.Fatal(err)
	}
	minOwn := []int64{50, 50, 50}
	fed, err := gbt.TrainNodes(sites, minOwn, p, 50, masked(t, len(sites)))
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(fed, central) {
		t.Fatal("the 90-row site's vetoes changed nothing: the test would not see a small group")
	}
	for i, s := range sites {
		counts, err := s.LeafCounts(fed)
		if err != nil {
			t.Fatal(err)
		}
		for tr, cs := range counts {
			for n, c := range cs {
				if fed.Trees[tr].Nodes[n].Leaf && c > 0 && c < minOwn[i] {
					t.Errorf("site %d holds %d rows of leaf %d of tree %d", i, c, n, tr)
				}
			}
		}
	}
	// Without vetoes the same rounds give the central model.
	sites, _ = threeSites(t, p, []int{1500, 90, 2100})
	if fed, err = gbt.TrainNodes(sites, []int64{0, 0, 0}, p, 50, gbt.Plain); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fed, central) {
		t.Fatal("without vetoes the node-by-node model differs from the central one")
	}
}

// BenchmarkStudySite is one site's work in a trees study of 100 trees of
// depth 4 on 1M rows × 4 features: every node histogram it posts and
// every routing of its rows after a sum (the sums here are its own; the
// masking, proofs and ledger rounds are not included).
func BenchmarkStudySite(b *testing.B) {
	age, bmi, sbp, smoker, y := cohort(b, 1, 1_000_000)
	p := params(b, 100, 4)
	b.Run("1M", func(b *testing.B) {
		for b.Loop() {
			site, err := gbt.NewSite(table(b, age, bmi, sbp, smoker, y), p)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := gbt.TrainNodes([]*gbt.Site{site}, []int64{50}, p, 50, gbt.Plain); err != nil {
				b.Fatal(err)
			}
		}
	})
}
