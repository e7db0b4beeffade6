package iomt_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/iomt"
)

var ctx = context.Background()

// A good reading is stored under its patient's pseudonym; each kind of bad
// reading is refused with its reason, and nothing of it is stored.
func TestSubmitStoresGoodAndRefusesBad(t *testing.T) {
	f := newFixture(t, 3)
	defer f.close()
	good := f.reading("dev-0000", 72)
	if err := f.g.Submit(ctx, &good); err != nil {
		t.Fatal(err)
	}
	f.reg.set("dev-0002", &device.Info{Key: f.keys["dev-0002"].Public().(ed25519.PublicKey), Status: device.SuspendedStatus, Codes: []string{"8867-4"}})
	stranger := ed25519.NewKeyFromSeed(make([]byte, 32))
	unknown := device.Sign(device.Reading{Device: "dev-9999", Seq: 1, Time: now.UnixMilli(), Code: "8867-4", Value: 70, Unit: "/min"}, stranger)
	forged := f.reading("dev-0001", 73)
	forged.Value = 173.25
	implausible := f.reading("dev-0001", 999.5)
	suspended := f.reading("dev-0002", 75)
	for _, tc := range []struct {
		name string
		s    device.Signed
		want device.Reason
	}{
		{"replay", good, device.Replay},
		{"unknown device", unknown, device.UnknownDevice},
		{"bad signature", forged, device.BadSignature},
		{"implausible", implausible, device.Implausible},
		{"suspended", suspended, device.Suspended},
	} {
		err := f.g.Submit(ctx, &tc.s)
		if got := device.ReasonOf(err); got != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.want)
		}
	}
	got := f.stored()
	if len(got) != 1 || got[0].Seq != good.Seq || got[0].Pseudonym != "psn-0000" || got[0].Value != 72 {
		t.Fatalf("stored %+v, want only the good reading under psn-0000", got)
	}
	st := f.g.Stats()
	if st.Stored != 1 || len(st.Refused) != 5 {
		t.Fatalf("stats %+v", st)
	}
}

// A registered device no patient is linked to cannot be attributed: its
// readings are refused until the institution links it.
func TestUnlinkedDevice(t *testing.T) {
	f := newFixture(t, 1)
	defer f.close()
	key := ed25519.NewKeyFromSeed(make([]byte, 32))
	f.reg.set("loose-1", &device.Info{Key: key.Public().(ed25519.PublicKey), Status: device.Active, Codes: []string{"8867-4"}})
	s := device.Sign(device.Reading{Device: "loose-1", Seq: 1, Time: now.UnixMilli(), Code: "8867-4", Value: 70, Unit: "/min"}, key)
	if err := f.g.Submit(ctx, &s); device.ReasonOf(err) != iomt.Unlinked {
		t.Fatalf("%v, want %s", err, iomt.Unlinked)
	}
	f.v.LinkDevice("stmary", "loose-1", "psn-new", f.node)
	if err := f.g.Submit(ctx, &s); err != nil {
		t.Fatalf("after linking: %v", err)
	}
}

// The same reading sent many times at once (a device retrying, a QoS 1
// redelivery racing the first copy) is stored exactly once.
func TestConcurrentCopiesStoredOnce(t *testing.T) {
	f := newFixture(t, 1)
	defer f.close()
	s := f.reading("dev-0000", 80)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 50 {
		wg.Go(func() {
			c := s
			if f.g.Submit(ctx, &c) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok != 1 || len(f.stored()) != 1 {
		t.Fatalf("%d copies accepted, %d stored; want 1", ok, len(f.stored()))
	}
}

// After a restart the windows are rebuilt from the store: a reading stored
// before cannot be stored again, and the device goes on.
func TestRestartKeepsReplayWindows(t *testing.T) {
	f := newFixture(t, 2)
	s := f.reading("dev-0001", 66)
	if err := f.g.Submit(ctx, &s); err != nil {
		t.Fatal(err)
	}
	f.close()
	f.open()
	defer f.close()
	if err := f.g.Submit(ctx, &s); device.ReasonOf(err) != device.Replay {
		t.Fatalf("after restart: %v, want replay", err)
	}
	next := f.reading("dev-0001", 67)
	if err := f.g.Submit(ctx, &next); err != nil {
		t.Fatal(err)
	}
}

// Readings from many devices at once are all stored, each exactly once,
// in far fewer frames than readings (group commit).
func TestManyDevicesGroupCommit(t *testing.T) {
	f := newFixture(t, 50)
	defer f.close()
	var wg sync.WaitGroup
	for d := range 50 {
		dev := devName(d)
		rs := make([]device.Signed, 20)
		for i := range rs {
			rs[i] = f.reading(dev, 60+float64(i))
		}
		wg.Go(func() {
			for i := range rs {
				if err := f.g.Submit(ctx, &rs[i]); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := len(f.stored()); got != 1000 {
		t.Fatalf("%d stored, want 1000", got)
	}
}

// Anchors: every stored reading proves against the anchor that covers it;
// a reading stored after the last cut is not anchored yet.
func TestAnchorProofs(t *testing.T) {
	f := newFixture(t, 5)
	defer f.close()
	var all []device.Signed
	for round := range 3 {
		for i := range 40 {
			s := f.reading(devName(i%5), 60+float64(i))
			if err := f.g.Submit(ctx, &s); err != nil {
				t.Fatal(err)
			}
			all = append(all, s)
		}
		a, err := f.g.Cut()
		if err != nil || a == nil || a.Seq != uint64(round+1) || a.Count != 40 {
			t.Fatalf("cut %d: %+v %v", round, a, err)
		}
	}
	if a, err := f.g.Cut(); a != nil || err != nil {
		t.Fatalf("a cut with nothing new: %+v %v", a, err)
	}
	rng := rand.New(rand.NewPCG(4, 2))
	for range 15 {
		s := all[rng.IntN(len(all))]
		inc, err := iomt.Prove(f.st, s.Device, s.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if err := device.VerifyInclusion(&inc.Reading, inc.Proof, inc.Root); err != nil {
			t.Fatalf("%s/%d: %v", s.Device, s.Seq, err)
		}
		tampered := inc.Reading
		tampered.Value += 1
		if device.VerifyInclusion(&tampered, inc.Proof, inc.Root) == nil {
			t.Fatal("a tampered reading proves")
		}
	}
	late := f.reading("dev-0000", 90)
	f.g.Submit(ctx, &late)
	if _, err := iomt.Prove(f.st, late.Device, late.Seq); !errors.Is(err, iomt.ErrNotAnchored) {
		t.Fatalf("unanchored reading: %v", err)
	}
	if _, err := iomt.Prove(f.st, "dev-0000", 999); !errors.Is(err, iomt.ErrNotStored) {
		t.Fatalf("missing reading: %v", err)
	}
	// The marker outlives a restart, and the next anchor number follows.
	f.close()
	f.open()
	if a, err := f.g.Cut(); err != nil || a == nil || a.Seq != 4 || a.Count != 1 {
		t.Fatalf("cut after restart: %+v %v", a, err)
	}
	if _, err := iomt.Prove(f.st, late.Device, late.Seq); err != nil {
		t.Fatalf("anchored after restart: %v", err)
	}
}
