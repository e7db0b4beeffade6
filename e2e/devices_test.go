package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/iomt"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/series"
)

type devSeq struct {
	dev string
	seq uint64
}

// TestDeviceCrash: 200 devices stream signed readings over MQTT QoS 1 to
// `medchain up`, which is killed with SIGKILL mid-stream and restarted.
// Every reading whose PUBACK a device received is in the store and proves
// against an anchor committed on the ledger (checked through state proofs
// against signed headers), and the devices resume.
func TestDeviceCrash(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	ports := freePorts(t, 4)
	api, rpc, p2p, mqtt := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]),
		fmt.Sprintf("127.0.0.1:%d", ports[2]), fmt.Sprintf("127.0.0.1:%d", ports[3])
	args := []string{"up", "--home", home, "--api", api, "--rpc", rpc, "--p2p", p2p, "--block-time", "200ms",
		"--mqtt", mqtt, "--anchor-every", "500ms", "--sim-devices", "0"}
	p := start(t, args...)
	waitFor(t, 120*time.Second, p, func() bool { return strings.Contains(p.out.String(), "demo data ready") })

	// Register and link 200 devices with the CLI (a short first stream).
	out := run(t, "device", "simulate", "--home", home, "--node", api, "--mqtt", mqtt, "--setup", "--from", "st-mary-admin",
		"--devices", "200", "--hz", "1", "--duration", "1s", "--prefix", "crash")
	t.Log(strings.TrimSpace(out))
	devs := iomt.SimDevices("crash", "medchain-sim", 200)
	st0, err := client.New(api).Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	chain := st0.ChainID

	var mu sync.Mutex
	var acked []devSeq
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *iomt.SimReport, 1)
	go func() {
		rep, err := iomt.Simulate(ctx, iomt.SimConfig{Broker: mqtt, ChainID: chain, Devices: devs, Hz: 5, Duration: time.Minute,
			OnAck: func(dev string, seq uint64) { mu.Lock(); acked = append(acked, devSeq{dev, seq}); mu.Unlock() }})
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	time.Sleep(4 * time.Second)
	p.kill9()
	cancel()
	rep := <-done
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n < 500 {
		t.Fatalf("only %d readings acknowledged before the kill: the load did not run (%v)", n, rep)
	}
	t.Logf("killed with %d readings acknowledged (%v)", n, rep)

	p = start(t, args...)
	waitHeight(t, api, 1, 60*time.Second, p)
	c := client.New(api)
	k, err := keys.Load(filepath.Join(home, "keys"), "st-mary-admin")
	if err != nil {
		t.Fatal(err)
	}
	// The readings stored before the kill but not yet anchored are
	// anchored after the restart: wait until every acknowledged one is.
	want := map[devSeq]bool{}
	for _, a := range acked {
		want[a] = true
	}
	var proven map[devSeq]bool
	roots := map[uint64]string{}
	deadline := time.Now().Add(60 * time.Second)
	for {
		proven = map[devSeq]bool{}
		st := openSeries(t, home)
		err := iomt.ProveAll(st, func(inc *iomt.Inclusion) error {
			ds := devSeq{inc.Reading.Device, inc.Reading.Seq}
			if !want[ds] {
				return nil
			}
			root, ok := roots[inc.AnchorSeq]
			if !ok {
				sc, err := c.VerifyStateProof(context.Background(), string(ledger.KeyAnchor(k.Address(), inc.AnchorSeq)))
				if err != nil {
					return err
				}
				if sc.Value == nil {
					return nil // not committed yet
				}
				var a ledger.Anchor
				if err := ledger.DecodeState(sc.Value, &a); err != nil {
					return err
				}
				root, roots[inc.AnchorSeq] = a.Root, a.Root
			}
			if fmt.Sprintf("%x", inc.Root) != root {
				return fmt.Errorf("anchor %d: the ledger's root differs from the store's", inc.AnchorSeq)
			}
			if err := device.VerifyInclusion(&inc.Reading, inc.Proof, inc.Root); err != nil {
				return err
			}
			proven[ds] = true
			return nil
		})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(proven) == len(want) {
			break
		}
		if time.Now().After(deadline) {
			for ds := range want {
				if !proven[ds] {
					t.Errorf("acknowledged reading %s/%d is not proven (of %d, %d proven)", ds.dev, ds.seq, len(want), len(proven))
					break
				}
			}
			t.FailNow()
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("all %d acknowledged readings are in the store and prove against %d committed anchors", len(want), len(roots))

	// A few, end to end through the CLI's path (signature against the
	// registered key, state proofs of anchor and device).
	st := openSeries(t, home)
	for _, a := range acked[:5] {
		if _, err := iomt.VerifyReading(context.Background(), c, st, k.Address(), a.dev, a.seq); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	// The devices resume: new readings are stored, none refused.
	rep, err = iomt.Simulate(context.Background(), iomt.SimConfig{Broker: mqtt, ChainID: chain, Devices: devs, Hz: 2, Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Acked == 0 || rep.Refused > 0 || rep.Lost > 0 {
		t.Fatalf("after the restart: %v (%v)", rep, rep.Reasons)
	}
	p.interrupt(t)
}

func openSeries(t *testing.T, home string) *series.Store {
	t.Helper()
	v, err := vault.Open(filepath.Join(home, "vault"))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := keys.Load(filepath.Join(home, "keys"), "st-mary-admin")
	if err != nil {
		t.Fatal(err)
	}
	id, err := vault.NodeIdentity(gw.Enc)
	if err != nil {
		t.Fatal(err)
	}
	skey, err := v.SeriesKey(id)
	if err != nil {
		t.Fatal(err)
	}
	st, err := series.Open(filepath.Join(home, "vault", "series"), skey, series.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func waitFor(t *testing.T, within time.Duration, p *proc, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out\n%s", p.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
