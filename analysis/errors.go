package analysis

import (
	"errors"
	"fmt"
)

// ParamError reports an invalid analysis parameter: which one, and why.
type ParamError struct {
	Param  string // e.g. "features[2]", "filter[0].values"
	Reason string
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("analysis: parameter %s: %s", e.Param, e.Reason)
}

func paramErr(param, format string, args ...any) *ParamError {
	return &ParamError{Param: param, Reason: fmt.Sprintf(format, args...)}
}

// Errors a fit can end with. They are wrapped with the features concerned;
// match them with errors.Is.
var (
	// ErrSingular: the information matrix cannot be inverted — a feature is
	// constant or a linear combination of others in the selected rows.
	ErrSingular = errors.New("singular information matrix")
	// ErrSeparation: the outcome is (quasi-)perfectly predicted by some
	// features, so their maximum-likelihood coefficients are infinite.
	ErrSeparation = errors.New("separation: maximum-likelihood estimates do not exist")
	// ErrNotConverged: Newton–Raphson did not meet its tolerance within the
	// iteration limit.
	ErrNotConverged = errors.New("did not converge")
	// ErrTooFewRows: fewer usable rows than coefficients to estimate.
	ErrTooFewRows = errors.New("too few rows")
)
