package compute

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/outputctl"
)

// A survival result renders as Kaplan–Meier curves (one path per group,
// the numbers at risk under the axis), the log-rank test and the Cox
// table with its forest plot of hazard ratios — well-formed SVG, no raw
// JSON.
func TestReportSurvival(t *testing.T) {
	tab := researchTable(t, 3000)
	p := analysis.SurvivalParams{Time: "cvd_time", Event: "cvd_event", Grid: []float64{3, 6, 9, 12},
		Group: &analysis.Factor{Column: "smoker", Levels: []string{"false", "true"}}, Features: []string{"age", "sbp", "smoker"}}
	s, err := analysis.NewSurvivalData(tab, p)
	if err != nil {
		t.Fatal(err)
	}
	counts, _ := analysis.CountOnGrid(s, p.Grid)
	lr, err := analysis.LogRankTest(s)
	if err != nil {
		t.Fatal(err)
	}
	fit, err := analysis.FitCox(s, analysis.TiesEfron, analysis.SolverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := (&outputctl.Releaser{Policy: outputctl.Policy{MinCohort: 20}}).ReleaseSurvival(outputctl.SurvivalResult{Grid: p.Grid, Counts: counts, LogRank: &lr, Cox: fit})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(rel)
	var b bytes.Buffer
	if err := RenderSVG(&b, []*Result{{Job: 1, Analysis: "survival", Dataset: "d", ReleaseKind: KindSurvival, Release: raw}}); err != nil {
		t.Fatal(err)
	}
	svg := b.String()
	for _, want := range []string{"Kaplan–Meier survival", "— false", "— true", "at risk", "log-rank test: χ²", "hazard ratio (95% CI)", "Forest plot: hazard ratio", ">smoker<"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the report has no %q", want)
		}
	}
	if n := strings.Count(svg, `fill="none" stroke=`); n != 2 {
		t.Errorf("%d curves drawn, want 2", n)
	}
	if strings.Contains(svg, `"curves"`) {
		t.Error("the report prints the release's JSON")
	}
	d := xml.NewDecoder(strings.NewReader(svg))
	for {
		if _, err := d.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("not well-formed SVG: %v", err)
		}
	}
}
