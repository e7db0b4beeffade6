package outputctl

import (
	"fmt"
)

// Pattern marks the entries of a table with margins that are withheld.
type Pattern struct {
	Cells     [][]bool `json:"cells"`
	RowTotals []bool   `json:"row_totals"`
	ColTotals []bool   `json:"col_totals"`
	Total     bool     `json:"total"`
}

// Suppress decides which entries of a table of counts and its margins (row
// totals, column totals, grand total) must be withheld so that no released
// count, and no count derivable from the released ones, lies in 1…minCell−1:
//
//  1. Primary suppression: every cell or margin from 1 to minCell−1.
//  2. Line rule: in each row and column (margins included), a single
//     withheld entry could be recovered by subtraction, so a second one is
//     withheld; and when the line's total is released, the withheld cells
//     of the line add up to a derivable count, which must be 0 or at least
//     minCell — otherwise one more cell is withheld. The cell chosen is the
//     line's smallest released positive count (zeros only if nothing else
//     is left), then the line's total.
//  3. Cycle rule: in a two-way table with margins, a withheld entry is
//     determined by the released ones exactly when it lies on no cycle of
//     withheld entries (in the bipartite graph of rows and columns, it is a
//     bridge). For each such entry the smallest released count that closes
//     a cycle through it is withheld too.
//
// Rules 2 and 3 repeat until neither changes anything; the pattern never
// lets a withheld entry be derived exactly. Zeros are released: a count of
// 0 is not a small cell.
func Suppress(counts [][]int64, minCell int64) (Pattern, error) {
	if minCell < 1 {
		return Pattern{}, fmt.Errorf("outputctl: minimum cell size %d must be positive", minCell)
	}
	if len(counts) == 0 || len(counts[0]) == 0 {
		return Pattern{}, fmt.Errorf("outputctl: empty table")
	}
	g := &grid{r: len(counts), c: len(counts[0]), minCell: minCell}
	g.v = make([][]int64, g.r+1)
	g.s = make([][]bool, g.r+1)
	for i := range g.v {
		g.v[i] = make([]int64, g.c+1)
		g.s[i] = make([]bool, g.c+1)
	}
	for i, row := range counts {
		if len(row) != g.c {
			return Pattern{}, fmt.Errorf("outputctl: table row %d has %d cells, row 0 has %d", i, len(row), g.c)
		}
		for j, v := range row {
			if v < 0 {
				return Pattern{}, fmt.Errorf("outputctl: negative count in the table")
			}
			g.v[i][j] = v
			g.v[i][g.c] += v
			g.v[g.r][j] += v
			g.v[g.r][g.c] += v
		}
	}
	for i := range g.v {
		for j, v := range g.v[i] {
			g.s[i][j] = g.small(v)
		}
	}
	for g.lineRule() || g.cycleRule() {
	}
	p := Pattern{Cells: make([][]bool, g.r), RowTotals: make([]bool, g.r), ColTotals: make([]bool, g.c), Total: g.s[g.r][g.c]}
	for i := range g.r {
		p.Cells[i] = g.s[i][:g.c:g.c]
		p.RowTotals[i] = g.s[i][g.c]
	}
	for j := range g.c {
		p.ColTotals[j] = g.s[g.r][j]
	}
	return p, nil
}

// grid is the table with its margins: (r+1)×(c+1) entries, row r holding
// the column totals and column c the row totals. Every row and column of
// the grid is a line: its first entries add up to its last.
type grid struct {
	r, c    int
	v       [][]int64
	s       [][]bool // withheld
	minCell int64
}

type entry struct{ i, j int }

func (g *grid) small(v int64) bool { return v >= 1 && v < g.minCell }

// lines are the grid's rows then its columns, each as members and total.
func (g *grid) line(k int) (members []entry, total entry) {
	if k <= g.r {
		for j := range g.c {
			members = append(members, entry{k, j})
		}
		return members, entry{k, g.c}
	}
	j := k - g.r - 1
	for i := range g.r {
		members = append(members, entry{i, j})
	}
	return members, entry{g.r, j}
}

func (g *grid) lineRule() bool {
	changed := false
	for k := range g.r + g.c + 2 {
		members, total := g.line(k)
		n, sum := 0, int64(0)
		for _, e := range members {
			if g.s[e.i][e.j] {
				n++
				sum += g.v[e.i][e.j]
			}
		}
		totalHeld := g.s[total.i][total.j]
		if totalHeld {
			n++
		}
		if n == 1 || (n > 1 && !totalHeld && g.small(sum)) {
			e, found := cheapest(g, members, nil)
			if !found {
				e = total // every cell of the line is withheld already
			}
			g.s[e.i][e.j] = true
			changed = true
		}
	}
	return changed
}

// cheapest is the released entry among candidates (accepted by ok, when
// ok is not nil) whose loss costs least: the smallest positive count, else
// a zero. It reports false when there is none.
func cheapest(g *grid, candidates []entry, ok func(entry) bool) (entry, bool) {
	best, found := entry{}, false
	better := func(a, b int64) bool {
		if (a == 0) != (b == 0) {
			return b == 0
		}
		return a < b
	}
	for _, e := range candidates {
		if g.s[e.i][e.j] || (ok != nil && !ok(e)) {
			continue
		}
		if !found || better(g.v[e.i][e.j], g.v[best.i][best.j]) {
			best, found = e, true
		}
	}
	return best, found
}

// cycleRule finds a withheld entry that is a bridge of the bipartite graph
// whose nodes are the grid's rows and columns and whose edges are the
// withheld entries, and withholds a released entry closing a cycle through
// it. It reports whether it changed anything.
func (g *grid) cycleRule() bool {
	b, ok := g.bridge()
	if !ok {
		return false
	}
	// Removing the bridge splits its component into the side holding its
	// row and the side holding its column; any entry joining a row of one
	// side to a column of the other closes a cycle through the bridge.
	g.s[b.i][b.j] = false
	side := g.component(b.i)
	g.s[b.i][b.j] = true
	other := g.component(g.r + 1 + b.j)
	var all []entry
	for i := range g.r + 1 {
		for j := range g.c + 1 {
			all = append(all, entry{i, j})
		}
	}
	e, found := cheapest(g, all, func(e entry) bool {
		row, col := e.i, g.r+1+e.j
		return (side[row] && other[col]) || (other[row] && side[col])
	})
	if !found {
		// Cannot happen once the line rule holds (both ends of a bridge
		// then have another withheld entry); withhold everything rather
		// than release a derivable count.
		for i := range g.s {
			for j := range g.s[i] {
				g.s[i][j] = true
			}
		}
		return true
	}
	g.s[e.i][e.j] = true
	return true
}

// neighbours lists a node's adjacent nodes: node i ≤ r is row i, node
// r+1+j is column j.
func (g *grid) neighbours(node int) []int {
	var out []int
	if node <= g.r {
		for j := range g.c + 1 {
			if g.s[node][j] {
				out = append(out, g.r+1+j)
			}
		}
		return out
	}
	j := node - g.r - 1
	for i := range g.r + 1 {
		if g.s[i][j] {
			out = append(out, i)
		}
	}
	return out
}

func (g *grid) component(start int) map[int]bool {
	seen := map[int]bool{start: true}
	queue := []int{start}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, m := range g.neighbours(n) {
			if !seen[m] {
				seen[m] = true
				queue = append(queue, m)
			}
		}
	}
	return seen
}

// bridge finds a withheld entry lying on no cycle (Tarjan's bridge-finding
// depth-first search), scanning nodes in order so the choice is
// deterministic.
func (g *grid) bridge() (entry, bool) {
	nodes := g.r + g.c + 2
	disc, low := make([]int, nodes), make([]int, nodes)
	for i := range disc {
		disc[i] = -1
	}
	time := 0
	var found entry
	var ok bool
	var dfs func(u, parent int)
	dfs = func(u, parent int) {
		disc[u], low[u] = time, time
		time++
		for _, v := range g.neighbours(u) {
			if ok {
				return
			}
			if disc[v] < 0 {
				dfs(v, u)
				low[u] = min(low[u], low[v])
				if low[v] > disc[u] && !ok {
					found, ok = g.edge(u, v), true
				}
			} else if v != parent {
				low[u] = min(low[u], disc[v])
			}
		}
	}
	for u := range nodes {
		if disc[u] < 0 && !ok {
			dfs(u, -1)
		}
	}
	return found, ok
}

func (g *grid) edge(a, b int) entry {
	if a > b {
		a, b = b, a
	}
	return entry{a, b - g.r - 1}
}
