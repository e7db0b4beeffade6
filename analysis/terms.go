package analysis

import (
	"fmt"
	"math"
	"strings"
)

// A feature is a column name or a derived term: a product of factors
// joined by '*', each factor a column or log(column) (natural log). So
// "age", "log(age)", "smoker*diabetes" and "log(sbp)*treated" are all
// features; a name that is itself a column is always that column. Risk
// models like Framingham's are fitted on logarithms and interactions of
// the measured values.
type term struct {
	factors []factor
}

type factor struct {
	col *Column
	log bool
}

// parseTerm reads a feature against the table's columns.
func (t *Table) parseTerm(param, s string) (term, error) {
	if _, ok := t.byName[s]; ok || s == "" {
		c, err := t.column(param, s)
		return term{factors: []factor{{col: c}}}, err
	}
	specs, err := parseFactors(param, s)
	if err != nil {
		return term{}, err
	}
	var tm term
	for _, sp := range specs {
		c, err := t.column(param, sp.name)
		if err != nil {
			return term{}, err
		}
		tm.factors = append(tm.factors, factor{col: c, log: sp.log})
	}
	return tm, nil
}

type factorSpec struct {
	name string
	log  bool
}

// parseFactors splits a derived feature into its factors.
func parseFactors(param, s string) ([]factorSpec, error) {
	var out []factorSpec
	for _, part := range strings.Split(s, "*") {
		part = strings.TrimSpace(part)
		var sp factorSpec
		if inner, ok := strings.CutPrefix(part, "log("); ok {
			name, closed := strings.CutSuffix(inner, ")")
			if !closed {
				return nil, paramErr(param, "%q: log( without a closing parenthesis", s)
			}
			part, sp.log = strings.TrimSpace(name), true
		}
		if part == "" || strings.ContainsAny(part, "()") {
			return nil, paramErr(param, "%q: a factor is a column or log(column)", s)
		}
		sp.name = part
		out = append(out, sp)
	}
	return out, nil
}

// featureValue evaluates a feature from named raw values, by the same rules
// as a design: a name present as such is that value, else a product of
// values and natural logs.
func featureValue(feature string, values map[string]float64) (float64, error) {
	if v, ok := values[feature]; ok {
		return v, nil
	}
	specs, err := parseFactors("feature", feature)
	if err != nil {
		return 0, err
	}
	v := 1.0
	for _, sp := range specs {
		x, ok := values[sp.name]
		if !ok {
			return 0, fmt.Errorf("analysis: no value for %q (needed by %q)", sp.name, feature)
		}
		if sp.log {
			if !(x > 0) {
				return 0, fmt.Errorf("analysis: %q needs a positive %s", feature, sp.name)
			}
			x = math.Log(x)
		}
		v *= x
	}
	return v, nil
}

// plain reports whether the term is just a column, whose values the design
// can share.
func (tm term) plain() bool { return len(tm.factors) == 1 && !tm.factors[0].log }

func (tm term) valid(i int) bool {
	for _, f := range tm.factors {
		if !f.col.valid(i) {
			return false
		}
	}
	return true
}

// values evaluates the term on the rows in mask (n of them).
func (tm term) values(param string, mask []bool, n int) ([]float64, error) {
	out := make([]float64, 0, n)
	for i, keep := range mask {
		if !keep {
			continue
		}
		v := 1.0
		for _, f := range tm.factors {
			x := f.col.Values[i]
			if f.log {
				if !(x > 0) {
					return nil, paramErr(param, "log(%s) of a value that is not positive", f.col.Name)
				}
				x = math.Log(x)
			}
			v *= x
		}
		if !finite(v) {
			return nil, paramErr(param, "value overflows")
		}
		out = append(out, v)
	}
	return out, nil
}

func (tm term) String() string {
	parts := make([]string, len(tm.factors))
	for i, f := range tm.factors {
		parts[i] = f.col.Name
		if f.log {
			parts[i] = fmt.Sprintf("log(%s)", f.col.Name)
		}
	}
	return strings.Join(parts, "*")
}

// FeatureColumns lists the columns a feature reads, by the same rules as a
// design: a feature that is itself a column (isColumn says so) is that
// column; otherwise it is parsed as a derived term. It lets a feature be
// checked against a dataset's schema before any data is read.
func FeatureColumns(param, feature string, isColumn func(string) bool) ([]string, error) {
	if feature == "" {
		return nil, paramErr(param, "column name is empty")
	}
	if isColumn(feature) {
		return []string{feature}, nil
	}
	specs, err := parseFactors(param, feature)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(specs))
	for i, sp := range specs {
		out[i] = sp.name
	}
	return out, nil
}
