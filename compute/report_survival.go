package compute

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"strings"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/outputctl"
)

// curveColours tell the groups' curves apart.
var curveColours = []string{"steelblue", "darkorange", "seagreen", "firebrick", "purple", "saddlebrown"}

// survivalPanel draws a survival release: the Kaplan–Meier curves as
// steps through their released grid points (survival on a 0–1 axis, the
// numbers at risk under the time axis), the log-rank test, and the Cox
// model as a table of hazard ratios with a forest plot.
func survivalPanel(b *strings.Builder, y float64, release json.RawMessage) (float64, error) {
	var sr outputctl.SurvivalRelease
	if err := json.Unmarshal(release, &sr); err != nil {
		return y, err
	}
	text := func(x, y float64, size int, weight, anchor, s string) {
		fmt.Fprintf(b, `<text x="%.0f" y="%.0f" font-size="%d" font-weight="%s" text-anchor="%s">%s</text>`+"\n", x, y, size, weight, anchor, html.EscapeString(s))
	}
	tmax := 0.0
	for _, t := range sr.Grid {
		tmax = math.Max(tmax, t)
	}
	drawn := false
	for _, c := range sr.Curves {
		drawn = drawn || len(c.Points) > 0
	}
	if drawn && tmax > 0 {
		text(20, y, 12, "bold", "start", "Kaplan–Meier survival at the grid's times (95% CI)"+noisyNote(sr.Noisy))
		y += 14
		const x0, x1, h = 70.0, 660.0, 200.0
		top := y
		x := func(t float64) float64 { return x0 + t/tmax*(x1-x0) }
		py := func(s float64) float64 { return top + (1-s)*h }
		fmt.Fprintf(b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", x0, top+h, x1, top+h)
		fmt.Fprintf(b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", x0, top, x0, top+h)
		for _, s := range []float64{0, 0.25, 0.5, 0.75, 1} {
			text(x0-6, py(s)+4, 10, "normal", "end", fmt.Sprintf("%.2f", s))
		}
		for _, t := range sr.Grid {
			text(x(t), top+h+14, 10, "normal", "middle", fmt.Sprintf("%g", t))
		}
		for g, c := range sr.Curves {
			colour := curveColours[g%len(curveColours)]
			path := fmt.Sprintf("M%.1f,%.1f", x(0), py(1))
			for _, p := range c.Points {
				// The curve is known only at the released points: a step
				// at each, from the previous point's survival.
				path += fmt.Sprintf(" H%.1f V%.1f", x(p.Time), py(p.Surv))
				fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-opacity="0.5"/>`+"\n", x(p.Time)+2*float64(g), py(p.Lower), x(p.Time)+2*float64(g), py(p.Upper), colour)
			}
			fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", path, colour)
		}
		// The legend is the at-risk table: each group's row starts with
		// its colour, below the plot, so it never covers a curve.
		y = top + h + 32
		text(20, y, 11, "bold", "start", "at risk")
		for g, c := range sr.Curves {
			y += 14
			label := c.Group
			if label == "" {
				label = "all"
			}
			fmt.Fprintf(b, `<rect x="8" y="%.0f" width="9" height="3" fill="%s"/>`+"\n", y-4, curveColours[g%len(curveColours)])
			text(20, y, 10, "normal", "start", "— "+label)
			for _, p := range c.Points {
				text(x(p.Time), y, 10, "normal", "middle", fmt.Sprint(p.NRisk))
			}
		}
		for _, c := range sr.Curves {
			label := c.Group
			if label == "" {
				label = "all"
			}
			switch {
			case c.Withheld:
				y += 14
				text(20, y, 10, "normal", "start", label+": withheld (fewer rows than the minimum cohort)")
			case c.Truncated:
				y += 14
				text(20, y, 10, "normal", "start", label+": stops early (the risk set fell below the minimum cohort)")
			}
		}
		y += 24
	}
	if lr := sr.LogRank; lr != nil {
		text(20, y, 12, "normal", "start", fmt.Sprintf("log-rank test: χ² = %.3f on %d df, p = %s", lr.Chisq, lr.DF, pText(lr.P)))
		y += 22
	} else if sr.LogRankWithheld {
		text(20, y, 12, "normal", "start", "log-rank test withheld (exact statistics not released by the policy, or a group too small)")
		y += 22
	}
	if cox := sr.Cox; cox != nil {
		text(20, y, 12, "normal", "start", fmt.Sprintf("Cox proportional hazards (%s ties): n = %d, events = %d, log-likelihood %.3f", cox.Ties, cox.N, cox.Events, cox.LogLik))
		y += 16
		if cox.Concordance != nil {
			text(20, y, 12, "normal", "start", fmt.Sprintf("concordance %.3f; likelihood-ratio χ² = %.2f on %d df, p = %s", *cox.Concordance, cox.LR.Chisq, cox.LR.DF, pText(cox.LR.P)))
			y += 16
		}
		y += 6
		cols := []float64{20, 200, 290, 470, 560}
		for i, h := range []string{"term", "coefficient", "hazard ratio (95% CI)", "z", "p"} {
			text(cols[i], y, 12, "bold", "start", h)
		}
		y += 16
		for _, c := range cox.Coefficients {
			row := []string{c.Name, fmt.Sprintf("%.4f", c.Estimate), "", fmt.Sprintf("%.2f", c.Stat), pText(c.P)}
			if c.Ratio != nil {
				row[2] = fmt.Sprintf("%.3f (%.3f–%.3f)", c.Ratio.Estimate, c.Ratio.Lower, c.Ratio.Upper)
			}
			for i, s := range row {
				text(cols[i], y, 12, "normal", "start", s)
			}
			y += 16
		}
		y += 14
		y = forest(b, y, outputctl.RegressionRelease{Regression: analysis.Regression{Coefficients: cox.Coefficients}}, "hazard ratio")
	}
	return y, nil
}

// pText prints a p-value as a statistician reads it.
func pText(p float64) string {
	if p < 1e-4 {
		return fmt.Sprintf("%.2e", p)
	}
	return fmt.Sprintf("%.4f", p)
}
