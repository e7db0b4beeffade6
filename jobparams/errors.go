package jobparams

import (
	"fmt"
	"strings"
)

// Code is the stable kind of a parameter error: what a program matches on,
// and what a worker's refusal records on the ledger.
type Code string

// Codes.
const (
	UnknownAnalysis  Code = "unknown_analysis"  // not a built-in analysis
	Malformed        Code = "malformed"         // not a JSON object
	UnknownParameter Code = "unknown_parameter" // a key the analysis does not take
	MissingParameter Code = "missing_parameter" // a required key is absent
	NoSuchColumn     Code = "no_such_column"    // the dataset has no such column
	WrongType        Code = "wrong_type"        // a JSON value, or a column, of the wrong type
	BadValue         Code = "bad_value"         // a value the analysis refuses
)

// Codes lists every code (the ledger keeps the same list as its refusal
// codes; a test of package compute checks they agree).
var Codes = []Code{UnknownAnalysis, Malformed, UnknownParameter, MissingParameter, NoSuchColumn, WrongType, BadValue}

// Error is params that do not fit an analysis or a dataset. Param is the
// path of the parameter in the params object ("features[1]",
// "filter[0].column"; "" for the params as a whole), Column the schema
// column concerned, if any. Message says what is wrong in words; like the
// rest it names parameters, columns and types, never a record-level value.
type Error struct {
	Code    Code
	Param   string
	Column  string
	Message string
}

func (e *Error) Error() string {
	if e.Param == "" {
		return "params: " + e.Message
	}
	return "params." + e.Param + ": " + e.Message
}

func errorf(code Code, param, column, format string, args ...any) *Error {
	return &Error{Code: code, Param: param, Column: column, Message: fmt.Sprintf(format, args...)}
}

// quoteList is `"a", "b" and "c"` for a message.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
