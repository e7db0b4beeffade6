package seed_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/vault"
)

const measurement = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"

// A demo seeding that stopped part way (here: St Mary's worker account
// registered, patient-1's consent given) is finished by running Demo
// again: every site ends with one published version and its policy, every
// patient with the demo's consents, none twice. A third run changes
// nothing and says the sites were published before.
func TestDemoResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node and ingests the demo cohorts")
	}
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := client.New(n.URL)
	dir := node.KeysDir(n.Home)
	load := func(name string) *keys.Key {
		k, err := keys.Load(dir, name)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	submit := func(k *keys.Key, m ledger.Msg) {
		r, err := c.SignAndSubmit(ctx, k, m, true)
		if err == nil {
			err = client.ResultError(r)
		}
		if err != nil {
			t.Fatalf("%s: %v", m.Type(), err)
		}
	}
	wk, err := keys.Generate("st-mary-worker")
	if err != nil {
		t.Fatal(err)
	}
	if err := wk.Save(dir); err != nil {
		t.Fatal(err)
	}
	submit(load("st-mary-admin"), &ledger.RegisterAccount{PubKey: wk.PubKey(), EncKey: wk.EncPub(), Kind: ledger.KindWorker, Org: "st-mary",
		Possession: ledger.ProvePossession(wk.Sign, apitest.ChainID, "st-mary")})
	submit(load("patient-1"), &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeAll}, Provision: ledger.Permit, Purposes: []string{"research", "public_health"}})

	v, err := vault.Open(filepath.Join(t.TempDir(), "vault"))
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	say := func(format string, args ...any) { said = append(said, fmt.Sprintf(format, args...)) }
	for run := 1; run <= 2; run++ {
		said = nil
		if err := seed.Demo(ctx, c, v, dir, measurement, say); err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		for _, s := range seed.DemoSites {
			d, err := c.Dataset(ctx, s.Dataset)
			if err != nil || d.LatestVersion != 1 || d.Policy == nil || d.Policy.Price != s.Price {
				t.Fatalf("run %d: dataset %s: %+v, %v", run, s.Dataset, d, err)
			}
			w, err := c.Worker(ctx, load(s.Org+"-worker").Address())
			if err != nil || w.Org != s.Org || w.Measurement != measurement {
				t.Fatalf("run %d: worker of %s: %+v, %v", run, s.Org, w, err)
			}
		}
		for name, want := range map[string]string{"patient-1": "active", "patient-2": "active", "patient-3": "revoked"} {
			cs, err := c.Consents(ctx, load(name).Address(), load(name))
			if err != nil || len(cs) != 1 || (cs[0].Revoked != 0) != (want == "revoked") {
				t.Fatalf("run %d: consents of %s: %+v, %v; want one, %s", run, name, cs, err, want)
			}
		}
		earlier := strings.Count(strings.Join(said, "\n"), "published by an earlier run")
		if want := map[int]int{1: 0, 2: 3}[run]; earlier != want {
			t.Fatalf("run %d says %d sites were published earlier, want %d:\n%s", run, earlier, want, strings.Join(said, "\n"))
		}
	}

	// The study's enrolment links wallets in St Mary's and Northside's
	// link tables, each readable by the institution's node key and by its
	// worker (which applies the consents), and by no other site's worker.
	const enrolled = 3
	if err := seed.DemoEnrol(ctx, c, v, dir, enrolled, say); err != nil {
		t.Fatalf("DemoEnrol: %v", err)
	}
	for org, want := range map[string]int{"st-mary": 1, "northside": enrolled + 1} {
		node, err := vault.NodeIdentity(load(org + "-admin").Enc)
		if err != nil {
			t.Fatal(err)
		}
		worker, err := vault.NewIdentity(load(org + "-worker").Enc)
		if err != nil {
			t.Fatal(err)
		}
		for who, id := range map[string]*vault.Identity{"node": node, "worker": worker} {
			l, err := v.Links(org, id)
			if err != nil {
				t.Fatalf("links of %s read with its %s key: %v", org, who, err)
			}
			if len(l.Links) != want {
				t.Fatalf("links of %s read with its %s key: %d links, want %d", org, who, len(l.Links), want)
			}
		}
		other, err := vault.NewIdentity(load("lakeview-worker").Enc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Links(org, other); !errors.Is(err, vault.ErrNotRecipient) {
			t.Fatalf("links of %s read with lakeview's worker key: %v, want ErrNotRecipient", org, err)
		}
	}
}
