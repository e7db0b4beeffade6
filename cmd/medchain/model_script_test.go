package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/medchain/medchain/client"
)

// tamperproof FILE flips the low bit of byte 97 of the proof in a
// prediction file (as `medchain model prove` writes it), leaving the file
// well formed: what a forger or a corrupted copy would hand over. Byte 97
// is the first of the scalar φ1 (after the version byte and the points S,
// A, A2), so the proof still decodes and its equations fail.
func tamperproof(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tamperproof FILE")
	}
	path := ts.MkAbs(args[0])
	pf, err := client.ReadPredictionFile(path)
	ts.Check(err)
	pf.Proof[1+3*32] ^= 1
	b, err := json.MarshalIndent(pf, "", "  ")
	ts.Check(err)
	ts.Check(os.WriteFile(path, b, 0o600))
}

// perm FILE MODE checks a file's permission bits (octal, e.g. 0600).
func perm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm FILE MODE")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := uint64(fi.Mode().Perm())
	if (got == want) == neg {
		ts.Fatalf("%s has mode %#o; want %s%#o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
	fmt.Fprintf(ts.Stdout(), "%s: %#o\n", args[0], got)
}
