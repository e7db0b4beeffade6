// Package sandbox runs custom analyses: WebAssembly modules, admitted by
// the SHA-256 of their bytes, executed by wazero with no I/O but a narrow
// host API.
//
// A module is a per-row map. It is handed the consented rows of the
// columns the job asked for (as float64 arrays, NaN for a null), and for
// each row it writes one value per declared output. It never returns an
// aggregate and nothing it writes leaves the worker: the worker clamps
// every value to the output's declared bounds and releases only the
// built-in summaries of each output (count, mean, SD, quantiles) through
// the same output controls as the descriptive analysis. So the module
// chooses *what* is summarised, never how much one record can move a
// released number.
//
// That argument needs each row's outputs to depend on that row alone: a
// module that wrote row 17's value into every row would make a "mean" of
// one record. Map enforces it by running the module on disjoint random
// blocks of the rows (each block a fresh instance) and on extra random
// blocks drawn the same way whose rows' outputs must be bit-identical to
// what the same rows gave in their production block. The module cannot
// tell a check block from a production block (same size distribution,
// fresh instance, deterministic clock and random source), and a row whose
// output depends on another row changes when that row is absent, which it
// is from most blocks (see the block plan in map.go for the odds).
//
// Host API (import module "medchain"; pointers and lengths are i32, lengths
// count float64 values, stored little-endian as WebAssembly stores them):
//
//	rows() -> i32                             rows in this run
//	columns() -> i32                          columns handed to the module, in the job's order
//	outputs() -> i32                          outputs the module must write, in the job's order
//	read_column(index, ptr, len) -> i32       copy column index (len = rows) to memory at ptr
//	write_output(index, ptr, len) -> i32      take output index (len = rows) from memory at ptr
//
// The calls return 0, or a negative Status for a bad index, length or
// pointer (the module may stop; the run is refused anyway). Every output
// must be written exactly once; a run that ends otherwise is refused.
//
// WASI (wasi_snapshot_preview1) is provided so that modules built by
// ordinary toolchains (Go's GOOS=wasip1) start, but it gives nothing of
// the host: no files or directories (nothing is mounted), no sockets, no
// arguments or environment, an empty stdin, stdout and stderr going
// nowhere that is logged, a clock that is a counter (it advances 1 ms a
// reading, from a fixed epoch) and a random source that is a fixed
// deterministic stream. Memory is capped in pages and the run in wall-clock
// time (the module is closed when its deadline passes).
package sandbox
