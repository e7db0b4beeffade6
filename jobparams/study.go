package jobparams

import (
	"encoding/json"
	"errors"

	"github.com/medchain/medchain/analysis"
)

// CheckStudy checks the rules an analysis has only when it runs as one
// pooled study over several datasets, after Check passed on each schema:
// a pooled Cox model's grid is one of the public grids
// (analysis.PooledCoxGrids). It reads no data, so a worker's refusal on it
// (invalid_params, before the data is opened) is the same for every site
// and every dataset, and tells nothing about either.
func CheckStudy(name string, raw json.RawMessage) error {
	if name != "survival" {
		return nil
	}
	var p analysis.SurvivalParams
	if err := strict(raw, &p); err != nil {
		return err
	}
	if len(p.Features) == 0 {
		return nil
	}
	if err := analysis.CheckPooledCoxGrid(p.Grid); err != nil {
		var pe *analysis.ParamError
		if errors.As(err, &pe) {
			return &Error{Code: BadValue, Param: pe.Param, Message: pe.Reason}
		}
		return err
	}
	return nil
}
