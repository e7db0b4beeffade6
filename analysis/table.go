package analysis

import (
	"fmt"
	"math"
)

// Column is one named column of numbers. Valid, when not nil, marks the rows
// that hold a value (false = null, whatever Values holds there); a nil Valid
// means every row holds one. Codes and booleans are numbers here (0/1 for
// booleans), as the vault stores them.
//
// A code or string column is held as a dictionary: Levels lists its
// distinct texts and Values[i] is the index of row i's text. It can be
// used only as a factor (its indices depend on the data's order and mean
// nothing as numbers): filters, cross-tabulations, summaries and plain
// features refuse it.
type Column struct {
	Name   string
	Values []float64
	Valid  []bool
	Levels []string
}

func (c *Column) valid(i int) bool { return c.Valid == nil || c.Valid[i] }

// Table is a set of equally long columns plus a row mask. It does not copy
// the columns: callers must not modify them while the table is in use.
type Table struct {
	rows   int
	cols   []Column
	byName map[string]int
	keep   []bool // nil: every row
}

// NewTable checks the columns and makes a table of them. Every column must
// have a distinct non-empty name and the same number of rows, and every
// non-null value must be finite (NaN and ±Inf are refused rather than read
// as null, so a decoding bug cannot silently shrink a cohort).
func NewTable(cols ...Column) (*Table, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("analysis: table has no columns")
	}
	t := &Table{rows: len(cols[0].Values), cols: cols, byName: make(map[string]int, len(cols))}
	for i := range cols {
		c := &cols[i]
		if c.Name == "" {
			return nil, fmt.Errorf("analysis: column %d has no name", i)
		}
		if _, dup := t.byName[c.Name]; dup {
			return nil, fmt.Errorf("analysis: column %q appears twice", c.Name)
		}
		t.byName[c.Name] = i
		if len(c.Values) != t.rows {
			return nil, fmt.Errorf("analysis: column %q has %d rows, column %q has %d", c.Name, len(c.Values), cols[0].Name, t.rows)
		}
		if c.Valid != nil && len(c.Valid) != t.rows {
			return nil, fmt.Errorf("analysis: column %q: validity mask has %d rows, values %d", c.Name, len(c.Valid), t.rows)
		}
		bad := 0
		for r, v := range c.Values {
			if c.valid(r) && (math.IsNaN(v) || math.IsInf(v, 0)) {
				bad++
			}
		}
		if bad > 0 {
			return nil, fmt.Errorf("analysis: column %q: %d non-null values are NaN or infinite", c.Name, bad)
		}
	}
	return t, nil
}

// Rows is the number of rows, whether or not the mask keeps them.
func (t *Table) Rows() int { return t.rows }

// Kept is the number of rows the mask keeps.
func (t *Table) Kept() int {
	if t.keep == nil {
		return t.rows
	}
	n := 0
	for _, k := range t.keep {
		if k {
			n++
		}
	}
	return n
}

// Names lists the columns in the order they were given.
func (t *Table) Names() []string {
	names := make([]string, len(t.cols))
	for i := range t.cols {
		names[i] = t.cols[i].Name
	}
	return names
}

// Column returns the named column (all its rows, whatever the mask).
// AllColumns is every column of the table, in order, with all rows (the
// mask is not applied).
func (t *Table) AllColumns() []Column { return t.cols }

func (t *Table) Column(name string) (Column, bool) {
	i, ok := t.byName[name]
	if !ok {
		return Column{}, false
	}
	return t.cols[i], true
}

// Where returns a view of t that keeps only the rows with keep[i] true (and
// already kept by t). The worker uses it for the consent filter, so that no
// analysis can see a row whose patient did not consent.
func (t *Table) Where(keep []bool) (*Table, error) {
	if len(keep) != t.rows {
		return nil, fmt.Errorf("analysis: row mask has %d rows, table %d", len(keep), t.rows)
	}
	m := make([]bool, t.rows)
	for i, k := range keep {
		m[i] = k && (t.keep == nil || t.keep[i])
	}
	return &Table{rows: t.rows, cols: t.cols, byName: t.byName, keep: m}, nil
}

// numeric is column for the uses that read values as numbers.
func (t *Table) numeric(param, name string) (*Column, error) {
	c, err := t.column(param, name)
	if err == nil && c.Levels != nil {
		return nil, paramErr(param, "column %q holds codes; it can be used only as a factor of a regression", name)
	}
	return c, err
}

func (t *Table) column(param, name string) (*Column, error) {
	if name == "" {
		return nil, paramErr(param, "column name is empty")
	}
	i, ok := t.byName[name]
	if !ok {
		return nil, paramErr(param, "no column %q in the dataset", name)
	}
	return &t.cols[i], nil
}
