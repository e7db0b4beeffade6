package analysis_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/medchain/medchain/analysis"
)

func isCol(names ...string) func(string) bool {
	return func(s string) bool { return slices.Contains(names, s) }
}

var sexF = analysis.Factor{Column: "sex", Levels: []string{"female", "male"}}
var grpF = analysis.Factor{Column: "grp", Levels: []string{"a", "b", "c"}, Reference: "b"}

// The design columns are named and ordered as R's model.matrix names and
// orders them (treatment contrasts; terms by degree, then as written;
// factor levels pasted to the column name; the first factor of an
// interaction varying fastest; a factor whose margin is absent coded by
// an indicator per level). The R calls are given for each case.
func TestFormulaNamesAsR(t *testing.T) {
	cols := isCol("age", "sbp", "hdl", "sex", "grp", "smoker")
	for _, tc := range []struct {
		r        string // the R formula
		features []string
		factors  []analysis.Factor
		want     []string
	}{
		{"~ age*sex", []string{"age*sex"}, []analysis.Factor{sexF}, []string{"age", "sexmale", "age:sexmale"}},
		{"~ sex*age", []string{"sex*age"}, []analysis.Factor{sexF}, []string{"sexmale", "age", "sexmale:age"}},
		{"~ age:sbp", []string{"age:sbp"}, nil, []string{"age:sbp"}},
		{"~ age*sbp*hdl", []string{"age*sbp*hdl"}, nil,
			[]string{"age", "sbp", "hdl", "age:sbp", "age:hdl", "sbp:hdl", "age:sbp:hdl"}},
		{"~ age:sbp + age + log(hdl) + I(age^2)", []string{"age:sbp", "age", "log(hdl)", "I(age^2)"}, nil,
			[]string{"age", "log(hdl)", "I(age^2)", "age:sbp"}},
		{"~ age*sbp + age", []string{"age*sbp", "age"}, nil, []string{"age", "sbp", "age:sbp"}},
		{"~ grp (reference b)", []string{"grp"}, []analysis.Factor{grpF}, []string{"grpa", "grpc"}},
		{"~ sex*grp", []string{"sex*grp"}, []analysis.Factor{sexF, grpF},
			[]string{"sexmale", "grpa", "grpc", "sexmale:grpa", "sexmale:grpc"}},
		{"~ age + age:sex", []string{"age", "age:sex"}, []analysis.Factor{sexF}, []string{"age", "age:sexmale"}},
		{"~ sex/age, i.e. sex + sex:age", []string{"sex", "sex:age"}, []analysis.Factor{sexF}, []string{"sexmale", "sexfemale:age", "sexmale:age"}},
		{"~ sex:grp", []string{"sex:grp"}, []analysis.Factor{sexF, grpF},
			[]string{"sexfemale:grpa", "sexmale:grpa", "sexfemale:grpb", "sexmale:grpb", "sexfemale:grpc", "sexmale:grpc"}},
		{"~ smoker (a 0/1 column as a factor)", []string{"smoker"}, []analysis.Factor{{Column: "smoker", Levels: []string{"false", "true"}}},
			[]string{"smokertrue"}},
	} {
		f, err := analysis.ParseFormula(tc.features, tc.factors, cols)
		if err != nil {
			t.Errorf("%s: %v", tc.r, err)
			continue
		}
		if !slices.Equal(f.Names, tc.want) {
			t.Errorf("%s: columns %q, R has %q", tc.r, f.Names, tc.want)
		}
	}
}

func TestFormulaErrors(t *testing.T) {
	cols := isCol("age", "sex", "grp")
	for _, tc := range []struct {
		features []string
		factors  []analysis.Factor
		param    string
	}{
		{[]string{"log(sex)"}, []analysis.Factor{sexF}, "features[0]"},
		{[]string{"I(age^1)"}, nil, "features[0]"},
		{[]string{"I(age^x)"}, nil, "features[0]"},
		{[]string{"sqrt(age)"}, nil, "features[0]"},
		{[]string{"age:(sex"}, nil, "features[0]"},
		{[]string{"age", "age"}, nil, "features[1]"},
		{[]string{"age"}, []analysis.Factor{sexF}, "factors[0]"}, // declared, unused
		{[]string{"sex"}, []analysis.Factor{{Column: "sex", Levels: []string{"m"}}}, "factors[0].levels"},
		{[]string{"sex"}, []analysis.Factor{{Column: "sex", Levels: []string{"m", "m"}}}, "factors[0].levels[1]"},
		{[]string{"sex"}, []analysis.Factor{{Column: "sex", Levels: []string{"m", "f"}, Reference: "x"}}, "factors[0].reference"},
		{[]string{"sex"}, []analysis.Factor{sexF, sexF}, "factors[1].column"},
	} {
		_, err := analysis.ParseFormula(tc.features, tc.factors, cols)
		var pe *analysis.ParamError
		if !errors.As(err, &pe) || pe.Param != tc.param {
			t.Errorf("%q %+v: %v, want an error about %s", tc.features, tc.factors, err, tc.param)
		}
	}
}

// A factor fit is the fit on hand-made 0/1 columns: the same design, the
// same estimates, to the last bit. The code column is held as a
// dictionary (as the worker loads it) in an order unrelated to the
// levels, and rows outside the declared levels are left out as R leaves
// out NA.
func TestFactorFitEqualsDummyColumns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	n := 3000
	dict := []string{"c", "x", "a", "b"} // "x" is not a declared level
	age, code, y, da, dc := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	valid := make([]bool, n)
	keep := make([]bool, n)
	for i := range n {
		age[i] = 40 + 30*rng.Float64()
		k := rng.IntN(4)
		code[i], valid[i] = float64(k), rng.Float64() > 0.05
		lvl := dict[k]
		keep[i] = valid[i] && lvl != "x"
		if lvl == "a" {
			da[i] = 1
		}
		if lvl == "c" {
			dc[i] = 1
		}
		eta := -4 + 0.05*age[i] + 0.7*da[i] - 0.4*dc[i] + 0.02*age[i]*da[i]
		if rng.Float64() < 1/(1+math.Exp(-eta)) {
			y[i] = 1
		}
	}
	tbl, err := analysis.NewTable(
		analysis.Column{Name: "age", Values: age}, analysis.Column{Name: "grp", Values: code, Valid: valid, Levels: dict},
		analysis.Column{Name: "y", Values: y}, analysis.Column{Name: "grpa", Values: da}, analysis.Column{Name: "grpc", Values: dc},
		analysis.Column{Name: "in", Values: b2fs(keep)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "y", Features: []string{"age*grp"}, Factors: []analysis.Factor{grpF}})
	if err != nil {
		t.Fatal(err)
	}
	one := 1.0
	want, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "y", Features: []string{"age", "grpa", "grpc", "age:grpa", "age:grpc"},
		Filter: analysis.Filter{{Column: "in", Op: analysis.OpEq, Value: &one}}})
	if err != nil {
		t.Fatal(err)
	}
	if got.N != want.N || len(got.Coefficients) != len(want.Coefficients) {
		t.Fatalf("factor fit n=%d p=%d, dummy fit n=%d p=%d", got.N, len(got.Coefficients), want.N, len(want.Coefficients))
	}
	for j, c := range got.Coefficients {
		w := want.Coefficients[j]
		if c.Name != w.Name || c.Estimate != w.Estimate || c.SE != w.SE {
			t.Errorf("coefficient %d: factor fit %s %v (SE %v), dummy fit %s %v (SE %v)", j, c.Name, c.Estimate, c.SE, w.Name, w.Estimate, w.SE)
		}
	}
	// A code column is not a number: no filter, summary or plain feature.
	for _, p := range []analysis.RegressionParams{
		{Outcome: "y", Features: []string{"grp"}},
		{Outcome: "y", Features: []string{"age"}, Filter: analysis.Filter{{Column: "grp", Op: analysis.OpEq, Value: &one}}},
	} {
		_, err := analysis.Regress(tbl, p)
		var pe *analysis.ParamError
		if !errors.As(err, &pe) {
			t.Errorf("%+v: %v, want a parameter error", p, err)
		}
	}
	if _, err := analysis.Describe(tbl, analysis.DescribeParams{Variables: []analysis.Variable{{Column: "grp"}}}); err == nil {
		t.Error("a code column was summarised as numbers")
	}
	// The design counts each declared level, for the release rules.
	d, err := analysis.NewFactorDesign(tbl, "y", []string{"grp"}, []analysis.Factor{grpF}, nil)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, lc := range d.FactorLevels {
		if lc.Column != "grp" || !slices.Contains(grpF.Levels, lc.Level) || lc.N == 0 {
			t.Errorf("level count %+v", lc)
		}
		total += lc.N
	}
	if len(d.FactorLevels) != 3 || total != d.N() {
		t.Errorf("level counts %+v sum to %d, design has %d rows", d.FactorLevels, total, d.N())
	}
}

func b2fs(b []bool) []float64 {
	out := make([]float64, len(b))
	for i, v := range b {
		if v {
			out[i] = 1
		}
	}
	return out
}

// Three sites whose code column "grp" holds its texts in different
// dictionary orders (each worker loads its own) build the same design
// columns from the factor's levels, and their fit by masked sums (secure
// aggregation in miniature) is the fit of all their rows in one table.
func TestFederatedFactorFitEqualsPooled(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	dicts := [][]string{{"a", "b", "c"}, {"c", "a", "b"}, {"b", "c", "a"}}
	features, factors := []string{"age*grp"}, []analysis.Factor{grpF}
	var sites []*analysis.Design
	var allAge, allY, allG []float64
	for s, dict := range dicts {
		n := 900 + 200*s
		age, g, y := make([]float64, n), make([]float64, n), make([]float64, n)
		for i := range n {
			age[i] = (40 + 30*rng.Float64() - 55) / 10 // centred and scaled, as fixed point wants
			k := rng.IntN(3)
			g[i] = float64(k)
			eta := -1 + 0.4*age[i] + map[string]float64{"a": 0.5, "b": 0, "c": -0.6}[dict[k]]
			y[i] = b2f(rng.Float64() < 1/(1+math.Exp(-eta)))
			allAge, allY = append(allAge, age[i]), append(allY, y[i])
			allG = append(allG, float64(slices.Index(dicts[0], dict[k]))) // the pooled table uses site 0's order
		}
		tbl, err := analysis.NewTable(analysis.Column{Name: "age", Values: age}, analysis.Column{Name: "y", Values: y},
			analysis.Column{Name: "grp", Values: g, Levels: dict})
		if err != nil {
			t.Fatal(err)
		}
		d, err := analysis.NewFactorDesign(tbl, "y", features, factors, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s > 0 && !slices.Equal(d.Features, sites[0].Features) {
			t.Fatalf("site %d columns %q, site 0 %q", s, d.Features, sites[0].Features)
		}
		sites = append(sites, d)
	}
	pooledTbl, err := analysis.NewTable(analysis.Column{Name: "age", Values: allAge}, analysis.Column{Name: "y", Values: allY},
		analysis.Column{Name: "grp", Values: allG, Levels: dicts[0]})
	if err != nil {
		t.Fatal(err)
	}
	pooled, err := analysis.NewFactorDesign(pooledTbl, "y", features, factors, nil)
	if err != nil {
		t.Fatal(err)
	}
	fit, err := analysis.FitDesign(pooled, analysis.Logit, analysis.SolverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// 30 fraction bits, as studies encode steps (federated.FracBits): the
	// default 20 is too coarse for the solver's 1e-10 tolerance here.
	fed := federate(t, sites, analysis.Logit, maskedWith(t, rng, analysis.FixedPoint{FracBits: 30, MaxSites: 64}))
	if want := []string{"age", "grpa", "grpc", "age:grpa", "age:grpc"}; !slices.Equal(pooled.Features, want) {
		t.Errorf("columns %q, want %q", pooled.Features, want)
	}
	for j := range fed {
		if rel := math.Abs(fed[j]-fit.Beta[j]) / math.Abs(fit.Beta[j]); rel > 1e-6 {
			t.Errorf("β%d: federated %.12g, pooled %.12g (relative difference %.2g)", j, fed[j], fit.Beta[j], rel)
		}
	}
}
