package analysis

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// A design column bound to a table: each atom with its column and, for a
// factor's level, how to recognise the level in the column's values.
type boundColumn struct {
	name  string
	param string
	atoms []boundAtom
}

type boundAtom struct {
	atom
	col *Column
	// atomLevel: the value that is this level (a dictionary index for a
	// code column, -1 when no row holds it), and the values that are any
	// of the factor's levels (a row with another value is left out).
	level   float64
	members []float64
	// isMember[k] says whether dictionary entry k of a code column is
	// one of the factor's levels: a row's check without a search.
	isMember []bool
}

// member says whether row i holds one of the factor's levels.
func (a *boundAtom) member(i int) bool {
	v := a.col.Values[i]
	if a.isMember != nil {
		k := int(v)
		return k >= 0 && k < len(a.isMember) && a.isMember[k]
	}
	return slices.Contains(a.members, v)
}

// levelValue is how a level is held in col: its index in a code column's
// dictionary (-1 if absent), else the number it names ("false" and "true"
// are 0 and 1).
func levelValue(col *Column, level string) (float64, bool) {
	if col.Levels != nil {
		return float64(slices.Index(col.Levels, level)), true
	}
	switch level {
	case "false":
		return 0, true
	case "true":
		return 1, true
	}
	v, err := strconv.ParseFloat(level, 64)
	return v, err == nil && finite(v)
}

// bind resolves a formula's design columns against the table.
func (t *Table) bind(f *Formula) ([]boundColumn, error) {
	out := make([]boundColumn, len(f.cols))
	for j, dc := range f.cols {
		bc := boundColumn{name: dc.name, param: dc.param}
		for _, a := range dc.atoms {
			c, err := t.column(dc.param, a.col)
			if err != nil {
				return nil, err
			}
			ba := boundAtom{atom: a, col: c}
			if a.kind == atomLevel {
				fi := slices.IndexFunc(f.Factors, func(g Factor) bool { return g.Column == a.col })
				for li, l := range a.factor.Levels {
					v, ok := levelValue(c, l)
					if !ok {
						return nil, paramErr(fmt.Sprintf("factors[%d].levels[%d]", fi, li), "%q is not a number, and column %q holds numbers", l, c.Name)
					}
					if v >= 0 || c.Levels == nil {
						ba.members = append(ba.members, v)
					}
					if l == a.level {
						ba.level = v
					}
				}
				if c.Levels != nil {
					ba.isMember = make([]bool, len(c.Levels))
					for _, v := range ba.members {
						ba.isMember[int(v)] = true
					}
				}
			} else if c.Levels != nil {
				return nil, paramErr(dc.param, "column %q holds codes: declare it in factors, with its levels", c.Name)
			}
			bc.atoms = append(bc.atoms, ba)
		}
		out[j] = bc
	}
	return out, nil
}

func (bc *boundColumn) plain() bool { return len(bc.atoms) == 1 && bc.atoms[0].kind == atomValue }

// valid says whether row i has every value the column needs, and, for a
// factor, one of its levels.
func (bc *boundColumn) valid(i int) bool {
	for k := range bc.atoms {
		a := &bc.atoms[k]
		if !a.col.valid(i) {
			return false
		}
		if a.kind == atomLevel && !a.member(i) {
			return false
		}
	}
	return true
}

// values evaluates the column on the rows in mask (n of them).
func (bc *boundColumn) values(mask []bool, n int) ([]float64, error) {
	out := make([]float64, 0, n)
	for i, keep := range mask {
		if !keep {
			continue
		}
		v := 1.0
		for k := range bc.atoms {
			a := &bc.atoms[k]
			x := a.col.Values[i]
			switch a.kind {
			case atomLog:
				if !(x > 0) {
					return nil, paramErr(bc.param, "log(%s) of a value that is not positive", a.col.Name)
				}
				x = math.Log(x)
			case atomPower:
				x = math.Pow(x, float64(a.power))
			case atomLevel:
				x = 0
				if a.col.Values[i] == a.level {
					x = 1
				}
			}
			v *= x
		}
		if !finite(v) {
			return nil, paramErr(bc.param, "value overflows")
		}
		out = append(out, v)
	}
	return out, nil
}

// FeatureColumns lists the columns a features entry reads (with the
// declared factors), by the same rules as a design. It lets an entry be
// checked against a dataset's schema before any data is read.
func FeatureColumns(param, feature string, factors []Factor, isColumn func(string) bool) ([]string, error) {
	ps := &parser{factors: factors, isColumn: isColumn}
	terms, err := ps.parseEntry(param, feature)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range terms {
		for _, a := range t {
			if !slices.Contains(out, a.col) {
				out = append(out, a.col)
			}
		}
	}
	return out, nil
}

// featureValue evaluates one design column of a saved model from named
// raw values: a name present as such is that value (so a factor's level
// column, sexmale, is given as 0 or 1); otherwise its parts, joined by ':'
// (or '*', which saved models made before R-style terms used for the
// product), each a value, log(value) or I(value^k).
func featureValue(feature string, values map[string]float64) (float64, error) {
	if v, ok := values[feature]; ok {
		return v, nil
	}
	parts, ok := splitTop(feature, ':')
	if ok && len(parts) == 1 {
		parts, ok = splitTop(feature, '*')
	}
	if !ok {
		return 0, fmt.Errorf("analysis: feature %q: unbalanced parentheses", feature)
	}
	ps := &parser{isColumn: func(string) bool { return false }}
	v := 1.0
	for _, p := range parts {
		a, err := ps.parseAtom("feature", feature, p)
		if err != nil {
			return 0, err
		}
		x, ok := values[a.col]
		if a.kind == atomValue {
			x, ok = values[a.String()]
		}
		if !ok {
			return 0, fmt.Errorf("analysis: no value for %q (needed by %q)", a.col, feature)
		}
		switch a.kind {
		case atomLog:
			if !(x > 0) {
				return 0, fmt.Errorf("analysis: %q needs a positive %s", feature, a.col)
			}
			x = math.Log(x)
		case atomPower:
			x = math.Pow(x, float64(a.power))
		}
		v *= x
	}
	return v, nil
}
