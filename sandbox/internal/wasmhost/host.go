//go:build wasip1

// Package wasmhost is the medchain host API in Go, for the test modules of
// testdata/modules (package sandbox's doc describes the API).
package wasmhost

import "unsafe"

//go:wasmimport medchain rows
func rows() int32

//go:wasmimport medchain columns
func columns() int32

//go:wasmimport medchain read_column
func readColumn(index int32, ptr unsafe.Pointer, n int32) int32

//go:wasmimport medchain write_output
func writeOutput(index int32, ptr unsafe.Pointer, n int32) int32

// Rows is the number of rows in this run.
func Rows() int { return int(rows()) }

// Columns is the number of columns handed to the module.
func Columns() int { return int(columns()) }

// Column reads column i.
func Column(i int) []float64 {
	buf := make([]float64, rows()+1)
	if readColumn(int32(i), unsafe.Pointer(&buf[0]), rows()) != 0 {
		panic("read_column refused")
	}
	return buf[:rows()]
}

// Write writes output i and returns the host's status.
func Write(i int, v []float64) int32 {
	v = append(v, 0)
	return writeOutput(int32(i), unsafe.Pointer(&v[0]), int32(len(v)-1))
}
