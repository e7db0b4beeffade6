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

// The block plan: every row is put into one of ProductionBlocks disjoint
// blocks at random, whose outputs are kept; independently, every row is
// put into one of ProductionBlocks buckets at random, and the first
// CheckBlocks buckets are run as check blocks, whose rows' outputs must
// repeat the production ones bit for bit. A row i whose output depends on
// another row j is caught by a check block that holds i but not j: i is in
// a check block with probability 1/2, and in j's with 1/16. So k rows
// depending on j all escape with probability at most (5/8)^k (a leak of j
// through a "mean" needs many), and a single dependent row with 9/16. The
// checks cost half a pass over the rows.
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
	for _, c := range j.Columns {
		if len(c) != n {
			return nil, fmt.Errorf("sandbox: columns of %d and %d rows", n, len(c))
		}
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, j.Limits.Timeout)
	defer cancel()
	out := make([][]float64, j.Outputs)
	for k := range out {
		out[k] = make([]float64, n)
	}
	if n == 0 {
		return out, nil
	}
	// Every row goes to a random production block, and, independently, to
	// a random one of ProductionBlocks buckets of which the first
	// CheckBlocks are check blocks: so a check block has the size
	// distribution of a production block, and the module cannot tell them
	// apart. Within a block rows keep the cohort's order; the order cannot
	// carry a leak past the checks either, as a row's output that depends
	// on its position depends on which other rows are in its block.
	prod, check := assign(src, n, ProductionBlocks), assign(src, n, ProductionBlocks)
	// Inputs are gathered, outputs scattered and checks compared in one
	// sequential pass over the rows each: a block's rows are spread over
	// the whole column, and a pass per block would read every cache line
	// of it once per block.
	type run struct {
		in    [][]float64 // per column
		out   [][]float64 // per output
		check bool
	}
	runs := make([]*run, ProductionBlocks+CheckBlocks)
	for b := range runs {
		runs[b] = &run{in: make([][]float64, len(j.Columns)), check: b >= ProductionBlocks}
	}
	prodSize, checkSize := sizes(prod), sizes(check)
	for c, col := range j.Columns {
		for b := range ProductionBlocks {
			runs[b].in[c] = make([]float64, 0, prodSize[b])
		}
		for b := range CheckBlocks {
			runs[ProductionBlocks+b].in[c] = make([]float64, 0, checkSize[b])
		}
		for r, x := range col {
			p := runs[prod[r]]
			p.in[c] = append(p.in[c], x)
			if k := int(check[r]); k < CheckBlocks {
				q := runs[ProductionBlocks+k]
				q.in[c] = append(q.in[c], x)
			}
		}
	}
	order := make([]*run, len(runs))
	copy(order, runs)
	for i := len(order) - 1; i > 0; i-- {
		k := int(uniform(src, uint64(i+1)))
		order[i], order[k] = order[k], order[i]
	}
	for _, b := range order {
		got, err := e.Run(ctx, j.Hash, j.Wasm, j.Limits.MemoryPages, b.in, j.Outputs)
		if err != nil {
			if perr := parent.Err(); perr != nil {
				// The caller gave up (a worker shutting down): not the
				// module's time limit, and not the job's failure.
				return nil, perr
			}
			return nil, err
		}
		b.in, b.out = nil, got
	}
	for k := range out {
		var at [ProductionBlocks]int
		for r := range n {
			b := prod[r]
			out[k][r] = runs[b].out[k][at[b]]
			at[b]++
		}
	}
	for k := range out {
		var at [CheckBlocks]int
		for r := range n {
			c := int(check[r])
			if c >= CheckBlocks {
				continue
			}
			if !same(runs[ProductionBlocks+c].out[k][at[c]], out[k][r]) {
				return nil, ErrDependsOnOtherRows
			}
			at[c]++
		}
	}
	return out, nil
}

// same is bit equality, with every NaN (a null) equal to every other.
func same(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
}

// assign puts each of the rows 0…n−1 into one of k buckets uniformly at
// random (k a power of two up to 256: one byte of randomness per row) and
// returns each row's bucket.
func assign(src Source, n, k int) []uint8 {
	ids := make([]uint8, n)
	mask := uint64(k - 1)
	var word uint64
	for i := range ids {
		if i%8 == 0 {
			word = src.Uint64()
		}
		ids[i] = uint8(word & mask)
		word >>= 8
	}
	return ids
}

// sizes counts the rows of each bucket.
func sizes(ids []uint8) [256]int {
	var n [256]int
	for _, b := range ids {
		n[b]++
	}
	return n
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
