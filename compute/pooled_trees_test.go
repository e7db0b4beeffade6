package compute_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/gbt"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/vault"
)

// treesSite is one institution of a trees study in these tests.
type treesSite struct {
	org, dataset string
	worker       *keys.Key
	denied       map[string]bool
}

// mkTreesSite publishes a site's synthetic dataset; its first denied
// patients refuse research.
func mkTreesSite(e *env, org, admin, ds string, rows int, seed int64, denied int) treesSite {
	wk, people, _ := e.site(org, admin, ds, rows, seed, ledger.ConsentOptOut)
	st := treesSite{org: org, dataset: ds, worker: wk, denied: map[string]bool{}}
	for k := range denied {
		e.patient(org, people[k], deny(ledger.ScopeAll, "", "research"))
		st.denied[e.pseudo.PatientPseudonym(people[k].ID)] = true
	}
	return st
}

// treesJobParams are the params a boosted-trees job of these tests names,
// and the model params the workers derive from them (each feature's
// public plausible range in 8 bins: a study's rounds, and their proofs,
// are a quarter of 32 bins').
func treesJobParams(t *testing.T, trees, depth int) (json.RawMessage, gbt.Params) {
	t.Helper()
	features := []string{"age", "sbp", "smoker"}
	raw, _ := json.Marshal(map[string]any{"outcome": "cvd_10y", "features": features, "trees": trees, "depth": depth, "bins": 8})
	pl := normalize.DefaultConfig().Plausible
	p := gbt.Params{Outcome: "cvd_10y", Features: features, Trees: trees, Depth: depth, Bins: 8,
		Bounds: []analysis.Bounds{{Lower: pl["age"].Min, Upper: pl["age"].Max}, {Lower: pl["sbp"].Min, Upper: pl["sbp"].Max}, {Lower: 0, Upper: 1}}}
	p, err := p.WithDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return raw, p
}

// runTreesStudy submits a boosted-trees job over the sites as one study
// and runs their workers until it settles; it returns the job and every
// site's decrypted release.
func runTreesStudy(t *testing.T, ctx context.Context, e *env, n *apitest.Node, sites []treesSite, raw json.RawMessage) (*ledger.Job, []compute.PooledTreesRelease) {
	t.Helper()
	rita := e.key("rita-researcher")
	var datasets []string
	for _, s := range sites {
		datasets = append(datasets, s.dataset)
	}
	m := e.study(&ledger.SubmitJob{Datasets: datasets, Analysis: "boosted_trees", Params: raw, Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()})
	if !compute.NeedsStudy(m) || m.Study.Spec.Trees == nil {
		t.Fatalf("a boosted-trees job over %d datasets is not planned as a trees study: %+v", len(datasets), m.Study)
	}
	id, err := client.JobID(e.submit(rita, m))
	if err != nil {
		t.Fatal(err)
	}
	store, err := compute.OpenResultStore(compute.ResultsDir(n.Home))
	if err != nil {
		t.Fatal(err)
	}
	var j *ledger.Job
	for round := 0; ; round++ {
		if round > 400 {
			v, _ := e.c.Study(ctx, id)
			if v != nil {
				t.Fatalf("job %d not completed after %d rounds: study at round %d iteration %d, %d sums, posted %v, excluded %+v", id, round, v.Study.Round, v.Study.Iteration, len(v.Sums), v.Posted, v.Study.Excluded)
			}
			t.Fatalf("job %d not completed after %d rounds", id, round)
		}
		for k, s := range sites {
			w := &compute.Worker{Key: s.worker, Org: s.org, Measurement: measurement, Vault: e.v, Ledger: e.c, Results: store, PooledTrees: true,
				StudyNoiseKey: []byte{byte(k + 1)}, Log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
			if _, err := w.RunOnce(ctx); err != nil {
				t.Fatalf("%s worker: %v", s.org, err)
			}
		}
		if j, err = e.c.Job(ctx, id); err != nil {
			t.Fatal(err)
		}
		if j.Status != ledger.JobAdmitted {
			break
		}
		time.Sleep(100 * time.Millisecond) // the API limits a client's request rate
	}
	if j.Status != ledger.JobCompleted {
		t.Fatalf("job %d is %s (%s)", id, j.Status, j.Reason)
	}
	var out []compute.PooledTreesRelease
	for _, st := range j.Sites {
		res, _, err := compute.FetchResult(ctx, e.c, j, st.Dataset, rita)
		if err != nil {
			t.Fatal(err)
		}
		if res.ReleaseKind != compute.KindPooledTrees {
			t.Fatalf("%s: release kind %q", st.Dataset, res.ReleaseKind)
		}
		var rel compute.PooledTreesRelease
		if err := json.Unmarshal(res.Release, &rel); err != nil {
			t.Fatal(err)
		}
		out = append(out, rel)
	}
	return j, out
}

// consentedSites are the sites' consented rows as gbt sites, each binned
// for p (what each worker trains on), and their union as one.
func consentedSites(t *testing.T, e *env, j *ledger.Job, sites []treesSite, p gbt.Params) ([]*gbt.Site, *gbt.Site) {
	t.Helper()
	cols := []string{"cvd_10y", "age", "sbp", "smoker"}
	var own []*gbt.Site
	var tables []*analysis.Table
	var allKeep []bool
	for _, s := range sites {
		site := j.Sites[slicesIndex(j.Sites, s.dataset)]
		ident, err := vault.NewIdentity(s.worker.Enc)
		if err != nil {
			t.Fatal(err)
		}
		v, err := e.v.Open(site.Dataset, site.Version, site.ContentRoot, ident)
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := compute.LoadTable(v)
		if err != nil {
			t.Fatal(err)
		}
		var keep []bool
		for c, err := range v.Pseudonyms() {
			if err != nil {
				t.Fatal(err)
			}
			for r := 0; r < c.Rows; r++ {
				keep = append(keep, !s.denied[c.Strs[r]])
			}
		}
		tbl = concatTables(t, []*analysis.Table{tbl}, cols)
		tables = append(tables, tbl)
		allKeep = append(allKeep, keep...)
		if tbl, err = tbl.Where(keep); err != nil {
			t.Fatal(err)
		}
		gs, err := gbt.NewSite(tbl, p)
		if err != nil {
			t.Fatal(err)
		}
		own = append(own, gs)
	}
	pooled, err := concatTables(t, tables, cols).Where(allKeep)
	if err != nil {
		t.Fatal(err)
	}
	all, err := gbt.NewSite(pooled, p)
	if err != nil {
		t.Fatal(err)
	}
	return own, all
}

// A boosted_trees job over three hospitals is one model grown through the
// ledger, one tree node per round: every site posts its node histogram
// masked and proven in bounds, the ledger adds them, every site replays
// the same growth. Every site releases the same model, and it is the
// model gbt grows centrally on the pooled consented rows — the same
// splits (feature, bin, threshold) and bit-for-bit the same leaf values.
// The pooled AUC comes from the sites' summed noisy risk bins.
func TestPooledTreesEqualCentral(t *testing.T) {
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e := newEnv(t, ctx, n)
	mk := func(org, admin, ds string, rows int, seed int64, denied int) treesSite {
		return mkTreesSite(e, org, admin, ds, rows, seed, denied)
	}
	sites := []treesSite{
		mk("st-mary", "st-mary-admin", "so-trees", 700, 71, 2),
		mk("northside", "northside-admin", "ni-trees", 600, 72, 3),
		mk("lakeview", "lakeview-admin", "lv-trees", 650, 73, 4),
	}
	raw, p := treesJobParams(t, 2, 2)
	j, rels := runTreesStudy(t, ctx, e, n, sites, raw)
	_, all := consentedSites(t, e, j, sites, p)
	central, err := gbt.Train([]*gbt.Site{all}, p, 11, gbt.Plain)
	if err != nil {
		t.Fatal(err)
	}
	splits := 0
	for _, tr := range central.Trees {
		for _, nd := range tr.Nodes {
			if !nd.Leaf {
				splits++
			}
		}
	}
	if splits < 4 {
		t.Fatalf("only %d splits in the central model: the comparison would say little", splits)
	}
	view, err := e.c.Study(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c := all.Counts(); view.Sums[0].Sum[2] != c[0] || view.Sums[0].Sum[gbt.Stride+2] != c[1] {
		own, _ := consentedSites(t, e, j, sites, p)
		for k, s := range own {
			t.Logf("%s: %v consented complete cases and events", sites[k].dataset, s.Counts())
		}
		t.Errorf("the study's first sum has %d rows and %d events, the pooled consented rows %d and %d", view.Sums[0].Sum[2], view.Sums[0].Sum[gbt.Stride+2], c[0], c[1])
	}
	// What the ledger opened: the counts, node histograms (each over every
	// site, of a node of at least the minimum rows) and the final noisy
	// sums — nothing per site.
	for i, s := range view.Sums {
		if len(s.Participants) != len(sites) {
			t.Errorf("sum %d is over %d sites", i, len(s.Participants))
		}
		if i == 0 || s.Phase != "step" {
			continue
		}
		var rows int64
		for b := range p.Bins {
			rows += s.Sum[b*gbt.Stride+2]
		}
		if rows < 11 {
			t.Errorf("sum %d opened the histogram of a node of %d rows", i, rows)
		}
	}
	for k, rel := range rels {
		if !reflect.DeepEqual(rel.Model, *central) {
			a, _ := json.Marshal(rel.Model)
			b, _ := json.Marshal(central)
			t.Fatalf("%s: the study's model differs from the central fit\nstudy:   %s\ncentral: %s", sites[k].dataset, a, b)
		}
		if rel.Diagnostics == nil || !(rel.AUC > 0.5 && rel.AUC < 1) {
			t.Errorf("%s: pooled diagnostics %+v, AUC %v", sites[k].dataset, rel.Diagnostics, rel.AUC)
		}
		if d := rel.N - int64(all.Rows()); d < -60 || d > 60 {
			t.Errorf("%s: pooled n=%d, central %d", sites[k].dataset, rel.N, all.Rows())
		}
	}
	t.Logf("trees study: %d consented rows, %d splits in 2 trees of depth 2, %d sums on the ledger; pooled AUC %.3f (binned, noisy)", all.Rows(), splits, len(view.Sums), rels[0].AUC)

}

// A study with a small hospital whose own rows would make small groups
// under cuts the pooled counts allow does not take those cuts. The small
// hospital's policy asks for a minimum cohort of 40 (the study's minimum
// is then 40 too): its model is what the node rounds give with every
// site's veto (gbt.TrainNodes), and differs from the central fit on the
// pooled rows, which has leaves holding 1 to 39 of the small hospital's
// rows; no released leaf holds such a group of any site.
func TestPooledTreesSmallSiteCutRefused(t *testing.T) {
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	e := newEnv(t, ctx, n)
	big := mkTreesSite(e, "st-mary", "st-mary-admin", "so-big", 900, 74, 0)
	e.minCohort = 40
	small := []treesSite{big, mkTreesSite(e, "northside", "northside-admin", "ni-small", 160, 75, 0)}
	minOwn := []int64{11, 40}
	raw, p := treesJobParams(t, 2, 2)
	j2, rels2 := runTreesStudy(t, ctx, e, n, small, raw)
	own, all2 := consentedSites(t, e, j2, small, p)
	central2, err := gbt.Train([]*gbt.Site{all2}, p, 40, gbt.Plain)
	if err != nil {
		t.Fatal(err)
	}
	vetoed, err := gbt.TrainNodes(own, minOwn, p, 40, gbt.Plain)
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(vetoed, central2) {
		t.Fatal("no cut of the central fit leaves the small hospital a small group: the test would not see a refused split")
	}
	// Which central leaves would have been small at the small hospital.
	counts, err := own[1].LeafCounts(central2)
	if err != nil {
		t.Fatal(err)
	}
	smallLeaves := 0
	for tr, cs := range counts {
		for k, c := range cs {
			if central2.Trees[tr].Nodes[k].Leaf && c > 0 && c < minOwn[1] {
				smallLeaves++
			}
		}
	}
	for k, rel := range rels2 {
		if !reflect.DeepEqual(rel.Model, *vetoed) {
			t.Fatalf("%s: the study's model is not the node rounds' with the sites' vetoes", small[k].dataset)
		}
		for i, s := range own {
			lc, err := s.LeafCounts(&rel.Model)
			if err != nil {
				t.Fatal(err)
			}
			for tr, cs := range lc {
				for nd, c := range cs {
					if rel.Model.Trees[tr].Nodes[nd].Leaf && c > 0 && c < minOwn[i] {
						t.Errorf("released leaf %d of tree %d holds %d rows of %s", nd, tr, c, small[i].dataset)
					}
				}
			}
		}
	}
	t.Logf("small-site study: the central fit has %d leaves with 1–39 of the small hospital's rows; the study took none of those cuts", smallLeaves)
}
