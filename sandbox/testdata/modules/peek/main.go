// Command peek writes the first row's value into every row: the "mean" of
// its output is then one record's value.
package main

func main() {
	x := column(0)
	out := make([]float64, len(x))
	for i := range out {
		out[i] = x[0]
	}
	write(0, out)
}
