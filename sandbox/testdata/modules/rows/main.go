// Command rows tries to get its rows out: it prints them, and writes every
// column into one output (a table of rows, not one value per row), then
// ends normally as if the host had taken it.
package main

import (
	"fmt"
	"os"
)

func main() {
	var all []float64
	for i := range columns() {
		all = append(all, column(i)...)
	}
	fmt.Println(all)
	fmt.Fprintln(os.Stderr, all)
	write(0, all)
}
