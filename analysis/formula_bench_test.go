package analysis_test

import (
	"testing"

	"github.com/medchain/medchain/analysis"
)

// BenchmarkLogistic1M20Factors fits the 1,000,000-row data of
// BenchmarkLogistic1M20 with 20 design columns of which 4 come from a
// factor: 16 numeric features and a 5-level code column (held as a
// dictionary, as the worker loads code columns) made from the 17th — the
// cost of categorical terms per coefficient, to compare with
// BenchmarkLogistic1M20/medchain-regress (20 numeric columns).
func BenchmarkLogistic1M20Factors(b *testing.B) {
	data := bigData()
	cols := append([]analysis.Column(nil), data.cols[:16]...)
	src := data.cols[16].Values
	g := analysis.Column{Name: "g", Values: make([]float64, len(src)), Levels: []string{"p", "q", "r", "s", "t"}}
	for i, v := range src {
		switch {
		case v < -0.84:
			g.Values[i] = 0
		case v < -0.25:
			g.Values[i] = 1
		case v < 0.25:
			g.Values[i] = 2
		case v < 0.84:
			g.Values[i] = 3
		default:
			g.Values[i] = 4
		}
	}
	cols = append(cols, g, data.cols[20])
	tbl := table(b, cols...)
	features := make([]string, 0, 17)
	for _, c := range cols[:16] {
		features = append(features, c.Name)
	}
	features = append(features, "g")
	factors := []analysis.Factor{{Column: "g", Levels: []string{"r", "p", "q", "s", "t"}}}
	var p int
	measure(b, func() {
		r, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "y", Features: features, Factors: factors})
		if err != nil {
			b.Fatal(err)
		}
		p = len(r.Coefficients)
	})
	b.ReportMetric(float64(p), "coefficients")
}
