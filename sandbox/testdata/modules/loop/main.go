// Command loop reads its column and never ends.
package main

import host "github.com/medchain/medchain/sandbox/internal/wasmhost"

func main() {
	x := host.Column(0)
	for i := 0; ; i++ {
		x[i%len(x)]++
	}
}
