package compute_test

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/outputctl"
)

func TestBinormalROC(t *testing.T) {
	pts := compute.BinormalROC(0.75, 2000)
	if pts[0] != (compute.ROCPoint{}) || pts[len(pts)-1] != (compute.ROCPoint{FPR: 1, TPR: 1}) {
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
	if compute.BinormalROC(0, 10) != nil || compute.BinormalROC(1, 10) != nil {
		t.Fatal("degenerate AUC should give no curve")
	}
}

func TestReportROC(t *testing.T) {
	render := func(release any) string {
		raw, err := json.Marshal(release)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := compute.RenderSVG(&b, []*compute.Result{{Job: 1, Analysis: "logistic_regression", Dataset: "d", ReleaseKind: "regression", Release: raw}}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	reg := outputctl.RegressionRelease{Regression: analysis.Regression{Link: "logit", Outcome: "cvd", N: 500, Events: 60, AUC: 0.8}}
	svg := render(reg)
	if !strings.Contains(svg, "ROC curve implied by AUC = 0.800") || !strings.Contains(svg, `stroke="steelblue" stroke-width="2"`) {
		t.Fatalf("no binormal ROC panel:\n%s", svg)
	}
	// A release that carries curve points is drawn as released.
	var withROC map[string]any
	raw, _ := json.Marshal(reg)
	json.Unmarshal(raw, &withROC)
	withROC["regression"].(map[string]any)["roc"] = []map[string]float64{{"fpr": 0, "tpr": 0}, {"fpr": 0.1, "tpr": 0.5}, {"fpr": 1, "tpr": 1}}
	svg = render(withROC)
	if !strings.Contains(svg, "ROC curve (AUC = 0.800)") || !strings.Contains(svg, `d="M60.0,`) {
		t.Fatalf("released ROC not drawn:\n%s", svg)
	}
	// No AUC (linear regression): no panel.
	if svg := render(outputctl.RegressionRelease{Regression: analysis.Regression{Link: "identity", Outcome: "sbp", N: 500}}); strings.Contains(svg, "ROC") {
		t.Fatal("ROC panel for a regression without AUC")
	}
}
