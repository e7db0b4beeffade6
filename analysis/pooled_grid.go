package analysis

import (
	"fmt"
	"slices"
	"strings"
)

// PooledCoxGrids are the public grids a pooled Cox study may be fitted on,
// in the time column's unit (years for cvd_time). The list is fixed in the
// code, the same for every requester and every dataset, and short.
//
// Why not the requester's own grid: a site refuses to add its sums on a
// grid that puts 1 … min_cell−1 of its events or censorings in an interval
// (outputctl.CheckGridCounts), because the pooled sums at zero
// coefficients are those counts. That refusal is recorded on the ledger.
// With a free grid it is an oracle: one-point grids, binary-searched,
// dated a site's first event to 0.001 of a year in 17 jobs. On a fixed
// menu the refusal is a fixed function of the site's cohort and one of
// these grids, so asking again, or asking another way, tells nothing new
// (docs/analyses.md, "What the refusal can still tell").
var PooledCoxGrids = [][]float64{
	{5, 10},
	{5, 10, 15},
	{5, 10, 15, 20},
	{10, 20},
	{2, 4, 6, 8, 10},
	{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
}

// CheckPooledCoxGrid refuses a pooled Cox study's grid that is not one of
// PooledCoxGrids. It reads no data: its answer is the same for everyone.
func CheckPooledCoxGrid(grid []float64) error {
	if slices.ContainsFunc(PooledCoxGrids, func(g []float64) bool { return slices.Equal(g, grid) }) {
		return nil
	}
	return paramErr("grid", "a Cox model over several datasets is fitted on one of the public grids, the same for every requester: %s (a grid of the requester's choosing would let the sites' refusals date their events)", PooledCoxGridList())
}

// PooledCoxGridList writes PooledCoxGrids as a researcher types them.
func PooledCoxGridList() string {
	var b strings.Builder
	for i, g := range PooledCoxGrids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('[')
		for k, x := range g {
			if k > 0 {
				b.WriteByte(',')
			}
			fmt.Fprint(&b, x)
		}
		b.WriteByte(']')
	}
	return b.String()
}

// validateOutcomeFilter refuses a survival job whose filter names its own
// time or event column: a filter swept along the time column would date
// events through any refusal the cohort meets (the grid check of a pooled
// study, the minimum events of a single site's model), and selecting a
// cohort by its outcome biases the estimates unless the analysis is built
// for it (a landmark analysis, which this is not).
func (p *SurvivalParams) validateOutcomeFilter() error {
	for i, c := range p.Filter {
		if c.Column != "" && (c.Column == p.Time || c.Column == p.Event) {
			return paramErr(fmt.Sprintf("filter[%d].column", i), "a survival cohort cannot be chosen by its own outcome (%s): a filter swept along the follow-up would date events through the refusals it meets, and one that selects on the outcome biases the estimates (a landmark analysis is not available); filter on other columns", c.Column)
		}
	}
	return nil
}
