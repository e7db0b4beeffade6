package analysis

import (
	"fmt"
	"slices"
)

// Design is one site's regression data: the outcome and feature columns of
// the complete cases among the selected rows (rows where the outcome or any
// feature is null are left out). The intercept is implicit: coefficient 0
// is the intercept and coefficient j+1 belongs to Features[j].
type Design struct {
	Outcome  string
	Features []string
	x        [][]float64 // x[j][i]: feature j in row i
	y        []float64
	n        int
	events   int    // rows with y = 1
	binary   bool   // every y is 0 or 1
	rows     []bool // the table rows in the design
}

// NewDesign selects the rows kept by the table's mask and the filter, keeps
// the complete cases, and checks the parameters: an outcome column, and
// features (columns or derived terms such as log(age) or log(sbp)*treated)
// that exist, are distinct and do not involve the outcome. When every row
// is kept and a feature is a plain column, the design shares the table's
// column slice rather than copying it.
func NewDesign(t *Table, outcome string, features []string, filter Filter) (*Design, error) {
	yc, err := t.column("outcome", outcome)
	if err != nil {
		return nil, err
	}
	terms := make([]term, len(features))
	for j, f := range features {
		param := fmt.Sprintf("features[%d]", j)
		if terms[j], err = t.parseTerm(param, f); err != nil {
			return nil, err
		}
		for _, fc := range terms[j].factors {
			if fc.col == yc {
				return nil, paramErr(param, "%q involves the outcome", f)
			}
		}
		for k := range j {
			if terms[k].String() == terms[j].String() {
				return nil, paramErr(param, "%q is listed twice", f)
			}
		}
	}
	mask, _, err := t.selectRows(filter, "filter")
	if err != nil {
		return nil, err
	}
	n := 0
	for i := range mask {
		if mask[i] && yc.valid(i) {
			for _, tm := range terms {
				if !tm.valid(i) {
					mask[i] = false
					break
				}
			}
		} else {
			mask[i] = false
		}
		if mask[i] {
			n++
		}
	}
	d := &Design{Outcome: outcome, Features: slices.Clone(features), n: n, x: make([][]float64, len(terms)), rows: mask}
	if n == t.rows {
		d.y = yc.Values
	} else {
		d.y = gather(yc.Values, mask, n)
	}
	for j, tm := range terms {
		switch {
		case tm.plain() && n == t.rows:
			d.x[j] = tm.factors[0].col.Values
		case tm.plain():
			d.x[j] = gather(tm.factors[0].col.Values, mask, n)
		default:
			if d.x[j], err = tm.values(fmt.Sprintf("features[%d]", j), mask, n); err != nil {
				return nil, err
			}
		}
	}
	d.binary = true
	for _, v := range d.y {
		switch v {
		case 1:
			d.events++
		case 0:
		default:
			d.binary = false
		}
	}
	return d, nil
}

func gather(v []float64, mask []bool, n int) []float64 {
	out := make([]float64, 0, n)
	for i, keep := range mask {
		if keep {
			out = append(out, v[i])
		}
	}
	return out
}

// Rows says which rows of the table the design uses (the cohort an
// analysis of it describes): one entry per table row.
func (d *Design) Rows() []bool { return d.rows }

// ClampAbs is the design with feature j clamped to [−maxAbs[j], maxAbs[j]]
// (the columns are copied only where a value is clamped).
func (d *Design) ClampAbs(maxAbs []float64) (*Design, error) {
	if len(maxAbs) != len(d.x) {
		return nil, fmt.Errorf("analysis: %d bounds for %d features", len(maxAbs), len(d.x))
	}
	out := *d
	out.x = slices.Clone(d.x)
	for j, col := range d.x {
		m := maxAbs[j]
		for i, v := range col {
			if v > m || v < -m {
				if &out.x[j][0] == &col[0] {
					out.x[j] = slices.Clone(col)
				}
				out.x[j][i] = max(-m, min(m, v))
			}
		}
	}
	return &out, nil
}

// N is the number of rows in the design.
func (d *Design) N() int { return d.n }

// Events is the number of rows whose outcome is 1.
func (d *Design) Events() int { return d.events }

// P is the number of coefficients, the intercept included.
func (d *Design) P() int { return len(d.x) + 1 }

func (d *Design) checkLink(link Link) error {
	if err := link.validate(); err != nil {
		return err
	}
	if link.binary() && !d.binary {
		return paramErr("outcome", "link %q needs a 0/1 outcome, and %q has other values", link, d.Outcome)
	}
	return nil
}

// Names are the coefficient names: "intercept", then the features.
func (d *Design) Names() []string { return append([]string{"intercept"}, d.Features...) }

// Levels counts the rows at 0 and at 1 of feature j, or is nil when the
// feature takes other values.
func (d *Design) Levels(j int) *Levels { return binaryLevels(d.x[j]) }

// Scaled is a copy of the design with each feature clamped to its bounds
// and mapped linearly onto [−1, 1] (x' = (x − mid)/half-width), and, when
// outcome bounds are given, the outcome too. Differentially private
// regression works on it: every row's contribution to a Newton step is
// then bounded whatever the data.
func (d *Design) Scaled(bounds []Bounds, outcome *Bounds) (*Design, error) {
	if len(bounds) != len(d.x) {
		return nil, paramErr("bounds", "%d bounds for %d features", len(bounds), len(d.x))
	}
	scale := func(dst, src []float64, b Bounds) {
		mid, half := b.Mid(), (b.Upper-b.Lower)/2
		for i, v := range src {
			dst[i] = (min(max(v, b.Lower), b.Upper) - mid) / half
		}
	}
	out := &Design{Outcome: d.Outcome, Features: d.Features, n: d.n, events: d.events, binary: d.binary, y: d.y, x: make([][]float64, len(d.x))}
	for j, b := range bounds {
		if err := b.validate(fmt.Sprintf("bounds[%d]", j)); err != nil {
			return nil, err
		}
		out.x[j] = make([]float64, d.n)
		scale(out.x[j], d.x[j], b)
	}
	if outcome != nil {
		if err := outcome.validate("outcome_bounds"); err != nil {
			return nil, err
		}
		out.y = make([]float64, d.n)
		scale(out.y, d.y, *outcome)
		out.binary, out.events = false, 0
	}
	return out, nil
}

// CompleteCases counts the rows a design of outcome on features with
// filter would hold — the table's mask, the filter, and rows where the
// outcome and every column the features read are not null — and the
// events among them (outcome 1), without evaluating any derived term. A
// release's cohort rules can run on these counts before anything that
// depends on the values (a log of a non-positive value, an overflow) can
// fail.
func (t *Table) CompleteCases(outcome string, features []string, filter Filter) (n, events int, err error) {
	yc, err := t.column("outcome", outcome)
	if err != nil {
		return 0, 0, err
	}
	terms := make([]term, len(features))
	for j, f := range features {
		if terms[j], err = t.parseTerm(fmt.Sprintf("features[%d]", j), f); err != nil {
			return 0, 0, err
		}
	}
	mask, _, err := t.selectRows(filter, "filter")
	if err != nil {
		return 0, 0, err
	}
	for i, keep := range mask {
		if !keep || !yc.valid(i) {
			continue
		}
		ok := true
		for _, tm := range terms {
			ok = ok && tm.valid(i)
		}
		if ok {
			n++
			if yc.Values[i] == 1 {
				events++
			}
		}
	}
	return n, events, nil
}
