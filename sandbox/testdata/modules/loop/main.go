// Command loop reads its column and never ends.
package main

func main() {
	x := column(0)
	for i := 0; ; i++ {
		x[i%len(x)]++
	}
}
