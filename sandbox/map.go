package sandbox

import (
	"context"
	"fmt"
	"math"
	"math/bits"
)

// Source is randomness for assigning rows to blocks (crypto/rand in a
// worker; a seeded generator in tests).
type Source interface {
	Uint64() uint64
}

// The block plan: the rows are cut into ProductionBlocks disjoint blocks
// whose outputs are kept, and CheckBlocks more blocks of the same size,
// each a fresh random sample of the rows, whose outputs must repeat them.
// A row's output that depends on another row j is caught by a check block
// that holds the row but not j (j is absent from 7 in 8 of them); a
// dependence spread over many rows, as a leak of j through a "mean" needs,
// escapes all four checks only when j is in every check block that holds
// any of them, about 1 in 8⁴. The checks cost half a pass over the rows.
const (
	ProductionBlocks = 8
	CheckBlocks      = 4
)

// Job is one custom analysis over a cohort: the module, the columns it
// reads (each the cohort's rows, NaN for null) and how many outputs it
// writes per row.
type Job struct {
	Hash    string
	Wasm    []byte
	Columns [][]float64
	Outputs int
	Limits  Limits
}

// Map runs the module over every row under the block plan and returns its
// outputs, Outputs columns of the cohort's rows in the cohort's order. It
// fails with ErrDependsOnOtherRows when a check block's outputs differ from
// the production blocks', and with the errors of Run. The job's time limit
// covers every run.
func (e *Engine) Map(ctx context.Context, j Job, src Source) ([][]float64, error) {
	if err := j.Limits.validate(); err != nil {
		return nil, err
	}
	if j.Outputs < 1 {
		return nil, fmt.Errorf("%w: no outputs", ErrShape)
	}
	n := 0
	if len(j.Columns) > 0 {
		n = len(j.Columns[0])
	}
	ctx, cancel := context.WithTimeout(ctx, j.Limits.Timeout)
	defer cancel()
	out := make([][]float64, j.Outputs)
	for k := range out {
		out[k] = make([]float64, n)
	}
	if n == 0 {
		return out, nil
	}
	type block struct {
		rows  []int // cohort row indices, in the order the module sees them
		check bool
	}
	nb := min(ProductionBlocks, n)
	perm := permutation(src, n)
	var blocks []block
	for b, at := 0, 0; b < nb; b++ {
		size := n / nb
		if b < n%nb {
			size++
		}
		blocks = append(blocks, block{rows: perm[at : at+size]})
		at += size
	}
	for range CheckBlocks {
		// The size of a production block drawn at random, so a block's size
		// does not tell a check from a production run.
		size := len(blocks[uniform(src, uint64(nb))].rows)
		blocks = append(blocks, block{rows: permutation(src, n)[:size], check: true})
	}
	for i := len(blocks) - 1; i > 0; i-- {
		k := int(uniform(src, uint64(i+1)))
		blocks[i], blocks[k] = blocks[k], blocks[i]
	}
	var checks []block
	var checked [][][]float64
	for _, b := range blocks {
		in := make([][]float64, len(j.Columns))
		for c, col := range j.Columns {
			in[c] = make([]float64, len(b.rows))
			for p, r := range b.rows {
				in[c][p] = col[r]
			}
		}
		got, err := e.Run(ctx, j.Hash, j.Wasm, j.Limits.MemoryPages, in, j.Outputs)
		if err != nil {
			return nil, err
		}
		if b.check {
			checks, checked = append(checks, b), append(checked, got)
			continue
		}
		for k, o := range got {
			for p, r := range b.rows {
				out[k][r] = o[p]
			}
		}
	}
	for i, b := range checks {
		for k, o := range checked[i] {
			for p, r := range b.rows {
				if !same(o[p], out[k][r]) {
					return nil, ErrDependsOnOtherRows
				}
			}
		}
	}
	return out, nil
}

// same is bit equality, with every NaN (a null) equal to every other.
func same(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
}

// permutation is a uniformly random permutation of 0…n−1 (Fisher–Yates).
func permutation(src Source, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		k := int(uniform(src, uint64(i+1)))
		p[i], p[k] = p[k], p[i]
	}
	return p
}

// uniform draws from {0, …, n−1} without bias (Lemire's multiply-and-reject).
func uniform(src Source, n uint64) uint64 {
	hi, lo := bits.Mul64(src.Uint64(), n)
	if lo < n {
		threshold := -n % n
		for lo < threshold {
			hi, lo = bits.Mul64(src.Uint64(), n)
		}
	}
	return hi
}
