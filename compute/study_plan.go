package compute

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/outputctl"
)

// PlanStudy declares the study of a multi-site logistic regression: the
// design's columns (intercept first) and a public bound on |x| of each,
// from which the ledger derives the bounds every site's contribution must
// prove. A column's bound comes from the plausible range normalize
// enforces at ingest (the same for every institution), 1 for a boolean
// column, or, for a column with neither, from bounds the requester gives
// (columnBounds, by column name). A term multiplies its factors' bounds; a
// log(x) factor is bounded by the log of x's range. Nothing here reads
// data: the plan is made before the job is signed.
func PlanStudy(params json.RawMessage, schema []ledger.Field, columnBounds map[string]analysis.Bounds) (*ledger.StudyRequest, error) {
	var p regressionParams
	if err := decodeParams(params, &p); err != nil {
		return nil, err
	}
	link := p.Link
	if link == "" {
		link = analysis.Logit
	}
	if link != analysis.Logit && link != analysis.CLogLog {
		return nil, &analysis.ParamError{Param: "link", Reason: "a pooled study fits logit or cloglog models"}
	}
	types := map[string]string{}
	for _, f := range schema {
		types[f.Name] = f.Type
	}
	colBound := columnBound(schema, types, columnBounds)
	// The design's columns follow from the params and the schema alone —
	// a factor's levels are the params' — so every site builds the same
	// columns in the same order, whatever its data.
	f, err := analysis.ParseFormula(p.Features, p.Factors, func(s string) bool { _, ok := types[s]; return ok })
	if err != nil {
		return nil, err
	}
	width := len(f.Names)
	spec := federated.Spec{Columns: uint32(width + 1), Link: string(link), MaxAbs: []uint64{1 << federated.MaxAbsUnit},
		Bins: DiagnosticBins}
	if p.Private != nil {
		// Private: the requester's public bounds scale every feature to
		// [−1, 1]; the sites add noise over a fixed number of rounds.
		if link != analysis.Logit {
			return nil, &analysis.ParamError{Param: "link", Reason: "a private pooled study fits the logit link"}
		}
		if len(p.Private.Bounds) != width {
			return nil, &analysis.ParamError{Param: "private.bounds", Reason: fmt.Sprintf("%d bounds for %d design columns (%s)", len(p.Private.Bounds), width, strings.Join(f.Names, ", "))}
		}
		rounds := p.Private.Rounds
		if rounds == 0 {
			rounds = outputctl.DefaultPrivateRounds
		}
		spec.Private = &federated.PrivateSpec{Rounds: uint32(rounds)}
		for range width {
			spec.MaxAbs = append(spec.MaxAbs, 1<<federated.MaxAbsUnit)
		}
		if err := spec.Validate(); err != nil {
			return nil, err
		}
		return &ledger.StudyRequest{Spec: spec}, nil
	}
	if width+1 > federated.MaxColumns {
		return nil, &analysis.ParamError{Param: "features", Reason: fmt.Sprintf("a pooled study fits at most %d columns with the intercept; these features make %d", federated.MaxColumns, width+1)}
	}
	for j, name := range f.Names {
		m, err := f.Bound(j, colBound)
		if err != nil {
			return nil, &analysis.ParamError{Param: "features", Reason: fmt.Sprintf("%s: %v", name, err)}
		}
		units := math.Ceil(math.Ldexp(m, federated.MaxAbsUnit))
		if !(units >= 1 && units <= 1<<40) {
			return nil, &analysis.ParamError{Param: "features", Reason: fmt.Sprintf("the bound of %s is out of range", name)}
		}
		spec.MaxAbs = append(spec.MaxAbs, uint64(units))
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return &ledger.StudyRequest{Spec: spec}, nil
}

// columnBound is a column's public range: the requester's bounds, 0/1
// for a boolean column, or the plausible range normalize enforces at
// ingest (the same for every institution).
func columnBound(schema []ledger.Field, types map[string]string, columnBounds map[string]analysis.Bounds) func(name string) (lo, hi float64, err error) {
	plausible := normalize.DefaultConfig().Plausible
	return func(name string) (lo, hi float64, err error) {
		if b, ok := columnBounds[name]; ok {
			return b.Lower, b.Upper, nil
		}
		if types[name] == "boolean" {
			return 0, 1, nil
		}
		if r, ok := plausible[name]; ok {
			return r.Min, r.Max, nil
		}
		if _, ok := types[name]; !ok && schema != nil {
			return 0, 0, fmt.Errorf("no column %q in the dataset", name)
		}
		return 0, 0, fmt.Errorf("column %q has no plausible range; give its bounds", name)
	}
}

// DiagnosticBins is the number of risk bins a planned study's pooled AUC
// and calibration are computed from.
const DiagnosticBins = 10

// NeedsStudy says whether a job is fitted as one pooled model across its
// datasets: a logistic regression over two or more of them (exact, or
// private with "private" params), or a survival job with a Cox model's
// features, or boosted trees (PlanJobStudy plans each).
func NeedsStudy(m *ledger.SubmitJob) bool {
	if len(m.Datasets) < 2 {
		return false
	}
	if m.Analysis == "survival" {
		var p struct {
			Features []string `json:"features"`
		}
		return json.Unmarshal(m.Params, &p) == nil && len(p.Features) > 0
	}
	return m.Analysis == "logistic_regression" || m.Analysis == "boosted_trees"
}
