//go:build wasip1

// Command meansd is medchain's example custom analysis: a WebAssembly
// module that hands each column it is given back as an output, row by
// row, so that the worker releases each column's count, mean, SD and
// quantiles under the dataset's output controls — the numbers the
// built-in descriptive analysis releases for the same column and bounds.
//
// Build it (the bytes, and so the hash a policy lists, depend on the Go
// version; testdata/meansd.wasm.sha256 records both):
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -ldflags="-s -w -buildid=" -o sandbox/testdata/meansd.wasm ./examples/wasm/meansd
//
// It uses only the host API of package sandbox (module "medchain").
package main

import "unsafe"

//go:wasmimport medchain rows
func rows() int32

//go:wasmimport medchain columns
func columns() int32

//go:wasmimport medchain outputs
func outputs() int32

//go:wasmimport medchain read_column
func readColumn(index int32, ptr unsafe.Pointer, n int32) int32

//go:wasmimport medchain write_output
func writeOutput(index int32, ptr unsafe.Pointer, n int32) int32

func main() {
	n, k := rows(), columns()
	if outputs() != k {
		panic("meansd writes one output per column")
	}
	buf := make([]float64, n+1) // +1: a valid pointer when there are no rows
	p := unsafe.Pointer(&buf[0])
	for i := range k {
		if readColumn(i, p, n) != 0 {
			panic("read_column refused")
		}
		if writeOutput(i, p, n) != 0 {
			panic("write_output refused")
		}
	}
}
