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

// column reads column i.
func column(i int32) []float64 {
	buf := make([]float64, rows()+1)
	if readColumn(i, unsafe.Pointer(&buf[0]), rows()) != 0 {
		panic("read_column refused")
	}
	return buf[:rows()]
}

// write writes output i; it returns the host's status.
func write(i int32, v []float64) int32 {
	v = append(v, 0)
	return writeOutput(i, unsafe.Pointer(&v[0]), int32(len(v)-1))
}
