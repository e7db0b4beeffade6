package overlap

import (
	"encoding/hex"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
)

const benchRows = 1_000_000

func benchPseudonyms(n int) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]string, n)
	var b [16]byte
	for i := range out {
		for j := 0; j < 16; j += 8 {
			x := rng.Uint64()
			for k := range 8 {
				b[j+k] = byte(x >> (8 * k))
			}
		}
		out[i] = hex.EncodeToString(b[:])
	}
	return out
}

// BenchmarkNewSketch: one cohort of a million 32-hex-character pseudonyms.
func BenchmarkNewSketch(b *testing.B) {
	ps := benchPseudonyms(benchRows)
	key := []byte("0123456789abcdef0123456789abcdef")
	b.ResetTimer()
	for b.Loop() {
		if s := NewSketch(key, slices.Values(ps)); s.Len() != benchRows {
			b.Fatal(s.Len())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchRows, "ns/row")
}

// randomCohorts draws n cohorts of size rows each, uniformly from a
// population of 2·rows patients (sketch keys are uniform 64-bit values, so
// random keys stand in for hashed pseudonyms).
func randomCohorts(seed uint64, n, rows int) []Sketch {
	rng := rand.New(rand.NewPCG(seed, 3))
	pop := make([]uint64, 2*rows)
	for i := range pop {
		pop[i] = rng.Uint64()
	}
	out := make([]Sketch, n)
	for c := range out {
		for i := range rows { // partial Fisher–Yates
			j := i + rng.IntN(len(pop)-i)
			pop[i], pop[j] = pop[j], pop[i]
		}
		keys := slices.Clone(pop[:rows])
		slices.Sort(keys)
		out[c] = Sketch{keys: slices.Compact(keys)}
	}
	return out
}

// BenchmarkCheckAndRecord: a dataset with 20 releases of a million patients
// each (a 160 MB history) receives a 21st: load, decrypt and authenticate
// the history, check, append, encrypt, write, fsync, rename. Each iteration
// starts from the same 20-release file.
func BenchmarkCheckAndRecord(b *testing.B) {
	var key [32]byte
	key[0] = 1
	dir := b.TempDir()
	st, err := Open(dir, key)
	if err != nil {
		b.Fatal(err)
	}
	cohorts := randomCohorts(1, 21, benchRows)
	var plain []byte
	for i, c := range cohorts[:20] {
		plain = appendEntry(plain, "job-"+strconv.Itoa(i), c)
	}
	if err := st.save("ds", plain); err != nil {
		b.Fatal(err)
	}
	base, err := os.ReadFile(st.Path("ds"))
	if err != nil {
		b.Fatal(err)
	}
	cur := cohorts[20]
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		if err := os.WriteFile(st.Path("ds"), base, 0o600); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := st.CheckAndRecord("ds", "job-20", cur, 11); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	fi, err := os.Stat(st.Path("ds"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(fi.Size())/1e6, "MB-on-disk")
	b.ReportMetric(float64(fi.Size())/1e6/21, "MB/release")
}

// BenchmarkCheck: the rule alone, worst case. Twenty earlier cohorts of a
// million patients, each of the same size as the new one and differing from
// it by exactly 2k patients near the top of the key range, so neither the
// size test nor an early difference cuts the merge short.
func BenchmarkCheck(b *testing.B) {
	const k = 11
	cur := randomCohorts(2, 1, benchRows)[0]
	top := cur.keys[len(cur.keys)-1]
	history := make([]Entry, 20)
	for i := range history {
		n := len(cur.keys)
		keys := slices.Concat(cur.keys[:n-(i+1)*k], cur.keys[n-i*k:])
		for j := range k {
			keys = append(keys, top+uint64(1+i*k+j))
		}
		history[i] = Entry{Label: strconv.Itoa(i), Sketch: Sketch{keys: keys}}
	}
	for b.Loop() {
		if err := Check(history, cur, k); err != nil {
			b.Fatal(err)
		}
	}
}
