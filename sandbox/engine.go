package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
)

// Errors of a run. A module's own failures (ErrTimeout, ErrMemory,
// ErrModule, ErrShape, ErrDependsOnOtherRows) are decided after it read
// data; ErrHash and ErrLimits before.
var (
	ErrTimeout            = errors.New("sandbox: the module ran past its time limit")
	ErrMemory             = errors.New("sandbox: the module ran out of its memory limit")
	ErrModule             = errors.New("sandbox: the module failed")
	ErrShape              = errors.New("sandbox: the module's outputs do not have the declared shape")
	ErrDependsOnOtherRows = errors.New("sandbox: a row's outputs depend on other rows")
	ErrHash               = errors.New("sandbox: the module's bytes do not have the admitted hash")
	ErrLimits             = errors.New("sandbox: limits out of range")
)

// Status is what a host call returns to the module.
type Status int32

// Statuses of host calls.
const (
	StatusOK         Status = 0
	StatusBadIndex   Status = -1 // no such column or output
	StatusBadLength  Status = -2 // len is not rows()
	StatusBadPointer Status = -3 // [ptr, ptr+8·len) is not in the module's memory
	StatusTwice      Status = -4 // the output was already written
)

// Limits bound one module's execution. They are the job's (its params
// carry them, so they are recorded on the ledger), within the ledger's
// ranges.
type Limits struct {
	MemoryPages uint32        // WebAssembly pages of 64 KiB the module's memory may grow to
	Timeout     time.Duration // wall-clock time for the whole computation (every run)
}

// MaxMemoryPages is the most a job may give a module: 1 GiB.
const MaxMemoryPages = 1 << 14

func (l Limits) validate() error {
	if l.MemoryPages == 0 || l.MemoryPages > MaxMemoryPages {
		return fmt.Errorf("%w: memory_pages %d, want 1 to %d", ErrLimits, l.MemoryPages, MaxMemoryPages)
	}
	if l.Timeout <= 0 {
		return fmt.Errorf("%w: timeout %v", ErrLimits, l.Timeout)
	}
	return nil
}

// Hash is the hex SHA-256 of a module's bytes: what a policy lists and a
// job names (code:<hash>).
func Hash(wasm []byte) string {
	h := sha256.Sum256(wasm)
	return hex.EncodeToString(h[:])
}

// Engine compiles modules once and runs them many times. Compiled code is
// kept per memory limit (wazero fixes the limit per runtime) and per
// hash, so a cached module starts without compiling. At most maxRuntimes
// memory limits are kept (the least recently used idle one is closed), so
// jobs naming many different limits cannot grow the cache without bound.
// Safe for concurrent use.
type Engine struct {
	mu       sync.Mutex
	runtimes map[uint32]*engineRuntime
	clock    uint64 // counts uses, for least-recently-used
}

const maxRuntimes = 4

type engineRuntime struct {
	r        wazero.Runtime
	compiled map[string]wazero.CompiledModule
	inUse    int
	lastUse  uint64
}

// NewEngine returns an engine with an empty cache.
func NewEngine() *Engine { return &Engine{runtimes: map[uint32]*engineRuntime{}} }

// Close frees every compiled module.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for k, rt := range e.runtimes {
		errs = append(errs, rt.r.Close(ctx))
		delete(e.runtimes, k)
	}
	return errors.Join(errs...)
}

// acquire returns the compiled module for hash under a memory limit,
// compiling wasm (which must have that hash) if it is not cached; the
// caller must release the runtime when its instance is done.
func (e *Engine) acquire(ctx context.Context, hash string, wasm []byte, pages uint32) (*engineRuntime, wazero.CompiledModule, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.clock++
	rt, ok := e.runtimes[pages]
	if !ok {
		e.evict(ctx)
		cfg := wazero.NewRuntimeConfig().
			WithMemoryLimitPages(pages).
			// A module past its deadline is closed where it runs, even in
			// a loop without calls.
			WithCloseOnContextDone(true)
		r := wazero.NewRuntimeWithConfig(context.WithoutCancel(ctx), cfg)
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
			_ = r.Close(ctx)
			return nil, nil, err
		}
		if _, err := hostModule(r).Instantiate(ctx); err != nil {
			_ = r.Close(ctx)
			return nil, nil, err
		}
		rt = &engineRuntime{r: r, compiled: map[string]wazero.CompiledModule{}}
		e.runtimes[pages] = rt
	}
	c, ok := rt.compiled[hash]
	if !ok {
		// A cached module is the one with the hash; new bytes are checked.
		if Hash(wasm) != hash {
			return nil, nil, ErrHash
		}
		var err error
		if c, err = rt.r.CompileModule(ctx, wasm); err != nil {
			return nil, nil, fmt.Errorf("%w: does not compile: %v", ErrModule, err)
		}
		rt.compiled[hash] = c
	}
	rt.inUse++
	rt.lastUse = e.clock
	return rt, c, nil
}

func (e *Engine) release(rt *engineRuntime) {
	e.mu.Lock()
	rt.inUse--
	e.mu.Unlock()
}

// evict closes the least recently used idle runtimes while the cache is
// full (e.mu held).
func (e *Engine) evict(ctx context.Context) {
	for len(e.runtimes) >= maxRuntimes {
		var oldest uint32
		var found *engineRuntime
		for pages, rt := range e.runtimes {
			if rt.inUse == 0 && (found == nil || rt.lastUse < found.lastUse) {
				oldest, found = pages, rt
			}
		}
		if found == nil {
			return // every one is running: exceed the bound for a while
		}
		_ = found.r.Close(ctx)
		delete(e.runtimes, oldest)
	}
}

// run is one instance's input and output: the host functions find it in
// the context of the call.
type run struct {
	rows    int
	columns [][]float64 // each rows long
	outputs [][]float64 // filled by write_output
	bad     Status      // the first refused host call
}

type runKey struct{}

func (r *run) refuse(s Status) int32 {
	if r.bad == StatusOK {
		r.bad = s
	}
	return int32(s)
}

// hostModule is the host API (package doc).
func hostModule(r wazero.Runtime) wazero.HostModuleBuilder {
	cur := func(ctx context.Context) *run { return ctx.Value(runKey{}).(*run) }
	b := r.NewHostModuleBuilder("medchain")
	b.NewFunctionBuilder().WithFunc(func(ctx context.Context) int32 { return int32(cur(ctx).rows) }).Export("rows")
	b.NewFunctionBuilder().WithFunc(func(ctx context.Context) int32 { return int32(len(cur(ctx).columns)) }).Export("columns")
	b.NewFunctionBuilder().WithFunc(func(ctx context.Context) int32 { return int32(len(cur(ctx).outputs)) }).Export("outputs")
	b.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, index, ptr, n uint32) int32 {
		r := cur(ctx)
		if int(index) >= len(r.columns) {
			return r.refuse(StatusBadIndex)
		}
		if int(n) != r.rows {
			return r.refuse(StatusBadLength)
		}
		if uint64(n)*8 > math.MaxUint32 {
			return r.refuse(StatusBadPointer)
		}
		if m.Memory() == nil { // a module without a memory
			return r.refuse(StatusBadPointer)
		}
		mem, ok := m.Memory().Read(ptr, n*8)
		if !ok {
			return r.refuse(StatusBadPointer)
		}
		putFloats(mem, r.columns[index])
		return int32(StatusOK)
	}).Export("read_column")
	b.NewFunctionBuilder().WithFunc(func(ctx context.Context, m api.Module, index, ptr, n uint32) int32 {
		r := cur(ctx)
		if int(index) >= len(r.outputs) {
			return r.refuse(StatusBadIndex)
		}
		if r.outputs[index] != nil {
			return r.refuse(StatusTwice)
		}
		if int(n) != r.rows {
			return r.refuse(StatusBadLength)
		}
		if uint64(n)*8 > math.MaxUint32 {
			return r.refuse(StatusBadPointer)
		}
		if m.Memory() == nil { // a module without a memory
			return r.refuse(StatusBadPointer)
		}
		mem, ok := m.Memory().Read(ptr, n*8)
		if !ok {
			return r.refuse(StatusBadPointer)
		}
		out := make([]float64, n)
		getFloats(out, mem)
		r.outputs[index] = out
		return int32(StatusOK)
	}).Export("write_output")
	return b
}

// littleEndian: WebAssembly memory is little-endian, so on a
// little-endian host a float64 slice and the module's bytes are the same
// bytes and are copied with one memmove.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// putFloats writes xs into mem (8·len(xs) bytes) as WebAssembly stores them.
func putFloats(mem []byte, xs []float64) {
	if len(xs) == 0 {
		return
	}
	if littleEndian {
		copy(mem, unsafe.Slice((*byte)(unsafe.Pointer(&xs[0])), 8*len(xs)))
		return
	}
	for i, x := range xs {
		binary.LittleEndian.PutUint64(mem[8*i:], math.Float64bits(x))
	}
}

// getFloats reads xs from mem (8·len(xs) bytes).
func getFloats(xs []float64, mem []byte) {
	if len(xs) == 0 {
		return
	}
	if littleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&xs[0])), 8*len(xs)), mem)
		return
	}
	for i := range xs {
		xs[i] = math.Float64frombits(binary.LittleEndian.Uint64(mem[8*i:]))
	}
}

// maxStderr is how much of a module's stderr is kept, only to tell an
// out-of-memory crash from other failures; it is never logged or returned.
const maxStderr = 4 << 10

type capped struct{ bytes.Buffer }

func (c *capped) Write(p []byte) (int, error) {
	if room := maxStderr - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Run instantiates the module once on rows (each column len rows) and
// returns its outputs (nOutputs columns of rows values). The deadline of
// ctx stops it.
func (e *Engine) Run(ctx context.Context, hash string, wasm []byte, pages uint32, columns [][]float64, nOutputs int) ([][]float64, error) {
	rt, compiled, err := e.acquire(ctx, hash, wasm, pages)
	if err != nil {
		return nil, err
	}
	defer e.release(rt)
	rows := 0
	if len(columns) > 0 {
		rows = len(columns[0])
	}
	for _, c := range columns {
		if len(c) != rows {
			return nil, fmt.Errorf("sandbox: columns of %d and %d rows", rows, len(c))
		}
	}
	if rows > math.MaxInt32/8 {
		return nil, fmt.Errorf("%w: %d rows do not fit a module's 32-bit memory", ErrMemory, rows)
	}
	st := &run{rows: rows, columns: columns, outputs: make([][]float64, nOutputs)}
	var stderr capped
	// No mounts, no args, no env, no stdin, no stdout; clocks and the
	// random source are wazero's deterministic defaults.
	cfg := wazero.NewModuleConfig().WithName("").WithStderr(&stderr)
	ictx := context.WithValue(ctx, runKey{}, st)
	if allocator != nil {
		ictx = experimental.WithMemoryAllocator(ictx, allocator)
	}
	m, err := rt.r.InstantiateModule(ictx, compiled, cfg)
	if m != nil {
		_ = m.Close(ctx)
	}
	if err != nil {
		var exit *sys.ExitError
		switch {
		case errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeDeadlineExceeded,
			errors.As(err, &exit) && exit.ExitCode() == sys.ExitCodeContextCanceled,
			ctx.Err() != nil:
			return nil, ErrTimeout
		case bytes.Contains(stderr.Bytes(), []byte("out of memory")):
			// Go's runtime reports a refused memory.grow so.
			return nil, ErrMemory
		case errors.As(err, &exit):
			// Not the code itself: the module chooses it, so it could be
			// 32 bits of a record on their way to a log.
			return nil, fmt.Errorf("%w: it exited with a non-zero code", ErrModule)
		}
		return nil, fmt.Errorf("%w: it trapped", ErrModule)
	}
	if st.bad != StatusOK {
		return nil, fmt.Errorf("%w: a host call was refused (status %d)", ErrShape, st.bad)
	}
	for i, o := range st.outputs {
		if o == nil {
			return nil, fmt.Errorf("%w: output %d was not written", ErrShape, i)
		}
	}
	return st.outputs, nil
}
