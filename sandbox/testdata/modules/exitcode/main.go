// Command exitcode exits with its first row's value as the exit code: 32
// bits of a record, if the code reached a log.
package main

import "os"

func main() {
	os.Exit(int(column(0)[0]))
}
