package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/devnet"
	"github.com/medchain/medchain/node"
)

// syncBuffer is an output a running command writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// up runs `medchain up --home home args…` in this process, the way the
// binary does, until the node is running (then it is stopped, as by
// Ctrl-C) or the command returns.
func up(t *testing.T, home string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out syncBuffer
	root := newRoot()
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"up", "--home", home}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	for {
		select {
		case err := <-done:
			return out.String(), err
		case <-time.After(50 * time.Millisecond):
			if strings.Contains(out.String(), "medchain node running") {
				cancel()
				return out.String(), <-done
			}
		}
	}
}

func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		a, err := apitest.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// A first `up` whose API port is taken fails and leaves no home behind,
// so the next `up` creates the network (and says so) instead of running a
// half-made one without its first-run set-up.
func TestUpPortClashLeavesNoHalfMadeHome(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	home := filepath.Join(t.TempDir(), "home")
	a := freeAddrs(t, 3)
	out, err := up(t, home, "--no-demo", "--api", taken.Addr().String(), "--rpc", a[0], "--p2p", a[1])
	if err == nil {
		t.Fatalf("up with its API port taken succeeded:\n%s", out)
	}
	if !strings.Contains(out, "removed the dev network this first run created") {
		t.Errorf("the failed first run does not say it removed the network:\n%s", out)
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Fatalf("the failed first run left %s behind (stat: %v)", home, err)
	}

	out, err = up(t, home, "--no-demo", "--api", a[2], "--rpc", a[0], "--p2p", a[1])
	if err != nil {
		t.Fatalf("second up: %v\n%s", err, out)
	}
	if !strings.Contains(out, "created a dev network in "+home) {
		t.Errorf("the second up did not create the network:\n%s", out)
	}
	if st, err := devnet.Inspect(home); err != nil || st != devnet.Ready {
		t.Fatalf("after a first run that ran: %v, %v; want ready", st, err)
	}
}

// A first run that stopped before it finished (here: the network was
// written and the process went away before the node ran) is recreated by
// the next `up`, which says so.
func TestUpRecreatesAnUnfinishedFirstRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	home := filepath.Join(t.TempDir(), "home")
	a := freeAddrs(t, 3)
	if err := devnet.Create(home, node.NetOptions{ChainID: "medchain-dev", API: a[2], RPC: a[0], P2P: a[1]}); err != nil {
		t.Fatal(err)
	}
	out, err := up(t, home, "--no-demo", "--api", a[2], "--rpc", a[0], "--p2p", a[1])
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	for _, want := range []string{
		"the first run of `medchain up` in " + home + " stopped before its node ran: removed what it created",
		"created a dev network in " + home,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("up does not say %q:\n%s", want, out)
		}
	}
}

// A first run whose node ran and was stopped before the first run was
// done (here: before it was marked complete) is kept — its node may hold
// transactions — and the next `up` runs it, says so and finishes it.
func TestUpFinishesAFirstRunWhoseNodeRan(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	home := filepath.Join(t.TempDir(), "home")
	a := freeAddrs(t, 3)
	if err := devnet.Create(home, node.NetOptions{ChainID: "medchain-dev", API: a[2], RPC: a[0], P2P: a[1]}); err != nil {
		t.Fatal(err)
	}
	if err := devnet.Started(home); err != nil {
		t.Fatal(err)
	}
	pv, err := os.ReadFile(filepath.Join(home, "config", "priv_validator_key.json"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := up(t, home, "--api", a[2])
	if err != nil {
		t.Fatalf("up: %v\n%s", err, out)
	}
	if want := "the first run of `medchain up` in " + home + " stopped before it finished: running the network and finishing its set-up"; !strings.Contains(out, want) {
		t.Errorf("up does not say %q:\n%s", want, out)
	}
	if strings.Contains(out, "created a dev network") {
		t.Errorf("up recreated a network whose node had run:\n%s", out)
	}
	if after, _ := os.ReadFile(filepath.Join(home, "config", "priv_validator_key.json")); string(after) != string(pv) {
		t.Error("the network was replaced")
	}
	if st, err := devnet.Inspect(home); err != nil || st != devnet.Ready {
		t.Fatalf("after the finished first run (no demo data, as created): %v, %v; want ready", st, err)
	}
}
