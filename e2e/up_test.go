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
	// The first run seeds demo data: three institutions' synthetic cohorts,
	// ingested into the vault and published with their policies.
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(p.out.String(), "demo data ready") {
		if time.Now().After(deadline) || strings.Contains(p.out.String(), "demo data incomplete") {
			t.Fatalf("demo data not seeded:\n%s", p.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var catalogue struct {
		Datasets []struct {
			ID string `json:"id"`
		} `json:"datasets"`
	}
	if err := getJSON("http://"+api+"/v1/datasets", &catalogue); err != nil {
		t.Fatal(err)
	}
	if len(catalogue.Datasets) != 3 {
		t.Fatalf("catalogue after the demo seeding: %+v", catalogue)
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
