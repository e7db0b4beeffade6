package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// seedDemo seeds the demo data of a new network in home (seed.Demo):
// workers registered with the measurement of this binary, cohorts in the
// node's vault, policies, consents.
func seedDemo(ctx context.Context, home, apiAddr string, out io.Writer) error {
	v, err := vaultcfg.Open(filepath.Join(home, "vault"))
	if err != nil {
		return err
	}
	measurement, err := compute.ExecutableMeasurement()
	if err != nil {
		return err
	}
	return seed.Demo(ctx, client.New("http://"+apiAddr), v, node.KeysDir(home), measurement, demoSay(out))
}

// demoSay prints the demo seeding's steps, indented under the node's output.
func demoSay(out io.Writer) func(string, ...any) {
	return func(format string, args ...any) { fmt.Fprintf(out, "  demo: "+format+"\n", args...) }
}
