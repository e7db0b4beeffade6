// Command rows tries to get its rows out: it prints them, and writes every
// column into one output (a table of rows, not one value per row), then
// ends normally as if the host had taken it.
package main

import (
	"fmt"
	"os"

	host "github.com/medchain/medchain/sandbox/internal/wasmhost"
)

func main() {
	var all []float64
	for i := range host.Columns() {
		all = append(all, host.Column(i)...)
	}
	fmt.Println(all)
	fmt.Fprintln(os.Stderr, all)
	host.Write(0, all)
}
