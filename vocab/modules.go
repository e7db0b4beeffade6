package vocab

// Custom analyses (`code:<sha256>`) run a WebAssembly module under limits
// the job states in its params ("limits"), so that they are recorded on
// the ledger with the job; the ledger refuses a job whose limits are
// missing or outside these ranges, and the worker enforces them.
const (
	// MaxModuleMemoryPages bounds a module's memory: 16384 WebAssembly
	// pages of 64 KiB, 1 GiB.
	MaxModuleMemoryPages = 16384
	// MaxModuleTimeoutMillis bounds a module's wall-clock time over all its
	// runs for one site: 5 minutes.
	MaxModuleTimeoutMillis = 300_000
)

// ModuleLimits are a custom analysis job's limits (params "limits").
type ModuleLimits struct {
	MemoryPages   uint32 `json:"memory_pages"`
	TimeoutMillis uint32 `json:"timeout_ms"`
}
