package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// demoSite is one institution of the embedded demo and the synthetic
// cohort it publishes.
type demoSite struct {
	admin, org, dataset, title string
	patients                   int
	seed                       int64
	price                      uint64
	consentModel               string
}

var demoSites = []demoSite{
	{"st-mary-admin", "st-mary", "st-mary-cvd", "St Mary's cardiovascular cohort", 1500, 1, 100, ledger.ConsentOptOut},
	{"northside-admin", "northside", "northside-cvd", "Northside cardiovascular cohort", 1200, 2, 80, ledger.ConsentOptIn},
	{"lakeview-admin", "lakeview", "lakeview-cvd", "Lakeview lab lipid and HbA1c panel", 800, 3, 60, ledger.ConsentOptOut},
}

// demoRefDate is the reference date of the demo cohorts (ages, latest
// observations).
var demoRefDate = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// seedDemo gives a new dev network something to look at: each demo
// institution registers a worker, ingests a synthetic cohort into the
// node's vault (de-identified, encrypted, published with its Merkle root)
// and sets a policy; the demo patients give, and one revokes, consent.
func seedDemo(ctx context.Context, home, apiAddr string, out io.Writer) error {
	c := client.New("http://" + apiAddr)
	dir := node.KeysDir(home)
	v, err := vaultcfg.Open(filepath.Join(home, "vault"))
	if err != nil {
		return err
	}
	secret, err := v.Secret()
	if err != nil {
		return err
	}
	measurement, err := compute.ExecutableMeasurement()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(out, "  demo: "+format+"\n", args...)
	}
	submit := func(k *keys.Key, msg ledger.Msg) error {
		r, err := c.SignAndSubmit(ctx, k, msg, true)
		if err != nil {
			return fmt.Errorf("%s by %s: %w", msg.Type(), k.Name, err)
		}
		if r.Result == nil || r.Result.Code != ledger.CodeOK {
			return fmt.Errorf("%s by %s: %+v", msg.Type(), k.Name, r.Result)
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(demoSites)+1)
	for _, s := range demoSites {
		wg.Add(1)
		go func(s demoSite) {
			defer wg.Done()
			if err := seedSite(ctx, c, v, secret, dir, measurement, s, say); err != nil {
				errs <- fmt.Errorf("%s: %w", s.org, err)
			}
		}(s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return seedConsents(ctx, c, dir, submit, say)
}

func seedSite(ctx context.Context, c *client.Client, v *vault.Vault, secret []byte, dir, measurement string, s demoSite,
	say func(string, ...any)) error {
	admin, err := keys.Load(dir, s.admin)
	if err != nil {
		return err
	}
	// The institution's compute worker: its own key, registered with the
	// measurement of this binary (software attestation).
	wk, err := keys.Load(dir, s.org+"-worker")
	if err != nil {
		if wk, err = keys.Generate(s.org + "-worker"); err != nil {
			return err
		}
		if err := wk.Save(dir); err != nil {
			return err
		}
	}
	people, err := synth.Generate(synth.Config{N: s.patients, Seed: s.seed, RefDate: demoRefDate})
	if err != nil {
		return err
	}
	rep, err := seed.Publish(ctx, c, v, secret, seed.Site{Admin: admin, Worker: wk, Measurement: measurement, Org: s.org,
		Dataset: s.dataset, Title: s.title, People: people, RefDate: demoRefDate,
		Description: "Synthetic patients drawn from the Framingham general CVD model (medchain synth), de-identified under HIPAA Safe Harbor.",
		Policy: ledger.Policy{
			Purposes:           []string{"research", "public_health"},
			Requesters:         ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
			Analyses:           ledger.Analyses{Builtins: []string{"cohort_count", "descriptive", "logistic_regression"}},
			MinCohort:          ledger.MinCohortFloor,
			EpsilonPerJobMilli: 500, EpsilonTotalMilli: 5000,
			Price:       s.price,
			Split:       ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
			Attestation: ledger.AttestSoftware, ConsentModel: s.consentModel,
			// The demo's pooled logistic study is exact (safe statistics);
			// without this the workers would refuse it.
			ExactRegression: true,
		}})
	if err != nil {
		return err
	}
	say("%s registered worker %s (software attestation)", s.org, wk.Address())
	say("%s ingested %d synthetic patients into dataset %s (record band %s, content root %s…)",
		s.org, rep.RowsKept, s.dataset, rep.Vault.RecordBand, rep.Vault.ContentRoot[:16])
	say("%s set the policy of %s: research and public health, %d tokens a job, %s", s.org, s.dataset, s.price, s.consentModel)
	return nil
}

func seedConsents(ctx context.Context, c *client.Client, dir string, submit func(*keys.Key, ledger.Msg) error, say func(string, ...any)) error {
	p := make([]*keys.Key, 3)
	for i := range p {
		var err error
		if p[i], err = keys.Load(dir, fmt.Sprintf("patient-%d", i+1)); err != nil {
			return err
		}
	}
	steps := []struct {
		who  int
		msg  ledger.Msg
		what string
	}{
		{0, &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeAll}, Provision: ledger.Permit, Purposes: []string{"research", "public_health"}},
			"patient-1 permits research and public health on all their records"},
		{1, &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeInstitution, ID: "st-mary"}, Provision: ledger.Deny, Purposes: []string{"commercial_research"}},
			"patient-2 denies commercial research at st-mary"},
		{2, &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeDataset, ID: "northside-cvd"}, Provision: ledger.Permit, Purposes: []string{"research"}},
			"patient-3 permits research on northside-cvd"},
		{2, &ledger.RevokeConsent{Seq: 0}, "patient-3 revokes that consent"},
	}
	for _, s := range steps {
		if err := submit(p[s.who], s.msg); err != nil {
			return err
		}
		say("%s", s.what)
	}
	return nil
}
