package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A first `medchain up` whose p2p port is taken fails, says so and leaves
// no home behind; the next `up`, with a free port, is a first run again:
// it creates the network and seeds the demo data, instead of starting the
// half-made network without it.
func TestUpPortClash(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	home := filepath.Join(t.TempDir(), "home")
	ports := freePorts(t, 3)
	api, rpc, p2p := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]), fmt.Sprintf("127.0.0.1:%d", ports[2])

	p := start(t, "up", "--home", home, "--api", api, "--rpc", rpc, "--p2p", taken.Addr().String())
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("up with its p2p port taken exited 0:\n%s", p.out)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("up with its p2p port taken is still running after 60 s:\n%s", p.out)
	}
	if !strings.Contains(p.out.String(), "removed the dev network this first run created in "+home) {
		t.Errorf("the failed first run does not say it removed the network:\n%s", p.out)
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Fatalf("the failed first run left %s behind (stat: %v)\n%s", home, err, p.out)
	}

	p = start(t, "up", "--home", home, "--api", api, "--rpc", rpc, "--p2p", p2p)
	waitHeight(t, api, 2, 60*time.Second, p)
	deadline := time.Now().Add(120 * time.Second)
	for !strings.Contains(p.out.String(), "demo data ready") {
		if time.Now().After(deadline) || strings.Contains(p.out.String(), "demo data incomplete") {
			t.Fatalf("the second run did not seed the demo data:\n%s", p.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(p.out.String(), "created a dev network in "+home) {
		t.Errorf("the second run did not create the network:\n%s", p.out)
	}
	p.interrupt(t)
}
