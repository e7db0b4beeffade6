package overlap_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/medchain/medchain/overlap"
)

// k is the minimum cohort size used throughout: cohorts that differ by 1 to
// k−1 patients may not both be released.
const k = 10

func testKey(b byte) (key [32]byte) {
	for i := range key {
		key[i] = b + byte(i)
	}
	return key
}

// patients returns n pseudonyms of the form the de-identifier produces:
// 32 hex characters.
func patients(seed uint64, n int) []string {
	rng := rand.New(rand.NewPCG(seed, 0x0e71a9))
	out := make([]string, n)
	var b [16]byte
	for i := range out {
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		out[i] = hex.EncodeToString(b[:])
	}
	return out
}

func open(t *testing.T, dir string) *overlap.Store {
	t.Helper()
	st, err := overlap.Open(dir, testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func without(s []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(s), func(p string) bool { return slices.Contains(drop, p) })
}

// The attack the rule stops: release an analysis of cohort A, then of A
// without one patient (the researcher adds a filter that only the target
// fails, "age ≤ 89" say) and subtract. The second release is refused.
func TestDifferencingAttackIsRefused(t *testing.T) {
	st := open(t, t.TempDir())
	const ds = "hosp-a/diabetes"
	a := patients(1, 500)
	release := func(label string, cohort []string) error {
		return st.CheckAndRecord(ds, label, st.Sketch(slices.Values(cohort)), k)
	}

	if err := release("job-1", a); err != nil {
		t.Fatalf("first release of A: %v", err)
	}

	// A minus the target: refused, naming the release it would be
	// subtracted from.
	target := a[123]
	err := release("job-2", without(a, target))
	var r *overlap.Refusal
	if !errors.Is(err, overlap.ErrOverlap) || !errors.As(err, &r) {
		t.Fatalf("A minus one patient: got %v, want a refusal", err)
	}
	if r.Label != "job-1" || r.MinCohort != k || r.Dataset != ds {
		t.Fatalf("refusal %+v, want label job-1, minimum %d, dataset %s", r, k, ds)
	}

	// A plus one patient is the same attack the other way round.
	if err := release("job-3", append(slices.Clone(a), patients(2, 1)...)); !errors.Is(err, overlap.ErrOverlap) {
		t.Fatalf("A plus one patient: got %v, want a refusal", err)
	}

	// A minus k patients: the difference is a cohort of k, which the
	// minimum-cohort rule would release on its own. Allowed.
	if err := release("job-4", a[k:]); err != nil {
		t.Fatalf("A minus %d patients: %v", k, err)
	}
	// ...and now it is in the history too: A minus k+1 differs from it by one.
	if err := release("job-5", a[k+1:]); !errors.Is(err, overlap.ErrOverlap) {
		t.Fatalf("A minus %d patients after A minus %d was released: got %v, want a refusal", k+1, k, err)
	}

	// The same cohort again (another analysis of A): difference 0, allowed;
	// repeated analyses are the privacy budget's business.
	if err := release("job-6", a); err != nil {
		t.Fatalf("A again: %v", err)
	}

	// A disjoint cohort: allowed.
	if err := release("job-7", patients(3, 500)); err != nil {
		t.Fatalf("disjoint cohort: %v", err)
	}

	h, err := st.History(ds)
	if err != nil {
		t.Fatal(err)
	}
	want := []overlap.Release{{"job-1", 500}, {"job-4", 500 - k}, {"job-6", 500}, {"job-7", 500}}
	if !slices.Equal(h, want) {
		t.Fatalf("history %v, want %v (refused releases are not recorded)", h, want)
	}
}

// The boundaries of the rule on the pure function, with removals, additions
// and swaps (a swap of one patient for another is a difference of 2).
func TestCheckBoundaries(t *testing.T) {
	key := []byte("a test key, not a secret one....")
	a := patients(1, 500)
	other := patients(2, 50)
	sk := func(s []string) overlap.Sketch { return overlap.NewSketch(key, slices.Values(s)) }
	history := []overlap.Entry{{Label: "job-1", Sketch: sk(a)}}
	for _, c := range []struct {
		name    string
		cohort  []string
		refused bool
	}{
		{"identical", a, false},
		{"identical with duplicate rows", append(slices.Clone(a), a[:100]...), false},
		{"minus 1", a[1:], true},
		{"minus k-1", a[k-1:], true},
		{"minus k", a[k:], false},
		{"minus k+1", a[k+1:], false},
		{"plus 1", append(slices.Clone(a), other[:1]...), true},
		{"plus k-1", append(slices.Clone(a), other[:k-1]...), true},
		{"plus k", append(slices.Clone(a), other[:k]...), false},
		{"one swapped (difference 2)", append(slices.Clone(a[1:]), other[0]), true},
		{"k/2 swapped (difference k)", append(slices.Clone(a[k/2:]), other[:k/2]...), false},
		{"disjoint", patients(3, 500), false},
		{"empty", nil, false},
	} {
		err := overlap.Check(history, sk(c.cohort), k)
		if got := errors.Is(err, overlap.ErrOverlap); got != c.refused || (err != nil && !got) {
			t.Errorf("%s: Check = %v, want refused=%v", c.name, err, c.refused)
		}
	}
	// A tiny earlier cohort: the empty cohort differs from it by fewer than k.
	if err := overlap.Check([]overlap.Entry{{Label: "tiny", Sketch: sk(a[:3])}}, sk(nil), k); !errors.Is(err, overlap.ErrOverlap) {
		t.Errorf("empty cohort after a 3-patient release: %v, want a refusal", err)
	}
	if err := overlap.Check(history, sk(a[1:]), 1); err != nil {
		t.Errorf("minimum 1 refuses nothing, got %v", err)
	}
	if err := overlap.Check(history, sk(a), 0); err == nil || errors.Is(err, overlap.ErrOverlap) {
		t.Errorf("minimum 0: got %v, want an argument error", err)
	}
}

// A refusal must not leak how close the cohorts are: its message is the
// same for a difference of 1 as for k−1.
func TestRefusalMessageIndependentOfDifference(t *testing.T) {
	a := patients(1, 500)
	var msgs []string
	for d := 1; d < k; d++ {
		st := open(t, t.TempDir())
		if err := st.CheckAndRecord("ds", "job-1", st.Sketch(slices.Values(a)), k); err != nil {
			t.Fatal(err)
		}
		err := st.CheckAndRecord("ds", "job-2", st.Sketch(slices.Values(a[d:])), k)
		if err == nil {
			t.Fatalf("difference %d allowed", d)
		}
		msgs = append(msgs, err.Error())
	}
	for d, m := range msgs {
		if m != msgs[0] {
			t.Fatalf("difference %d: message %q differs from difference 1's %q", d+1, m, msgs[0])
		}
	}
	// The message carries the label and the minimum and no other number.
	stripped := strings.NewReplacer(`"job-1"`, "", "10", "").Replace(msgs[0])
	if strings.ContainsAny(stripped, "0123456789") {
		t.Fatalf("refusal message carries a number other than the minimum: %q", msgs[0])
	}
	t.Logf("refusal: %s", msgs[0])
}

func TestRefusedReleaseRecordsNothing(t *testing.T) {
	st := open(t, t.TempDir())
	a := patients(1, 500)
	if err := st.CheckAndRecord("ds", "job-1", st.Sketch(slices.Values(a)), k); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(st.Path("ds"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CheckAndRecord("ds", "job-2", st.Sketch(slices.Values(a[1:])), k); err == nil {
		t.Fatal("allowed")
	}
	after, err := os.ReadFile(st.Path("ds"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("a refused release changed the history file")
	}
}

// A worker that crashed after recording but before releasing retries the
// same job: the retry is allowed and recorded once.
func TestRetryIsIdempotent(t *testing.T) {
	st := open(t, t.TempDir())
	a := st.Sketch(slices.Values(patients(1, 500)))
	for range 3 {
		if err := st.CheckAndRecord("ds", "job-1", a, k); err != nil {
			t.Fatal(err)
		}
	}
	if h, _ := st.History("ds"); len(h) != 1 {
		t.Fatalf("history %v after three tries of one job, want one entry", h)
	}
	// The same label with another cohort is checked like any release: a
	// retry cannot be used to slip a neighbouring cohort through.
	ps := patients(1, 500)
	if err := st.CheckAndRecord("ds", "job-1", st.Sketch(slices.Values(ps[1:])), k); !errors.Is(err, overlap.ErrOverlap) {
		t.Fatalf("same label, cohort minus one: %v, want a refusal", err)
	}
	if err := st.CheckAndRecord("ds", "job-1", st.Sketch(slices.Values(patients(2, 500))), k); err != nil {
		t.Fatalf("same label, disjoint cohort: %v", err)
	}
	if h, _ := st.History("ds"); len(h) != 2 {
		t.Fatalf("history %v, want two entries", h)
	}
}

// The history is per dataset: the same cohort released from two datasets
// is checked against each dataset's own releases.
func TestDatasetsAreSeparate(t *testing.T) {
	st := open(t, t.TempDir())
	a := patients(1, 500)
	if err := st.CheckAndRecord("ds-1", "job-1", st.Sketch(slices.Values(a)), k); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckAndRecord("ds-2", "job-2", st.Sketch(slices.Values(a[1:])), k); err != nil {
		t.Fatalf("other dataset: %v", err)
	}
	if err := st.CheckAndRecord("ds-1", "job-3", st.Sketch(slices.Values(a[1:])), k); !errors.Is(err, overlap.ErrOverlap) {
		t.Fatalf("same dataset: %v, want a refusal", err)
	}
}

func TestHistoryPersistsAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	a := patients(1, 500)
	st := open(t, dir)
	if err := st.CheckAndRecord("ds", "job-1", st.Sketch(slices.Values(a)), k); err != nil {
		t.Fatal(err)
	}
	st = open(t, dir) // a restarted worker
	if err := st.CheckAndRecord("ds", "job-2", st.Sketch(slices.Values(a[1:])), k); !errors.Is(err, overlap.ErrOverlap) {
		t.Fatalf("after reopening: %v, want a refusal", err)
	}
	h, err := st.History("ds")
	if err != nil || !slices.Equal(h, []overlap.Release{{"job-1", 500}}) {
		t.Fatalf("history after reopen: %v, %v", h, err)
	}
}

// A damaged history is an error naming the file, every time, and the store
// does not overwrite it with a fresh history.
func TestTamperedFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	a := patients(1, 500)
	if err := st.CheckAndRecord("ds", "job-1", st.Sketch(slices.Values(a)), k); err != nil {
		t.Fatal(err)
	}
	path := st.Path("ds")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := slices.Clone(good)
		b[i] ^= 1
		return b
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"magic", flip(0)},
		{"version", flip(8)},
		{"nonce", flip(10)},
		{"ciphertext", flip(len(good) / 2)},
		{"tag", flip(len(good) - 1)},
		{"truncated", good[:len(good)-100]},
		{"header only", good[:21]},
		{"empty", nil},
		{"extended", append(slices.Clone(good), 0)},
	} {
		if err := os.WriteFile(path, c.data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, call := range []func() error{
			func() error { _, err := st.History("ds"); return err },
			func() error { return st.CheckAndRecord("ds", "job-2", st.Sketch(slices.Values(patients(9, 500))), k) },
		} {
			err := call()
			if !errors.Is(err, overlap.ErrCorrupt) || !strings.Contains(err.Error(), path) {
				t.Errorf("%s: got %v, want ErrCorrupt naming %s", c.name, err, path)
			}
		}
		if now, _ := os.ReadFile(path); !bytes.Equal(now, c.data) {
			t.Errorf("%s: the store rewrote a damaged history", c.name)
		}
	}

	// Another dataset's (valid) file put in place of this one's.
	if err := st.CheckAndRecord("other", "job-1", st.Sketch(slices.Values(a)), k); err != nil {
		t.Fatal(err)
	}
	other, _ := os.ReadFile(st.Path("other"))
	if err := os.WriteFile(path, other, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := st.History("ds"); !errors.Is(err, overlap.ErrCorrupt) {
		t.Errorf("another dataset's history: got %v, want ErrCorrupt", err)
	}
}

func TestWrongKeyIsAnError(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	if err := st.CheckAndRecord("ds", "job-1", st.Sketch(slices.Values(patients(1, 500))), k); err != nil {
		t.Fatal(err)
	}
	wrong, err := overlap.Open(dir, testKey(2))
	if err != nil {
		t.Fatal(err)
	}
	_, err = wrong.History("ds")
	if !errors.Is(err, overlap.ErrCorrupt) || !strings.Contains(err.Error(), st.Path("ds")) {
		t.Fatalf("wrong key: got %v, want ErrCorrupt naming the file", err)
	}
	if _, err := overlap.Open(dir, [32]byte{}); err == nil {
		t.Fatal("an all-zero key was accepted")
	}
}

// Sketches are keyed: the same cohort sketched under two keys shares
// nothing, so a sketch is useless without the key.
func TestSketchesDependOnTheKey(t *testing.T) {
	a := patients(1, 500)
	s1 := overlap.NewSketch([]byte("key one"), slices.Values(a))
	s2 := overlap.NewSketch([]byte("key two"), slices.Values(a))
	if d := overlap.SymmetricDifference(s1, s2); d != 1000 {
		t.Fatalf("the same cohort under two keys differs by %d keys, want 1000 (no key in common)", d)
	}
}

// Concurrent releases on one dataset behave as if made one after another.
// The cohorts are A, A minus one patient (eight ways), and cohorts k or more
// away from those and from each other. Every pair among the first nine
// differs by 1 or 2 patients, so exactly one of them may be recorded. Half
// the goroutines use a second Store on the same directory, standing in for
// a second worker process (the file lock serialises them).
func TestConcurrentReleasesAreSerialised(t *testing.T) {
	a := patients(1, 300)
	cohorts := [][]string{a}
	for i := range 8 {
		cohorts = append(cohorts, without(a, a[i]))
	}
	for i := range 4 {
		cohorts = append(cohorts, a[20+k*i:]) // ≥ k from all others
	}
	for i := range 3 {
		cohorts = append(cohorts, patients(uint64(10+i), 300))
	}
	for round := range 10 {
		dir := t.TempDir()
		stores := []*overlap.Store{open(t, dir), open(t, dir)}
		sketches := make([]overlap.Sketch, len(cohorts))
		for i, c := range cohorts {
			sketches[i] = stores[0].Sketch(slices.Values(c))
		}
		labels := func(i int) string { return "job-" + string(rune('A'+i)) }
		errs := make([]error, len(cohorts))
		var wg sync.WaitGroup
		for i := range cohorts {
			wg.Go(func() {
				errs[i] = stores[i%2].CheckAndRecord("ds", labels(i), sketches[i], k)
			})
		}
		wg.Wait()

		recorded := map[string]int{}
		h, err := stores[0].History("ds")
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range h {
			recorded[r.Label]++
		}
		conflict := func(i, j int) bool {
			d := overlap.SymmetricDifference(sketches[i], sketches[j])
			return d > 0 && d < k
		}
		nearA := 0
		for i, err := range errs {
			switch {
			case err == nil:
				if recorded[labels(i)] != 1 {
					t.Fatalf("round %d: %s allowed but recorded %d times", round, labels(i), recorded[labels(i)])
				}
				if i < 9 {
					nearA++
				}
				for j := range cohorts {
					if j != i && errs[j] == nil && conflict(i, j) {
						t.Fatalf("round %d: %s and %s both recorded", round, labels(i), labels(j))
					}
				}
			case errors.Is(err, overlap.ErrOverlap):
				if recorded[labels(i)] != 0 {
					t.Fatalf("round %d: %s refused but recorded", round, labels(i))
				}
				blocked := false
				for j := range cohorts {
					blocked = blocked || errs[j] == nil && conflict(i, j)
				}
				if !blocked {
					t.Fatalf("round %d: %s refused though no recorded release conflicts with it", round, labels(i))
				}
			default:
				t.Fatalf("round %d: %s: %v", round, labels(i), err)
			}
		}
		if nearA != 1 {
			t.Fatalf("round %d: %d of A and its one-patient neighbours recorded, want exactly 1", round, nearA)
		}
		if len(h) != len(recorded) {
			t.Fatalf("round %d: history %v has duplicates", round, h)
		}
	}
}

// The sketch and the history file reveal nothing without the key: the
// files hold none of the pseudonyms, in text or in binary.
func TestFilesHoldNoPseudonyms(t *testing.T) {
	dir := t.TempDir()
	st := open(t, dir)
	planted := []string{"00112233445566778899aabbccddeeff", "deadbeefdeadbeefdeadbeefdeadbeef", "0123456789abcdef0123456789abcdef"}
	cohort := append(patients(1, 200), planted...)
	for i := range 3 {
		if err := st.CheckAndRecord("ds", "job-"+string(rune('1'+i)), st.Sketch(slices.Values(cohort[i*k:])), k); err != nil {
			t.Fatal(err)
		}
	}
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	scanned := 0
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		scanned += len(data)
		for _, p := range cohort {
			raw, _ := hex.DecodeString(p)
			for _, needle := range [][]byte{[]byte(p), []byte(strings.ToUpper(p)), raw, raw[:8]} {
				if bytes.Contains(data, needle) {
					t.Fatalf("%s contains pseudonym %s", f.Name(), p)
				}
			}
		}
	}
	if scanned < len(cohort)*8 {
		t.Fatalf("scanned only %d bytes", scanned)
	}
}

// Property: SymmetricDifference, DiffersByLessThan, Equal and Check agree
// with a map-based reference on random cohorts (with duplicate rows) drawn
// from small universes, where overlaps are common.
func TestSymmetricDifferenceMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	key := []byte("property test key")
	draw := func(universe int) []string {
		n := rng.IntN(2 * universe)
		out := make([]string, n)
		for i := range out {
			out[i] = "p" + strconv.Itoa(rng.IntN(universe))
		}
		return out
	}
	set := func(s []string) map[string]bool {
		m := map[string]bool{}
		for _, p := range s {
			m[p] = true
		}
		return m
	}
	for trial := range 2000 {
		universe := 1 + rng.IntN(300)
		a, b := draw(universe), draw(universe)
		if rng.IntN(4) == 0 { // near neighbours
			b = append(slices.Clone(a), draw(3)...)
			b = b[rng.IntN(len(b)/2+1):]
		}
		sa, sb := set(a), set(b)
		want := 0
		for p := range sa {
			if !sb[p] {
				want++
			}
		}
		for p := range sb {
			if !sa[p] {
				want++
			}
		}
		ka, kb := overlap.NewSketch(key, slices.Values(a)), overlap.NewSketch(key, slices.Values(b))
		if ka.Len() != len(sa) || kb.Len() != len(sb) {
			t.Fatalf("trial %d: sizes %d, %d, want %d, %d", trial, ka.Len(), kb.Len(), len(sa), len(sb))
		}
		if got := overlap.SymmetricDifference(ka, kb); got != want {
			t.Fatalf("trial %d: SymmetricDifference = %d, want %d", trial, got, want)
		}
		if got := overlap.SymmetricDifference(kb, ka); got != want {
			t.Fatalf("trial %d: not symmetric", trial)
		}
		if overlap.Equal(ka, kb) != (want == 0) {
			t.Fatalf("trial %d: Equal = %v with difference %d", trial, overlap.Equal(ka, kb), want)
		}
		for kk := 0; kk <= want+2; kk++ {
			if got := overlap.DiffersByLessThan(ka, kb, kk); got != (want < kk) {
				t.Fatalf("trial %d: DiffersByLessThan(k=%d) = %v, difference %d", trial, kk, got, want)
			}
			if kk == 0 {
				continue
			}
			err := overlap.Check([]overlap.Entry{{Label: "x", Sketch: ka}}, kb, kk)
			if refused := err != nil; refused != (want > 0 && want < kk) {
				t.Fatalf("trial %d: Check(k=%d) = %v, difference %d", trial, kk, err, want)
			}
		}
	}
}

// TestHelperProcess is not a test by itself: TestConcurrentProcesses runs
// the test binary as separate worker processes that each make one release.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv("OVERLAP_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestConcurrentProcesses")
	}
	i, err := strconv.Atoi(os.Getenv("OVERLAP_HELPER_COHORT"))
	if err != nil {
		t.Fatal(err)
	}
	a := patients(1, 300)
	cohort := a // cohort 0 is A, cohort i > 0 is A without its i-th patient
	if i > 0 {
		cohort = without(a, a[i-1])
	}
	st := open(t, dir)
	err = st.CheckAndRecord("ds", "job-"+strconv.Itoa(i), st.Sketch(slices.Values(cohort)), k)
	switch {
	case err == nil:
		fmt.Println("outcome:recorded")
	case errors.Is(err, overlap.ErrOverlap):
		fmt.Println("outcome:refused")
	default:
		t.Fatal(err)
	}
}

// Worker processes sharing a store directory are serialised by the file
// lock: of A and five cohorts one patient away from it, released at once
// by six processes, exactly one is recorded.
func TestConcurrentProcesses(t *testing.T) {
	switch runtime.GOOS {
	case "linux", "darwin", "freebsd", "netbsd", "openbsd", "dragonfly":
	default:
		t.Skip("no flock: a store directory belongs to one process")
	}
	if testing.Short() {
		t.Skip("starts processes")
	}
	for round := range 3 {
		dir := t.TempDir()
		cmds := make([]*exec.Cmd, 6)
		outs := make([]bytes.Buffer, len(cmds))
		for i := range cmds {
			cmds[i] = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			cmds[i].Env = append(os.Environ(), "OVERLAP_HELPER_DIR="+dir, "OVERLAP_HELPER_COHORT="+strconv.Itoa(i))
			cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
			if err := cmds[i].Start(); err != nil {
				t.Fatal(err)
			}
		}
		recorded := 0
		for i, c := range cmds {
			if err := c.Wait(); err != nil {
				t.Fatalf("round %d: process %d: %v\n%s", round, i, err, outs[i].String())
			}
			switch out := outs[i].String(); {
			case strings.Contains(out, "outcome:recorded"):
				recorded++
			case !strings.Contains(out, "outcome:refused"):
				t.Fatalf("round %d: process %d said %q", round, i, out)
			}
		}
		h, err := open(t, dir).History("ds")
		if err != nil {
			t.Fatal(err)
		}
		if recorded != 1 || len(h) != 1 {
			t.Fatalf("round %d: %d processes recorded, history %v; want exactly one", round, recorded, h)
		}
	}
}

// The rule's known limit, kept visible: it compares pairs only. C, X (k
// patients) and C ∪ X ∪ {t} are pairwise k or more apart, so all three are
// released, and sum(C∪X∪{t}) − sum(C) − sum(X) is t. Differential privacy
// and the budget, not this rule, bound such combinations.
func TestThreeReleasesAreNotCompared(t *testing.T) {
	st := open(t, t.TempDir())
	ps := patients(1, 200+k+1)
	c, x, target := ps[:200], ps[200:200+k], ps[200+k]
	union := slices.Concat(c, x, []string{target})
	for i, cohort := range [][]string{c, x, union} {
		if err := st.CheckAndRecord("ds", "job-"+strconv.Itoa(i), st.Sketch(slices.Values(cohort)), k); err != nil {
			t.Fatalf("release %d: %v (the rule now compares more than pairs: update README)", i, err)
		}
	}
}
