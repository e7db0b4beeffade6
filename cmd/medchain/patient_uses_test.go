package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/rewards"
	medseed "github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
)

// TestPatientUsesRewardsClaim drives `patient uses`, `patient rewards` and
// `patient claim` against the shared node: an opt-out site whose worker
// ran two jobs, a linked patient and an unlinked one. The linked patient's
// uses list both jobs with requester, purpose, analysis, dataset and time;
// the other patient's lists none; rewards shows the balance; claim pays it
// to a new wallet (registered on the way) and a second claim has nothing.
func TestPatientUsesRewardsClaim(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := client.New(tn.URL)
	v, err := vault.Open(filepath.Join(tn.Home, "vault"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := v.Secret()
	if err != nil {
		t.Fatal(err)
	}
	// An organisation of its own, so that the worker it registers changes
	// nothing the scripts expect of the demo's.
	const org = "uses-clinic"
	authority, err := tn.Key("consortium-admin")
	if err != nil {
		t.Fatal(err)
	}
	admin := keys.FromSeed(org+"-admin", [32]byte{9, 9})
	chain, err := c.Chain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.SignAndSubmit(ctx, authority, &ledger.CreateOrg{ID: org, Name: "Uses clinic", Kind: ledger.OrgHospital,
		Admin: admin.PubKey(), EncKey: admin.EncPub(), AdminPossession: ledger.ProvePossession(admin.Sign, chain, org)}, true); err != nil || client.ResultError(r) != nil {
		t.Fatalf("create_org: %v %v", err, client.ResultError(r))
	}
	wk, err := keys.Generate(org + "-worker")
	if err != nil {
		t.Fatal(err)
	}
	if err := wk.Save(node.KeysDir(tn.Home)); err != nil { // where the node's reward desk finds it
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(filepath.Join(node.KeysDir(tn.Home), org+"-worker.json")) }) // the scripts copy the node's keys
	ref := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	people, err := synth.Generate(synth.Config{N: 60, Seed: 5, RefDate: ref})
	if err != nil {
		t.Fatal(err)
	}
	const measurement = "6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a6a"
	if _, err := medseed.Publish(ctx, c, v, secret, medseed.Site{Admin: admin, Worker: wk, Measurement: measurement,
		Org: org, Dataset: "cli-uses", Title: "uses", People: people, RefDate: ref,
		Policy: ledger.Policy{Purposes: []string{"research"}, Requesters: ledger.Requesters{Anyone: true},
			Analyses: ledger.Analyses{Builtins: []string{"cohort_count"}}, MinCohort: ledger.MinCohortFloor,
			EpsilonPerJobMilli: 500, EpsilonTotalMilli: 50000, Price: 400,
			Split:       ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
			Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptOut}}); err != nil {
		t.Fatal(err)
	}

	home := t.TempDir()
	kd := node.KeysDir(home)
	if err := keys.MarkDev(kd); err != nil {
		t.Fatal(err)
	}
	pat, out, wallet := keys.FromSeed("pat", [32]byte{1, 2, 3}), keys.FromSeed("outsider", [32]byte{4}), keys.FromSeed("purse", [32]byte{5})
	for _, k := range []*keys.Key{pat, out, wallet} {
		if err := k.Save(kd); err != nil {
			t.Fatal(err)
		}
	}
	// Alice keeps a patient secret: her wallet at the clinic is derived
	// from it (and one at another institution, registered but linked to
	// nothing there).
	aliceSecret := bytes.Repeat([]byte{0xa1}, keys.PatientSecretSize)
	if err := keys.SavePatientSecret(kd, "alice", aliceSecret, keys.DefaultPassphrase); err != nil {
		t.Fatal(err)
	}
	alice, err := keys.PatientWallet(aliceSecret, org, "alice."+org)
	if err != nil {
		t.Fatal(err)
	}
	orgs, err := c.Orgs(ctx)
	if err != nil || len(orgs) < 2 {
		t.Fatalf("orgs: %v %v", orgs, err)
	}
	var elsewhere string
	for _, o := range orgs {
		if o.ID != org {
			elsewhere = o.ID
			break
		}
	}
	aliceElsewhere, err := keys.PatientWallet(aliceSecret, elsewhere, "alice."+elsewhere)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*keys.Key{pat, out, alice, aliceElsewhere} {
		r, err := c.SignAndSubmit(ctx, k, &ledger.RegisterAccount{PubKey: k.PubKey(), EncKey: k.EncPub(), Kind: ledger.KindPatient}, true)
		if err == nil {
			err = client.ResultError(r)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	pseudo, err := deid.New(deid.SafeHarbor(), secret)
	if err != nil {
		t.Fatal(err)
	}
	nodeID, err := vault.NodeIdentity(admin.Enc)
	if err != nil {
		t.Fatal(err)
	}
	wr, err := vault.NewRecipient(wk.EncPub())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.LinkPatient(org, pseudo.PatientPseudonym(people[0].ID), pat.Address(), nodeID, wr); err != nil {
		t.Fatal(err)
	}
	if _, err := v.LinkPatient(org, pseudo.PatientPseudonym(people[1].ID), alice.Address(), nodeID, wr); err != nil {
		t.Fatal(err)
	}
	rita, err := tn.Key("rita-researcher")
	if err != nil {
		t.Fatal(err)
	}
	var jobs []uint64
	for range 2 {
		r, err := c.SignAndSubmit(ctx, rita, &ledger.SubmitJob{Datasets: []string{"cli-uses"}, Analysis: "cohort_count", Params: json.RawMessage(`{}`),
			Purpose: "research", MaxPrice: 400, ResultKey: rita.EncPub()}, true)
		if err == nil {
			err = client.ResultError(r)
		}
		if err != nil {
			t.Fatal(err)
		}
		id, err := client.JobID(r.Result)
		if err != nil {
			t.Fatal(err)
		}
		jobs = append(jobs, id)
	}
	rs, err := compute.OpenResultStore(compute.ResultsDir(tn.Home))
	if err != nil {
		t.Fatal(err)
	}
	w := &compute.Worker{Key: wk, Org: org, Measurement: measurement, Vault: v, Ledger: c, Results: rs}
	// The worker must be registered with this measurement; Publish did so.
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	cli := func(args ...string) (int, string, string) {
		var o, e bytes.Buffer
		root := newRoot()
		root.SetArgs(append([]string{"--home", home, "--node", tn.APIAddr()}, args...))
		root.SetOut(&o)
		root.SetErr(&e)
		root.SetContext(ctx)
		return exitCode(root.Execute()), o.String(), e.String()
	}
	code, stdout, stderr := cli("patient", "uses", "--from", "pat", "--json")
	if code != 0 {
		t.Fatalf("uses: %d %s", code, stderr)
	}
	var uses Uses
	if err := json.Unmarshal([]byte(stdout), &uses); err != nil {
		t.Fatal(err)
	}
	var got []uint64
	for _, u := range uses.Uses {
		if u.Dataset != "cli-uses" || u.Requester != rita.Address() || u.Purpose != "research" || u.Analysis != "cohort_count" || u.When == "" {
			t.Fatalf("use %+v", u)
		}
		got = append(got, u.Job)
	}
	if len(got) != 2 || got[0] != jobs[0] || got[1] != jobs[1] {
		t.Fatalf("uses lists jobs %v; the worker ran %v", got, jobs)
	}
	if _, stdout, _ := cli("patient", "uses", "--from", "pat"); !strings.Contains(stdout, "cohort_count") || !strings.Contains(stdout, "JOB") {
		t.Fatalf("uses table:\n%s", stdout)
	}
	if code, stdout, _ := cli("patient", "uses", "--from", "outsider"); code != 0 || !strings.Contains(stdout, "no job used the records of") {
		t.Fatalf("outsider's uses: %d %s", code, stdout)
	}

	code, stdout, stderr = cli("patient", "rewards", "--from", "pat", "--org", org, "--json")
	if code != 0 {
		t.Fatalf("rewards: %d %s", code, stderr)
	}
	var bal PatientRewards
	json.Unmarshal([]byte(stdout), &bal)
	if bal.Total == 0 || len(bal.At) != 1 || bal.At[0].Balance != bal.Total || len(bal.At[0].Uses) != 2 {
		t.Fatalf("rewards: %s", stdout)
	}
	if code, _, stderr := cli("patient", "rewards", "--from", "pat"); code != 2 || !strings.Contains(stderr, "--org is required") {
		t.Fatalf("rewards without --org: %d %s", code, stderr)
	}
	if code, _, stderr := cli("patient", "rewards", "--from", "outsider", "--org", org); code != 1 || !strings.Contains(stderr, "linked to no record") {
		t.Fatalf("an unlinked patient's rewards: %d %s", code, stderr)
	}

	// One note now (the largest), to another wallet; the rest later, each
	// note to a new wallet of its own; then nothing is left.
	code, stdout, stderr = cli("patient", "claim", "--from", "pat", "--org", org, "--to", "purse", "--notes", "1", "--json")
	if code != 0 {
		t.Fatalf("claim: %d %s %s", code, stdout, stderr)
	}
	var cl Claimed
	json.Unmarshal([]byte(stdout), &cl)
	a, err := c.Account(ctx, wallet.Address())
	if err != nil || len(cl.Claims) != 1 || cl.Claims[0].Recipient != wallet.Address() || a.Balance != cl.Claimed || cl.Claimed&(cl.Claimed-1) != 0 || cl.Claimed > bal.Total {
		t.Fatalf("claimed %+v; the new wallet holds %+v (%v); balance was %d", cl, a, err, bal.Total)
	}
	first := cl.Claimed
	code, stdout, stderr = cli("patient", "claim", "--from", "pat", "--org", org, "--fresh", "--json")
	if code != 0 {
		t.Fatalf("claim --fresh: %d %s %s", code, stdout, stderr)
	}
	cl = Claimed{}
	json.Unmarshal([]byte(stdout), &cl)
	seen := map[string]bool{wallet.Address(): true, pat.Address(): true}
	for _, x := range cl.Claims {
		if seen[x.Recipient] || x.Code != ledger.CodeOK {
			t.Fatalf("claim --fresh paid %s twice or to a known wallet: %+v", x.Recipient, cl)
		}
		seen[x.Recipient] = true
		k, err := keys.Load(kd, "pat.note-"+x.Recipient[:12])
		if err != nil || k.Address() != x.Recipient {
			t.Fatalf("the note wallet %s is not kept: %v", x.Recipient, err)
		}
		if a, err := c.Account(ctx, x.Recipient); err != nil || a.Balance != x.Amount {
			t.Fatalf("note wallet %s holds %+v (%v), the note was %d", x.Recipient, a, err, x.Amount)
		}
	}
	if first+cl.Claimed != bal.Total {
		t.Fatalf("claims took %d + %d of a balance of %d", first, cl.Claimed, bal.Total)
	}
	if code, stdout, _ := cli("patient", "claim", "--from", "pat", "--org", org); code != 0 || !strings.Contains(stdout, "nothing to claim") {
		t.Fatalf("second claim: %d %s", code, stdout)
	}

	// Per-institution wallets: --secret scans, asks and claims with the
	// wallet the secret gives at each institution — asking only a node
	// that says it answers for the institution (GET /v1/rewards).
	if served, err := c.RewardOrgs(ctx); err != nil || !slices.Contains(served, org) {
		t.Fatalf("GET /v1/rewards: %v %v", served, err)
	}
	code, stdout, stderr = cli("patient", "uses", "--secret", "alice", "--json")
	if code != 0 {
		t.Fatalf("uses --secret: %d %s", code, stderr)
	}
	var au Uses
	json.Unmarshal([]byte(stdout), &au)
	if len(au.Uses) != 2 || len(au.Wallets) != len(orgs) || !slices.Contains(au.Wallets, alice.Address()) {
		t.Fatalf("uses --secret: %s", stdout)
	}
	for i, u := range au.Uses {
		if u.Job != jobs[i] || u.Institution != org || u.Wallet != alice.Address() {
			t.Fatalf("uses --secret: %+v", u)
		}
	}
	code, stdout, stderr = cli("patient", "rewards", "--secret", "alice", "--json")
	if code != 0 {
		t.Fatalf("rewards --secret: %d %s", code, stderr)
	}
	var ar PatientRewards
	json.Unmarshal([]byte(stdout), &ar)
	if len(ar.At) != 2 || ar.Total == 0 {
		t.Fatalf("rewards --secret (registered at %s and %s): %s", org, elsewhere, stdout)
	}
	for _, at := range ar.At {
		switch at.Org {
		case org:
			if at.Wallet != alice.Address() || at.Balance != ar.Total || len(at.Uses) != 2 {
				t.Fatalf("rewards --secret at %s: %+v", org, at)
			}
		case elsewhere:
			if at.Wallet != aliceElsewhere.Address() || at.Balance != 0 || at.Note == "" {
				t.Fatalf("rewards --secret at %s: %+v", elsewhere, at)
			}
		default:
			t.Fatalf("rewards --secret asked %s, where alice has no registered wallet", at.Org)
		}
	}
	// An earlier claim's answer was lost: its notes come back as
	// outstanding and this claim collects them with the rest.
	lostReq := &rewards.Request{ChainID: chain, Org: org, Action: rewards.ActionVouchers, Recipient: alice.Address(), Notes: 1,
		ID: strings.Repeat("5a", 32), Time: time.Now().Unix()}
	lostReq.Sign(alice.Sign)
	if lost, err := c.Rewards(ctx, lostReq); err != nil || len(lost.Vouchers) != 1 {
		t.Fatalf("the lost request: %+v %v", lost, err)
	}
	code, stdout, stderr = cli("patient", "claim", "--secret", "alice", "--json")
	if code != 0 {
		t.Fatalf("claim --secret: %d %s %s", code, stdout, stderr)
	}
	cl = Claimed{}
	json.Unmarshal([]byte(stdout), &cl)
	if a, err := c.Account(ctx, alice.Address()); err != nil || cl.Claimed != ar.Total || a.Balance != ar.Total || len(cl.Notes) != 1 {
		t.Fatalf("claim --secret: %+v; alice's clinic wallet %+v (%v); balance was %d", cl, a, err, ar.Total)
	}
}
