package analysis_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
)

func ptr(v float64) *float64 { return &v }

// A small cohort: age, sex (0/1), cholesterol with two nulls.
func cohort(t *testing.T) *analysis.Table {
	return table(t,
		analysis.Column{Name: "age", Values: []float64{34, 45, 52, 61, 70, 48, 39, 66, 58, 44}},
		analysis.Column{Name: "sex", Values: []float64{0, 1, 1, 0, 1, 0, 0, 1, 1, 0}},
		analysis.Column{Name: "chol", Values: []float64{180, 0, 240, 210, 0, 195, 170, 260, 230, 200},
			Valid: []bool{true, false, true, true, false, true, true, true, true, true}},
	)
}

func TestNewTableRefusesBadColumns(t *testing.T) {
	for name, cols := range map[string][]analysis.Column{
		"no columns":     nil,
		"unnamed":        {{Values: []float64{1}}},
		"duplicate":      {{Name: "a", Values: []float64{1}}, {Name: "a", Values: []float64{2}}},
		"lengths differ": {{Name: "a", Values: []float64{1, 2}}, {Name: "b", Values: []float64{1}}},
		"mask length":    {{Name: "a", Values: []float64{1, 2}, Valid: []bool{true}}},
		"NaN value":      {{Name: "a", Values: []float64{1, math.NaN()}}},
		"infinite value": {{Name: "a", Values: []float64{math.Inf(1)}}},
	} {
		if _, err := analysis.NewTable(cols...); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// A NaN in a null row is just a null.
	if _, err := analysis.NewTable(analysis.Column{Name: "a", Values: []float64{1, math.NaN()}, Valid: []bool{true, false}}); err != nil {
		t.Errorf("NaN in a null row: %v", err)
	}
}

func TestFilterOperators(t *testing.T) {
	tbl := cohort(t)
	for _, tc := range []struct {
		f    analysis.Condition
		want int64
	}{
		{analysis.Condition{Column: "sex", Op: analysis.OpEq, Value: ptr(1)}, 5},
		{analysis.Condition{Column: "sex", Op: analysis.OpNe, Value: ptr(1)}, 5},
		{analysis.Condition{Column: "age", Op: analysis.OpLt, Value: ptr(45)}, 3},
		{analysis.Condition{Column: "age", Op: analysis.OpLe, Value: ptr(45)}, 4},
		{analysis.Condition{Column: "age", Op: analysis.OpGt, Value: ptr(61)}, 2},
		{analysis.Condition{Column: "age", Op: analysis.OpGe, Value: ptr(61)}, 3},
		{analysis.Condition{Column: "age", Op: analysis.OpBetween, Values: []float64{45, 61}}, 5},
		{analysis.Condition{Column: "age", Op: analysis.OpIn, Values: []float64{34, 70, 99}}, 2},
		// Nulls match nothing, not even "!=".
		{analysis.Condition{Column: "chol", Op: analysis.OpNe, Value: ptr(-1)}, 8},
		{analysis.Condition{Column: "chol", Op: analysis.OpGe, Value: ptr(0)}, 8},
	} {
		got, err := analysis.Count(tbl, analysis.CountParams{Filter: analysis.Filter{tc.f}})
		if err != nil {
			t.Fatalf("%+v: %v", tc.f, err)
		}
		if got.N != tc.want {
			t.Errorf("%s %s: %d rows, want %d", tc.f.Column, tc.f.Op, got.N, tc.want)
		}
	}
	// Conditions are a conjunction.
	got, err := analysis.Count(tbl, analysis.CountParams{Filter: analysis.Filter{
		{Column: "sex", Op: analysis.OpEq, Value: ptr(1)},
		{Column: "age", Op: analysis.OpGe, Value: ptr(55)},
	}})
	if err != nil || got.N != 3 {
		t.Errorf("sex = 1 and age ≥ 55: %d, %v; want 3", got.N, err)
	}
}

// A bad parameter names itself and says why, and no data value appears.
func TestParameterErrorsSayWhichAndWhy(t *testing.T) {
	tbl := cohort(t)
	for _, tc := range []struct {
		f     analysis.Filter
		param string
		why   string
	}{
		{analysis.Filter{{Column: "weight", Op: analysis.OpEq, Value: ptr(1)}}, "filter[0].column", "no column"},
		{analysis.Filter{{Column: "age", Op: "~", Value: ptr(1)}}, "filter[0].op", "unknown operator"},
		{analysis.Filter{{Column: "age", Op: analysis.OpGe}}, "filter[0].value", "needs a value"},
		{analysis.Filter{{Column: "age", Op: analysis.OpBetween, Values: []float64{60}}}, "filter[0].values", "exactly two"},
		{analysis.Filter{{Column: "age", Op: analysis.OpBetween, Values: []float64{60, 40}}}, "filter[0].values", "above high"},
		{analysis.Filter{{Column: "age", Op: analysis.OpIn}}, "filter[0].values", "non-empty list"},
		{analysis.Filter{{Column: "age", Op: analysis.OpEq, Value: ptr(1)}, {Op: analysis.OpEq, Value: ptr(1)}}, "filter[1].column", "empty"},
	} {
		_, err := analysis.Count(tbl, analysis.CountParams{Filter: tc.f})
		var pe *analysis.ParamError
		if !errors.As(err, &pe) || pe.Param != tc.param || !strings.Contains(pe.Reason, tc.why) {
			t.Errorf("%+v: got %v; want parameter %s: …%s…", tc.f, err, tc.param, tc.why)
		}
	}
}

func TestCrossTabulate(t *testing.T) {
	tbl := cohort(t)
	ct, err := analysis.CrossTabulate(tbl, analysis.CrossTabParams{
		Rows: analysis.Dimension{Column: "age", Breaks: []float64{30, 45, 60, 70}},
		Cols: &analysis.Dimension{Column: "sex", Levels: []float64{0, 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// Ages 34 39 44 | 45 48 52 58 | 61 66 70: the last bin is closed, so 70
	// is in it.
	want := [][]int64{{3, 0}, {1, 3}, {1, 2}}
	for i := range want {
		for j := range want[i] {
			if ct.Counts[i][j] != want[i][j] {
				t.Fatalf("counts %v, want %v", ct.Counts, want)
			}
		}
	}
	if got := strings.Join(ct.RowLabels, " "); got != "[30, 45) [45, 60) [60, 70]" {
		t.Errorf("row labels %q", got)
	}
	if ct.Total != 10 || ct.RowTotals[1] != 4 || ct.ColTotals[1] != 5 {
		t.Errorf("margins %v %v %d", ct.RowTotals, ct.ColTotals, ct.Total)
	}
	// One way, with a filter; values outside the levels are left out.
	ct, err = analysis.CrossTabulate(tbl, analysis.CrossTabParams{
		Filter: analysis.Filter{{Column: "age", Op: analysis.OpGe, Value: ptr(45)}},
		Rows:   analysis.Dimension{Column: "sex", Levels: []float64{1}},
	})
	if err != nil || ct.Total != 5 || len(ct.ColLabels) != 1 {
		t.Errorf("one-way: %+v, %v", ct, err)
	}
	for _, bad := range []analysis.Dimension{
		{Column: "age"},
		{Column: "age", Levels: []float64{1}, Breaks: []float64{1, 2}},
		{Column: "age", Breaks: []float64{1}},
		{Column: "age", Breaks: []float64{1, 1}},
		{Column: "age", Levels: []float64{2, 2}},
	} {
		if _, err := analysis.CrossTabulate(tbl, analysis.CrossTabParams{Rows: bad}); err == nil {
			t.Errorf("dimension %+v accepted", bad)
		}
	}
}

func TestDescribe(t *testing.T) {
	tbl := cohort(t)
	d, err := analysis.Describe(tbl, analysis.DescribeParams{Variables: []analysis.Variable{
		{Column: "age"},
		{Column: "chol", Bounds: &analysis.Bounds{Lower: 100, Upper: 300}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	age := d.Variables[0]
	// Ages sum to 517; SD by hand: Σ(x−51.7)² = 1258.1, /9, √ = 11.823235.
	if age.N != 10 || age.Missing != 0 || math.Abs(age.Mean-51.7) > 1e-12 || math.Abs(age.SD-11.823235) > 1e-6 {
		t.Errorf("age: %+v", age)
	}
	// Sorted ages 34 39 44 45 48 52 58 61 66 70; type-7 median at h = 4.5:
	// (48+52)/2 = 50; 5% at h = 0.45: 34 + 0.45·5 = 36.25.
	if age.Quantiles[2].Value != 50 || math.Abs(age.Quantiles[0].Value-36.25) > 1e-12 {
		t.Errorf("age quantiles %+v", age.Quantiles)
	}
	chol := d.Variables[1]
	if chol.N != 8 || chol.Missing != 2 || chol.Bounded == nil {
		t.Fatalf("chol: %+v", chol)
	}
	// The grid has step 0.2 around 200: 180 → −100, 240 → 200, …
	b := chol.Bounded
	var sum int64
	for _, v := range []float64{180, 240, 210, 195, 170, 260, 230, 200} {
		sum += int64(math.Round((v - 200) / 0.2))
	}
	if b.N != 8 || b.Sum != sum {
		t.Errorf("bounded sums: n %d sum %d, want 8 and %d", b.N, b.Sum, sum)
	}
	if _, err := analysis.Describe(tbl, analysis.DescribeParams{Variables: []analysis.Variable{{Column: "age", Bounds: &analysis.Bounds{Lower: 5, Upper: 5}}}}); err == nil {
		t.Error("empty bounds accepted")
	}
}

// Where keeps only the rows of consenting patients, for every analysis.
func TestWhereRestrictsEveryAnalysis(t *testing.T) {
	tbl := cohort(t)
	consent := []bool{true, true, true, true, true, false, false, false, false, false}
	sub, err := tbl.Where(consent)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := analysis.Count(sub, analysis.CountParams{})
	d, _ := analysis.Describe(sub, analysis.DescribeParams{Variables: []analysis.Variable{{Column: "age"}}})
	if c.N != 5 || d.N != 5 || d.Variables[0].Mean != (34+45+52+61+70)/5.0 || sub.Kept() != 5 || tbl.Kept() != 10 {
		t.Errorf("count %d, describe n %d mean %v", c.N, d.N, d.Variables[0].Mean)
	}
}
