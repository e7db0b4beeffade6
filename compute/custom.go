package compute

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"time"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/jobparams"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/sandbox"
)

// Custom analyses (code:<sha256>): the worker runs the WebAssembly module
// the job names — admitted by the ledger only on datasets whose policy
// lists its hash — as a per-row map in package sandbox, and releases each
// of its outputs as the descriptive analysis releases a variable, under the
// same output controls. The result is a description (KindDescription) of
// the outputs; its Analysis says which module made them.

// Modules is where a worker finds the modules its institution installed.
// sandbox.Dir implements it.
type Modules interface {
	Module(hash string) ([]byte, error)
}

var _ Modules = sandbox.Dir("")

// sharedEngine keeps compiled modules for every worker of the process, so
// that a module compiles once and later jobs start it from the cache
// (workers are made afresh for each run of a node's loop).
var sharedEngine = sync.OnceValue(sandbox.NewEngine)

func (w *Worker) modules() Modules {
	if w.Modules != nil {
		return w.Modules
	}
	return sandbox.Dir(filepath.Join(w.Vault.Root(), "modules"))
}

func (w *Worker) engine() *sandbox.Engine {
	if w.Sandbox != nil {
		return w.Sandbox
	}
	return sharedEngine()
}

// module reads the job's module before any data is read: a worker without
// it refuses the job as data_unavailable (free for the requester).
func (w *Worker) module(hash string) ([]byte, error) {
	wasm, err := w.modules().Module(hash)
	switch {
	case errors.Is(err, sandbox.ErrNotInstalled), errors.Is(err, sandbox.ErrHash):
		return nil, refuse("data_unavailable", fmt.Errorf("custom analysis: %w (install the module's .wasm in the worker's modules directory)", err))
	case err != nil:
		return nil, err
	}
	return wasm, nil
}

// customRefusal is the fail reason of a module's failure: over its limits,
// resource_exhausted; anything else it did, analysis_error. Both come after
// the module read data, so both are charged. The message is one fixed
// text per reason, never the engine's: which output was missing, a status
// or a trap site are the module's choice, and a module that reads data
// could spell a value in them (the log and the refusal would carry it).
func customRefusal(err error) error {
	switch {
	case errors.Is(err, sandbox.ErrTimeout), errors.Is(err, sandbox.ErrMemory):
		return refuse("resource_exhausted", errors.New("custom analysis: the module went over its recorded time or memory limit"))
	case errors.Is(err, sandbox.ErrModule), errors.Is(err, sandbox.ErrShape), errors.Is(err, sandbox.ErrDependsOnOtherRows),
		errors.Is(err, sandbox.ErrLimits), errors.Is(err, sandbox.ErrHash):
		return refuse("analysis_error", errors.New("custom analysis: the module failed, or its outputs were not the declared shape (run it on your own data to see why)"))
	}
	return err
}

// runCustom runs a custom analysis over the consented table t and
// releases its outputs. rows is randomness for the sandbox's block plan
// (not the noise source, so a seeded noise source gives the same noise as
// the built-in descriptive analysis).
func runCustom(ctx context.Context, e *sandbox.Engine, t *analysis.Table, hash string, wasm []byte, raw json.RawMessage, r *outputctl.Releaser, rows sandbox.Source) (ReleaseKind, any, error) {
	var p jobparams.Custom
	if err := decodeParams(raw, &p); err != nil {
		return "", nil, err
	}
	keep, err := t.Select(p.Filter)
	if err != nil {
		return "", nil, err
	}
	n := 0
	for _, k := range keep {
		if k {
			n++
		}
	}
	// Refused before the module runs: nothing it computes from a cohort
	// below the minimum could be released.
	if int64(n) < r.Policy.MinCohort {
		return "", nil, fmt.Errorf("%w of %d rows", outputctl.ErrBelowMinCohort, r.Policy.MinCohort)
	}
	// A module can make its own filters (NaN outputs for the rows it
	// leaves out), which the cohort overlap control does not see; so its
	// outputs are released only with noise. Every policy on the ledger has
	// an epsilon: this guards the rule, not a case that happens.
	if r.Policy.EpsilonMilli == 0 {
		return "", nil, refuse("analysis_error", errors.New("custom analysis: released only with differential privacy, and the policy has no epsilon"))
	}
	cols := make([][]float64, len(p.Columns))
	for i, name := range p.Columns {
		c, ok := t.Column(name)
		if !ok || c.Levels != nil {
			return "", nil, &analysis.ParamError{Param: fmt.Sprintf("columns[%d]", i), Reason: fmt.Sprintf("no numeric column %q", name)}
		}
		col := make([]float64, 0, n)
		for r, k := range keep {
			if !k {
				continue
			}
			if c.Valid == nil || c.Valid[r] {
				col = append(col, c.Values[r])
			} else {
				col = append(col, math.NaN())
			}
		}
		cols[i] = col
	}
	lim := sandbox.Limits{MemoryPages: p.Limits.MemoryPages, Timeout: time.Duration(p.Limits.TimeoutMillis) * time.Millisecond}
	out, err := e.Map(ctx, sandbox.Job{Hash: hash, Wasm: wasm, Columns: cols, Outputs: len(p.Outputs), Limits: lim}, rows)
	if err != nil {
		return "", nil, customRefusal(err)
	}
	tab, vars, err := outputTable(p.Outputs, out)
	if err != nil {
		return "", nil, err
	}
	d, err := analysis.Describe(tab, analysis.DescribeParams{Variables: vars})
	if err != nil {
		return "", nil, err
	}
	rel, err := r.ReleaseDescription(d)
	return KindDescription, rel, err
}

// outputTable is the module's outputs as columns named by the job, every
// value clamped to its output's bounds (so that, released exactly or with
// noise, no row moves a statistic by more than the bounds allow) and NaN
// taken as null.
func outputTable(outputs []jobparams.Output, values [][]float64) (*analysis.Table, []analysis.Variable, error) {
	cols := make([]analysis.Column, len(outputs))
	vars := make([]analysis.Variable, len(outputs))
	for k, o := range outputs {
		c := analysis.Column{Name: o.Name, Values: make([]float64, len(values[k])), Valid: make([]bool, len(values[k]))}
		for i, v := range values[k] {
			if math.IsNaN(v) {
				continue
			}
			c.Values[i], c.Valid[i] = min(max(v, o.Bounds.Lower), o.Bounds.Upper), true
		}
		cols[k] = c
		vars[k] = analysis.Variable{Column: o.Name, Bounds: &outputs[k].Bounds}
	}
	t, err := analysis.NewTable(cols...)
	return t, vars, err
}
