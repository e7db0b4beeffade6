package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/gbt"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/vault"
)

// Boosted-trees studies. A boosted_trees job over two or more datasets is
// one model grown on the union of the sites' consented rows, through the
// ledger as a regression study is: each round is one tree node, for which
// every site posts its node histogram (gbt.NodeHistogram: per feature and
// bin, fixed-point sums of gradients and Hessians, the row count and the
// site's veto), masked, committed and proven in bounds; the ledger adds
// them and stores only the sum; every worker replays the same gbt.Grower
// over the sums and so agrees on every split and leaf without a
// coordinator. The first round sums the cohort's rows and events (the base
// log-odds); after the last tree a final round sums noisy counts and a
// noisy risk-bin histogram of the model's predictions (pooled AUC and
// calibration); each site then releases the same model through its output
// controls and posts it, encrypted to the requester.
//
// What keeps a node histogram from being a record: only sums over every
// participant (at least two institutions) are opened; a node exists only
// when its pooled rows reach the study's minimum (the largest of the
// sites' minimum cohorts) and no site would hold 1 to minimum−1 rows of
// its own in it (each site vetoes such cuts in its histogram, and the veto
// is summed like the rest). See docs/studies.md, "Boosted-trees studies",
// for what the opened histograms do show.

// KindPooledTrees is the release of a boosted-trees study.
const KindPooledTrees ReleaseKind = "pooled_boosted_trees"

// PooledTreesRelease is the release of a boosted-trees study (release_kind
// "pooled_boosted_trees"): the model, the noisy pooled N and events, the
// AUC of the binned pooled predictions (also in the embedded release), and
// the pooled diagnostics. Decoded as an outputctl.TreesRelease it is a
// model `medchain model predict` uses.
type PooledTreesRelease struct {
	outputctl.TreesRelease
	Diagnostics *outputctl.PooledDiagnostics `json:"diagnostics,omitempty"`
}

// PlanTreesStudy declares the study of a boosted-trees job over several
// datasets: the features' count, the trees' shape and the worker's bins
// (each feature's public plausible range in gbt.DefaultBins bins, as a
// single-site job has them), and the diagnostics' risk bins. Nothing here
// reads data.
func PlanTreesStudy(params json.RawMessage, schema []ledger.Field) (*ledger.StudyRequest, error) {
	raw, err := treesParams(params, schema)
	if err != nil {
		return nil, err
	}
	var p gbt.Params
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, err
	}
	if p, err = p.WithDefaults(); err != nil {
		return nil, err
	}
	spec := federated.Spec{Columns: uint32(len(p.Features)), Link: federated.LinkTrees, Bins: DiagnosticBins,
		Trees: &federated.TreesSpec{Bins: uint32(p.Bins), Depth: uint32(p.Depth), Trees: uint32(p.Trees)}}
	for _, b := range p.Bounds {
		spec.MaxAbs = append(spec.MaxAbs, max(1, uint64(math.Ceil(math.Ldexp(max(math.Abs(b.Lower), math.Abs(b.Upper)), federated.MaxAbsUnit)))))
	}
	if err := spec.Validate(); err != nil {
		return nil, &analysis.ParamError{Param: "features", Reason: err.Error()}
	}
	return &ledger.StudyRequest{Spec: spec}, nil
}

// PlanJobStudy plans the study of any job that NeedsStudy: boosted trees
// here, the others by PlanStudyFor.
func PlanJobStudy(analysisName string, params json.RawMessage, schema []ledger.Field, columnBounds map[string]analysis.Bounds) (*ledger.StudyRequest, error) {
	if analysisName == "boosted_trees" {
		return PlanTreesStudy(params, schema)
	}
	return PlanStudyFor(analysisName, params, schema, columnBounds)
}

// studyMinLeaf is the fewest pooled rows a node of a trees study may hold:
// the largest minimum cohort of the job's sites (every site computes the
// same from the job).
func studyMinLeaf(j *ledger.Job) int64 {
	var m int64
	for _, s := range j.Sites {
		m = max(m, int64(s.MinCohort))
	}
	return m
}

func (w *Worker) computePooledTrees(ctx context.Context, j *ledger.Job, site ledger.JobSite, t *analysis.Table, rel *outputctl.Releaser, v *vault.Version, sr StudyReader) (ReleaseKind, any, error) {
	dv, err := w.Ledger.DatasetVersion(ctx, site.Dataset, site.Version)
	if err != nil {
		return "", nil, err
	}
	raw, err := treesParams(j.Params, dv.Schema)
	if err != nil {
		return "", nil, err
	}
	var p gbt.Params
	if err := decodeParams(raw, &p); err != nil {
		return "", nil, err
	}
	if p, err = p.WithDefaults(); err != nil {
		return "", nil, err
	}
	spec := j.Study.Spec
	if ts := spec.Trees; ts == nil || int(spec.Columns) != len(p.Features) || int(ts.Bins) != p.Bins || int(ts.Depth) != p.Depth || int(ts.Trees) != p.Trees {
		return "", nil, &analysis.ParamError{Param: "study", Reason: "the study's trees spec differs from the job's params"}
	}
	// Trees are exact statistics: refuse before contributing anything if
	// this site's policy does not release exact models.
	if err := exactAllowed(rel); err != nil {
		return "", nil, err
	}
	// Output controls on this site's own cohort, before anything is
	// computed from it and before anything leaves.
	n, events, err := t.FactorCompleteCases(p.Outcome, p.Features, nil, nil)
	if err != nil {
		return "", nil, err
	}
	if err := rel.CheckCounts(int64(n), int64(events), analysis.Logit); err != nil {
		return "", nil, err
	}
	d, err := analysis.NewDesign(t, p.Outcome, p.Features, nil)
	if err != nil {
		return "", nil, err
	}
	if err := w.checkOverlap(site, j.ID, v, t, d.Rows(), studyGroup(j)); err != nil {
		return "", nil, err
	}
	own, err := gbt.NewSite(t, p)
	if err != nil {
		return "", nil, err
	}

	view, err := sr.Study(ctx, j.ID)
	if err != nil {
		return "", nil, err
	}
	st := view.Study
	if !slices.Contains(st.Participants, site.Dataset) {
		return "", nil, errNotMine
	}
	// Replay: every sum moves this site's rows down the trees exactly as
	// every other site's.
	g := gbt.NewGrower(p, studyMinLeaf(j))
	var final []int64
	for _, s := range view.Sums {
		if s.Phase == federated.PhaseFinal {
			final = s.Sum
			break
		}
		if err := g.Add(s.Sum, own); err != nil {
			if errors.Is(err, gbt.ErrSmallLeaf) {
				return "", nil, fmt.Errorf("%w of %d rows", outputctl.ErrBelowMinCohort, studyMinLeaf(j))
			}
			return "", nil, refuse("analysis_error", err)
		}
	}
	if st.Done {
		return w.releasePooledTrees(g, own, spec, final, rel)
	}
	step, more := g.Next()
	phase := federated.PhaseStep
	if !more {
		phase = federated.PhaseFinal
	}
	return w.postContribution(ctx, j, site, sr, view, phase, rel, func(rel *outputctl.Releaser) ([]int64, error) {
		switch {
		case more && step.Counts:
			return own.CountsStep(), nil
		case more:
			return own.NodeHistogram(step.Node, rel.MinLeaf()), nil
		}
		// The final round: noisy counts and the noisy risk-bin histogram
		// of the model's predictions on this site's rows (their sums are
		// public, so small bins are never published exactly).
		c := own.Counts()
		nn, ne, err := rel.NoisyCounts(c[0], c[1], federated.CountUnits, spec.CountShare(site.EpsilonMilli))
		if err != nil {
			return nil, err
		}
		ev, nev, mu := own.RiskHistogram(int(spec.Bins))
		h, err := rel.PooledRiskHistogram(ev, nev, mu, spec.HistogramShare(site.EpsilonMilli))
		if err != nil {
			return nil, err
		}
		return append([]int64{nn, ne}, h...), nil
	})
}

// releasePooledTrees releases the study's model through this site's
// output controls: every leaf's pooled rows (from the sums) at least the
// minimum, this site's own share of every leaf 0 or at least its minimum
// (the vetoes kept it so; checked again), the pooled counts consistent.
func (w *Worker) releasePooledTrees(g *gbt.Grower, own *gbt.Site, spec federated.Spec, final []int64, rel *outputctl.Releaser) (ReleaseKind, any, error) {
	m, rows, err := g.Model()
	if err != nil || len(final) != spec.FinalLen() {
		return "", nil, refuse("analysis_error", errors.New("the study's final sum is missing"))
	}
	mine, err := own.LeafCounts(m)
	if err != nil {
		return "", nil, refuse("analysis_error", err)
	}
	for t, tr := range m.Trees {
		for k, nd := range tr.Nodes {
			if c := mine[t][k]; nd.Leaf && c > 0 && c < rel.MinLeaf() {
				return "", nil, fmt.Errorf("%w: a leaf of tree %d holds fewer of this site's rows", outputctl.ErrBelowMinCohort, t)
			}
		}
	}
	n, events := rel.ConsistentCounts(final[0], final[1])
	diag := rel.ReleasePooledDiagnostics(final[2:], int(spec.Bins))
	auc := 0.0
	if diag != nil {
		auc = diag.AUC
	}
	out, err := rel.ReleaseTrees(m, rows, n, events, auc)
	if err != nil {
		return "", nil, err
	}
	return KindPooledTrees, PooledTreesRelease{TreesRelease: out, Diagnostics: diag}, nil
}
