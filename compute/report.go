package compute

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/outputctl"
)

// RenderSVG renders results for people as one hand-written SVG: per site,
// a header, a table (counts, or coefficients with estimate, SE, ratio with
// 95% CI and p), and for regressions with ratios a forest plot of the
// ratios with their CIs on a log scale.
func RenderSVG(w io.Writer, results []*Result) error {
	var body strings.Builder
	y := 30.0
	text := func(x, y float64, size int, weight, s string) {
		fmt.Fprintf(&body, `<text x="%.0f" y="%.0f" font-size="%d" font-weight="%s">%s</text>`+"\n", x, y, size, weight, html.EscapeString(s))
	}
	for _, r := range results {
		text(20, y, 16, "bold", fmt.Sprintf("Job %d — %s on %s (version %d)", r.Job, r.Analysis, r.Dataset, r.Version))
		y += 18
		text(20, y, 11, "normal", fmt.Sprintf("purpose %s · consent %s as of height %d · min cohort %d · ε %.3f · worker %s", r.Purpose, r.ConsentModel, r.ConsentAsOf, r.MinCohort, float64(r.EpsilonMilli)/1000, short(r.Worker)))
		y += 24
		switch r.ReleaseKind {
		case KindCount:
			var c outputctl.CountRelease
			if err := json.Unmarshal(r.Release, &c); err != nil {
				return err
			}
			text(20, y, 13, "normal", "n = "+cellText(c.N)+noisyNote(c.Noisy))
			y += 30
		case KindRegression, KindPrivateRegression, KindPooledRegression, KindPooledPrivateRegression:
			var rr outputctl.RegressionRelease
			if err := json.Unmarshal(r.Release, &rr); err != nil {
				return err
			}
			reg := rr.Regression
			ratio := strings.ReplaceAll(reg.RatioName, "_", " ")
			text(20, y, 12, "normal", fmt.Sprintf("%s regression of %s: n = %d, events = %d, AUC = %.3f", reg.Link, reg.Outcome, reg.N, reg.Events, reg.AUC))
			y += 22
			cols := []float64{20, 170, 260, 340, 500, 570}
			for i, h := range []string{"term", "estimate", "SE", ratio + " (95% CI)", reg.StatName, "p"} {
				text(cols[i], y, 12, "bold", h)
			}
			y += 16
			for _, c := range reg.Coefficients {
				row := []string{c.Name, fmt.Sprintf("%.4f", c.Estimate), fmt.Sprintf("%.4f", c.SE), "", fmt.Sprintf("%.2f", c.Stat), fmt.Sprintf("%.3g", c.P)}
				if c.Ratio != nil {
					row[3] = fmt.Sprintf("%.3f (%.3f–%.3f)", c.Ratio.Estimate, c.Ratio.Lower, c.Ratio.Upper)
				}
				for i, s := range row {
					text(cols[i], y, 12, "normal", s)
				}
				y += 16
			}
			y += 14
			y = forest(&body, y, rr, ratio)
			y = rocPanel(&body, y, r.Release, reg.AUC)
		case KindSurvival, KindPooledSurvival:
			var err error
			if y, err = survivalPanel(&body, y, r.Release); err != nil {
				return err
			}
		default:
			b, _ := json.MarshalIndent(json.RawMessage(r.Release), "", "  ")
			for _, line := range strings.Split(string(b), "\n") {
				text(20, y, 11, "normal", line)
				y += 14
			}
		}
		y += 20
	}
	_, err := fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="720" height="%.0f" font-family="sans-serif">`+"\n"+
		`<rect width="100%%" height="100%%" fill="white"/>`+"\n%s</svg>\n", y+10, body.String())
	return err
}

// forest draws the ratios (not the intercept) with their CIs on a log axis.
func forest(b *strings.Builder, y float64, rr outputctl.RegressionRelease, ratio string) float64 {
	type pt struct {
		name        string
		est, lo, hi float64
	}
	var pts []pt
	lo, hi := 1.0, 1.0
	for _, c := range rr.Regression.Coefficients {
		if c.Ratio == nil || c.Name == "intercept" || !(c.Ratio.Lower > 0) || math.IsInf(c.Ratio.Upper, 0) {
			continue
		}
		pts = append(pts, pt{c.Name, c.Ratio.Estimate, c.Ratio.Lower, c.Ratio.Upper})
		lo, hi = math.Min(lo, c.Ratio.Lower), math.Max(hi, c.Ratio.Upper)
	}
	if len(pts) == 0 {
		return y
	}
	const x0, x1 = 170.0, 660.0
	llo, lhi := math.Log(lo)-0.05, math.Log(hi)+0.05
	x := func(v float64) float64 { return x0 + (math.Log(v)-llo)/(lhi-llo)*(x1-x0) }
	fmt.Fprintf(b, `<text x="20" y="%.0f" font-size="12" font-weight="bold">Forest plot: %s with 95%% CI (log scale)</text>`+"\n", y, html.EscapeString(ratio))
	y += 14
	top := y
	for _, p := range pts {
		y += 18
		fmt.Fprintf(b, `<text x="20" y="%.0f" font-size="11">%s</text>`+"\n", y+4, html.EscapeString(p.name))
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="black"/>`+"\n", x(p.lo), y, x(p.hi), y)
		fmt.Fprintf(b, `<rect x="%.1f" y="%.0f" width="6" height="6" fill="steelblue"/>`+"\n", x(p.est)-3, y-3)
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="grey" stroke-dasharray="3,3"/>`+"\n", x(1), top+4, x(1), y+10)
	fmt.Fprintf(b, `<text x="%.1f" y="%.0f" font-size="10" text-anchor="middle">1</text>`+"\n", x(1), y+22)
	fmt.Fprintf(b, `<text x="%.1f" y="%.0f" font-size="10">%.3g</text>`+"\n", x0, y+22, math.Exp(llo))
	fmt.Fprintf(b, `<text x="%.1f" y="%.0f" font-size="10" text-anchor="end">%.3g</text>`+"\n", x1, y+22, math.Exp(lhi))
	return y + 30
}

func cellText(c outputctl.Cell) string {
	if c.Suppressed || c.Count == nil {
		return "withheld (small count)"
	}
	return fmt.Sprint(*c.Count)
}

func noisyNote(noisy bool) string {
	if noisy {
		return " (with differential-privacy noise)"
	}
	return ""
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

// ROCPoint is one point of an ROC curve (analysis.ROCPoint: JSON
// {"fpr", "tpr"}).
type ROCPoint = analysis.ROCPoint

// releasedROC reads the ROC curve a regression release may carry at
// regression.roc (TPR at the fixed false-positive rates 0, 0.05, …, 1,
// rounded, released by outputctl.ReleaseRegression), and whether the
// release says a curve was withheld (roc_suppressed). Releases without a
// curve return nil. The empirical curve always starts at the origin (a
// threshold above every score), so (0, 0) is drawn first when the released
// points start higher up the TPR axis.
func releasedROC(release json.RawMessage) (pts []ROCPoint, suppressed bool) {
	var v struct {
		Regression struct {
			ROC []ROCPoint `json:"roc"`
		} `json:"regression"`
		ROCSuppressed bool `json:"roc_suppressed"`
	}
	if json.Unmarshal(release, &v) != nil {
		return nil, false
	}
	for _, p := range v.Regression.ROC {
		if p.FPR >= 0 && p.FPR <= 1 && p.TPR >= 0 && p.TPR <= 1 {
			pts = append(pts, p)
		}
	}
	if len(pts) < 2 {
		return nil, v.ROCSuppressed
	}
	slices.SortStableFunc(pts, func(a, b ROCPoint) int { return cmp.Compare(a.FPR, b.FPR) })
	if pts[0] != (ROCPoint{}) {
		pts = slices.Insert(pts, 0, ROCPoint{})
	}
	return pts, v.ROCSuppressed
}

// BinormalROC is the ROC curve of the equal-variance binormal model with
// the given AUC, at n+1 evenly spaced false-positive rates: TPR =
// Φ(d′ + Φ⁻¹(FPR)) with d′ = √2·Φ⁻¹(AUC). It uses nothing but the released
// AUC, so it reveals nothing more; it is a model of the curve, not the
// empirical one.
func BinormalROC(auc float64, n int) []ROCPoint {
	if !(auc > 0 && auc < 1) || n < 1 {
		return nil
	}
	probit := func(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }
	phi := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
	d := math.Sqrt2 * probit(auc)
	pts := make([]ROCPoint, 0, n+1)
	for i := 0; i <= n; i++ {
		f := float64(i) / float64(n)
		t := f
		if i > 0 && i < n {
			t = phi(d + probit(f))
		}
		pts = append(pts, ROCPoint{FPR: f, TPR: t})
	}
	return pts
}

// rocPanel draws the ROC curve: the released empirical one if the result
// carries it, otherwise the binormal curve implied by the AUC, labelled as
// such (and saying why there is no empirical curve).
func rocPanel(b *strings.Builder, y float64, release json.RawMessage, auc float64) float64 {
	pts, suppressed := releasedROC(release)
	title := fmt.Sprintf("ROC curve (AUC = %.3f): empirical, as released at fixed false-positive rates", auc)
	if len(pts) < 2 {
		pts = BinormalROC(auc, 50)
		why := "the result carries no empirical curve"
		if suppressed {
			why = "the empirical curve was withheld: too few events or non-events"
		}
		title = fmt.Sprintf("ROC curve implied by AUC = %.3f (equal-variance binormal model; %s)", auc, why)
	}
	if len(pts) < 2 {
		return y
	}
	slices.SortStableFunc(pts, func(a, b ROCPoint) int { return cmp.Compare(a.FPR, b.FPR) })
	const x0, size = 60.0, 220.0
	fmt.Fprintf(b, `<text x="20" y="%.0f" font-size="12" font-weight="bold">%s</text>`+"\n", y, html.EscapeString(title))
	top := y + 14
	px := func(f float64) float64 { return x0 + f*size }
	py := func(t float64) float64 { return top + (1-t)*size }
	fmt.Fprintf(b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="black"/>`+"\n", x0, top, size, size)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="grey" stroke-dasharray="3,3"/>`+"\n", px(0), py(0), px(1), py(1))
	var path strings.Builder
	for i, p := range pts {
		cmd := "L"
		if i == 0 {
			cmd = "M"
		}
		fmt.Fprintf(&path, "%s%.1f,%.1f ", cmd, px(p.FPR), py(p.TPR))
	}
	fmt.Fprintf(b, `<path d="%s" fill="none" stroke="steelblue" stroke-width="2"/>`+"\n", strings.TrimSpace(path.String()))
	for _, v := range []float64{0, 0.5, 1} {
		fmt.Fprintf(b, `<text x="%.1f" y="%.0f" font-size="10" text-anchor="middle">%.1f</text>`+"\n", px(v), top+size+12, v)
		fmt.Fprintf(b, `<text x="%.0f" y="%.1f" font-size="10" text-anchor="end">%.1f</text>`+"\n", x0-4, py(v)+3, v)
	}
	fmt.Fprintf(b, `<text x="%.1f" y="%.0f" font-size="11" text-anchor="middle">1 − specificity (false-positive rate)</text>`+"\n", px(0.5), top+size+26)
	fmt.Fprintf(b, `<text x="20" y="%.1f" font-size="11" transform="rotate(-90 20 %.1f)" text-anchor="middle">sensitivity</text>`+"\n", py(0.5), py(0.5))
	return top + size + 40
}
