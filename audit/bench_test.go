package audit

import (
	"sync"
	"testing"

	"github.com/medchain/medchain/store"
)

// benchLogSize is the size of the log the benchmarks run against.
const benchLogSize = 1_000_000

// The 1,000,000-entry log is built once per test binary, on store.Mem, and
// shared read-only by the benchmarks; BenchmarkAppend writes to an overlay
// on top of it.
var bench struct {
	once sync.Once
	db   *store.Mem
	err  error
}

func benchStore(b *testing.B) *store.Mem {
	b.Helper()
	bench.once.Do(func() {
		bench.db = store.NewMem()
		l, err := Open(bench.db, testPrefix)
		if err != nil {
			bench.err = err
			return
		}
		for i := 0; i < benchLogSize; i++ {
			if _, err := l.Append(testEntry(i)); err != nil {
				bench.err = err
				return
			}
		}
	})
	if bench.err != nil {
		b.Fatal(bench.err)
	}
	return bench.db
}

// counter counts store traffic.
type counter struct {
	store.ReadWriter
	gets, sets, setBytes int
}

func (c *counter) Get(k []byte) ([]byte, error) {
	c.gets++
	return c.ReadWriter.Get(k)
}

func (c *counter) Set(k, v []byte) error {
	c.sets++
	c.setBytes += len(k) + len(v)
	return c.ReadWriter.Set(k, v)
}

// benchIndex spreads the i-th benchmark query over [0, n) deterministically.
func benchIndex(i int, n uint64) uint64 { return uint64(i) * 2654435761 % n }

func benchLog(b *testing.B, c *counter) *Log {
	b.Helper()
	l, err := Open(c, testPrefix)
	if err != nil {
		b.Fatal(err)
	}
	if l.Size() != benchLogSize {
		b.Fatalf("log size %d", l.Size())
	}
	return l
}

func proofBytes(p [][]byte) int {
	n := 0
	for _, h := range p {
		n += len(h)
	}
	return n
}

// Appending to the 1,000,000-entry log, staged in an overlay as the ledger
// does.
func BenchmarkAppend(b *testing.B) {
	c := &counter{ReadWriter: store.NewOverlay(benchStore(b))}
	l := benchLog(b, c)
	entry := testEntry(benchLogSize)
	c.gets, c.sets, c.setBytes = 0, 0, 0
	n := 0
	for b.Loop() {
		if _, err := l.Append(entry); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(c.gets)/float64(n), "reads/op")
	b.ReportMetric(float64(c.sets)/float64(n), "writes/op")
	b.ReportMetric(float64(c.setBytes)/float64(n), "written-bytes/op")
}

// Inclusion proofs for entries spread over the whole 1,000,000-entry tree.
func BenchmarkInclusionProof(b *testing.B) {
	c := &counter{ReadWriter: benchStore(b)}
	l := benchLog(b, c)
	n, total := 0, 0
	for b.Loop() {
		p, err := l.InclusionProof(benchIndex(n, benchLogSize), benchLogSize)
		if err != nil {
			b.Fatal(err)
		}
		total += proofBytes(p)
		n++
	}
	b.ReportMetric(float64(total)/float64(n), "proof-bytes")
	b.ReportMetric(float64(c.gets)/float64(n), "reads/op")
}

// Client-side verification of inclusion proofs in the 1,000,000-entry tree.
func BenchmarkVerifyInclusion(b *testing.B) {
	c := &counter{ReadWriter: benchStore(b)}
	l := benchLog(b, c)
	root, err := l.Root()
	if err != nil {
		b.Fatal(err)
	}
	type claim struct {
		index uint64
		entry []byte
		proof [][]byte
	}
	claims := make([]claim, 1024)
	total := 0
	for i := range claims {
		index := benchIndex(i, benchLogSize)
		p, err := l.InclusionProof(index, benchLogSize)
		if err != nil {
			b.Fatal(err)
		}
		claims[i] = claim{index, testEntry(int(index)), p}
		total += proofBytes(p)
	}
	n := 0
	for b.Loop() {
		cl := claims[n%len(claims)]
		if err := VerifyInclusion(cl.entry, cl.index, benchLogSize, cl.proof, root); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(total)/float64(len(claims)), "proof-bytes")
}

// Consistency proofs from sizes spread over [1, 1,000,000] to 1,000,000.
func BenchmarkConsistencyProof(b *testing.B) {
	c := &counter{ReadWriter: benchStore(b)}
	l := benchLog(b, c)
	n, total := 0, 0
	for b.Loop() {
		p, err := l.ConsistencyProof(1+benchIndex(n, benchLogSize), benchLogSize)
		if err != nil {
			b.Fatal(err)
		}
		total += proofBytes(p)
		n++
	}
	b.ReportMetric(float64(total)/float64(n), "proof-bytes")
	b.ReportMetric(float64(c.gets)/float64(n), "reads/op")
}

// Client-side verification of consistency proofs to the 1,000,000-entry tree.
func BenchmarkVerifyConsistency(b *testing.B) {
	c := &counter{ReadWriter: benchStore(b)}
	l := benchLog(b, c)
	root2, err := l.Root()
	if err != nil {
		b.Fatal(err)
	}
	type claim struct {
		size1 uint64
		root1 []byte
		proof [][]byte
	}
	claims := make([]claim, 1024)
	total := 0
	for i := range claims {
		size1 := 1 + benchIndex(i, benchLogSize)
		root1, err := l.RootAt(size1)
		if err != nil {
			b.Fatal(err)
		}
		p, err := l.ConsistencyProof(size1, benchLogSize)
		if err != nil {
			b.Fatal(err)
		}
		claims[i] = claim{size1, root1, p}
		total += proofBytes(p)
	}
	n := 0
	for b.Loop() {
		cl := claims[n%len(claims)]
		if err := VerifyConsistency(cl.size1, benchLogSize, cl.proof, cl.root1, root2); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(total)/float64(len(claims)), "proof-bytes")
}

// Roots of historic sizes spread over [0, 1,000,000).
func BenchmarkRootAt(b *testing.B) {
	c := &counter{ReadWriter: benchStore(b)}
	l := benchLog(b, c)
	n := 0
	for b.Loop() {
		if _, err := l.RootAt(benchIndex(n, benchLogSize)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(c.gets)/float64(n), "reads/op")
}

// Open reads one record whatever the log size.
func BenchmarkOpen(b *testing.B) {
	db := benchStore(b)
	for b.Loop() {
		if _, err := Open(db, testPrefix); err != nil {
			b.Fatal(err)
		}
	}
}
