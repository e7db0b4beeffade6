package report

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/medchain/medchain/outputctl"
)

// PValue prints a p-value as a reader expects: three significant digits
// down to 0.001, then scientific notation (a p-value is accurate far into
// the tails, so 3.6e-69 is shown as such, never as 0); below the smallest
// double it says so.
func PValue(p float64) string {
	switch {
	case math.IsNaN(p):
		return "—"
	case p <= 0:
		return "< 5e-324"
	case p >= 0.001:
		return strconv.FormatFloat(p, 'g', 3, 64)
	default:
		return strconv.FormatFloat(p, 'e', 2, 64)
	}
}

// num prints an estimate with four significant digits, without trailing
// zeros or an exponent unless the value needs one.
func num(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "−∞"
	}
	a := math.Abs(v)
	var s string
	if a != 0 && (a < 1e-3 || a >= 1e6) {
		s = strconv.FormatFloat(v, 'e', 3, 64)
	} else {
		s = strconv.FormatFloat(v, 'g', 4, 64)
		if strings.Contains(s, "e") { // 'g' chose an exponent for a value in range
			s = strconv.FormatFloat(v, 'f', max(0, 3-int(math.Floor(math.Log10(a)))), 64)
		}
	}
	return strings.Replace(s, "-", "−", 1)
}

// count prints a count with thousands separators.
func count(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "−" + b.String()
	}
	return b.String()
}

// trimFloat prints a unit or tick value briefly (10, 0.5, 2.5).
func trimFloat(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

func cellText(c outputctl.Cell) string {
	if c.Suppressed || c.Count == nil {
		return "withheld"
	}
	return count(*c.Count)
}

func valueText(v outputctl.Value) string {
	if v.Suppressed || v.Value == nil {
		return "withheld"
	}
	return num(*v.Value)
}

func noisyNote(noisy bool) []block {
	if !noisy {
		return nil
	}
	return []block{space(4), newParagraph(style(regular, 8.5), "Counts carry differential-privacy noise; small counts are withheld.")}
}

func countBlocks(raw json.RawMessage) ([]block, error) {
	var c outputctl.CountRelease
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("the release is not a count: %v", err)
	}
	return append([]block{newParagraph(style(regular, 12), "Cohort: n = "+cellText(c.N))}, noisyNote(c.Noisy)...), nil
}

func crosstabBlocks(raw json.RawMessage) ([]block, error) {
	var x outputctl.CrossTabRelease
	if err := json.Unmarshal(raw, &x); err != nil {
		return nil, fmt.Errorf("the release is not a cross-tabulation: %v", err)
	}
	if len(x.Cells) != len(x.RowLabels) {
		return nil, fmt.Errorf("the cross-tabulation has %d rows of cells for %d row labels", len(x.Cells), len(x.RowLabels))
	}
	header := []string{x.RowColumn}
	if x.ColColumn != "" {
		header[0] = x.RowColumn + " \\ " + x.ColColumn
	}
	header = append(append(header, x.ColLabels...), "total")
	var rows [][]string
	for i, label := range x.RowLabels {
		if len(x.Cells[i]) != len(x.ColLabels) {
			return nil, fmt.Errorf("row %d of the cross-tabulation has %d cells for %d columns", i, len(x.Cells[i]), len(x.ColLabels))
		}
		row := []string{label}
		for _, c := range x.Cells[i] {
			row = append(row, cellText(c))
		}
		total := "—"
		if i < len(x.RowTotals) {
			total = cellText(x.RowTotals[i])
		}
		rows = append(rows, append(row, total))
	}
	totals := []string{"total"}
	for j := range x.ColLabels {
		t := "—"
		if j < len(x.ColTotals) {
			t = cellText(x.ColTotals[j])
		}
		totals = append(totals, t)
	}
	rows = append(rows, append(totals, cellText(x.Total)))
	t := newTable(header, rows)
	t.fit()
	return append([]block{t}, noisyNote(x.Noisy)...), nil
}

func descriptionBlocks(raw json.RawMessage) ([]block, error) {
	var d outputctl.DescriptionRelease
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("the release is not a description: %v", err)
	}
	header := []string{"variable", "n", "mean", "SD"}
	var qs []float64
	for _, v := range d.Variables {
		if len(v.Quantiles) > len(qs) {
			qs = qs[:0]
			for _, q := range v.Quantiles {
				qs = append(qs, q.P)
			}
		}
	}
	for _, q := range qs {
		header = append(header, fmt.Sprintf("p%s", trimFloat(q*100)))
	}
	var rows [][]string
	for _, v := range d.Variables {
		row := []string{v.Column, cellText(v.N), valueText(v.Mean), valueText(v.SD)}
		if v.Suppressed {
			row[2], row[3] = "withheld", "withheld"
		}
		for i := range qs {
			s := "—"
			if i < len(v.Quantiles) {
				q := v.Quantiles[i]
				s = valueText(outputctl.Value{Value: q.Value, Suppressed: q.Suppressed || v.Suppressed})
			}
			row = append(row, s)
		}
		rows = append(rows, row)
	}
	t := newTable(header, rows)
	t.fit()
	return append([]block{newParagraph(style(regular, 11), "Cohort: n = "+cellText(d.N)), space(6), t}, noisyNote(d.Noisy)...), nil
}

func treesBlocks(raw json.RawMessage) ([]block, error) {
	var t outputctl.TreesRelease
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, fmt.Errorf("the release is not a tree model: %v", err)
	}
	m := t.Model
	depth, leaves := 0, 0
	splits := make([]int, len(m.Features))
	for _, tr := range m.Trees {
		var walk func(n, d int)
		walk = func(n, d int) {
			if n < 0 || n >= len(tr.Nodes) || d > 16 {
				return
			}
			nd := tr.Nodes[n]
			if nd.Leaf {
				leaves++
				depth = max(depth, d)
				return
			}
			if nd.Feature >= 0 && nd.Feature < len(splits) {
				splits[nd.Feature]++
			}
			if nd.Left > n && nd.Right > n {
				walk(nd.Left, d+1)
				walk(nd.Right, d+1)
			}
		}
		walk(0, 0)
	}
	summary := fmt.Sprintf("Gradient-boosted trees for a 0/1 outcome: %d trees (deepest %d, %d leaves, each of at least the minimum cohort), n = %s, events = %s",
		len(m.Trees), depth, leaves, count(t.N), count(t.Events))
	if t.AUC > 0 {
		summary += fmt.Sprintf(", training AUC %.3f", t.AUC)
	}
	var rows [][]string
	for j, f := range m.Features {
		lo, hi := "—", "—"
		if j < len(m.Bounds) {
			lo, hi = num(m.Bounds[j].Lower), num(m.Bounds[j].Upper)
		}
		rows = append(rows, []string{f, fmt.Sprintf("%s to %s", lo, hi), strconv.Itoa(splits[j])})
	}
	tb := newTable([]string{"feature", "binned over", "splits"}, rows)
	tb.fit()
	return []block{newParagraph(style(regular, 10), summary+"."), space(6), tb}, nil
}
