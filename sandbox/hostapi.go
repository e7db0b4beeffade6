package sandbox

// HostAPI documents, for authors of modules, what a module imports and
// what it may expect (medchain analysis describe code prints it).
const HostAPI = `A custom analysis is a WebAssembly module (wasm32; Go: GOOS=wasip1 GOARCH=wasm) whose
_start maps rows to outputs. It imports, from module "medchain" (i32 arguments and
results; lengths count float64 values, little-endian, 8 bytes each):

  rows() -> i32                          rows in this run
  columns() -> i32                       columns handed to it, in the order of params "columns"
  outputs() -> i32                       outputs it must write, in the order of params "outputs"
  read_column(index, ptr, len) -> i32    copy column index (len = rows) into memory at ptr;
                                         a null is NaN
  write_output(index, ptr, len) -> i32   hand over output index (len = rows) from memory at ptr:
                                         one value per row, in the rows' order; NaN = no value

Calls return 0, or -1 (no such index), -2 (len is not rows), -3 (the range is outside the
module's memory), -4 (output already written). Every output is written exactly once; a run
that ends otherwise, exits non-zero or traps fails the job (analysis_error).

The module sees only the consented rows that meet the params' filter, only the columns it
named, split into random blocks: it is run once per block, each a fresh instance. Row by row its outputs must depend on that row alone: extra runs on random
blocks check that each row's outputs repeat bit for bit, and a job whose module reads
other rows fails (analysis_error). What leaves the worker is, per output, the count,
mean, SD and quantiles of its values clamped to the output's bounds, released under the
dataset's output controls (minimum cohort, noise at the policy's epsilon) exactly as the
descriptive analysis releases a column: never a row, never a number the module chose.

WASI (wasi_snapshot_preview1) is there so that ordinary toolchains' modules start, and
gives nothing: no files or directories, no sockets, no arguments or environment, an empty
stdin, stdout and stderr discarded, a clock that starts at a fixed date and advances 1 ms
per reading, and a fixed random stream. The job's params "limits" cap its memory
(memory_pages, 64 KiB each) and its wall-clock time over all runs (timeout_ms); a module
over either is stopped and the job fails (resource_exhausted).

The example examples/wasm/meansd hands each column back as an output; a data holder lists
the module's hash (medchain analysis hash FILE) in its policy's analyses.code_hashes and
installs it for its worker (medchain analysis install FILE).`
