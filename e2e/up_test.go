package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuickStart is the README's first command: `medchain up` creates a dev
// network, commits blocks, answers /v1/status, stops cleanly on Ctrl-C and
// resumes from disk.
func TestQuickStart(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	ports := freePorts(t, 3)
	api, rpc, p2p := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]), fmt.Sprintf("127.0.0.1:%d", ports[2])
	p := start(t, "up", "--home", home, "--api", api, "--rpc", rpc, "--p2p", p2p)
	st := waitHeight(t, api, 3, 60*time.Second, p)
	if st.ChainID != "medchain-dev" || len(st.AppHash) != 64 {
		t.Fatalf("status = %+v", st)
	}
	hdr, err := headerAppHash(rpc, st.Height)
	if err != nil {
		t.Fatal(err)
	}
	p.interrupt(t)
	if !strings.Contains(p.out.String(), "stopped cleanly") {
		t.Fatalf("no clean stop:\n%s", p.out)
	}
	for _, name := range []string{"consortium-admin", "st-mary-admin", "rita-researcher", "patient-1"} {
		if !strings.Contains(run(t, "keys", "list", "--home", home), name) {
			t.Errorf("demo key %s missing", name)
		}
	}

	// Second run: same chain, continues from where it stopped.
	p = start(t, "up", "--home", home, "--api", api)
	st2 := waitHeight(t, api, st.Height+2, 60*time.Second, p)
	if st2.ChainID != st.ChainID {
		t.Fatalf("chain changed on restart: %s -> %s", st.ChainID, st2.ChainID)
	}
	again, err := headerAppHash(rpc, st.Height)
	if err != nil {
		t.Fatal(err)
	}
	if again != hdr {
		t.Fatalf("header %d app hash changed across restart: %s -> %s", st.Height, hdr, again)
	}
	p.interrupt(t)
}
