package analysis

import (
	"fmt"
	"math"
	"slices"
)

// Op is a comparison in a filter condition.
type Op string

// Filter operators. Between is inclusive at both ends; In matches any of
// the listed values. Equality is exact, which suits codes and integers.
const (
	OpEq      Op = "="
	OpNe      Op = "!="
	OpLt      Op = "<"
	OpLe      Op = "<="
	OpGt      Op = ">"
	OpGe      Op = ">="
	OpBetween Op = "between"
	OpIn      Op = "in"
)

// Condition is one test on one column: {"column":"age","op":">=","value":40},
// {"column":"age","op":"between","values":[40,60]} or
// {"column":"smoker","op":"in","values":[1,2]}. A row whose value is null
// never matches, not even "!=".
type Condition struct {
	Column string    `json:"column"`
	Op     Op        `json:"op"`
	Value  *float64  `json:"value,omitempty"`  // for =, !=, <, <=, >, >=
	Values []float64 `json:"values,omitempty"` // for between (two) and in (one or more)
}

// Filter is a conjunction of conditions; an empty filter keeps every row.
type Filter []Condition

// Validate checks the filter's shape without a table.
func (f Filter) Validate() error { return f.validate("filter") }

func (f Filter) validate(param string) error {
	for i, c := range f {
		p := fmt.Sprintf("%s[%d]", param, i)
		if c.Column == "" {
			return paramErr(p+".column", "column name is empty")
		}
		switch c.Op {
		case OpEq, OpNe, OpLt, OpLe, OpGt, OpGe:
			if c.Value == nil {
				return paramErr(p+".value", "operator %q needs a value", c.Op)
			}
			if len(c.Values) != 0 {
				return paramErr(p+".values", "operator %q takes one value, not a list", c.Op)
			}
			if !finite(*c.Value) {
				return paramErr(p+".value", "must be a finite number")
			}
		case OpBetween:
			if c.Value != nil || len(c.Values) != 2 {
				return paramErr(p+".values", "operator \"between\" needs exactly two values [low, high]")
			}
			if !finite(c.Values[0]) || !finite(c.Values[1]) {
				return paramErr(p+".values", "must be finite numbers")
			}
			if c.Values[0] > c.Values[1] {
				return paramErr(p+".values", "low %v is above high %v", c.Values[0], c.Values[1])
			}
		case OpIn:
			if c.Value != nil || len(c.Values) == 0 {
				return paramErr(p+".values", "operator \"in\" needs a non-empty list of values")
			}
			for _, v := range c.Values {
				if !finite(v) {
					return paramErr(p+".values", "must be finite numbers")
				}
			}
		case "":
			return paramErr(p+".op", "operator is missing")
		default:
			return paramErr(p+".op", "unknown operator %q (want =, !=, <, <=, >, >=, between or in)", c.Op)
		}
	}
	return nil
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func (c *Condition) match(v float64) bool {
	switch c.Op {
	case OpEq:
		return v == *c.Value
	case OpNe:
		return v != *c.Value
	case OpLt:
		return v < *c.Value
	case OpLe:
		return v <= *c.Value
	case OpGt:
		return v > *c.Value
	case OpGe:
		return v >= *c.Value
	case OpBetween:
		return v >= c.Values[0] && v <= c.Values[1]
	case OpIn:
		return slices.Contains(c.Values, v)
	}
	return false
}

// selectRows is the mask of rows kept by both the table's mask and f, and
// how many there are.
// Select is the rows of the table (its mask included) a filter keeps: the
// cohort an analysis with that filter describes.
func (t *Table) Select(f Filter) ([]bool, error) {
	m, _, err := t.selectRows(f, "filter")
	return m, err
}

func (t *Table) selectRows(f Filter, param string) ([]bool, int, error) {
	if err := f.validate(param); err != nil {
		return nil, 0, err
	}
	cols := make([]*Column, len(f))
	for i, c := range f {
		col, err := t.numeric(fmt.Sprintf("%s[%d].column", param, i), c.Column)
		if err != nil {
			return nil, 0, err
		}
		cols[i] = col
	}
	mask := make([]bool, t.rows)
	if t.keep == nil {
		for i := range mask {
			mask[i] = true
		}
	} else {
		copy(mask, t.keep)
	}
	for ci := range f {
		c, col := &f[ci], cols[ci]
		for i, keep := range mask {
			if keep && (!col.valid(i) || !c.match(col.Values[i])) {
				mask[i] = false
			}
		}
	}
	n := 0
	for _, k := range mask {
		if k {
			n++
		}
	}
	return mask, n, nil
}
