package analysis

import (
	"fmt"
	"slices"
	"strings"
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
	// FactorLevels counts the rows at each declared level of each
	// factor: the release rules refuse a level below the minimum cohort.
	FactorLevels []LevelCount
	// Factors are the factors the design's level columns belong to.
	Factors []Factor
}

// NewDesign selects the rows kept by the table's mask and the filter, keeps
// the complete cases, and checks the parameters: an outcome column, and
// features (terms as in an R formula: columns, log(x), I(x^k),
// interactions a:b, crossings a*b; see formula.go) that exist, are
// distinct and do not involve the outcome. When every row is kept and a
// feature is a plain column, the design shares the table's column slice
// rather than copying it.
func NewDesign(t *Table, outcome string, features []string, filter Filter) (*Design, error) {
	return NewFactorDesign(t, outcome, features, nil, filter)
}

// NewFactorDesign is NewDesign with categorical predictors: the factors
// the features may name.
func NewFactorDesign(t *Table, outcome string, features []string, factors []Factor, filter Filter) (*Design, error) {
	yc, f, cols, err := t.formula(outcome, features, factors)
	if err != nil {
		return nil, err
	}
	mask, _, err := t.selectRows(filter, "filter")
	if err != nil {
		return nil, err
	}
	n := t.completeCases(mask, yc, cols)
	d := &Design{Outcome: outcome, Features: slices.Clone(f.Names), Factors: factors, n: n, x: make([][]float64, len(cols)), rows: mask}
	if n == t.rows {
		d.y = yc.Values
	} else {
		d.y = gather(yc.Values, mask, n)
	}
	for j := range cols {
		bc := &cols[j]
		switch {
		case bc.plain() && n == t.rows:
			d.x[j] = bc.atoms[0].col.Values
		case bc.plain():
			d.x[j] = gather(bc.atoms[0].col.Values, mask, n)
		default:
			if d.x[j], err = bc.values(mask, n); err != nil {
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
	d.levelCounts(f, cols, mask)
	return d, nil
}

// formula parses the right-hand side against the table and binds it.
func (t *Table) formula(outcome string, features []string, factors []Factor) (*Column, *Formula, []boundColumn, error) {
	yc, err := t.numeric("outcome", outcome)
	if err != nil {
		return nil, nil, nil, err
	}
	f, err := ParseFormula(features, factors, func(s string) bool { _, ok := t.byName[s]; return ok })
	if err != nil {
		return nil, nil, nil, err
	}
	cols, err := t.bind(f)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, bc := range cols {
		for _, a := range bc.atoms {
			if a.col == yc {
				return nil, nil, nil, paramErr(bc.param, "%q involves the outcome", bc.name)
			}
		}
	}
	return yc, f, cols, nil
}

// completeCases narrows mask to the rows with an outcome and every design
// column's values, and counts them. Each table column (and each factor's
// level check) is tested once per row, however many design columns read
// it: a factor's level columns all read the same one.
func (t *Table) completeCases(mask []bool, yc *Column, cols []boundColumn) int {
	var checks []*boundAtom
	for j := range cols {
		for k := range cols[j].atoms {
			a := &cols[j].atoms[k]
			if !slices.ContainsFunc(checks, func(b *boundAtom) bool { return b.col == a.col && (b.kind == atomLevel) == (a.kind == atomLevel) }) {
				checks = append(checks, a)
			}
		}
	}
	n := 0
	for i := range mask {
		if mask[i] && yc.valid(i) {
			for _, a := range checks {
				if !a.col.valid(i) || (a.kind == atomLevel && !a.member(i)) {
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
	return n
}

// LevelCount is how many rows of a design hold one level of a factor.
type LevelCount struct {
	Column string
	Level  string
	N      int
}

// levelCounts counts the design's rows at each level of each factor.
func (d *Design) levelCounts(f *Formula, cols []boundColumn, mask []bool) {
	for fi := range f.Factors {
		fc := &f.Factors[fi]
		var atom *boundAtom
		for j := range cols {
			for k := range cols[j].atoms {
				if a := &cols[j].atoms[k]; a.kind == atomLevel && a.col.Name == fc.Column {
					atom = a
				}
			}
		}
		if atom == nil {
			continue
		}
		for _, l := range fc.Levels {
			v, _ := levelValue(atom.col, l)
			n := 0
			for i, keep := range mask {
				if keep && atom.col.Values[i] == v {
					n++
				}
			}
			d.FactorLevels = append(d.FactorLevels, LevelCount{Column: fc.Column, Level: l, N: n})
		}
	}
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
		return nil, paramErr("bounds", "%d bounds for %d design columns (%s)", len(bounds), len(d.x), strings.Join(d.Features, ", "))
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
// outcome and every column the features read are not null (and a factor
// holds one of its levels) — and the events among them (outcome 1),
// without evaluating any derived term. A release's cohort rules can run on
// these counts before anything that depends on the values (a log of a
// non-positive value, an overflow) can fail.
func (t *Table) CompleteCases(outcome string, features []string, filter Filter) (n, events int, err error) {
	return t.FactorCompleteCases(outcome, features, nil, filter)
}

// FactorCompleteCases is CompleteCases with categorical predictors.
func (t *Table) FactorCompleteCases(outcome string, features []string, factors []Factor, filter Filter) (n, events int, err error) {
	yc, _, cols, err := t.formula(outcome, features, factors)
	if err != nil {
		return 0, 0, err
	}
	mask, _, err := t.selectRows(filter, "filter")
	if err != nil {
		return 0, 0, err
	}
	n = t.completeCases(mask, yc, cols)
	for i, keep := range mask {
		if keep && yc.Values[i] == 1 {
			events++
		}
	}
	return n, events, nil
}

// Columns are the design's feature columns and outcome, complete rows
// only, and whether the outcome is 0/1 — for methods that take columns
// rather than a Newton step (gradient-boosted trees). They may share the
// table's storage: read them, never write.
func (d *Design) Columns() (x [][]float64, y []float64, binary bool) {
	return d.x, d.y, d.binary
}
