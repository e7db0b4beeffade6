package compute

import (
	"encoding/json"
	"fmt"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/gbt"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/vocab"
)

// treesParams completes a boosted-trees job's params with the bins the
// worker, not the requester, decides: each feature's public plausible
// range (normalize's defaults; 0–1 for a boolean) cut into
// gbt.DefaultBins equal bins. Bin edges a requester could place would make
// "did the root split?" an oracle that, binary-searched, finds one row's
// exact value; edges on a fixed public lattice tell only counts at public
// thresholds, as a refused cohort count does. A feature with no public
// range is refused, naming it.
func treesParams(raw json.RawMessage, schema []vocab.Field) (json.RawMessage, error) {
	var p gbt.Params
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	if p.Bounds != nil {
		return nil, &analysis.ParamError{Param: "bounds", Reason: "the bins are the worker's: each feature's public plausible range in 32 (or 16 or 8) equal bins; leave bounds out"}
	}
	// 16 or 8 bins are every second or fourth edge of the 32-bin lattice:
	// coarser, never elsewhere (a study's node histograms shrink with them,
	// and its rounds' proofs with them).
	switch p.Bins {
	case 0:
		p.Bins = gbt.DefaultBins
	case 8, 16, gbt.DefaultBins:
	default:
		return nil, &analysis.ParamError{Param: "bins", Reason: "8, 16 or 32 equal bins of each feature's public plausible range"}
	}
	plausible := normalize.DefaultConfig().Plausible
	for i, f := range p.Features {
		var typ string
		for _, fl := range schema {
			if fl.Name == f {
				typ = fl.Type
			}
		}
		switch r, ok := plausible[f]; {
		case typ == "boolean":
			p.Bounds = append(p.Bounds, analysis.Bounds{Lower: 0, Upper: 1})
		case ok:
			p.Bounds = append(p.Bounds, analysis.Bounds{Lower: r.Min, Upper: r.Max})
		default:
			return nil, &analysis.ParamError{Param: fmt.Sprintf("features[%d]", i), Reason: fmt.Sprintf("%q has no public plausible range to bin it by (boosted trees take measurements with one, and booleans)", f)}
		}
	}
	return json.Marshal(p)
}
