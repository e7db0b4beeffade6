package devnet_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/medchain/medchain/devnet"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/node"
)

// Loopback addresses nothing listens on: creating a network writes them
// into its config, and no test here starts the node.
var opts = node.NetOptions{ChainID: "devnet-test", API: "127.0.0.1:1", RPC: "127.0.0.1:2", P2P: "127.0.0.1:3"}

func names(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

func state(t *testing.T, home string) devnet.State {
	t.Helper()
	st, err := devnet.Inspect(home)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A created network stays Incomplete until its first run says it is
// done; the next Prepare of an incomplete home whose node never ran
// removes it and creates it anew (a new validator key, so nothing of the
// old one is reused), one whose node ran is kept to finish its first run
// (with the demo data it was created with), and a completed one is resumed
// as it is. The network's keys are in a marked dev keystore.
func TestFirstRunLifeCycle(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	if st := state(t, home); st != devnet.Absent {
		t.Fatalf("new home: %v", st)
	}
	got, err := devnet.Prepare(home, opts)
	if err != nil || got.Outcome != devnet.Created {
		t.Fatalf("Prepare on an absent home: %v, %v", got, err)
	}
	if st := state(t, home); st != devnet.Incomplete || !node.Initialized(home) {
		t.Fatalf("after Create: %v (initialized %v), want incomplete and initialized", st, node.Initialized(home))
	}
	// A dev network's keys are plaintext and its key directory says so.
	if !keys.IsDev(node.KeysDir(home)) {
		t.Fatalf("the created network's key directory %s is not marked as a dev keystore", node.KeysDir(home))
	}
	pv := filepath.Join(home, "config", "priv_validator_key.json")
	first, err := os.ReadFile(pv)
	if err != nil {
		t.Fatal(err)
	}
	got, err = devnet.Prepare(home, opts)
	if err != nil || got.Outcome != devnet.Recreated {
		t.Fatalf("Prepare on an incomplete home: %v, %v", got, err)
	}
	second, err := os.ReadFile(pv)
	if err != nil {
		t.Fatal(err)
	}
	if string(first) == string(second) {
		t.Fatal("the recreated network kept the old validator key")
	}
	if err := devnet.Started(home); err != nil {
		t.Fatal(err)
	}
	demo := opts
	demo.Demo = true // this run's flags do not change what the first run must do
	got, err = devnet.Prepare(home, demo)
	if err != nil || got.Outcome != devnet.Unfinished || got.Demo {
		t.Fatalf("Prepare on an incomplete home whose node ran: %+v, %v", got, err)
	}
	if after, _ := os.ReadFile(pv); string(after) != string(second) {
		t.Fatal("finishing a first run changed the network")
	}
	if err := devnet.Remove(home); !errors.Is(err, devnet.ErrStarted) {
		t.Fatalf("Remove of a network whose node ran: %v", err)
	}
	if err := devnet.Complete(home); err != nil {
		t.Fatal(err)
	}
	if st := state(t, home); st != devnet.Ready {
		t.Fatalf("after Complete: %v", st)
	}
	got, err = devnet.Prepare(home, opts)
	if err != nil || got.Outcome != devnet.Resumed {
		t.Fatalf("Prepare on a ready home: %v, %v", got, err)
	}
	if after, _ := os.ReadFile(pv); string(after) != string(second) {
		t.Fatal("resuming a ready home changed it")
	}
}

// Remove takes away what the first run created and nothing that was in
// the home before; it refuses a finished network.
func TestRemoveKeepsWhatWasThere(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "notes.txt"), []byte("mine"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := devnet.Create(home, opts); err != nil {
		t.Fatal(err)
	}
	if err := devnet.Remove(home); err != nil {
		t.Fatal(err)
	}
	if got := names(t, home); !slices.Equal(got, []string{"notes.txt"}) {
		t.Fatalf("after Remove the home holds %v, want only notes.txt", got)
	}
	if st := state(t, home); st != devnet.Absent {
		t.Fatalf("after Remove: %v", st)
	}

	if err := devnet.Create(home, opts); err != nil {
		t.Fatal(err)
	}
	if err := devnet.Complete(home); err != nil {
		t.Fatal(err)
	}
	if err := devnet.Remove(home); err == nil {
		t.Fatal("Remove removed a finished network")
	}
	if !node.Initialized(home) {
		t.Fatal("a refused Remove removed the network")
	}
}

// A network that cannot be written (here: a file where the config
// directory goes) leaves the home as it was.
func TestFailedCreateLeavesNothing(t *testing.T) {
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, "config"), []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := devnet.Create(home, opts); err == nil {
		t.Fatal("Create succeeded with a file in the config directory's place")
	}
	if got := names(t, home); !slices.Equal(got, []string{"config"}) {
		t.Fatalf("after the failed Create the home holds %v, want only config", got)
	}
	if st := state(t, home); st != devnet.Absent {
		t.Fatalf("after the failed Create: %v", st)
	}

}
