package jobparams

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/gbt"
	"github.com/medchain/medchain/vocab"
)

// numeric are the schema types the worker reads as numbers (booleans as
// 0 and 1); code and string columns can only be factors.
var numeric = []string{"number", "integer", "year", "boolean"}

// Check checks a job's params for a built-in analysis against a dataset's
// schema. It returns nil or an *Error. An analysis this package does not
// know (a built-in the worker does not run) is unknown_analysis; a custom
// analysis (code:<sha256>) is checked as "code" (the hash is the ledger's
// to admit).
func Check(name string, raw json.RawMessage, schema []vocab.Field) error {
	_, err := Decode(name, raw, schema)
	return err
}

// Decode checks params as Check does and returns them decoded: a
// *analysis.CountParams, *analysis.CrossTabParams, *analysis.DescribeParams
// *Regression (with its link normalised) or, for code:<sha256>, *Custom. The worker runs what Decode
// returns, so it runs exactly what was checked.
func Decode(name string, raw json.RawMessage, schema []vocab.Field) (any, error) {
	s, ok := Describe(SpecName(name))
	if !ok {
		return nil, errorf(UnknownAnalysis, "", "", "%q is not a built-in analysis this worker runs (%s)", name, strings.Join(Analyses(), ", "))
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = json.RawMessage("{}")
	}
	v, err := decodeAny(raw)
	if err != nil {
		return nil, errorf(Malformed, "", "", "not valid JSON: %v", err)
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, errorf(Malformed, "", "", "want a JSON object, got %s", jsonName(v))
	}
	if e := shape("", v, s.typ); e != nil {
		return nil, e
	}
	c := newChecker(schema)
	switch s.Name {
	case "cohort_count":
		var p analysis.CountParams
		if err := strict(raw, &p); err != nil {
			return nil, err
		}
		c.filter(p.Filter)
		if c.err == nil {
			_, err = analysis.Count(c.table(), p)
		}
		return done(&p, c.result(err))
	case "crosstab":
		var p analysis.CrossTabParams
		if err := strict(raw, &p); err != nil {
			return nil, err
		}
		c.filter(p.Filter)
		c.column("rows.column", p.Rows.Column)
		if p.Cols != nil {
			c.column("cols.column", p.Cols.Column)
		}
		if c.err == nil {
			_, err = analysis.CrossTabulate(c.table(), p)
		}
		return done(&p, c.result(err))
	case "descriptive":
		var p analysis.DescribeParams
		if err := strict(raw, &p); err != nil {
			return nil, err
		}
		c.filter(p.Filter)
		for i, v := range p.Variables {
			c.column(fmt.Sprintf("variables[%d].column", i), v.Column)
		}
		if c.err == nil {
			_, err = analysis.Describe(c.table(), p)
		}
		return done(&p, c.result(err))
	case "boosted_trees":
		var p gbt.Params
		if err := strict(raw, &p); err != nil {
			return nil, err
		}
		c.column("outcome", p.Outcome)
		for i, f := range p.Features {
			c.column(fmt.Sprintf("features[%d]", i), f)
		}
		if c.err == nil && p.Bounds != nil {
			c.fail(&analysis.ParamError{Param: "bounds", Reason: "the bins are the worker's: each feature's public plausible range in 32 (or 16 or 8) equal bins; leave bounds out"})
		}
		if c.err == nil && p.Bins != 0 && p.Bins != 8 && p.Bins != 16 && p.Bins != 32 {
			c.fail(&analysis.ParamError{Param: "bins", Reason: "8, 16 or 32 equal bins of each feature's public plausible range"})
		}
		if c.err == nil {
			// The worker sets the bins (each feature's public range): the
			// other rules are checked with stand-in bounds.
			q := p
			q.Bounds = make([]analysis.Bounds, len(p.Features))
			for i := range q.Bounds {
				q.Bounds[i] = analysis.Bounds{Lower: 0, Upper: 1}
			}
			if q, err = q.WithDefaults(); err == nil {
				_, err = gbt.NewSite(c.table(), q)
			}
		}
		return done(&p, c.result(err))
	case "code":
		var p Custom
		if err := strict(raw, &p); err != nil {
			return nil, err
		}
		c.custom(&p)
		return done(&p, c.result(nil))
	case "survival":
		var p analysis.SurvivalParams
		if err := strict(raw, &p); err != nil {
			return nil, err
		}
		c.filter(p.Filter)
		c.column("time", p.Time)
		c.column("event", p.Event)
		if p.Group != nil {
			c.factor("group.column", p.Group.Column)
		}
		c.features(p.Features, p.Factors)
		if c.err == nil {
			_, err = analysis.NewSurvivalData(c.table(), p)
		}
		return done(&p, c.result(err))
	default: // the regressions
		var p Regression
		if err := strict(raw, &p); err != nil {
			return nil, err
		}
		if e := p.Normalise(name); e != nil {
			return nil, e
		}
		c.filter(p.Filter)
		c.column("outcome", p.Outcome)
		c.features(p.Features, p.Factors)
		if c.err == nil {
			err = c.regression(&p)
		}
		return done(&p, c.result(err))
	}
}

// done returns the params, or nil with the error.
func done(p any, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return p, nil
}

// strict decodes what the shape check passed; it can fail only where the
// shape check and encoding/json disagree, so its error is kept as it is.
func strict(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(Malformed, "", "", "%v", err)
	}
	return nil
}

// checker checks column references against a schema, keeping the first
// failure.
type checker struct {
	schema []vocab.Field
	err    *Error
}

func newChecker(schema []vocab.Field) *checker { return &checker{schema: schema} }

func (c *checker) has(name string) bool {
	return slices.ContainsFunc(c.schema, func(f vocab.Field) bool { return f.Name == name })
}

func (c *checker) names() []string {
	out := make([]string, len(c.schema))
	for i, f := range c.schema {
		out[i] = f.Name
	}
	return out
}

// column checks that a column exists and is numeric.
func (c *checker) column(param, name string) {
	if c.err != nil {
		return
	}
	if name == "" {
		c.err = errorf(BadValue, param, "", "column name is empty")
		return
	}
	i := slices.IndexFunc(c.schema, func(f vocab.Field) bool { return f.Name == name })
	if i < 0 {
		c.err = errorf(NoSuchColumn, param, "", "no column %q in the dataset; its columns are %s", name, quoteList(c.names()))
		return
	}
	if t := c.schema[i].Type; !slices.Contains(numeric, t) {
		c.err = errorf(WrongType, param, name, "column %q is a %s column; this analysis reads number, integer, year and boolean columns", name, t)
		if strings.HasPrefix(param, "features[") {
			c.err.Message = fmt.Sprintf("column %q is a %s column: declare it in factors, with its levels, to use it as a categorical predictor", name, t)
		}
	}
}

// factor checks that a factor's column exists (any type may be a
// factor: codes, strings, booleans, or numbers that are codes).
func (c *checker) factor(param, name string) {
	if c.err != nil {
		return
	}
	if name == "" {
		c.err = errorf(BadValue, param, "", "column name is empty")
		return
	}
	if !c.has(name) {
		c.err = errorf(NoSuchColumn, param, "", "no column %q in the dataset; its columns are %s", name, quoteList(c.names()))
	}
}

// features checks a model's factors and the columns its terms read.
func (c *checker) features(features []string, factors []analysis.Factor) {
	for i, f := range factors {
		c.factor(fmt.Sprintf("factors[%d].column", i), f.Column)
	}
	for i, f := range features {
		param := fmt.Sprintf("features[%d]", i)
		cols, err := analysis.FeatureColumns(param, f, factors, c.has)
		if err != nil {
			c.fail(err)
			return
		}
		for _, col := range cols {
			if slices.ContainsFunc(factors, func(g analysis.Factor) bool { return g.Column == col }) {
				continue // checked as a factor
			}
			c.column(param, col)
		}
	}
}

func (c *checker) filter(f analysis.Filter) {
	for i, cond := range f {
		c.column(fmt.Sprintf("filter[%d].column", i), cond.Column)
	}
}

// fail records an analysis parameter error.
func (c *checker) fail(err error) {
	if c.err != nil {
		return
	}
	var pe *analysis.ParamError
	if errors.As(err, &pe) {
		c.err = &Error{Code: BadValue, Param: pe.Param, Message: pe.Reason}
		return
	}
	c.err = errorf(BadValue, "", "", "%v", err)
}

// result is the check's outcome given the analysis's error on the empty
// table: a parameter error counts, any other (too few rows, a cohort that
// does not vary) is about data there is none of here.
func (c *checker) result(err error) error {
	if c.err == nil {
		var pe *analysis.ParamError
		var e *Error
		switch {
		case errors.As(err, &e):
			c.err = e
		case errors.As(err, &pe):
			c.fail(pe)
		}
	}
	if c.err != nil {
		return c.err
	}
	return nil
}

// table is an empty table with the schema's columns: the
// analyses apply their parameter rules to it exactly as to real data.
func (c *checker) table() *analysis.Table {
	var cols []analysis.Column
	for _, f := range c.schema {
		col := analysis.Column{Name: f.Name, Values: []float64{}}
		if !slices.Contains(numeric, f.Type) {
			col.Levels = []string{} // a code or string column, as the worker loads it
		}
		cols = append(cols, col)
	}
	if len(cols) == 0 {
		cols = []analysis.Column{{Name: "\x00none", Values: []float64{}}}
	}
	t, err := analysis.NewTable(cols...)
	if err != nil { // names are a schema's: distinct and non-empty
		panic(err)
	}
	return t
}

// regression applies the worker's parameter rules of a regression.
func (c *checker) regression(p *Regression) error {
	t := c.table()
	if _, err := analysis.Regress(t, p.RegressionParams); err != nil {
		var pe *analysis.ParamError
		if errors.As(err, &pe) {
			return err
		}
	}
	if p.Private == nil {
		return nil
	}
	if p.Robust {
		return errorf(BadValue, "robust", "", "robust standard errors are not available for a private fit (its intervals already include the privacy noise)")
	}
	if len(p.LRTDrop) > 0 {
		return errorf(BadValue, "lrt_drop", "", "a likelihood-ratio test is not available for a private fit (it would need its own noisy log-likelihoods)")
	}
	pr := p.Private
	if p.Link == analysis.CLogLog {
		return errorf(BadValue, "link", "", "a private regression supports the logit and identity links, not cloglog")
	}
	if p.Link == analysis.Identity && pr.OutcomeBounds == nil {
		return errorf(MissingParameter, "private.outcome_bounds", "", "a private linear regression needs outcome_bounds")
	}
	if pr.Rounds < 0 || pr.Rounds > 50 {
		return errorf(BadValue, "private.rounds", "", "must be between 1 and 50 (0 or omitted for the default)")
	}
	d, err := analysis.NewFactorDesign(t, p.Outcome, p.Features, p.Factors, p.Filter)
	if err != nil {
		return err
	}
	var ob *analysis.Bounds
	if p.Link == analysis.Identity {
		ob = pr.OutcomeBounds
	}
	if _, err := d.Scaled(pr.Bounds, ob); err != nil {
		var pe *analysis.ParamError
		if errors.As(err, &pe) {
			return &analysis.ParamError{Param: "private." + pe.Param, Reason: pe.Reason}
		}
		return err
	}
	return nil
}

// PooledRules are the rules a regression's params must also meet when the
// job names several datasets (a pooled study): the robust standard errors
// and the likelihood-ratio test of a single site's fit are not computed
// by pooled studies (each would need sums of its own through the secure
// aggregation).
func PooledRules(p *Regression) *Error {
	if p.Robust {
		return errorf(BadValue, "robust", "", "robust standard errors are not available for a pooled study (several datasets) yet: fit each dataset alone, or leave robust out")
	}
	if len(p.LRTDrop) > 0 {
		return errorf(BadValue, "lrt_drop", "", "a likelihood-ratio test is not available for a pooled study (several datasets) yet: fit each dataset alone, or leave lrt_drop out")
	}
	return nil
}

// CheckSites applies the rules that depend on how many datasets a job
// names (PooledRules for a regression over several, CheckStudy's public
// grid for a Cox model over several), after Check.
func CheckSites(name string, raw json.RawMessage, datasets int) error {
	if datasets >= 2 && name == "survival" {
		return CheckStudy(name, raw)
	}
	// Boosted-trees studies are built but every worker refuses them
	// (compute.Worker.PooledTrees, docs/studies.md): said here, before
	// anything is signed, rather than by each site after admission.
	if datasets >= 2 && name == "boosted_trees" {
		return errorf(BadValue, "datasets", "", "boosted-trees studies over several datasets are switched off at workers until their histograms are released under a per-bin rule: run boosted_trees on each dataset alone")
	}
	if datasets < 2 || (name != "logistic_regression" && name != "linear_regression") {
		return nil
	}
	var p Regression
	if err := json.Unmarshal(raw, &p); err != nil {
		return errorf(Malformed, "", "", "not valid JSON: %v", err)
	}
	if e := PooledRules(&p); e != nil {
		return e
	}
	return nil
}
