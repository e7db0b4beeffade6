package jobparams

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/vocab"
)

// Custom is the params of a custom analysis (code:<sha256>, described as
// "code"): a WebAssembly module reads the consented rows of Columns that
// meet Filter and writes, row by row, one value per declared Output; the
// worker releases each output's count, mean, SD and quantiles, clamped to
// its bounds, under the dataset's output controls (package sandbox says
// why the module cannot choose how much a record moves a released
// number).
type Custom struct {
	Filter  analysis.Filter    `json:"filter,omitempty"`
	Columns []string           `json:"columns"`
	Outputs []Output           `json:"outputs"`
	Limits  vocab.ModuleLimits `json:"limits"`
}

// Output is one per-row value a module writes, summarised by the worker.
type Output struct {
	Name   string          `json:"name"`
	Bounds analysis.Bounds `json:"bounds"`
}

// Bounds on a custom analysis's shape: what it reads and how many
// statistics it may release (each output is 1 + 8 statistics of the
// epsilon's shares, as a descriptive variable).
const (
	MaxCustomColumns = 32
	MaxCustomOutputs = 16
	maxOutputName    = 64
)

// customDocs describe the params of a custom analysis.
var customDocs = map[string]string{
	"columns":                "the columns the module may read, in the order it reads them (read_column index): number, integer, year or boolean columns, at most 32; it is handed only these, only consented rows that meet the filter, as float64 (NaN for a null)",
	"outputs":                "what the module writes for each row, in order (write_output index), at most 16; the worker releases each output's count, mean, SD and quantiles as the descriptive analysis does",
	"outputs[].name":         "the output's name in the result (letters, digits and _, at most 64)",
	"outputs[].bounds":       "the interval every row's value is clamped to before anything is computed from it, chosen by the requester (never read from the data): it fixes how much one record can move a released number",
	"outputs[].bounds.lower": "lower clamping bound",
	"outputs[].bounds.upper": "upper clamping bound, above lower",
	"limits":                 "the module's limits, recorded with the job on the ledger and enforced by the worker",
	"limits.memory_pages":    fmt.Sprintf("the most memory the module may grow to, in 64 KiB pages (1 to %d)", vocab.MaxModuleMemoryPages),
	"limits.timeout_ms":      fmt.Sprintf("the most wall-clock time, in milliseconds, for all the module's runs at one site (1 to %d); a module still running is stopped and the job fails with resource_exhausted", vocab.MaxModuleTimeoutMillis),
}

// SpecName is the name Describe knows an analysis by: "code" for every
// code:<sha256>.
func SpecName(analysis string) string {
	if strings.HasPrefix(analysis, "code:") {
		return "code"
	}
	return analysis
}

// custom checks a custom analysis's params against the schema.
func (c *checker) custom(p *Custom) {
	c.filter(p.Filter)
	if c.err != nil {
		return
	}
	switch {
	case len(p.Columns) == 0:
		c.err = errorf(MissingParameter, "columns", "", "name the columns the module reads (at least one)")
	case len(p.Columns) > MaxCustomColumns:
		c.err = errorf(BadValue, "columns", "", "%d columns, at most %d", len(p.Columns), MaxCustomColumns)
	}
	for i, col := range p.Columns {
		param := fmt.Sprintf("columns[%d]", i)
		c.column(param, col)
		if c.err == nil && slices.Contains(p.Columns[:i], col) {
			c.err = errorf(BadValue, param, col, "column %q is named twice", col)
		}
	}
	if c.err != nil {
		return
	}
	switch {
	case len(p.Outputs) == 0:
		c.err = errorf(MissingParameter, "outputs", "", "declare the outputs the module writes (at least one)")
	case len(p.Outputs) > MaxCustomOutputs:
		c.err = errorf(BadValue, "outputs", "", "%d outputs, at most %d", len(p.Outputs), MaxCustomOutputs)
	}
	for i, o := range p.Outputs {
		param := fmt.Sprintf("outputs[%d]", i)
		switch {
		case c.err != nil:
			return
		case !validOutputName(o.Name):
			c.err = errorf(BadValue, param+".name", "", "want letters, digits and _ (1 to %d)", maxOutputName)
		case slices.ContainsFunc(p.Outputs[:i], func(q Output) bool { return q.Name == o.Name }):
			c.err = errorf(BadValue, param+".name", "", "output %q is declared twice", o.Name)
		case !finite(o.Bounds.Lower) || !finite(o.Bounds.Upper) || o.Bounds.Lower >= o.Bounds.Upper:
			c.err = errorf(BadValue, param+".bounds", "", "want finite bounds with lower below upper")
		}
	}
	if c.err != nil {
		return
	}
	l := p.Limits
	switch {
	case l.MemoryPages < 1 || l.MemoryPages > vocab.MaxModuleMemoryPages:
		c.err = errorf(BadValue, "limits.memory_pages", "", "want 1 to %d pages of 64 KiB", vocab.MaxModuleMemoryPages)
	case l.TimeoutMillis < 1 || l.TimeoutMillis > vocab.MaxModuleTimeoutMillis:
		c.err = errorf(BadValue, "limits.timeout_ms", "", "want 1 to %d milliseconds", vocab.MaxModuleTimeoutMillis)
	}
}

func validOutputName(s string) bool {
	if s == "" || len(s) > maxOutputName {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
