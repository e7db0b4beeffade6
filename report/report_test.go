package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/gbt"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/report"
)

// fitted is a logistic regression of y on p features (long names, as
// factor levels and interactions make them), released by the output
// controls at a minimum cohort of 20.
func fitted(t testing.TB, p, n int) json.RawMessage {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(p), uint64(n)))
	cols := make([]analysis.Column, 0, p+1)
	names := make([]string, p)
	y := make([]float64, n)
	eta := make([]float64, n)
	for j := range p {
		names[j] = fmt.Sprintf("measurement_%02d:smoking_statusformer", j)
		if j%3 == 0 {
			names[j] = fmt.Sprintf("x%d", j)
		}
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64()
			eta[i] += 0.15 * float64(j%5-2) * x[i]
		}
		cols = append(cols, analysis.Column{Name: names[j], Values: x})
	}
	for i := range y {
		if rng.Float64() < 1/(1+math.Exp(-(eta[i]-1))) {
			y[i] = 1
		}
	}
	cols = append(cols, analysis.Column{Name: "y", Values: y})
	tbl, err := analysis.NewTable(cols...)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "y", Features: names})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := (&outputctl.Releaser{Policy: outputctl.Policy{MinCohort: 20, ExactRegression: true}}).ReleaseRegression(reg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(rel)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func result(dataset, kind string, release json.RawMessage) report.Result {
	return report.Result{Job: 7, Dataset: dataset, Version: 1, Analysis: "logistic_regression", Purpose: "research",
		ConsentModel: "opt_out", ConsentAsOf: 40, MinCohort: 20, ReleaseKind: kind, Release: release}
}

func render(t *testing.T, f report.Format, rs []report.Result, opts report.Options) (*report.Page, []byte) {
	t.Helper()
	var b bytes.Buffer
	page, err := report.Render(&b, f, rs, opts)
	if err != nil {
		t.Fatal(err)
	}
	return page, b.Bytes()
}

// overlaps lists the pairs of things on the page that overlap.
func overlaps(page *report.Page) []string {
	var out []string
	for i, a := range page.Boxes {
		for _, b := range page.Boxes[i+1:] {
			if a.MinX < b.MaxX-0.01 && b.MinX < a.MaxX-0.01 && a.MinY < b.MaxY-0.01 && b.MinY < a.MaxY-0.01 {
				out = append(out, fmt.Sprintf("%q and %q", a.What, b.What))
			}
		}
		if a.MinX < 0 || a.MaxX > page.Width || a.MinY < 0 || a.MaxY > page.Height {
			out = append(out, fmt.Sprintf("%q leaves the page", a.What))
		}
	}
	return out
}

// A pooled study's three sites release the same fit: the report shows it
// once, naming the three sites, with one table and one forest plot — and
// nothing on the page overlaps, the PNG is neither blank nor a solid block.
func TestPooledStudyIsOneSection(t *testing.T) {
	rel := fitted(t, 8, 3000)
	// The same release re-encoded with its keys in another order is still
	// the same release.
	var v map[string]any
	json.Unmarshal(rel, &v)
	again, _ := json.MarshalIndent(v, "", "  ")
	rs := []report.Result{result("st-mary-cvd", "pooled_regression", rel), result("northside-cvd", "pooled_regression", again),
		result("lakeview-cvd", "pooled_regression", rel)}
	page, img := render(t, report.PNG, rs, report.Options{})
	var headers, forests int
	var texts []string
	for _, b := range page.Boxes {
		texts = append(texts, b.What)
		switch {
		case b.What == "term":
			headers++
		case b.What == "plot: odds ratio forest plot":
			forests++
		}
	}
	titles := strings.Count(strings.Join(texts, " "), "pooled over 3 sites: st-mary-cvd (v1), northside-cvd (v1), lakeview-cvd (v1)")
	if titles != 1 || headers != 1 || forests != 1 {
		t.Errorf("%d titles, %d tables, %d forest plots; want one of each", titles, headers, forests)
	}
	if o := overlaps(page); len(o) > 0 {
		t.Errorf("overlapping: %s", strings.Join(o, "; "))
	}
	checkPNG(t, img, page)
}

// checkPNG decodes the image: it is the page's size at 144 dpi, and
// between 1% and 50% of its pixels are not white.
func checkPNG(t *testing.T, img []byte, page *report.Page) {
	t.Helper()
	m, err := png.Decode(bytes.NewReader(img))
	if err != nil {
		t.Fatal(err)
	}
	b := m.Bounds()
	if w, h := math.Round(page.Width*2), math.Round(page.Height*2); math.Abs(float64(b.Dx())-w) > 1 || math.Abs(float64(b.Dy())-h) > 1 {
		t.Errorf("image %dx%d, page %.0fx%.0f points at 144 dpi", b.Dx(), b.Dy(), page.Width, page.Height)
	}
	inked := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := m.At(x, y).RGBA()
			if r < 0xf000 || g < 0xf000 || bl < 0xf000 {
				inked++
			}
		}
	}
	frac := float64(inked) / float64(b.Dx()*b.Dy())
	if frac < 0.01 || frac > 0.5 {
		t.Errorf("%.1f%% of the image is inked", 100*frac)
	}
}

// Thirty terms with long names (interactions of factor levels): the
// table shrinks its font to fit the page, the forest plot grows with the
// terms, and nothing overlaps.
func TestThirtyTermsFit(t *testing.T) {
	page, img := render(t, report.PNG, []report.Result{result("st-mary-cvd", "regression", fitted(t, 30, 4000))}, report.Options{})
	if o := overlaps(page); len(o) > 0 {
		t.Errorf("overlapping: %s", strings.Join(o, "; "))
	}
	rows := 0
	for _, b := range page.Boxes {
		if strings.HasPrefix(b.What, "measurement_") || strings.HasPrefix(b.What, "x") && len(b.What) <= 3 {
			rows++
		}
	}
	if rows != 30 {
		t.Errorf("%d term rows in the table, want 30", rows)
	}
	checkPNG(t, img, page)
}

// Effects per 10 units: the table shows 10·β and exp(10·β); a term no
// regression has, or a unit that is not positive, is an error that names
// the option.
func TestPerUnit(t *testing.T) {
	raw := fitted(t, 3, 2000)
	var rel outputctl.RegressionRelease
	json.Unmarshal(raw, &rel)
	c := rel.Regression.Coefficients[1] // x0
	page, _ := render(t, report.PNG, []report.Result{result("d", "regression", raw)}, report.Options{Per: map[string]float64{"x0": 10}})
	want := map[string]bool{"x0 (per 10)": false}
	for _, b := range page.Boxes {
		if _, ok := want[b.What]; ok {
			want[b.What] = true
		}
	}
	if !want["x0 (per 10)"] {
		t.Errorf("no row for x0 per 10 units")
	}
	ratio := math.Exp(10 * c.Estimate)
	found := false
	for _, b := range page.Boxes {
		if strings.HasPrefix(b.What, strings.Replace(strconvG4(ratio), "-", "−", 1)+" (") {
			found = true
		}
	}
	if !found {
		t.Errorf("no odds ratio %.4g per 10 units on the page", ratio)
	}
	var e *report.Error
	if _, err := report.Render(&bytes.Buffer{}, report.PNG, []report.Result{result("d", "regression", raw)}, report.Options{Per: map[string]float64{"agee": 10}}); !errors.As(err, &e) || e.Where != "--per agee" {
		t.Errorf("unknown term: %v", err)
	}
	if _, err := report.Render(&bytes.Buffer{}, report.PNG, []report.Result{result("d", "regression", raw)}, report.Options{Per: map[string]float64{"x0": -1}}); !errors.As(err, &e) {
		t.Errorf("negative unit: %v", err)
	}
}

func strconvG4(v float64) string { return fmt.Sprintf("%.4g", v) }

func TestPValue(t *testing.T) {
	for p, want := range map[float64]string{
		0.5: "0.5", 0.0123: "0.0123", 0.001: "0.001", 3.6e-69: "3.60e-69", 8.4e-168: "8.40e-168", 0: "< 5e-324", math.NaN(): "—",
	} {
		if got := report.PValue(p); got != want {
			t.Errorf("PValue(%g) = %q, want %q", p, got, want)
		}
	}
}

func TestBinormalROC(t *testing.T) {
	pts := report.BinormalROC(0.75, 2000)
	if pts[0] != (analysis.ROCPoint{}) || pts[len(pts)-1] != (analysis.ROCPoint{FPR: 1, TPR: 1}) {
		t.Fatalf("ends %+v %+v", pts[0], pts[len(pts)-1])
	}
	var area float64
	for i := 1; i < len(pts); i++ {
		if pts[i].TPR < pts[i-1].TPR {
			t.Fatalf("not monotone at %d", i)
		}
		area += (pts[i].FPR - pts[i-1].FPR) * (pts[i].TPR + pts[i-1].TPR) / 2
	}
	if math.Abs(area-0.75) > 2e-3 {
		t.Fatalf("area under the binormal curve %.4f, want 0.75", area)
	}
	if report.BinormalROC(0, 10) != nil || report.BinormalROC(1, 10) != nil {
		t.Fatal("degenerate AUC should give no curve")
	}
}

// The ROC panel draws the released empirical curve when the release
// carries one; with the curve withheld (few events) it draws the binormal
// curve of the AUC and says why.
func TestROCPanel(t *testing.T) {
	raw := fitted(t, 3, 2000)
	titles := func(raw json.RawMessage) []string {
		page, _ := render(t, report.SVG, []report.Result{result("d", "regression", raw)}, report.Options{})
		var out []string
		for _, b := range page.Boxes {
			if strings.HasPrefix(b.What, "plot: ") {
				out = append(out, strings.TrimPrefix(b.What, "plot: "))
			}
		}
		return out
	}
	got := strings.Join(titles(raw), " | ")
	if !strings.Contains(got, "ROC, as released (AUC") || !strings.Contains(got, "Calibration line") {
		t.Errorf("panels %q", got)
	}
	var v map[string]any
	json.Unmarshal(raw, &v)
	delete(v["regression"].(map[string]any), "roc")
	v["roc_suppressed"] = true
	withheld, _ := json.Marshal(v)
	if got := strings.Join(titles(withheld), " | "); !strings.Contains(got, "binormal; empirical curve withheld: few events") {
		t.Errorf("panels without the curve %q", got)
	}
}

// Counts, cross-tabulations and descriptions are tables, with withheld
// cells said in words; SVG and PDF render too.
func TestOtherReleases(t *testing.T) {
	n, small := int64(1234), int64(40)
	cnt, _ := json.Marshal(outputctl.CountRelease{N: outputctl.Cell{Count: &n}})
	xt, _ := json.Marshal(outputctl.CrossTabRelease{RowColumn: "sex", RowLabels: []string{"female", "male"}, ColColumn: "smoker", ColLabels: []string{"0", "1"},
		Cells:     [][]outputctl.Cell{{{Count: &n}, {Suppressed: true}}, {{Count: &small}, {Count: &small}}},
		RowTotals: []outputctl.Cell{{Count: &n}, {Count: &small}}, ColTotals: []outputctl.Cell{{Count: &n}, {Suppressed: true}}, Total: outputctl.Cell{Count: &n}})
	mean := 54.2
	desc, _ := json.Marshal(outputctl.DescriptionRelease{N: outputctl.Cell{Count: &n}, Variables: []outputctl.SummaryRelease{
		{Column: "age", N: outputctl.Cell{Count: &n}, Mean: outputctl.Value{Value: &mean}, SD: outputctl.Value{Suppressed: true}}}})
	rs := []report.Result{result("a", "count", cnt), result("a", "crosstab", xt), result("a", "description", desc)}
	for _, f := range []report.Format{report.PNG, report.SVG} {
		page, out := render(t, f, rs, report.Options{})
		if len(out) < 500 || (f == report.SVG) != bytes.HasPrefix(bytes.TrimSpace(out), []byte("<?xml")) {
			t.Errorf("%s: %d bytes", f, len(out))
		}
		var texts []string
		for _, b := range page.Boxes {
			texts = append(texts, b.What)
		}
		all := strings.Join(texts, "|")
		for _, want := range []string{"Cohort: n = 1,234", "sex \\ smoker", "withheld", "54.2", "age"} {
			if !strings.Contains(all, want) {
				t.Errorf("%s: %q not on the page: %s", f, want, all)
			}
		}
		if o := overlaps(page); len(o) > 0 {
			t.Errorf("%s overlapping: %s", f, strings.Join(o, "; "))
		}
	}
	if _, err := report.FormatOf("report.jpeg"); err == nil {
		t.Error("a .jpeg file name was accepted")
	}
}

func BenchmarkForestPlot30Terms(b *testing.B) {
	rs := []report.Result{result("st-mary-cvd", "regression", fitted(b, 30, 4000))}
	for b.Loop() {
		if _, err := report.Render(&bytes.Buffer{}, report.PNG, rs, report.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// A tree model is a summary and a table of its features.
func TestTreesReport(t *testing.T) {
	rel, _ := json.Marshal(outputctl.TreesRelease{N: 5000, Events: 600, AUC: 0.74, Model: gbt.Model{
		Features: []string{"age", "sbp"}, Bounds: []analysis.Bounds{{Lower: 18, Upper: 90}, {Lower: 80, Upper: 220}}, Bins: 32,
		Trees: []gbt.Tree{{Nodes: []gbt.Node{{Feature: 1, Bin: 12, Left: 1, Right: 2}, {Leaf: true, Value: -0.1}, {Leaf: true, Value: 0.2}}}}}})
	page, _ := render(t, report.PNG, []report.Result{result("d", "boosted_trees", rel)}, report.Options{})
	var texts []string
	for _, b := range page.Boxes {
		texts = append(texts, b.What)
	}
	all := strings.Join(texts, " ")
	for _, want := range []string{"1 trees (deepest 1, 2 leaves", "training AUC 0.740", "sbp", "80 to 220"} {
		if !strings.Contains(all, want) {
			t.Errorf("%q not on the page: %s", want, all)
		}
	}
	if o := overlaps(page); len(o) > 0 {
		t.Errorf("overlapping: %s", strings.Join(o, "; "))
	}
}

// A survival release: the curves as released (a withheld group said in
// words), the log-rank test, the Cox model's table and forest plot.
func TestSurvivalReport(t *testing.T) {
	c1, c2 := int64(12), int64(9)
	conc := 0.71
	rel, _ := json.Marshal(outputctl.SurvivalRelease{Grid: []float64{5, 10}, Curves: []outputctl.CurveRelease{
		{Group: "false", Points: []outputctl.CurvePoint{{Time: 5, NRisk: 400, NEvent: 30, NCensor: &c1, Surv: 0.925, Lower: 0.90, Upper: 0.95}, {Time: 10, NRisk: 358, NEvent: 25, Surv: 0.86, Lower: 0.82, Upper: 0.89}}},
		{Group: "true", Points: []outputctl.CurvePoint{{Time: 5, NRisk: 150, NEvent: 20, NCensor: &c2, Surv: 0.87, Lower: 0.81, Upper: 0.91}}, Truncated: true},
		{Group: "unknown", Withheld: true},
	}, LogRank: &analysis.LogRank{Groups: []string{"false", "true"}, Chisq: 6.2, DF: 1, P: 0.0128},
		Cox: &analysis.CoxFit{Ties: "efron", N: 550, Events: 75, Concordance: &conc, Coefficients: []analysis.Coefficient{
			// As analysis.Cox releases them: every coefficient with its hazard ratio.
			{Name: "age", Estimate: 0.05, SE: 0.01, Stat: 5, P: 5.7e-7, Lower: 0.03, Upper: 0.07, Ratio: &analysis.Interval{Estimate: 1.0513, Lower: 1.0305, Upper: 1.0725}},
			{Name: "smoker", Estimate: 0.4, SE: 0.2, Stat: 2, P: 0.0455, Lower: 0.008, Upper: 0.79, Ratio: &analysis.Interval{Estimate: 1.4918, Lower: 1.008, Upper: 2.2034}}}}})
	page, _ := render(t, report.PNG, []report.Result{result("d", "survival", rel)}, report.Options{Per: map[string]float64{"age": 10}})
	var texts []string
	for _, b := range page.Boxes {
		texts = append(texts, b.What)
	}
	all := strings.Join(texts, " | ")
	for _, want := range []string{"plot: Kaplan–Meier survival, released at the grid", "unknown: withheld", "true: stops at 5",
		"Log-rank test of false vs true", "age (per 10)", "1.649 (1.35 to 2.014)", "plot: hazard ratio forest plot", "0.925 (0.900 to 0.950)"} {
		if !strings.Contains(all, want) {
			t.Errorf("%q not on the page: %s", want, all)
		}
	}
	if o := overlaps(page); len(o) > 0 {
		t.Errorf("overlapping: %s", strings.Join(o, "; "))
	}
}
