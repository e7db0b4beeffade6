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
	plausible := normalize.DefaultConfig().Plausible
	colBound := func(name string) (lo, hi float64, err error) {
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
	spec := federated.Spec{Columns: uint32(len(p.Features) + 1), Link: string(link), MaxAbs: []uint64{1 << federated.MaxAbsUnit},
		Bins: DiagnosticBins}
	if p.Private != nil {
		// Private: the requester's public bounds scale every feature to
		// [−1, 1]; the sites add noise over a fixed number of rounds.
		if link != analysis.Logit {
			return nil, &analysis.ParamError{Param: "link", Reason: "a private pooled study fits the logit link"}
		}
		if len(p.Private.Bounds) != len(p.Features) {
			return nil, &analysis.ParamError{Param: "private.bounds", Reason: fmt.Sprintf("%d bounds for %d features", len(p.Private.Bounds), len(p.Features))}
		}
		rounds := p.Private.Rounds
		if rounds == 0 {
			rounds = outputctl.DefaultPrivateRounds
		}
		spec.Private = &federated.PrivateSpec{Rounds: uint32(rounds)}
		for range p.Features {
			spec.MaxAbs = append(spec.MaxAbs, 1<<federated.MaxAbsUnit)
		}
		if err := spec.Validate(); err != nil {
			return nil, err
		}
		return &ledger.StudyRequest{Spec: spec}, nil
	}
	if len(p.Features)+1 > federated.MaxColumns {
		return nil, &analysis.ParamError{Param: "features", Reason: fmt.Sprintf("a pooled study fits at most %d columns with the intercept", federated.MaxColumns)}
	}
	for j, f := range p.Features {
		m := 1.0
		for _, factor := range strings.Split(f, "*") {
			factor = strings.TrimSpace(factor)
			name, isLog := strings.CutPrefix(factor, "log(")
			if isLog {
				name = strings.TrimSuffix(name, ")")
			}
			lo, hi, err := colBound(name)
			if err != nil {
				return nil, &analysis.ParamError{Param: fmt.Sprintf("features[%d]", j), Reason: err.Error()}
			}
			if isLog {
				if lo <= 0 {
					return nil, &analysis.ParamError{Param: fmt.Sprintf("features[%d]", j), Reason: fmt.Sprintf("log(%s) needs a positive lower bound", name)}
				}
				lo, hi = math.Log(lo), math.Log(hi)
			}
			m *= max(math.Abs(lo), math.Abs(hi))
		}
		units := math.Ceil(math.Ldexp(m, federated.MaxAbsUnit))
		if !(units >= 1 && units <= 1<<40) {
			return nil, &analysis.ParamError{Param: fmt.Sprintf("features[%d]", j), Reason: "the bound of this term is out of range"}
		}
		spec.MaxAbs = append(spec.MaxAbs, uint64(units))
	}
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	return &ledger.StudyRequest{Spec: spec}, nil
}

// DiagnosticBins is the number of risk bins a planned study's pooled AUC
// and calibration are computed from.
const DiagnosticBins = 10

// NeedsStudy says whether a job is fitted as one pooled model across its
// datasets: a logistic regression over two or more of them (exact, or
// private with "private" params).
func NeedsStudy(m *ledger.SubmitJob) bool {
	return len(m.Datasets) >= 2 && m.Analysis == "logistic_regression"
}
