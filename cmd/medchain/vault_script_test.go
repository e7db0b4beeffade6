package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/blob"
)

// The vault commands are tested with testscript too (testdata/vault),
// against the shared node. They run after TestScripts, whose parallel
// scripts use every demo institution key, so they may sign with any of
// them without racing for nonces. $SYNTHEA is the repository's Synthea
// sample (testdata/synthea at the module root; see its README.md).
func TestVaultScripts(t *testing.T) {
	synthea, err := filepath.Abs("../../testdata/synthea")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(synthea, "LICENSE")); err != nil {
		t.Fatalf("the Synthea sample: %v", err)
	}
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/vault",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			for _, f := range []string{"medchain.json", "config/genesis.json"} {
				if err := copyFile(filepath.Join(tn.Home, f), filepath.Join(home, f)); err != nil {
					return err
				}
			}
			entries, err := os.ReadDir(node.KeysDir(tn.Home))
			if err != nil {
				return err
			}
			for _, e := range entries {
				if err := copyFile(filepath.Join(node.KeysDir(tn.Home), e.Name()), filepath.Join(node.KeysDir(home), e.Name())); err != nil {
					return err
				}
			}
			env.Setenv("MEDCHAIN_HOME", home)
			env.Setenv("SYNTHEA", synthea)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"jsonvar":   jsonvar,
			"tamper":    tamper,
			"runworker": runworker,
		},
	})
}

// runworker KEYNAME ORG MEASUREMENT runs the compute worker of key
// KEYNAME (in the script's home) for ORG once, as `medchain up` runs it:
// against the shared node's API and results store, on the script's vault.
// It prints one line per job site: "job ID DATASET: ACTION [REASON]".
func runworker(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: runworker KEYNAME ORG MEASUREMENT")
	}
	home := ts.Getenv("MEDCHAIN_HOME")
	k, err := keys.Load(node.KeysDir(home), args[0])
	ts.Check(err)
	v, err := vault.Open(filepath.Join(home, "vault"))
	ts.Check(err)
	rs, err := compute.OpenResultStore(compute.ResultsDir(tn.Home))
	ts.Check(err)
	w := &compute.Worker{Key: k, Org: args[1], Measurement: args[2], Vault: v, Ledger: client.New(tn.URL), Results: rs}
	outs, err := w.RunOnce(context.Background())
	ts.Check(err)
	for _, o := range outs {
		fmt.Fprintf(ts.Stdout(), "job %d %s: %s %s\n", o.Job, o.Dataset, o.Action, o.Reason)
	}
}

// tamper VAULT DATASET VERSION COLUMN CHUNK flips one bit in the middle of
// a stored chunk, as a failing disk or an attacker would.
func tamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 5 {
		ts.Fatalf("usage: tamper VAULT DATASET VERSION COLUMN CHUNK")
	}
	version, err := strconv.ParseUint(args[2], 10, 64)
	ts.Check(err)
	chunk, err := strconv.Atoi(args[4])
	ts.Check(err)
	v, err := vault.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	m, err := v.Manifest(args[1], version)
	ts.Check(err)
	for _, c := range m.Columns {
		if c.Name == args[3] {
			st, err := blob.OpenDir(filepath.Join(v.Root(), "datasets", args[1], args[2], "blobs"))
			ts.Check(err)
			p := st.Path(c.Chunks[chunk].Addr)
			b, err := os.ReadFile(p)
			ts.Check(err)
			b[len(b)/2] ^= 1
			ts.Check(os.WriteFile(p, b, 0o600))
			return
		}
	}
	ts.Fatalf("no column %s", args[3])
}
