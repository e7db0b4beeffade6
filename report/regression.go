package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/outputctl"
)

// regressionRelease is what every regression kind carries: a single
// site's fit, a private one (with bounds), a pooled study's (with its
// pooled diagnostics).
type regressionRelease struct {
	outputctl.RegressionRelease
	Diagnostics *outputctl.PooledDiagnostics `json:"diagnostics,omitempty"`
}

// term is one row of a regression table, rescaled to the unit asked for.
type term struct {
	name          string
	est, se       float64
	lo, hi        float64
	stat, p       float64
	ratio         bool
	rEst, rLo, rH float64
}

func regressionBlocks(raw json.RawMessage, opts Options, used map[string]bool) ([]block, error) {
	var rel regressionRelease
	if err := json.Unmarshal(raw, &rel); err != nil {
		return nil, fmt.Errorf("the release is not a regression: %v", err)
	}
	reg := rel.Regression
	terms := termsOf(reg.Coefficients, opts, used)

	var bs []block
	bs = append(bs, newParagraph(style(regular, 10), summary(reg, rel)))
	if d := diagnostics(reg, rel); d != "" {
		bs = append(bs, space(2), newParagraph(style(regular, 9), d))
	}
	bs = append(bs, space(6))

	ratioName := strings.ReplaceAll(reg.RatioName, "_", " ")
	header := []string{"term", "estimate", "SE", "95% CI", reg.StatName, "p"}
	if ratioName != "" {
		header[3] = ratioName + " (95% CI)"
	}
	var rows [][]string
	for _, t := range terms {
		ci := fmt.Sprintf("%s to %s", num(t.lo), num(t.hi))
		if ratioName != "" {
			ci = ""
			if t.ratio && t.name != "intercept" {
				ci = fmt.Sprintf("%s (%s to %s)", num(t.rEst), num(t.rLo), num(t.rH))
			}
		}
		rows = append(rows, []string{t.name, num(t.est), num(t.se), ci, strings.Replace(fmt.Sprintf("%.2f", t.stat), "-", "−", 1), PValue(t.p)})
	}
	tb := newTable(header, rows)
	tb.fit()
	bs = append(bs, tb, space(10))

	if f := forest(terms, ratioName); f != nil {
		bs = append(bs, newParagraph(style(bold, 10), fmt.Sprintf("%s with 95%% confidence intervals (log scale)", capitalise(ratioName))), space(4), f, space(10))
	}
	var panels []*plot.Plot
	var titles []string
	if roc := rocPlot(reg, rel); roc != nil {
		panels, titles = append(panels, roc), append(titles, roc.Title.Text)
	}
	if cal := calibrationPlot(reg, rel); cal != nil {
		panels, titles = append(panels, cal), append(titles, cal.Title.Text)
	}
	if len(panels) > 0 {
		bs = append(bs, &plots{ps: panels, titles: titles, h: 3.1 * vg.Inch})
	}
	if rel.Noisy {
		bs = append(bs, space(6), newParagraph(style(regular, 8.5),
			"Estimates, counts and intervals carry differential-privacy noise; the intervals include it."))
	}
	return bs, nil
}

// summary is the sentence above the table.
func summary(reg analysis.Regression, rel regressionRelease) string {
	var b strings.Builder
	switch reg.Link {
	case analysis.Identity:
		fmt.Fprintf(&b, "Linear regression of %s: n = %s", reg.Outcome, count(reg.N))
		if reg.DF > 0 {
			fmt.Fprintf(&b, ", R² = %.3f (adjusted %.3f), residual SD %s on %d df", reg.RSquared, reg.AdjRSquared, num(reg.Sigma), reg.DF)
		}
	default:
		fmt.Fprintf(&b, "Logistic regression (%s link) of %s: n = %s, events = %s", reg.Link, reg.Outcome, count(reg.N), count(reg.Events))
	}
	if reg.Iterations > 0 {
		fmt.Fprintf(&b, "; %d Newton iterations", reg.Iterations)
	}
	if reg.Covariance == analysis.CovarianceHC0 {
		b.WriteString("; robust (sandwich, HC0) standard errors")
	}
	b.WriteString(".")
	if lr := reg.LRT; lr != nil {
		switch lr.Test {
		case "F":
			fmt.Fprintf(&b, " F test of the model without %s: F = %.3f on %d and %d df, p = %s.", strings.Join(lr.Dropped, ", "), lr.Statistic, lr.DF, lr.DFResid, PValue(lr.P))
		default:
			fmt.Fprintf(&b, " Likelihood-ratio test of the model without %s: χ² = %.3f on %d df, p = %s.", strings.Join(lr.Dropped, ", "), lr.Statistic, lr.DF, PValue(lr.P))
		}
	}
	return b.String()
}

// diagnostics is the line of discrimination and calibration measures.
func diagnostics(reg analysis.Regression, rel regressionRelease) string {
	var parts []string
	auc, cal := reg.AUC, reg.Calibration
	if d := rel.Diagnostics; d != nil {
		auc, cal = d.AUC, d.Calibration
	}
	if auc > 0 {
		parts = append(parts, fmt.Sprintf("AUC %.3f", auc))
	}
	if cal != nil {
		parts = append(parts, fmt.Sprintf("calibration intercept %s, slope %s", num(cal.Intercept), num(cal.Slope)))
	}
	if hl := reg.HosmerLemeshow; hl != nil && hl.DF > 0 {
		parts = append(parts, fmt.Sprintf("Hosmer–Lemeshow χ² = %.2f on %d df, p = %s (%d groups)", hl.Statistic, hl.DF, PValue(hl.P), hl.Groups))
	}
	return strings.Join(parts, " · ")
}

// forest is the forest plot of the terms with ratios (not the intercept),
// the first term at the top, on a log axis with ticks at 1-2-5 steps; its
// height grows with the number of terms so their labels never touch.
func forest(terms []term, ratioName string) *plots {
	var shown []term
	for _, t := range terms {
		if t.ratio && t.name != "intercept" && t.rLo > 0 && !math.IsInf(t.rH, 0) && !math.IsNaN(t.rEst) {
			shown = append(shown, t)
		}
	}
	if len(shown) == 0 || ratioName == "" {
		return nil
	}
	lo, hi := 1.0, 1.0
	for _, t := range shown {
		lo, hi = math.Min(lo, t.rLo), math.Max(hi, t.rH)
	}
	lo, hi = lo/1.15, hi*1.15
	p := plot.New()
	p.Title.Text = ""
	p.X.Label.Text = ratioName
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = logTicks{}
	p.X.Min, p.X.Max = lo, hi
	p.X.Label.TextStyle.Font.Size = 9
	p.X.Tick.Label.Font.Size = 8.5
	p.Y.Tick.Label.Font.Size = 9
	n := len(shown)
	names := make([]string, n)
	ci := make(plotter.XYs, 0, n)
	errs := make(plotter.XErrors, 0, n)
	for i, t := range shown {
		y := float64(n - 1 - i) // first term at the top
		names[n-1-i] = t.name
		ci = append(ci, plotter.XY{X: t.rEst, Y: y})
		errs = append(errs, struct{ Low, High float64 }{t.rEst - t.rLo, t.rH - t.rEst})
	}
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.7, float64(n)-0.3
	bars, err := plotter.NewXErrorBars(struct {
		plotter.XYs
		plotter.XErrors
	}{ci, errs})
	if err != nil {
		return nil
	}
	bars.LineStyle.Width = vg.Points(1.2)
	bars.CapWidth = vg.Points(5)
	pts, err := plotter.NewScatter(ci)
	if err != nil {
		return nil
	}
	pts.GlyphStyle = draw.GlyphStyle{Shape: draw.BoxGlyph{}, Radius: vg.Points(3.2), Color: color.RGBA{R: 31, G: 96, B: 160, A: 255}}
	one, err := plotter.NewLine(plotter.XYs{{X: 1, Y: -0.7}, {X: 1, Y: float64(n) - 0.3}})
	if err != nil {
		return nil
	}
	one.LineStyle.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	one.LineStyle.Color = color.Gray{Y: 120}
	p.Add(one, bars, pts)
	sans(p)
	rowPitch := vg.Points(17)
	h := max(vg.Length(n)*rowPitch+vg.Points(60), 1.6*vg.Inch)
	return &plots{ps: []*plot.Plot{p}, titles: []string{ratioName + " forest plot"}, h: h}
}

// logTicks marks a log axis at 1-2-5 steps (0.1, 0.2, 0.5, 1, 2, 5, …),
// labelling as many as fit, always including 1.
type logTicks struct{}

func (logTicks) Ticks(min, max float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(min)) - 1; e <= math.Ceil(math.Log10(max))+1; e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v >= min && v <= max {
				ticks = append(ticks, plot.Tick{Value: v, Label: trimFloat(v)})
			}
		}
	}
	if len(ticks) >= 3 {
		return ticks
	}
	// A narrow range: even steps, as fine as it takes to label four.
	step := math.Pow(10, math.Ceil(math.Log10(max-min)))
	for i := 0; i < 12; i++ {
		ticks = ticks[:0]
		for k := math.Ceil(min / step); k*step <= max; k++ {
			v := k * step
			ticks = append(ticks, plot.Tick{Value: v, Label: trimFloat(math.Round(v/step) * step)})
		}
		if len(ticks) >= 4 {
			break
		}
		step /= []float64{2, 2.5, 2}[i%3] // 1, 0.5, 0.2, 0.1, …
	}
	return ticks
}

// rocPlot draws the released empirical ROC curve, or the binormal curve
// its released AUC implies (titled so).
func rocPlot(reg analysis.Regression, rel regressionRelease) *plot.Plot {
	auc := reg.AUC
	if rel.Diagnostics != nil {
		auc = rel.Diagnostics.AUC
	}
	pts, title := rocCurve(reg, rel.ROCSuppressed, auc)
	if len(pts) < 2 {
		return nil
	}
	p := unitPlot(title, "1 − specificity", "sensitivity")
	xy := make(plotter.XYs, len(pts))
	for i, q := range pts {
		xy[i] = plotter.XY{X: q.FPR, Y: q.TPR}
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return nil
	}
	l.LineStyle.Width = vg.Points(1.8)
	l.LineStyle.Color = color.RGBA{R: 31, G: 96, B: 160, A: 255}
	p.Add(diagonal(), l)
	return p
}

// rocCurve is the curve to draw and its title: the released points (from
// the origin) or, without them, the binormal curve implied by the AUC.
func rocCurve(reg analysis.Regression, suppressed bool, auc float64) ([]analysis.ROCPoint, string) {
	var pts []analysis.ROCPoint
	for _, p := range reg.ROC {
		if p.FPR >= 0 && p.FPR <= 1 && p.TPR >= 0 && p.TPR <= 1 {
			pts = append(pts, p)
		}
	}
	if len(pts) >= 2 {
		slices.SortStableFunc(pts, func(a, b analysis.ROCPoint) int { return cmp.Compare(a.FPR, b.FPR) })
		if pts[0] != (analysis.ROCPoint{}) {
			pts = slices.Insert(pts, 0, analysis.ROCPoint{})
		}
		return pts, fmt.Sprintf("ROC, as released (AUC %.3f)", auc)
	}
	why := "no empirical curve released"
	if suppressed {
		why = "empirical curve withheld: few events"
	}
	return BinormalROC(auc, 50), fmt.Sprintf("ROC implied by AUC %.3f (binormal; %s)", auc, why)
}

// BinormalROC is the ROC curve of the equal-variance binormal model with
// the given AUC, at n+1 evenly spaced false-positive rates: TPR =
// Φ(d′ + Φ⁻¹(FPR)) with d′ = √2·Φ⁻¹(AUC). It uses nothing but the released
// AUC, so it reveals nothing more; it is a model of the curve, not the
// empirical one.
func BinormalROC(auc float64, n int) []analysis.ROCPoint {
	if !(auc > 0 && auc < 1) || n < 1 {
		return nil
	}
	probit := func(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }
	phi := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
	d := math.Sqrt2 * probit(auc)
	pts := make([]analysis.ROCPoint, 0, n+1)
	for i := 0; i <= n; i++ {
		f := float64(i) / float64(n)
		t := f
		if i > 0 && i < n {
			t = phi(d + probit(f))
		}
		pts = append(pts, analysis.ROCPoint{FPR: f, TPR: t})
	}
	return pts
}

// calibrationPlot draws observed against expected risk: a pooled study's
// released calibration bins, or for a single site the fitted calibration
// line (logit(observed) = intercept + slope·logit(predicted)).
func calibrationPlot(reg analysis.Regression, rel regressionRelease) *plot.Plot {
	if d := rel.Diagnostics; d != nil && len(d.Bins) > 0 {
		p := unitPlot("Calibration, released risk bins", "predicted risk", "observed event rate")
		xy := make(plotter.XYs, 0, len(d.Bins))
		for _, b := range d.Bins {
			xy = append(xy, plotter.XY{X: clamp01(b.Expected), Y: clamp01(b.Observed)})
		}
		l, s, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil
		}
		l.LineStyle.Color = color.RGBA{R: 160, G: 60, B: 30, A: 255}
		s.GlyphStyle.Color = l.LineStyle.Color
		s.GlyphStyle.Radius = vg.Points(2.5)
		p.Add(diagonal(), l, s)
		return p
	}
	cal := reg.Calibration
	if cal == nil || reg.Link != analysis.Logit {
		return nil
	}
	p := unitPlot(fmt.Sprintf("Calibration line (intercept %s, slope %s)", num(cal.Intercept), num(cal.Slope)), "predicted risk", "observed risk")
	xy := make(plotter.XYs, 0, 99)
	for i := 1; i < 100; i++ {
		q := float64(i) / 100
		xy = append(xy, plotter.XY{X: q, Y: 1 / (1 + math.Exp(-(cal.Intercept + cal.Slope*math.Log(q/(1-q)))))})
	}
	l, err := plotter.NewLine(xy)
	if err != nil {
		return nil
	}
	l.LineStyle.Width = vg.Points(1.8)
	l.LineStyle.Color = color.RGBA{R: 160, G: 60, B: 30, A: 255}
	p.Add(diagonal(), l)
	return p
}

func unitPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = 9
	p.X.Label.Text, p.Y.Label.Text = x, y
	p.X.Label.TextStyle.Font.Size, p.Y.Label.TextStyle.Font.Size = 8.5, 8.5
	p.X.Tick.Label.Font.Size, p.Y.Tick.Label.Font.Size = 8, 8
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
	sans(p)
	ticks := plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 0.25}, {Value: 0.5, Label: "0.5"}, {Value: 0.75}, {Value: 1, Label: "1"}}
	p.X.Tick.Marker, p.Y.Tick.Marker = ticks, ticks
	return p
}

// sans sets every text of p in the page's sans-serif face.
func sans(p *plot.Plot) {
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Label.TextStyle.Font, &p.Y.Label.TextStyle.Font,
		&p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		f.Typeface, f.Variant = regular.Typeface, regular.Variant
	}
}

func diagonal() *plotter.Line {
	l, _ := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: 1, Y: 1}})
	l.LineStyle.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
	l.LineStyle.Color = color.Gray{Y: 140}
	return l
}

func clamp01(v float64) float64 { return math.Min(1, math.Max(0, v)) }

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
