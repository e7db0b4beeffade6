package e2e

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestConsortium runs a 4-validator testnet as 4 processes: with one
// validator killed the other three (3/4 of the voting power, more than 2/3)
// keep committing, and the killed one catches up after restart and agrees
// on the app hash.
func TestConsortium(t *testing.T) {
	out := filepath.Join(t.TempDir(), "net")
	base := freeBase(t, 4)
	run(t, "testnet", "--validators", "4", "--out", out, "--port-base", strconv.Itoa(base), "--block-time", "300ms")
	api := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", base+10*i+2) }
	rpc := func(i int) string { return fmt.Sprintf("127.0.0.1:%d", base+10*i+1) }
	var procs []*proc
	for i := 0; i < 4; i++ {
		procs = append(procs, start(t, "node", "--home", filepath.Join(out, fmt.Sprintf("node%d", i))))
	}
	for i := 0; i < 4; i++ {
		waitHeight(t, api(i), 3, 90*time.Second, procs[i])
	}

	procs[3].kill9()
	st, err := getStatus(api(0))
	if err != nil {
		t.Fatal(err)
	}
	after := waitHeight(t, api(0), st.Height+5, 60*time.Second, procs[0])
	t.Logf("three of four validators went from height %d to %d without node3", st.Height, after.Height)

	procs[3] = start(t, "node", "--home", filepath.Join(out, "node3"))
	caught := waitHeight(t, api(3), after.Height+2, 90*time.Second, procs[3])
	for i := 0; i < 4; i++ {
		a, err := headerAppHash(rpc(i), caught.Height)
		if err != nil {
			// node i may not have the next header yet; wait for it.
			waitHeight(t, api(i), caught.Height+1, 30*time.Second, procs[i])
			if a, err = headerAppHash(rpc(i), caught.Height); err != nil {
				t.Fatal(err)
			}
		}
		b, err := headerAppHash(rpc(3), caught.Height)
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("node%d and node3 disagree at height %d: %s vs %s", i, caught.Height, a, b)
		}
	}
	for _, p := range procs {
		p.interrupt(t)
	}
}
