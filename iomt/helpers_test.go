package iomt_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/iomt"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/series"
)

// now is the test clock: readings are stamped near it.
var now = time.UnixMilli(1_780_000_000_000)

// registry is the devices the ledger would list, held in memory: the
// consumer's interface, implemented for the test.
type registry struct {
	mu   sync.Mutex
	devs map[string]*device.Info
}

func (r *registry) Device(id string) *device.Info {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.devs[id]
}

func (r *registry) set(id string, info *device.Info) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.devs[id] = info
}

// fixture is an ingest on a real vault and series store, with n devices
// registered (heart rate, blood pressure) and linked to patients.
type fixture struct {
	t    testing.TB
	dir  string
	v    *vault.Vault
	st   *series.Store
	reg  *registry
	g    *iomt.Ingest
	node *vault.Identity // the institution's node key: opens the link tables
	keys map[string]ed25519.PrivateKey
	seq  map[string]uint64

	linksOverride iomt.Links // instead of the vault's table (benchmarks)
	realClock     bool       // time.Now instead of the fixed test clock
}

func devName(i int) string { return fmt.Sprintf("dev-%04d", i) }

func newFixture(t testing.TB, n int) *fixture {
	f := &fixture{t: t, dir: t.TempDir(), reg: &registry{devs: map[string]*device.Info{}},
		keys: map[string]ed25519.PrivateKey{}, seq: map[string]uint64{}}
	var err error
	if f.v, err = vault.Open(f.dir); err != nil {
		t.Fatal(err)
	}
	if f.node, err = vault.NewIdentity(nodeKey()); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		d := devName(i)
		seed := bytes.Repeat([]byte{byte(i), byte(i >> 8)}, 16)
		f.keys[d] = ed25519.NewKeyFromSeed(seed)
		f.reg.set(d, &device.Info{Key: f.keys[d].Public().(ed25519.PublicKey), Status: device.Active,
			Codes: []string{"8867-4", "8480-6", "8462-4"}})
		if _, err := f.v.LinkDevice("stmary", d, fmt.Sprintf("psn-%04d", i), f.node); err != nil {
			t.Fatal(err)
		}
	}
	f.open()
	return f
}

// open (re)opens the store and the ingest, as a node start does.
func (f *fixture) open() {
	skey, err := f.v.SeriesKey(f.node)
	if err != nil {
		f.t.Fatal(err)
	}
	if f.st, err = series.Open(f.dir+"/series", skey, series.Options{}); err != nil {
		f.t.Fatal(err)
	}
	cfg := iomt.Config{Store: f.st, Registry: f.reg, Policy: device.DefaultPolicy(),
		Links: func() (iomt.Links, error) { return f.v.DeviceLinks("stmary", f.node) },
		Now:   func() time.Time { return now }}
	if f.linksOverride != nil {
		cfg.Links = func() (iomt.Links, error) { return f.linksOverride, nil }
	}
	if f.realClock {
		cfg.Now = time.Now
	}
	f.g, err = iomt.New(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) close() {
	f.g.Close()
	f.st.Close()
}

// reading is the device's next heart-rate reading, signed.
func (f *fixture) reading(dev string, value float64) device.Signed {
	f.seq[dev]++
	r := device.Reading{Device: dev, Seq: f.seq[dev], Time: now.UnixMilli() - 500, Code: "8867-4", Value: value, Unit: "/min"}
	return device.Sign(r, f.keys[dev])
}

// stored is every reading in the store.
func (f *fixture) stored() []series.Record {
	var out []series.Record
	if err := f.st.Scan(series.All, func(fr *series.Frame) error { out = append(out, fr.Readings...); return nil }); err != nil {
		f.t.Fatal(err)
	}
	return out
}

// nodeKey is the test institution's X25519 node key (fixed).
func nodeKey() *ecdh.PrivateKey {
	k, err := ecdh.X25519().NewPrivateKey(bytes.Repeat([]byte{42}, 32))
	if err != nil {
		panic(err)
	}
	return k
}
