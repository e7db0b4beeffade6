package analysis

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
)

// Regression features are written as in R's model formulae, one term per
// entry of "features":
//
//	age                 a column
//	log(age)            its natural logarithm
//	I(age^2)            a power (2 to 9)
//	sex                 a factor (declared in "factors"): one 0/1 column per
//	                    level but the reference (treatment coding)
//	age:sex             an interaction: the product of its parts
//	age*sex             main effects and interaction: age, sex, age:sex
//
// Terms are expanded as R does: a*b*c gives a, b, c, a:b, a:c, b:c, a:b:c
// (by degree, then in the order written), a term met twice is kept once,
// and a factor's columns are named by pasting the column and the level
// (sexmale; age:sexmale), the first factor of an interaction varying
// fastest. Because a factor's levels come from the params, never the
// data, every site of a study builds the same columns in the same order.

// Factor declares a categorical predictor: a code, string or boolean
// column (or a number column holding codes), the levels that are its
// categories and the reference level the others are compared with.
// Levels are written as the vault holds them: codes and strings as text,
// booleans "false" and "true", numbers in decimal. A row whose value is
// null or not one of the levels is left out, as R leaves out NA.
type Factor struct {
	Column    string   `json:"column"`
	Levels    []string `json:"levels"`
	Reference string   `json:"reference,omitempty"` // default: the first level
}

// MaxFactorLevels bounds a factor's levels; MaxDesignColumns a design's
// columns after expansion (the intercept not counted).
const (
	MaxFactorLevels  = 50
	MaxDesignColumns = 200
	maxPower         = 9
	maxOperands      = 6
)

func (f *Factor) reference() string {
	if f.Reference != "" {
		return f.Reference
	}
	return f.Levels[0]
}

func validateFactors(fs []Factor) error {
	for i, f := range fs {
		p := fmt.Sprintf("factors[%d]", i)
		if f.Column == "" {
			return paramErr(p+".column", "column name is empty")
		}
		if slices.ContainsFunc(fs[:i], func(g Factor) bool { return g.Column == f.Column }) {
			return paramErr(p+".column", "%q is declared twice", f.Column)
		}
		if len(f.Levels) < 2 || len(f.Levels) > MaxFactorLevels {
			return paramErr(p+".levels", "need 2 to %d levels, got %d", MaxFactorLevels, len(f.Levels))
		}
		for j, l := range f.Levels {
			if l == "" {
				return paramErr(fmt.Sprintf("%s.levels[%d]", p, j), "level is empty")
			}
			if slices.Contains(f.Levels[:j], l) {
				return paramErr(fmt.Sprintf("%s.levels[%d]", p, j), "level %q is listed twice", l)
			}
		}
		if f.Reference != "" && !slices.Contains(f.Levels, f.Reference) {
			return paramErr(p+".reference", "%q is not one of the levels", f.Reference)
		}
	}
	return nil
}

type atomKind uint8

const (
	atomValue  atomKind = iota // the column's value
	atomLog                    // log(column)
	atomPower                  // I(column^k)
	atomFactor                 // a factor, before expansion into its levels
	atomLevel                  // 1 where the factor's value is level, else 0
)

// atom is one part of a term.
type atom struct {
	col    string
	kind   atomKind
	power  int
	factor *Factor // atomFactor, atomLevel
	level  string  // atomLevel
}

func (a atom) String() string {
	switch a.kind {
	case atomLog:
		return "log(" + a.col + ")"
	case atomPower:
		return "I(" + a.col + "^" + strconv.Itoa(a.power) + ")"
	case atomLevel:
		return a.col + a.level
	}
	return a.col
}

// designColumn is one column of a design: the product of its atoms (none
// of them atomFactor), and its R-style name.
type designColumn struct {
	name  string
	atoms []atom
	param string // the features entry it comes from
}

// splitTop splits s at sep outside parentheses.
func splitTop(s string, sep byte) ([]string, bool) {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return nil, false
			}
		case sep:
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	if depth != 0 {
		return nil, false
	}
	return append(out, s[start:]), true
}

// parser reads terms against the declared factors and the columns there
// are.
type parser struct {
	factors  []Factor
	isColumn func(string) bool
}

func (ps *parser) factor(col string) *Factor {
	for i := range ps.factors {
		if ps.factors[i].Column == col {
			return &ps.factors[i]
		}
	}
	return nil
}

// parseAtom reads one part of a term.
func (ps *parser) parseAtom(param, whole, s string) (atom, error) {
	s = strings.TrimSpace(s)
	bad := func(why string) (atom, error) { return atom{}, paramErr(param, "%q: %s", whole, why) }
	if s == "" {
		return bad("an empty part (a column, log(column), I(column^k) or a factor)")
	}
	if inner, ok := strings.CutPrefix(s, "log("); ok {
		name, closed := strings.CutSuffix(inner, ")")
		if !closed {
			return bad("log( without a closing parenthesis")
		}
		name = strings.TrimSpace(name)
		if name == "" || strings.ContainsAny(name, "()*:^") {
			return bad("log( ) takes a column")
		}
		if ps.factor(name) != nil {
			return bad(fmt.Sprintf("%s is a factor; log() takes a numeric column", name))
		}
		return atom{col: name, kind: atomLog}, nil
	}
	if inner, ok := strings.CutPrefix(s, "I("); ok {
		expr, closed := strings.CutSuffix(inner, ")")
		if !closed {
			return bad("I( without a closing parenthesis")
		}
		name, pow, ok := strings.Cut(expr, "^")
		name = strings.TrimSpace(name)
		k, err := strconv.Atoi(strings.TrimSpace(pow))
		if !ok || err != nil || k < 2 || k > maxPower || name == "" || strings.ContainsAny(name, "()*:^") {
			return bad(fmt.Sprintf("I( ) takes a power of a column, column^k with k from 2 to %d", maxPower))
		}
		if ps.factor(name) != nil {
			return bad(fmt.Sprintf("%s is a factor; I( ) takes a numeric column", name))
		}
		return atom{col: name, kind: atomPower, power: k}, nil
	}
	if strings.ContainsAny(s, "()^") {
		return bad("a part is a column, log(column), I(column^k) or a factor")
	}
	if f := ps.factor(s); f != nil {
		return atom{col: s, kind: atomFactor, factor: f}, nil
	}
	// A factor's level column by its name (sexmale), as a fitted model
	// names its coefficients: so a saved model's features can be read back.
	if !ps.isColumn(s) {
		for i := range ps.factors {
			f := &ps.factors[i]
			if lvl, ok := strings.CutPrefix(s, f.Column); ok && slices.Contains(f.Levels, lvl) {
				return atom{col: f.Column, kind: atomLevel, factor: f, level: lvl}, nil
			}
		}
	}
	return atom{col: s, kind: atomValue}, nil
}

// term is an interaction of atoms, before factors are expanded.
type term []atom

func (t term) key() string {
	names := make([]string, len(t))
	for i, a := range t {
		names[i] = a.String()
	}
	slices.Sort(names)
	return strings.Join(names, ":")
}

// parseEntry reads one entry of features into its terms (several for
// a*b).
func (ps *parser) parseEntry(param, s string) ([]term, error) {
	if s == "" {
		return nil, paramErr(param, "column name is empty")
	}
	if ps.isColumn(s) { // a name that is itself a column is that column
		if f := ps.factor(s); f != nil {
			return []term{{{col: s, kind: atomFactor, factor: f}}}, nil
		}
		return []term{{{col: s, kind: atomValue}}}, nil
	}
	ops, ok := splitTop(s, '*')
	if !ok {
		return nil, paramErr(param, "%q: unbalanced parentheses", s)
	}
	if len(ops) > maxOperands {
		return nil, paramErr(param, "%q: at most %d terms crossed with *", s, maxOperands)
	}
	operands := make([]term, len(ops))
	for i, op := range ops {
		parts, _ := splitTop(op, ':')
		for _, p := range parts {
			a, err := ps.parseAtom(param, s, p)
			if err != nil {
				return nil, err
			}
			operands[i] = append(operands[i], a)
		}
	}
	// Every non-empty subset of the operands, by size, then in the
	// order written (R's expansion of a*b*c).
	m := len(operands)
	var subsets []uint
	for set := uint(1); set < 1<<m; set++ {
		subsets = append(subsets, set)
	}
	slices.SortStableFunc(subsets, func(a, b uint) int { return bits.OnesCount(a) - bits.OnesCount(b) })
	var out []term
	seen := map[string]bool{}
	for _, set := range subsets {
		var t term
		for i := range m {
			if set&(1<<i) != 0 {
				for _, a := range operands[i] {
					if !slices.ContainsFunc(t, func(b atom) bool { return b.String() == a.String() }) {
						t = append(t, a)
					}
				}
			}
		}
		if k := t.key(); !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	return out, nil
}

// expand turns a term into design columns: one per combination of its
// factors' levels, the first factor varying fastest. A factor is coded by
// contrasts with its reference level (the reference dropped) when the
// term without it is in the model (the empty term is the intercept,
// always there) and by an indicator for every level otherwise — R's rule,
// so that sex + sex:age (R's sex/age, a slope per sex) has sexmale,
// sexfemale:age and sexmale:age.
func expand(t term, present map[string]bool) []designColumn {
	cols := []designColumn{{}}
	for i, a := range t {
		if a.kind != atomFactor {
			for k := range cols {
				cols[k].atoms = append(cols[k].atoms, a)
			}
			continue
		}
		rest := slices.Concat(t[:i:i], t[i+1:])
		contrasts := len(rest) == 0 || present[rest.key()]
		var next []designColumn
		for _, lvl := range a.factor.Levels {
			if contrasts && lvl == a.factor.reference() {
				continue
			}
			for _, c := range cols {
				next = append(next, designColumn{atoms: append(slices.Clone(c.atoms), atom{col: a.col, kind: atomLevel, factor: a.factor, level: lvl})})
			}
		}
		cols = next
	}
	for k := range cols {
		names := make([]string, len(cols[k].atoms))
		for j, a := range cols[k].atoms {
			names[j] = a.String()
		}
		cols[k].name = strings.Join(names, ":")
	}
	return cols
}

// Formula is a regression's right-hand side, expanded into design
// columns: what the parameters say, without a table.
type Formula struct {
	Names   []string // the design columns' names, intercept not included
	Factors []Factor
	cols    []designColumn
}

// ParseFormula expands features and factors into design columns.
// isColumn says whether a name is a column (one that is, is that column,
// whatever characters it holds).
func ParseFormula(features []string, factors []Factor, isColumn func(string) bool) (*Formula, error) {
	if err := validateFactors(factors); err != nil {
		return nil, err
	}
	ps := &parser{factors: factors, isColumn: isColumn}
	f := &Formula{Factors: factors}
	// R orders a formula's terms by degree (main effects first), each
	// degree in the order written.
	var terms []term
	var params []string
	present := map[string]bool{}
	for j, s := range features {
		param := fmt.Sprintf("features[%d]", j)
		if slices.Contains(features[:j], s) {
			return nil, paramErr(param, "%q is listed twice", s)
		}
		ts, err := ps.parseEntry(param, s)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			if k := t.key(); !present[k] {
				present[k] = true
				terms = append(terms, t)
				params = append(params, param)
			}
		}
	}
	order := make([]int, len(terms))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(terms[a]) - len(terms[b]) })
	for _, i := range order {
		for _, dc := range expand(terms[i], present) {
			dc.param = params[i]
			f.cols = append(f.cols, dc)
			f.Names = append(f.Names, dc.name)
		}
		if len(f.cols) > MaxDesignColumns {
			return nil, paramErr(params[i], "the features expand to more than %d columns", MaxDesignColumns)
		}
	}
	for i := range factors {
		used := slices.ContainsFunc(f.cols, func(dc designColumn) bool {
			return slices.ContainsFunc(dc.atoms, func(a atom) bool { return a.factor == &factors[i] })
		})
		if !used {
			return nil, paramErr(fmt.Sprintf("factors[%d]", i), "factor %q is not used by any feature", factors[i].Column)
		}
	}
	return f, nil
}

// Bound is the largest |value| design column j can take, given bounds on
// the columns it reads (colBound): a level is 0 or 1, a log is bounded by
// the logs of its column's range, a power by the power of the larger end.
func (f *Formula) Bound(j int, colBound func(col string) (lo, hi float64, err error)) (float64, error) {
	m := 1.0
	for _, a := range f.cols[j].atoms {
		if a.kind == atomLevel {
			continue
		}
		lo, hi, err := colBound(a.col)
		if err != nil {
			return 0, err
		}
		switch a.kind {
		case atomLog:
			if lo <= 0 {
				return 0, fmt.Errorf("log(%s) needs a positive lower bound", a.col)
			}
			lo, hi = math.Log(lo), math.Log(hi)
		case atomPower:
			lo, hi = 0, math.Pow(max(math.Abs(lo), math.Abs(hi)), float64(a.power))
		}
		m *= max(math.Abs(lo), math.Abs(hi))
	}
	return m, nil
}

// Range is the interval design column j takes when every column it reads
// lies within colBound's range: a log or a power of the column's range, a
// factor level's [0, 1], products by interval arithmetic. A pooled Cox
// study centres each column at its range's midpoint.
func (f *Formula) Range(j int, colBound func(col string) (lo, hi float64, err error)) (float64, float64, error) {
	lo, hi := 1.0, 1.0
	for _, a := range f.cols[j].atoms {
		alo, ahi := 0.0, 1.0
		if a.kind != atomLevel {
			var err error
			if alo, ahi, err = colBound(a.col); err != nil {
				return 0, 0, err
			}
		}
		switch a.kind {
		case atomLog:
			if alo <= 0 {
				return 0, 0, fmt.Errorf("log(%s) needs a positive lower bound", a.col)
			}
			alo, ahi = math.Log(alo), math.Log(ahi)
		case atomPower:
			k := float64(a.power)
			switch {
			case a.power%2 == 1 || alo >= 0:
				alo, ahi = math.Pow(alo, k), math.Pow(ahi, k)
			case ahi <= 0:
				alo, ahi = math.Pow(ahi, k), math.Pow(alo, k)
			default:
				alo, ahi = 0, math.Pow(max(-alo, ahi), k)
			}
		}
		c := []float64{lo * alo, lo * ahi, hi * alo, hi * ahi}
		lo, hi = min(c[0], c[1], c[2], c[3]), max(c[0], c[1], c[2], c[3])
	}
	return lo, hi, nil
}
