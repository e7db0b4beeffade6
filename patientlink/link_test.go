package patientlink_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/patientlink"
	"github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
)

var _ patientlink.Ledger = (*client.Client)(nil)

var tn *apitest.Node

func TestMain(m *testing.M) {
	var err error
	if tn, err = apitest.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	tn.Stop()
	os.Exit(code)
}

func key(t *testing.T, name string) *keys.Key {
	t.Helper()
	k, err := keys.Load(node.KeysDir(tn.Home), name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// St Mary's publishes a synthetic cohort; a patient's source id is linked
// to a wallet, and the link table then maps exactly that patient's row's
// pseudonym to the wallet, readable with the institution's node key and
// with the key of the worker it is shared with. Linking again replaces the wallet and says
// which it was. An account of another organisation, or another
// de-identification profile, is refused before the vault is touched, and
// no refusal repeats the patient id.
func TestLink(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := client.New(tn.URL)
	dir := filepath.Join(t.TempDir(), "vault")
	v, err := vault.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := v.Secret()
	if err != nil {
		t.Fatal(err)
	}
	admin := key(t, "st-mary-admin")
	worker, err := keys.Generate("st-mary-worker")
	if err != nil {
		t.Fatal(err)
	}
	ref := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	people, err := synth.Generate(synth.Config{N: 40, Seed: 11, RefDate: ref})
	if err != nil {
		t.Fatal(err)
	}
	_, err = seed.Publish(ctx, c, v, secret, seed.Site{Admin: admin, Worker: worker, Org: "st-mary", Dataset: "links",
		Title: "Link test cohort", People: people, RefDate: ref,
		Measurement: "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e",
		Policy: ledger.Policy{Purposes: []string{"research"}, Requesters: ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
			Analyses: ledger.Analyses{Builtins: []string{"cohort_count"}}, MinCohort: ledger.MinCohortFloor,
			EpsilonPerJobMilli: 500, EpsilonTotalMilli: 5000, Split: ledger.RewardSplit{InstitutionBps: 10000},
			Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptIn}})
	if err != nil {
		t.Fatal(err)
	}
	opened := 0
	open := func() (*vault.Vault, error) { opened++; return vault.Open(dir) }
	patient := people[3].ID
	w1, w2 := key(t, "patient-1").Address(), key(t, "patient-2").Address()
	nodeID, err := vault.NodeIdentity(admin.Enc)
	if err != nil {
		t.Fatal(err)
	}
	workerID, err := vault.NewIdentity(worker.Enc)
	if err != nil {
		t.Fatal(err)
	}

	_, err = patientlink.Link(ctx, c, open, patientlink.Request{Institution: admin.Address(), Dataset: "links", PatientID: patient, Wallet: w1})
	if err == nil || opened != 0 {
		t.Fatalf("a link without the node key: %v (vault opened %d times)", err, opened)
	}
	res, err := patientlink.Link(ctx, c, open, patientlink.Request{Institution: admin.Address(), Dataset: "links", PatientID: patient, Wallet: w1,
		Node: nodeID, Share: []vault.Recipient{workerID.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Org != "st-mary" || res.Wallet != w1 || res.Replaced != "" {
		t.Fatalf("first link: %+v", res)
	}
	d, err := deid.New(deid.SafeHarbor(), secret)
	if err != nil {
		t.Fatal(err)
	}
	pseudonym := d.PatientPseudonym(patient)
	for who, id := range map[string]*vault.Identity{"node": nodeID, "worker": workerID} {
		links, err := v.Links("st-mary", id)
		if err != nil {
			t.Fatalf("the %s key reads the link table: %v", who, err)
		}
		if got, ok := links.Wallet(pseudonym); !ok || got != w1 {
			t.Fatalf("the link table (read with the %s key) maps the patient's pseudonym to %q (%v), want %s", who, got, ok, w1)
		}
	}
	if !hasRow(t, c, v, admin, pseudonym) {
		t.Fatal("the linked pseudonym is not the pseudonym of any row of the dataset")
	}

	res, err = patientlink.Link(ctx, c, open, patientlink.Request{Institution: admin.Address(), Dataset: "links", PatientID: patient, Wallet: w2, Node: nodeID})
	if err != nil || res.Replaced != w1 || res.Wallet != w2 {
		t.Fatalf("relink: %+v, %v", res, err)
	}

	opened = 0
	other := key(t, "northside-admin")
	_, err = patientlink.Link(ctx, c, open, patientlink.Request{Institution: other.Address(), Dataset: "links", PatientID: patient, Wallet: w1, Node: nodeID})
	if !errors.Is(err, patientlink.ErrWrongOrg) || strings.Contains(err.Error(), patient) {
		t.Fatalf("an account of another organisation: %v", err)
	}
	changed := deid.SafeHarbor()
	changed.Default = "keep" // fields no rule names are kept: another profile
	_, err = patientlink.Link(ctx, c, open, patientlink.Request{Institution: admin.Address(), Dataset: "links", PatientID: patient, Wallet: w1, Rules: changed, Node: nodeID})
	if !errors.Is(err, patientlink.ErrWrongProfile) || strings.Contains(err.Error(), patient) {
		t.Fatalf("another profile: %v", err)
	}
	if opened != 0 {
		t.Fatalf("a refused link opened the vault %d times", opened)
	}
}

// hasRow says whether the dataset's latest version has a row with the
// pseudonym.
func hasRow(t *testing.T, c *client.Client, v *vault.Vault, admin *keys.Key, pseudonym string) bool {
	t.Helper()
	ds, err := c.Dataset(context.Background(), "links")
	if err != nil {
		t.Fatal(err)
	}
	id, err := vault.NodeIdentity(admin.Enc)
	if err != nil {
		t.Fatal(err)
	}
	r, err := v.Open("links", ds.LatestVersion, ds.Latest.ContentRoot, id)
	if err != nil {
		t.Fatal(err)
	}
	for row, err := range r.Rows() {
		if err != nil {
			t.Fatal(err)
		}
		if row.Pseudonym == pseudonym {
			return true
		}
	}
	return false
}
