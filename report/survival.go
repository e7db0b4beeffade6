package report

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/outputctl"
)

// survivalBlocks draws a survival release: the released Kaplan–Meier
// curves (steps at the released grid points only, with their intervals),
// their table, the log-rank test and a Cox model as a hazard-ratio table
// and forest plot.
func survivalBlocks(raw json.RawMessage, opts Options, used map[string]bool) ([]block, error) {
	var rel outputctl.SurvivalRelease
	if err := json.Unmarshal(raw, &rel); err != nil {
		return nil, fmt.Errorf("the release is not a survival analysis: %v", err)
	}
	var bs []block
	var notes []string
	var rows [][]string
	p := unitPlot("Kaplan–Meier survival, released at the grid", "time", "survival")
	p.Y.Min, p.Y.Max = 0, 1
	p.X.Min, p.X.Max = 0, 1
	p.X.Tick.Marker = plot.DefaultTicks{}
	colours := []color.Color{color.RGBA{R: 31, G: 96, B: 160, A: 255}, color.RGBA{R: 190, G: 80, B: 30, A: 255},
		color.RGBA{R: 40, G: 140, B: 70, A: 255}, color.RGBA{R: 120, G: 60, B: 150, A: 255}}
	drawn := 0
	for i, c := range rel.Curves {
		name := c.Group
		if name == "" {
			name = "all"
		}
		if c.Withheld || len(c.Points) == 0 {
			notes = append(notes, fmt.Sprintf("%s: withheld (fewer rows than the minimum cohort)", name))
			continue
		}
		if c.Truncated {
			notes = append(notes, fmt.Sprintf("%s: stops at %s (the risk set fell below the minimum cohort)", name, num(c.Points[len(c.Points)-1].Time)))
		}
		step := plotter.XYs{{X: 0, Y: 1}}
		lo, hi := plotter.XYs{{X: 0, Y: 1}}, plotter.XYs{{X: 0, Y: 1}}
		prev, prevLo, prevHi := 1.0, 1.0, 1.0
		for _, q := range c.Points {
			step = append(step, plotter.XY{X: q.Time, Y: prev}, plotter.XY{X: q.Time, Y: q.Surv})
			lo = append(lo, plotter.XY{X: q.Time, Y: prevLo}, plotter.XY{X: q.Time, Y: q.Lower})
			hi = append(hi, plotter.XY{X: q.Time, Y: prevHi}, plotter.XY{X: q.Time, Y: q.Upper})
			prev, prevLo, prevHi = q.Surv, q.Lower, q.Upper
			p.X.Max = max(p.X.Max, q.Time)
			censored := "—"
			if q.NCensor != nil {
				censored = count(*q.NCensor)
			}
			rows = append(rows, []string{name, num(q.Time), count(q.NRisk), count(q.NEvent), censored,
				fmt.Sprintf("%.3f (%.3f to %.3f)", q.Surv, q.Lower, q.Upper)})
		}
		col := colours[i%len(colours)]
		l, err := plotter.NewLine(step)
		if err != nil {
			return nil, err
		}
		l.LineStyle.Width, l.LineStyle.Color = vg.Points(1.8), col
		p.Add(l)
		for _, band := range []plotter.XYs{lo, hi} {
			b, err := plotter.NewLine(band)
			if err != nil {
				return nil, err
			}
			b.LineStyle.Width, b.LineStyle.Color = vg.Points(0.8), col
			b.LineStyle.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(b)
		}
		p.Legend.Add(name, l)
		drawn++
	}
	p.Legend.Top, p.Legend.Left = false, true
	p.Legend.YOffs = vg.Points(14)
	p.Legend.TextStyle.Font.Size = 8.5
	sans(p)
	if len(rel.Grid) > 0 {
		bs = append(bs, newParagraph(style(regular, 10), fmt.Sprintf("Kaplan–Meier survival at the requester's grid (%s); dashed: 95%% intervals.", joinNums(rel.Grid))))
	}
	if len(notes) > 0 {
		bs = append(bs, space(2), newParagraph(style(regular, 9), strings.Join(notes, "; ")+"."))
	}
	if drawn > 0 {
		p.X.Max *= 1.02
		bs = append(bs, space(4), &plots{ps: []*plot.Plot{p}, titles: []string{p.Title.Text}, h: 3.1 * vg.Inch}, space(6))
		tb := newTable([]string{"group", "time", "at risk", "events", "censored", "survival (95% CI)"}, rows)
		tb.fit()
		bs = append(bs, tb, space(8))
	}
	if lr := rel.LogRank; lr != nil {
		bs = append(bs, newParagraph(style(regular, 10), fmt.Sprintf("Log-rank test of %s: χ² = %.3f on %d df, p = %s.", strings.Join(lr.Groups, " vs "), lr.Chisq, lr.DF, PValue(lr.P))), space(6))
	} else if rel.LogRankWithheld {
		bs = append(bs, newParagraph(style(regular, 9), "The log-rank test was withheld: the policy releases only noisy counts."), space(6))
	}
	if cox := rel.Cox; cox != nil {
		bs = append(bs, coxBlocks(cox, opts, used)...)
	}
	if rel.Noisy {
		bs = append(bs, space(4), newParagraph(style(regular, 8.5), "Counts carry differential-privacy noise."))
	}
	return bs, nil
}

func coxBlocks(cox *analysis.CoxFit, opts Options, used map[string]bool) []block {
	s := fmt.Sprintf("Cox proportional hazards (%s ties): n = %s, events = %s", cox.Ties, count(cox.N), count(cox.Events))
	if cox.Concordance != nil {
		s += fmt.Sprintf(", concordance %.3f", *cox.Concordance)
	}
	if len(cox.Grid) > 0 {
		s += fmt.Sprintf("; times coarsened to the grid %s", joinNums(cox.Grid))
	}
	s += fmt.Sprintf(". Likelihood-ratio χ² = %.2f on %d df (p = %s), Wald %.2f (p = %s), score %.2f (p = %s).",
		cox.LR.Chisq, cox.LR.DF, PValue(cox.LR.P), cox.Wald.Chisq, PValue(cox.Wald.P), cox.Score.Chisq, PValue(cox.Score.P))
	terms := termsOf(cox.Coefficients, opts, used)
	var rows [][]string
	for _, t := range terms {
		hr := ""
		if t.ratio {
			hr = fmt.Sprintf("%s (%s to %s)", num(t.rEst), num(t.rLo), num(t.rH))
		}
		rows = append(rows, []string{t.name, num(t.est), num(t.se), hr, strings.Replace(fmt.Sprintf("%.2f", t.stat), "-", "−", 1), PValue(t.p)})
	}
	tb := newTable([]string{"term", "estimate", "SE", "hazard ratio (95% CI)", "z", "p"}, rows)
	tb.fit()
	bs := []block{newParagraph(style(regular, 10), s), space(6), tb, space(10)}
	if f := forest(terms, "hazard ratio"); f != nil {
		bs = append(bs, newParagraph(style(bold, 10), "Hazard ratios with 95% confidence intervals (log scale)"), space(4), f, space(6))
	}
	return bs
}

// termsOf are coefficients as table rows, rescaled per opts.Per (marking
// the terms used); a coefficient with a ratio (odds or hazard) gets
// exp of its rescaled estimate and interval.
func termsOf(cs []analysis.Coefficient, opts Options, used map[string]bool) []term {
	out := make([]term, 0, len(cs))
	for _, c := range cs {
		t := term{name: c.Name, est: c.Estimate, se: c.SE, lo: c.Lower, hi: c.Upper, stat: c.Stat, p: c.P, ratio: c.Ratio != nil}
		if k, ok := opts.Per[c.Name]; ok && c.Name != "intercept" {
			used[c.Name] = true
			t.name = fmt.Sprintf("%s (per %s)", c.Name, trimFloat(k))
			t.est, t.se, t.lo, t.hi = k*c.Estimate, k*c.SE, k*c.Lower, k*c.Upper
		}
		if t.ratio {
			t.rEst, t.rLo, t.rH = math.Exp(t.est), math.Exp(t.lo), math.Exp(t.hi)
		}
		out = append(out, t)
	}
	return out
}

func joinNums(vs []float64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = num(v)
	}
	return strings.Join(s, ", ")
}
