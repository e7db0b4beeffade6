package analysis_test

import (
	"bufio"
	"encoding/csv"
	"errors"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
)

// rRows reads testdata/r/glm_rows.csv (synthetic) as a table: sex and
// smoking as code columns with their levels in the order the R script
// declares them.
func rRows(t *testing.T) *analysis.Table {
	t.Helper()
	f, err := os.Open("testdata/r/glm_rows.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	levels := map[string][]string{"sex": {"female", "male"}, "smoking": {"never", "former", "current"}}
	header := recs[0]
	cols := make([]analysis.Column, len(header))
	for j, name := range header {
		cols[j] = analysis.Column{Name: name, Values: make([]float64, len(recs)-1), Levels: levels[name]}
	}
	for i, rec := range recs[1:] {
		for j, s := range rec {
			if lv := levels[header[j]]; lv != nil {
				k := slices.Index(lv, s)
				if k < 0 {
					t.Fatalf("row %d: %s = %q is not a level", i+2, header[j], s)
				}
				cols[j].Values[i] = float64(k)
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("row %d, %s: %v", i+2, header[j], err)
			}
			cols[j].Values[i] = v
		}
	}
	tbl, err := analysis.NewTable(cols...)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

type rCoef struct {
	term                string
	est, se, stat, pval float64
}

// rReference reads testdata/r/glm_reference.tsv, written by glm.R.
func rReference(t *testing.T) map[string][]rCoef {
	t.Helper()
	f, err := os.Open("testdata/r/glm_reference.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]rCoef{}
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fs := strings.Split(sc.Text(), "\t")
		if len(fs) != 6 {
			t.Fatalf("reference line %q", sc.Text())
		}
		var v [4]float64
		for i := range v {
			if fs[2+i] == "NA" {
				v[i] = math.NaN()
			} else if v[i], err = strconv.ParseFloat(fs[2+i], 64); err != nil {
				t.Fatal(err)
			}
		}
		out[fs[0]] = append(out[fs[0]], rCoef{fs[1], v[0], v[1], v[2], v[3]})
	}
	return out
}

// Fits of the same synthetic rows as R 4.2's glm and lm (the script and
// its output are in testdata/r): terms named and ordered as R names them
// (factor levels by treatment coding, `a:b` interactions, `a*b` as main
// effects and interaction, interactions after main effects, a chosen
// reference level), estimates, standard errors and statistics to 1e-6
// relative, p-values to 1e-6 relative — down to 7e-291.
func TestRegressionMatchesR(t *testing.T) {
	tbl := rRows(t)
	ref := rReference(t)
	sex := analysis.Factor{Column: "sex", Levels: []string{"female", "male"}}
	smoking := analysis.Factor{Column: "smoking", Levels: []string{"never", "former", "current"}}
	models := []struct {
		name string
		p    analysis.RegressionParams
	}{
		{"logit_terms", analysis.RegressionParams{Outcome: "cvd_10y", Features: []string{"age*sex", "smoking", "sbp", "total_chol", "hdl", "diabetes"},
			Factors: []analysis.Factor{sex, smoking}}},
		{"logit_colon", analysis.RegressionParams{Outcome: "cvd_10y", Features: []string{"age", "sex", "age:smoking", "bmi"},
			Factors: []analysis.Factor{sex, smoking}}},
		{"cloglog", analysis.RegressionParams{Outcome: "cvd_10y", Features: []string{"age", "sbp", "diabetes"}, Link: analysis.CLogLog}},
		{"linear", analysis.RegressionParams{Outcome: "sbp", Features: []string{"age", "sex", "smoking", "bmi"}, Link: analysis.Identity,
			Factors: []analysis.Factor{sex, smoking}}},
		{"logit_reference", analysis.RegressionParams{Outcome: "cvd_10y", Features: []string{"age", "smoking"},
			Factors: []analysis.Factor{{Column: "smoking", Levels: smoking.Levels, Reference: "current"}}}},
		// Robust (HC0 sandwich) standard errors: R's sandwich::vcovHC(type
		// = "HC0"), computed in glm.R without the package.
		{"logit_terms_hc0", analysis.RegressionParams{Outcome: "cvd_10y", Features: []string{"age*sex", "smoking", "sbp", "total_chol", "hdl", "diabetes"},
			Factors: []analysis.Factor{sex, smoking}, Robust: true}},
		{"cloglog_hc0", analysis.RegressionParams{Outcome: "cvd_10y", Features: []string{"age", "sbp", "diabetes"}, Link: analysis.CLogLog, Robust: true}},
		{"linear_hc0", analysis.RegressionParams{Outcome: "sbp", Features: []string{"age", "sex", "smoking", "bmi"}, Link: analysis.Identity,
			Factors: []analysis.Factor{sex, smoking}, Robust: true}},
	}
	rel := func(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-300) }
	for _, m := range models {
		t.Run(m.name, func(t *testing.T) {
			want := ref[m.name]
			reg, err := analysis.Regress(tbl, m.p)
			if err != nil {
				t.Fatal(err)
			}
			var got, names []string
			for _, c := range reg.Coefficients {
				got = append(got, c.Name)
			}
			for _, w := range want {
				names = append(names, strings.Replace(w.term, "(Intercept)", "intercept", 1))
			}
			if !slices.Equal(got, names) {
				t.Fatalf("terms %q, R %q", got, names)
			}
			worst := 0.0
			defer func() { t.Logf("largest relative difference from R: %.2g", worst) }()
			for i, w := range want {
				c := reg.Coefficients[i]
				for _, x := range []struct {
					what      string
					got, want float64
				}{{"estimate", c.Estimate, w.est}, {"SE", c.SE, w.se}, {"statistic", c.Stat, w.stat}, {"p", c.P, w.pval}} {
					r := rel(x.got, x.want)
					worst = math.Max(worst, r)
					if r > 1e-6 {
						t.Errorf("%s %s: %.12g, R %.12g (relative difference %.2g)", names[i], x.what, x.got, x.want, r)
					}
				}
			}
		})
	}
}

// Likelihood-ratio tests of nested models (R's anova(reduced, full,
// test = "LRT")) and the F test for least squares (anova(reduced, full)):
// the statistic, its degrees of freedom and p to 1e-6 relative. Dropping
// "age*sex" drops age, sex and age:sex; a term the model does not have is
// refused, naming the parameter.
func TestLikelihoodRatioMatchesR(t *testing.T) {
	tbl := rRows(t)
	ref := rReference(t)
	sex := analysis.Factor{Column: "sex", Levels: []string{"female", "male"}}
	smoking := analysis.Factor{Column: "smoking", Levels: []string{"never", "former", "current"}}
	logit := analysis.RegressionParams{Outcome: "cvd_10y", Features: []string{"age*sex", "smoking", "sbp", "total_chol", "hdl", "diabetes"},
		Factors: []analysis.Factor{sex, smoking}}
	linear := analysis.RegressionParams{Outcome: "sbp", Features: []string{"age", "sex", "smoking", "bmi"}, Link: analysis.Identity,
		Factors: []analysis.Factor{sex, smoking}}
	for _, tc := range []struct {
		name string
		p    analysis.RegressionParams
		drop []string
	}{
		{"lrt_smoking", logit, []string{"smoking"}},
		{"lrt_age_sex", logit, []string{"age*sex"}},
		{"f_smoking", linear, []string{"smoking"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.p.LRTDrop = tc.drop
			reg, err := analysis.Regress(tbl, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			w := ref[tc.name][0]
			lr := reg.LRT
			if lr == nil || lr.Test != w.term || float64(lr.DF) != w.se {
				t.Fatalf("test %+v, R %+v", lr, w)
			}
			if tc.name == "f_smoking" && float64(lr.DFResid) != w.stat {
				t.Errorf("residual df %d, R %v", lr.DFResid, w.stat)
			}
			for _, x := range []struct {
				what      string
				got, want float64
			}{{"statistic", lr.Statistic, w.est}, {"p", lr.P, w.pval}} {
				if r := math.Abs(x.got-x.want) / math.Abs(x.want); r > 1e-6 {
					t.Errorf("%s: %.12g, R %.12g (relative difference %.2g)", x.what, x.got, x.want, r)
				}
			}
		})
	}
	logit.LRTDrop = []string{"bmi"}
	var pe *analysis.ParamError
	if _, err := analysis.Regress(tbl, logit); !errors.As(err, &pe) || pe.Param != "lrt_drop[0]" {
		t.Errorf("dropping a term the model lacks: %v", err)
	}
}
