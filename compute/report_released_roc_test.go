package compute_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/outputctl"
)

// A fitted logistic regression, released by the output controls, is drawn
// with its released empirical curve; with too few events the curve is
// withheld and the report falls back to the binormal curve, saying why.
func TestReportRendersReleasedROC(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	x, y := make([]float64, 1000), make([]float64, 1000)
	for i := range x {
		x[i] = rng.NormFloat64()
		if rng.Float64() < 1/(1+math.Exp(-(1.5*x[i]-1))) {
			y[i] = 1
		}
	}
	tbl, err := analysis.NewTable(analysis.Column{Name: "x", Values: x}, analysis.Column{Name: "y", Values: y})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "y", Features: []string{"x"}})
	if err != nil {
		t.Fatal(err)
	}
	render := func(minCohort int64) (string, outputctl.RegressionRelease) {
		rel, err := (&outputctl.Releaser{Policy: outputctl.Policy{MinCohort: minCohort}}).ReleaseRegression(reg)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(rel)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := compute.RenderSVG(&b, []*compute.Result{{Job: 1, Analysis: "logistic_regression", Dataset: "d", ReleaseKind: "regression", Release: raw}}); err != nil {
			t.Fatal(err)
		}
		return b.String(), rel
	}

	svg, rel := render(50)
	if len(rel.Regression.ROC) != analysis.ROCGridSteps+1 {
		t.Fatalf("curve not released: %+v", rel)
	}
	if !strings.Contains(svg, fmt.Sprintf("ROC curve (AUC = %.3f): empirical", reg.AUC)) || strings.Contains(svg, "binormal") {
		t.Fatalf("released ROC not drawn:\n%s", svg)
	}
	// The path is the released points (from the origin), in the panel's
	// coordinates: x = 60 + 220·FPR, y = top + 220·(1 − TPR).
	i := strings.Index(svg, `<path d="`)
	if i < 0 {
		t.Fatalf("no ROC path:\n%s", svg)
	}
	d := svg[i+len(`<path d="`):]
	d = d[:strings.IndexByte(d, '"')]
	pts := strings.Fields(d)
	want := len(rel.Regression.ROC)
	if rel.Regression.ROC[0].TPR > 0 {
		want++
	}
	if len(pts) != want {
		t.Fatalf("path has %d points, release %d: %s", len(pts), len(rel.Regression.ROC), d)
	}
	var x0, yBottom, x1, yTop float64
	fmt.Sscanf(pts[0], "M%f,%f", &x0, &yBottom)
	fmt.Sscanf(pts[len(pts)-1], "L%f,%f", &x1, &yTop)
	if x0 != 60 || x1 != 280 || yBottom-yTop != 220 {
		t.Fatalf("path does not run from (0,0) to (1,1): %s", d)
	}
	mid := rel.Regression.ROC[10] // FPR 0.5
	var px, py float64
	fmt.Sscanf(pts[len(pts)-11], "L%f,%f", &px, &py)
	if px != 170 || math.Abs(py-(yBottom-220*mid.TPR)) > 0.11 {
		t.Fatalf("point at FPR 0.5 drawn at (%v, %v), released TPR %v", px, py, mid.TPR)
	}

	// Events and non-events are not both ≥ a minimum cohort of 400: the
	// curve is withheld, and the report says so.
	svg, rel = render(400)
	if rel.Regression.ROC != nil || !rel.ROCSuppressed {
		t.Fatalf("curve released below the threshold: %+v", rel)
	}
	if !strings.Contains(svg, "equal-variance binormal model; the empirical curve was withheld") {
		t.Fatalf("fallback not labelled:\n%s", svg)
	}
}
