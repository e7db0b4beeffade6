package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/sandbox"
)

// modules are the test modules of testdata/modules, built once for the
// package's tests by buildModules.
var modules struct{ dir string }

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sandbox-modules")
	if err != nil {
		panic(err)
	}
	modules.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goWasm runs go build for GOOS=wasip1 GOARCH=wasm; the test is skipped
// when the toolchain cannot target it.
func goWasm(t testing.TB, args ...string) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain on PATH")
	}
	cmd := exec.Command("go", append([]string{"build"}, args...)...)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("unsupported GOOS/GOARCH")) {
			t.Skipf("the toolchain cannot target wasip1: %s", out)
		}
		t.Fatalf("go build %v: %v\n%s", args, err, out)
	}
}

// module returns the bytes and hash of a test module (testdata/modules/NAME).
func module(t testing.TB, name string) ([]byte, string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(modules.dir, "loop")); err != nil {
		goWasm(t, "-trimpath", "-o", modules.dir+"/", "./testdata/modules/...")
	}
	wasm, err := os.ReadFile(filepath.Join(modules.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return wasm, sandbox.Hash(wasm)
}

func meansd(t testing.TB) ([]byte, string) {
	t.Helper()
	wasm, err := os.ReadFile("testdata/meansd.wasm")
	if err != nil {
		t.Fatal(err)
	}
	return wasm, sandbox.Hash(wasm)
}

var limits = sandbox.Limits{MemoryPages: 4096, Timeout: time.Minute}

// cohort is n rows of two columns with nulls; every value distinct.
func cohort(n int) [][]float64 {
	a, b := make([]float64, n), make([]float64, n)
	for i := range n {
		a[i] = 100 + float64(i)*0.001
		b[i] = -float64(i) * 1.5
		if i%7 == 3 {
			b[i] = math.NaN()
		}
	}
	return [][]float64{a, b}
}

func seeded(s uint64) sandbox.Source { return rand.NewPCG(s, s^0x9e3779b97f4a7c15) }

// The example module's checked-in bytes are what its source builds to with
// the command in its doc comment, and its hash is the one recorded.
func TestExampleModuleRebuildsToItsHash(t *testing.T) {
	want, err := os.ReadFile("testdata/meansd.wasm.sha256")
	if err != nil {
		t.Fatal(err)
	}
	gover, err := os.ReadFile("testdata/meansd.wasm.go-version")
	if err != nil {
		t.Fatal(err)
	}
	// The bytes a Go toolchain emits change between releases: the example
	// is reproducible with the toolchain recorded beside it, and only that
	// one is held to the hash (the checked-in module is what the other
	// tests run, whatever builds them).
	if v, err := exec.Command("go", "env", "GOVERSION").Output(); err == nil && strings.TrimSpace(string(v)) != strings.TrimSpace(string(gover)) {
		t.Skipf("testdata/meansd.wasm was built with %s; this toolchain is %s: rebuild it with the command in examples/wasm/meansd and update the .sha256 and .go-version files to check it here",
			strings.TrimSpace(string(gover)), strings.TrimSpace(string(v)))
	}
	out := filepath.Join(t.TempDir(), "meansd.wasm")
	goWasm(t, "-C", "..", "-trimpath", "-ldflags=-s -w -buildid=", "-o", out, "./examples/wasm/meansd")
	built, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	checked, h := meansd(t)
	if got := sandbox.Hash(built); got != h {
		v, _ := exec.Command("go", "env", "GOVERSION").Output()
		t.Fatalf("examples/wasm/meansd builds to %s, testdata/meansd.wasm is %s (recorded with %s, building with %s): rebuild it with the command in its doc comment and update the .sha256 and .go-version files",
			got, h, strings.TrimSpace(string(gover)), strings.TrimSpace(string(v)))
	}
	if !bytes.Equal(built, checked) {
		t.Fatal("same hash, different bytes")
	}
	if line := fmt.Sprintf("%s  meansd.wasm\n", h); string(want) != line {
		t.Fatalf("testdata/meansd.wasm.sha256 is %q, want %q", want, line)
	}
}

// The example hands every column back as an output, nulls included, for
// any number of rows: the worker then summarises exactly the column.
func TestMeanSDModuleMapsEachColumnToAnOutput(t *testing.T) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	wasm, h := meansd(t)
	for _, n := range []int{1, 7, 11, 1000} {
		cols := cohort(n)
		out, err := e.Map(context.Background(), sandbox.Job{Hash: h, Wasm: wasm, Columns: cols, Outputs: 2, Limits: limits}, seeded(uint64(n)))
		if err != nil {
			t.Fatalf("%d rows: %v", n, err)
		}
		for c := range cols {
			for i := range cols[c] {
				if a, b := out[c][i], cols[c][i]; a != b && !(math.IsNaN(a) && math.IsNaN(b)) {
					t.Fatalf("%d rows: output %d row %d is %v, want %v", n, c, i, a, b)
				}
			}
		}
	}
}

// A module that never ends is closed at its job's time limit.
func TestLoopingModuleStoppedAtItsTimeLimit(t *testing.T) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	wasm, h := module(t, "loop")
	lim := sandbox.Limits{MemoryPages: 4096, Timeout: 300 * time.Millisecond}
	_, err := e.Map(context.Background(), sandbox.Job{Hash: h, Wasm: wasm, Columns: cohort(100), Outputs: 1, Limits: lim}, seeded(1))
	if !errors.Is(err, sandbox.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
}

// A module that allocates without end is stopped at its memory limit.
func TestAllocatingModuleStoppedAtItsMemoryLimit(t *testing.T) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	wasm, h := module(t, "alloc")
	lim := sandbox.Limits{MemoryPages: 512, Timeout: time.Minute} // 32 MiB
	_, err := e.Map(context.Background(), sandbox.Job{Hash: h, Wasm: wasm, Columns: cohort(100), Outputs: 1, Limits: lim}, seeded(1))
	if !errors.Is(err, sandbox.ErrMemory) {
		t.Fatalf("got %v, want ErrMemory", err)
	}
}

// A module that tries to hand its rows back — printed, or as one output of
// rows×columns values — is refused, and what it printed goes nowhere: the
// error names the shape, not a value.
func TestModuleReturningRowsRefused(t *testing.T) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	wasm, h := module(t, "rows")
	cols := cohort(50)
	_, err := e.Map(context.Background(), sandbox.Job{Hash: h, Wasm: wasm, Columns: cols, Outputs: 1, Limits: limits}, seeded(1))
	t.Logf("refused: %v", err)
	if !errors.Is(err, sandbox.ErrShape) {
		t.Fatalf("got %v, want ErrShape", err)
	}
	for _, v := range cols[0] {
		if s := fmt.Sprint(v); strings.Contains(err.Error(), s) {
			t.Fatalf("the error %q carries the value %s", err, s)
		}
	}
}

// A module whose outputs for a row depend on other rows (here every row
// gets one row's value, so its "mean" is that record) is caught by the
// check blocks, whatever the draw.
func TestModuleReadingOtherRowsRefused(t *testing.T) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	wasm, h := module(t, "peek")
	for seed := range uint64(5) {
		_, err := e.Map(context.Background(), sandbox.Job{Hash: h, Wasm: wasm, Columns: cohort(200), Outputs: 1, Limits: limits}, seeded(seed))
		if !errors.Is(err, sandbox.ErrDependsOnOtherRows) {
			t.Fatalf("seed %d: got %v, want ErrDependsOnOtherRows", seed, err)
		}
	}
}

// WASI gives a module nothing of the host: no files, no directory, no
// environment or arguments, no network; its clock and its random numbers
// are the same fixed sequence in every run.
func TestModuleCannotReachTheHost(t *testing.T) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	wasm, h := module(t, "escape")
	t.Setenv("MEDCHAIN_SECRET", "x")
	var prev [][]float64
	for range 2 {
		out, err := e.Run(context.Background(), h, wasm, 4096, [][]float64{{1, 2, 3}}, 3)
		if err != nil {
			t.Fatal(err)
		}
		if mask := out[0][0]; mask != 0 {
			t.Fatalf("host access mask %v: the module reached something of the host", mask)
		}
		if now := time.Now().Unix(); math.Abs(out[1][0]-float64(now)) < 24*3600 {
			t.Fatalf("the module read the host's clock (%v)", out[1][0])
		}
		if prev != nil && (out[1][0] != prev[1][0] || out[2][0] != prev[2][0]) {
			t.Fatalf("clock or random differ between runs: %v %v", out, prev)
		}
		prev = out
	}
	if _, err := os.Stat("/tmp/escaped"); err == nil {
		t.Fatal("the module wrote a host file")
	}
}

// A module's bytes must have the hash the job names.
func TestWrongHashRefused(t *testing.T) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	wasm, h := meansd(t)
	bad := strings.Repeat("0", 64)
	if _, err := e.Map(context.Background(), sandbox.Job{Hash: bad, Wasm: wasm, Columns: cohort(20), Outputs: 2, Limits: limits}, seeded(1)); !errors.Is(err, sandbox.ErrHash) {
		t.Fatalf("got %v, want ErrHash", err)
	}
	d := sandbox.Dir(t.TempDir())
	got, err := d.Install(wasm)
	if err != nil || got != h {
		t.Fatalf("install: %s %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(string(d), bad+".wasm"), wasm, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Module(bad); !errors.Is(err, sandbox.ErrHash) {
		t.Fatalf("a file under another hash: got %v, want ErrHash", err)
	}
	if _, err := d.Module(h); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Module(strings.Repeat("1", 64)); !errors.Is(err, sandbox.ErrNotInstalled) {
		t.Fatalf("got %v, want ErrNotInstalled", err)
	}
	if _, err := d.Module("../x"); err == nil {
		t.Fatal("a path accepted as a hash")
	}
}

// Jobs naming many memory limits do not grow the engine's cache without
// bound, and a module evicted with its limit compiles again when asked.
func TestEngineCacheIsBounded(t *testing.T) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	wasm, h := meansd(t)
	for _, pages := range []uint32{256, 257, 258, 259, 260, 261, 256} {
		out, err := e.Run(context.Background(), h, wasm, pages, [][]float64{{1, 2}}, 1)
		if err != nil || out[0][1] != 2 {
			t.Fatalf("%d pages: %v %v", pages, out, err)
		}
		if n := sandbox.CachedRuntimes(e); n > 4 {
			t.Fatalf("%d runtimes cached", n)
		}
	}
}

// Modules that are not Go's: one with a memory of no pages and nothing to
// run, one with no memory at all. Both start (the memory allocator copes
// with an empty memory) and are refused for writing no outputs.
func TestTinyModulesRefusedForTheirShape(t *testing.T) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	header := []byte{0, 'a', 's', 'm', 1, 0, 0, 0}
	for name, wasm := range map[string][]byte{
		"memory of 0 pages": append(header[:8:8], 5, 4, 1, 1, 0, 0),
		"no memory":         header,
	} {
		_, err := e.Run(context.Background(), sandbox.Hash(wasm), wasm, 16, [][]float64{{1}}, 1)
		if !errors.Is(err, sandbox.ErrShape) {
			t.Errorf("%s: got %v, want ErrShape", name, err)
		}
	}
}

// A caller that gives up (a worker shutting down) gets its own
// cancellation back, not ErrTimeout: the job is retried, not failed.
func TestCancelledCallerIsNotATimeout(t *testing.T) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	wasm, h := module(t, "loop")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := e.Map(ctx, sandbox.Job{Hash: h, Wasm: wasm, Columns: cohort(100), Outputs: 1, Limits: limits}, seeded(1))
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sandbox.ErrTimeout) {
		t.Fatalf("got %v, want the caller's context.DeadlineExceeded", err)
	}
}

// A module's exit code is its choice, so data: the error says that it
// exited non-zero, not with what.
func TestExitCodeNotInTheError(t *testing.T) {
	e := sandbox.NewEngine()
	defer e.Close(context.Background())
	wasm, h := module(t, "exitcode")
	_, err := e.Run(context.Background(), h, wasm, 4096, [][]float64{{173}}, 1)
	if !errors.Is(err, sandbox.ErrModule) || strings.Contains(err.Error(), "173") {
		t.Fatalf("got %v, want ErrModule without the code", err)
	}
}
