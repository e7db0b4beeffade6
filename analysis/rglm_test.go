package analysis_test

import (
	"bufio"
	"encoding/csv"
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
			if v[i], err = strconv.ParseFloat(fs[2+i], 64); err != nil {
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
