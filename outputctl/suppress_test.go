package outputctl_test

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/medchain/medchain/outputctl"
)

// A 2×2 table with one small cell: withholding that cell alone would let
// anyone recover it as a margin minus its neighbour, so the whole interior
// goes, and the margins — all at least 11 — stay.
func TestSuppressTwoByTwoWithOneSmallCell(t *testing.T) {
	counts := [][]int64{
		{3, 40},
		{25, 60},
	}
	p, err := outputctl.Suppress(counts, 11)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		for j := range 2 {
			if !p.Cells[i][j] {
				t.Errorf("cell (%d,%d) released", i, j)
			}
		}
	}
	if p.RowTotals[0] || p.RowTotals[1] || p.ColTotals[0] || p.ColTotals[1] || p.Total {
		t.Errorf("margins withheld: %+v", p)
	}
	checkPattern(t, counts, p, 11)
}

// A small margin is itself a small count and is withheld, with whatever
// that takes.
func TestSuppressSmallMargin(t *testing.T) {
	counts := [][]int64{
		{4, 0, 30},
		{3, 50, 20},
		{0, 15, 18},
	}
	p, err := outputctl.Suppress(counts, 11)
	if err != nil {
		t.Fatal(err)
	}
	if !p.ColTotals[0] {
		t.Errorf("column total 7 released")
	}
	checkPattern(t, counts, p, 11)
}

// A one-way table is a table with one column: a lone small category costs
// a second one, so that the total minus the others does not give it away.
func TestSuppressOneWay(t *testing.T) {
	counts := [][]int64{{120}, {7}, {45}, {0}}
	p, err := outputctl.Suppress(counts, 11)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Cells[1][0] || !p.Cells[2][0] || p.Cells[0][0] || p.Cells[3][0] || p.Total {
		t.Errorf("pattern %+v: want 7 and the next smallest positive (45) withheld", p.Cells)
	}
	checkPattern(t, counts, p, 11)
}

// Random tables: whatever the shape and however many small cells, no
// released count is small, no withheld count can be solved for from the
// released ones (checked by exact linear algebra, independently of the
// bridge-finding the rule uses), and no line's withheld cells add up to a
// small count when the line's total is released.
func TestSuppressNeverLeavesADerivableSmallCount(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := range 400 {
		r, c := 1+rng.IntN(5), 1+rng.IntN(5)
		counts := make([][]int64, r)
		for i := range counts {
			counts[i] = make([]int64, c)
			for j := range counts[i] {
				switch rng.IntN(4) {
				case 0:
					counts[i][j] = 0
				case 1:
					counts[i][j] = 1 + rng.Int64N(10)
				default:
					counts[i][j] = 11 + rng.Int64N(100)
				}
			}
		}
		p, err := outputctl.Suppress(counts, 11)
		if err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			return
		}
		checkPattern(t, counts, p, 11)
		if t.Failed() {
			t.Logf("trial %d: %v", trial, counts)
			return
		}
	}
}

func checkPattern(t *testing.T, counts [][]int64, p outputctl.Pattern, minCell int64) {
	t.Helper()
	for _, msg := range problems(counts, p, minCell) {
		t.Error(msg)
	}
}

// The checker is worth trusting only if it catches a bad pattern: primary
// suppression alone leaves the small cell derivable from its margins.
func TestCheckerCatchesPrimaryOnlySuppression(t *testing.T) {
	counts := [][]int64{{3, 40}, {25, 60}}
	p := outputctl.Pattern{Cells: [][]bool{{true, false}, {false, false}}, RowTotals: []bool{false, false}, ColTotals: []bool{false, false}}
	if got := problems(counts, p, 11); len(got) == 0 {
		t.Fatal("primary-only suppression passed the checker")
	} else {
		t.Log(got)
	}
}

// problems lists the ways a pattern breaks the release rules.
func problems(counts [][]int64, p outputctl.Pattern, minCell int64) []string {
	var out []string
	r, c := len(counts), len(counts[0])
	// The grid: the table, row totals in column c, column totals in row r.
	v := make([][]int64, r+1)
	s := make([][]bool, r+1)
	for i := range v {
		v[i] = make([]int64, c+1)
		s[i] = make([]bool, c+1)
	}
	for i := range r {
		for j := range c {
			v[i][j] = counts[i][j]
			v[i][c] += counts[i][j]
			v[r][j] += counts[i][j]
			v[r][c] += counts[i][j]
			s[i][j] = p.Cells[i][j]
		}
		s[i][c] = p.RowTotals[i]
	}
	for j := range c {
		s[r][j] = p.ColTotals[j]
	}
	s[r][c] = p.Total
	small := func(x int64) bool { return x >= 1 && x < minCell }

	for i := range r + 1 {
		for j := range c + 1 {
			if !s[i][j] && small(v[i][j]) {
				out = append(out, fmt.Sprintf("small count %d released at (%d,%d)", v[i][j], i, j))
			}
		}
	}
	// Lines: each row and column of the grid; members add up to the last.
	var lines [][][2]int
	for i := range r + 1 {
		var l [][2]int
		for j := range c + 1 {
			l = append(l, [2]int{i, j})
		}
		lines = append(lines, l)
	}
	for j := range c + 1 {
		var l [][2]int
		for i := range r + 1 {
			l = append(l, [2]int{i, j})
		}
		lines = append(lines, l)
	}
	for _, l := range lines {
		tot := l[len(l)-1]
		if s[tot[0]][tot[1]] {
			continue
		}
		var sum int64
		for _, e := range l[:len(l)-1] {
			if s[e[0]][e[1]] {
				sum += v[e[0]][e[1]]
			}
		}
		if small(sum) {
			out = append(out, fmt.Sprintf("withheld cells of line %v add up to the small count %d", l, sum))
		}
	}
	// Exact derivability: unknowns are the withheld entries; each line gives
	// Σ members − total = 0. An unknown is determined iff its unit vector is
	// in the row space of the coefficient matrix.
	idx := map[[2]int]int{}
	for i := range r + 1 {
		for j := range c + 1 {
			if s[i][j] {
				idx[[2]int{i, j}] = len(idx)
			}
		}
	}
	var rows [][]*big.Rat
	for _, l := range lines {
		row := make([]*big.Rat, len(idx))
		for k := range row {
			row[k] = new(big.Rat)
		}
		nonzero := false
		for n, e := range l {
			if k, ok := idx[e]; ok {
				coef := int64(1)
				if n == len(l)-1 {
					coef = -1
				}
				row[k].SetInt64(coef)
				nonzero = true
			}
		}
		if nonzero {
			rows = append(rows, row)
		}
	}
	rref := reduce(rows, len(idx))
	for e, k := range idx {
		if unitInRowSpace(rref, k) {
			out = append(out, fmt.Sprintf("withheld entry %v (count %d) is derivable from the released counts", e, v[e[0]][e[1]]))
		}
	}
	return out
}

// reduce brings rows to reduced row echelon form over the rationals.
func reduce(rows [][]*big.Rat, cols int) [][]*big.Rat {
	pivotRow := 0
	for col := 0; col < cols && pivotRow < len(rows); col++ {
		sel := -1
		for i := pivotRow; i < len(rows); i++ {
			if rows[i][col].Sign() != 0 {
				sel = i
				break
			}
		}
		if sel < 0 {
			continue
		}
		rows[pivotRow], rows[sel] = rows[sel], rows[pivotRow]
		inv := new(big.Rat).Inv(rows[pivotRow][col])
		for k := range cols {
			rows[pivotRow][k].Mul(rows[pivotRow][k], inv)
		}
		for i := range rows {
			if i == pivotRow || rows[i][col].Sign() == 0 {
				continue
			}
			f := new(big.Rat).Set(rows[i][col])
			for k := range cols {
				rows[i][k].Sub(rows[i][k], new(big.Rat).Mul(f, rows[pivotRow][k]))
			}
		}
		pivotRow++
	}
	return rows[:pivotRow]
}

// unitInRowSpace: e_k is in the row space of a matrix in reduced row
// echelon form iff some row is exactly e_k.
func unitInRowSpace(rref [][]*big.Rat, k int) bool {
	for _, row := range rref {
		unit := true
		for j, x := range row {
			if (j == k && x.Cmp(big.NewRat(1, 1)) != 0) || (j != k && x.Sign() != 0) {
				unit = false
				break
			}
		}
		if unit {
			return true
		}
	}
	return false
}
