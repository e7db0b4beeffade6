// Command exitcode exits with its first row's value as the exit code: 32
// bits of a record, if the code reached a log.
package main

import (
	"os"

	host "github.com/medchain/medchain/sandbox/internal/wasmhost"
)

func main() {
	os.Exit(int(host.Column(0)[0]))
}
