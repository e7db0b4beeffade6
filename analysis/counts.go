package analysis

import (
	"sort"
	"strconv"
)

// CountParams selects the cohort to count.
type CountParams struct {
	Filter Filter `json:"filter,omitempty"`
}

// CountResult is the size of a cohort.
type CountResult struct {
	N int64 `json:"n"`
}

// Count counts the rows that pass the table's mask and the filter.
func Count(t *Table, p CountParams) (CountResult, error) {
	_, n, err := t.selectRows(p.Filter, "filter")
	if err != nil {
		return CountResult{}, err
	}
	return CountResult{N: int64(n)}, nil
}

// MaxLevels is the most categories a cross-tabulation dimension may have.
const MaxLevels = 100

// Dimension turns one column into categories, with exactly one of:
//   - Levels: each listed value is a category (codes, booleans, small integers);
//   - Breaks: strictly increasing cut points b0 < b1 < … < bk making the k
//     bins [b0,b1), [b1,b2), …, [bk-1,bk] (the last one closed).
//
// The categories come from the parameters, never from the data, so a label
// cannot reveal that some record holds an unusual value. Rows whose value is
// null or in no category are left out of the table.
type Dimension struct {
	Column string    `json:"column"`
	Levels []float64 `json:"levels,omitempty"`
	Breaks []float64 `json:"breaks,omitempty"`
}

func (d *Dimension) validate(param string) error {
	if d.Column == "" {
		return paramErr(param+".column", "column name is empty")
	}
	switch {
	case len(d.Levels) > 0 && len(d.Breaks) > 0:
		return paramErr(param, "give levels or breaks, not both")
	case len(d.Levels) > 0:
		if len(d.Levels) > MaxLevels {
			return paramErr(param+".levels", "%d levels; at most %d", len(d.Levels), MaxLevels)
		}
		seen := make(map[float64]bool, len(d.Levels))
		for _, v := range d.Levels {
			if !finite(v) {
				return paramErr(param+".levels", "must be finite numbers")
			}
			if seen[v] {
				return paramErr(param+".levels", "level %v is listed twice", v)
			}
			seen[v] = true
		}
	case len(d.Breaks) > 0:
		if len(d.Breaks) < 2 || len(d.Breaks) > MaxLevels+1 {
			return paramErr(param+".breaks", "need 2 to %d cut points, got %d", MaxLevels+1, len(d.Breaks))
		}
		for i, v := range d.Breaks {
			if !finite(v) {
				return paramErr(param+".breaks", "must be finite numbers")
			}
			if i > 0 && v <= d.Breaks[i-1] {
				return paramErr(param+".breaks", "must be strictly increasing (%v follows %v)", v, d.Breaks[i-1])
			}
		}
	default:
		return paramErr(param, "give the categories: levels (exact values) or breaks (cut points)")
	}
	return nil
}

func (d *Dimension) labels() []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	if len(d.Levels) > 0 {
		out := make([]string, len(d.Levels))
		for i, v := range d.Levels {
			out[i] = f(v)
		}
		return out
	}
	k := len(d.Breaks) - 1
	out := make([]string, k)
	for i := range k {
		closing := ")"
		if i == k-1 {
			closing = "]"
		}
		out[i] = "[" + f(d.Breaks[i]) + ", " + f(d.Breaks[i+1]) + closing
	}
	return out
}

// category returns a function mapping a value to its category index, or -1.
func (d *Dimension) category() func(float64) int {
	if len(d.Levels) > 0 {
		idx := make(map[float64]int, len(d.Levels))
		for i, v := range d.Levels {
			idx[v] = i
		}
		return func(v float64) int {
			if i, ok := idx[v]; ok {
				return i
			}
			return -1
		}
	}
	b := d.Breaks
	last := len(b) - 1
	return func(v float64) int {
		if v < b[0] || v > b[last] {
			return -1
		}
		if v == b[last] {
			return last - 1
		}
		// The first cut point ≥ v: v opens that bin if equal to it,
		// otherwise v lies in the bin before it.
		i := sort.SearchFloat64s(b, v)
		if b[i] == v {
			return i
		}
		return i - 1
	}
}

// CrossTabParams describe a one- or two-way table of counts.
type CrossTabParams struct {
	Filter Filter     `json:"filter,omitempty"`
	Rows   Dimension  `json:"rows"`
	Cols   *Dimension `json:"cols,omitempty"` // nil: a one-way table
}

// CrossTab is a table of counts with its margins. A one-way table has one
// column, labelled "all"; its row totals then equal its cells.
type CrossTab struct {
	RowColumn string    `json:"row_column"`
	RowLabels []string  `json:"row_labels"`
	ColColumn string    `json:"col_column,omitempty"`
	ColLabels []string  `json:"col_labels"`
	Counts    [][]int64 `json:"counts"` // [row][col]
	RowTotals []int64   `json:"row_totals"`
	ColTotals []int64   `json:"col_totals"`
	Total     int64     `json:"total"`
}

// CrossTabulate counts the selected rows by one or two dimensions.
func CrossTabulate(t *Table, p CrossTabParams) (CrossTab, error) {
	if err := p.Rows.validate("rows"); err != nil {
		return CrossTab{}, err
	}
	if p.Cols != nil {
		if err := p.Cols.validate("cols"); err != nil {
			return CrossTab{}, err
		}
		if p.Cols.Column == p.Rows.Column {
			return CrossTab{}, paramErr("cols.column", "is the same column as rows.column")
		}
	}
	mask, _, err := t.selectRows(p.Filter, "filter")
	if err != nil {
		return CrossTab{}, err
	}
	rc, err := t.numeric("rows.column", p.Rows.Column)
	if err != nil {
		return CrossTab{}, err
	}
	ct := CrossTab{RowColumn: rc.Name, RowLabels: p.Rows.labels(), ColLabels: []string{"all"}}
	rowCat := p.Rows.category()
	var cc *Column
	colCat := func(float64) int { return 0 }
	if p.Cols != nil {
		if cc, err = t.numeric("cols.column", p.Cols.Column); err != nil {
			return CrossTab{}, err
		}
		ct.ColColumn, ct.ColLabels, colCat = cc.Name, p.Cols.labels(), p.Cols.category()
	}
	ct.Counts = make([][]int64, len(ct.RowLabels))
	for i := range ct.Counts {
		ct.Counts[i] = make([]int64, len(ct.ColLabels))
	}
	for i, keep := range mask {
		if !keep || !rc.valid(i) {
			continue
		}
		r := rowCat(rc.Values[i])
		if r < 0 {
			continue
		}
		c := 0
		if cc != nil {
			if !cc.valid(i) {
				continue
			}
			if c = colCat(cc.Values[i]); c < 0 {
				continue
			}
		}
		ct.Counts[r][c]++
	}
	ct.RowTotals, ct.ColTotals, ct.Total = Margins(ct.Counts)
	return ct, nil
}

// Margins returns the row totals, column totals and grand total of a
// rectangular table.
func Margins(counts [][]int64) (rows, cols []int64, total int64) {
	rows = make([]int64, len(counts))
	if len(counts) > 0 {
		cols = make([]int64, len(counts[0]))
	}
	for i, row := range counts {
		for j, v := range row {
			rows[i] += v
			cols[j] += v
			total += v
		}
	}
	return rows, cols, total
}
