package seed

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
)

// DemoSite is one institution of the embedded demo (the organisations and
// keys of a demo network's genesis) and the synthetic cohort it publishes.
type DemoSite struct {
	Admin, Org, Dataset, Title string
	Patients                   int
	Seed                       int64 // synth's seed: the same seed, the same patients
	Price                      uint64
	ConsentModel               string
}

// DemoSites are the demo's three institutions.
var DemoSites = []DemoSite{
	{"st-mary-admin", "st-mary", "st-mary-cvd", "St Mary's cardiovascular cohort", 1500, 1, 100, ledger.ConsentOptOut},
	{"northside-admin", "northside", "northside-cvd", "Northside cardiovascular cohort", 1200, 2, 80, ledger.ConsentOptIn},
	{"lakeview-admin", "lakeview", "lakeview-cvd", "Lakeview lab lipid and HbA1c panel", 800, 3, 60, ledger.ConsentOptOut},
}

// DemoRefDate is the reference date of the demo cohorts (ages, latest
// observations).
var DemoRefDate = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// People is the site's synthetic cohort, identifiers included.
func (s DemoSite) People() ([]synth.Person, error) {
	return synth.Generate(synth.Config{N: s.Patients, Seed: s.Seed, RefDate: DemoRefDate})
}

// Demo gives a new demo network something to look at: each demo
// institution registers a compute worker (key <org>-worker in keysDir,
// created if missing; software attestation of measurement), ingests its
// synthetic cohort into vault v and sets a policy, all three at once; then
// the demo patients give, and one revokes, consent. say reports each step
// (it is called from one goroutine at a time).
func Demo(ctx context.Context, c *client.Client, v *vault.Vault, keysDir, measurement string, say func(format string, args ...any)) error {
	secret, err := v.Secret()
	if err != nil {
		return err
	}
	var mu sync.Mutex
	report := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		say(format, args...)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(DemoSites))
	for _, s := range DemoSites {
		wg.Add(1)
		go func(s DemoSite) {
			defer wg.Done()
			if err := demoSite(ctx, c, v, secret, keysDir, measurement, s, report); err != nil {
				errs <- fmt.Errorf("%s: %w", s.Org, err)
			}
		}(s)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	return demoConsents(ctx, c, keysDir, say)
}

func demoSite(ctx context.Context, c *client.Client, v *vault.Vault, secret []byte, dir, measurement string, s DemoSite,
	say func(string, ...any)) error {
	admin, err := keys.Load(dir, s.Admin)
	if err != nil {
		return err
	}
	// The institution's compute worker: its own key, registered with the
	// measurement (software attestation).
	wk, err := keys.Load(dir, s.Org+"-worker")
	if err != nil {
		if wk, err = keys.Generate(s.Org + "-worker"); err != nil {
			return err
		}
		if err := wk.Save(dir); err != nil {
			return err
		}
	}
	people, err := s.People()
	if err != nil {
		return err
	}
	rep, err := Publish(ctx, c, v, secret, Site{Admin: admin, Worker: wk, Measurement: measurement, Org: s.Org,
		Dataset: s.Dataset, Title: s.Title, People: people, RefDate: DemoRefDate,
		Description: "Synthetic patients drawn from the Framingham general CVD model (medchain synth), de-identified under HIPAA Safe Harbor.",
		Policy: ledger.Policy{
			Purposes:           []string{"research", "public_health"},
			Requesters:         ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
			Analyses:           ledger.Analyses{Builtins: []string{"cohort_count", "descriptive", "logistic_regression", "survival"}},
			MinCohort:          ledger.MinCohortFloor,
			EpsilonPerJobMilli: 500, EpsilonTotalMilli: 5000,
			Price:       s.Price,
			Split:       ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
			Attestation: ledger.AttestSoftware, ConsentModel: s.ConsentModel,
			// The demo's pooled logistic study is exact (safe statistics);
			// without this the workers would refuse it.
			ExactRegression: true,
		}})
	if err != nil {
		return err
	}
	if rep == nil {
		say("%s: dataset %s and its worker were published by an earlier run", s.Org, s.Dataset)
		return nil
	}
	say("%s registered worker %s (software attestation)", s.Org, wk.Address())
	say("%s ingested %d synthetic patients into dataset %s (record band %s, content root %s…)",
		s.Org, rep.RowsKept, s.Dataset, rep.Vault.RecordBand, rep.Vault.ContentRoot[:16])
	say("%s set the policy of %s: research and public health, %d tokens a job, %s", s.Org, s.Dataset, s.Price, s.ConsentModel)
	return nil
}

func demoConsents(ctx context.Context, c *client.Client, dir string, say func(string, ...any)) error {
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
	// An earlier run may have taken some of the steps: a patient's k-th
	// consent is given only if they have fewer than k+1, and a consent is
	// revoked only if it is not revoked yet.
	have := make([][]ledger.Consent, len(p))
	for i, k := range p {
		var err error
		if have[i], err = c.Consents(ctx, k.Address(), k); err != nil {
			return err
		}
	}
	given := make([]int, len(p))
	for _, s := range steps {
		switch m := s.msg.(type) {
		case *ledger.GiveConsent:
			given[s.who]++
			if len(have[s.who]) >= given[s.who] {
				continue
			}
		case *ledger.RevokeConsent:
			if int(m.Seq) < len(have[s.who]) && have[s.who][m.Seq].Revoked != 0 {
				continue
			}
		}
		r, err := c.SignAndSubmit(ctx, p[s.who], s.msg, true)
		if err != nil {
			return fmt.Errorf("%s by %s: %w", s.msg.Type(), p[s.who].Name, err)
		}
		if r.Result == nil || r.Result.Code != ledger.CodeOK {
			return fmt.Errorf("%s by %s: %+v", s.msg.Type(), p[s.who].Name, r.Result)
		}
		say("%s", s.what)
	}
	return nil
}

// DemoEnrol has the demo's patients decide, for the study of `medchain
// demo`: at Northside (opt-in) the first enrolled patients of its cohort
// (rows 1…enrolled) enrol a fresh wallet and permit research, and
// patient-3 — who had permitted and revoked (Demo) — is linked to row 0;
// at St Mary's (opt-out) patient-2, linked to row 0, refuses research. The
// institutions link each wallet to its patient's pseudonymised row in
// vault v, with their node keys, sharing the link tables with their
// workers (keys <org>-worker, as Demo creates them), so the workers apply
// the wallet's consents. Keys are in dir.
func DemoEnrol(ctx context.Context, c *client.Client, v *vault.Vault, dir string, enrolled int, say func(string, ...any)) error {
	secret, err := v.Secret()
	if err != nil {
		return err
	}
	d, err := deid.New(deid.SafeHarbor(), secret)
	if err != nil {
		return err
	}
	stMary, northside := DemoSites[0], DemoSites[1]
	smPeople, err := stMary.People()
	if err != nil {
		return err
	}
	nsPeople, err := northside.People()
	if err != nil {
		return err
	}
	p2, err := keys.Load(dir, "patient-2")
	if err != nil {
		return err
	}
	p3, err := keys.Load(dir, "patient-3")
	if err != nil {
		return err
	}
	// Each institution links with its node key and shares its table with
	// its worker (created by Demo), which applies the consents.
	smNode, smWorker, err := demoLinker(dir, stMary)
	if err != nil {
		return err
	}
	nsNode, nsWorker, err := demoLinker(dir, northside)
	if err != nil {
		return err
	}
	if _, err := v.LinkPatient(stMary.Org, d.PatientPseudonym(smPeople[0].ID), p2.Address(), smNode, smWorker); err != nil {
		return err
	}
	if _, err := v.LinkPatient(northside.Org, d.PatientPseudonym(nsPeople[0].ID), p3.Address(), nsNode, nsWorker); err != nil {
		return err
	}
	r, err := c.SignAndSubmit(ctx, p2, &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeInstitution, ID: stMary.Org},
		Provision: ledger.Deny, Purposes: []string{"research"}}, true)
	if err != nil || r.Result == nil || r.Result.Code != ledger.CodeOK {
		return fmt.Errorf("patient-2 deny: %v %+v", err, r)
	}
	say("patient-2 refuses research at %s (an opt-out dataset: everyone else there is used)", stMary.Org)
	say("patient-3 permitted research on %s and then revoked it: excluded from jobs admitted afterwards", northside.Dataset)

	// Enrolment: fresh wallets (kept in memory), each registered by its
	// patient and permitting research at Northside.
	var wg sync.WaitGroup
	errs := make(chan error, enrolled)
	sem := make(chan struct{}, 32)
	for i := 1; i <= enrolled; i++ {
		wg.Add(1)
		go func(p synth.Person) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			k, err := keys.Generate("enrolled")
			if err != nil {
				errs <- err
				return
			}
			for _, msg := range []ledger.Msg{
				&ledger.RegisterAccount{PubKey: k.PubKey(), EncKey: k.EncPub(), Kind: ledger.KindPatient},
				&ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeInstitution, ID: northside.Org}, Provision: ledger.Permit, Purposes: []string{"research"}},
			} {
				r, err := c.SignAndSubmit(ctx, k, msg, true)
				if err != nil || r.Result == nil || r.Result.Code != ledger.CodeOK {
					errs <- fmt.Errorf("enrolment %s: %v %+v", msg.Type(), err, r)
					return
				}
			}
			if _, err := v.LinkPatient(northside.Org, d.PatientPseudonym(p.ID), k.Address(), nsNode, nsWorker); err != nil {
				errs <- err
			}
		}(nsPeople[i])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		return err
	}
	say("%d of %d Northside patients enrolled a wallet and permit research (opt-in: the other %d are never used)",
		enrolled, northside.Patients, northside.Patients-enrolled-1)
	return nil
}

// demoLinker is what site s links patients with: its node key (derived
// from its admin's key) and its worker's key, to share the table with.
func demoLinker(dir string, s DemoSite) (*vault.Identity, vault.Recipient, error) {
	admin, err := keys.Load(dir, s.Admin)
	if err != nil {
		return nil, vault.Recipient{}, err
	}
	wk, err := keys.Load(dir, s.Org+"-worker")
	if err != nil {
		return nil, vault.Recipient{}, err
	}
	node, err := vault.NodeIdentity(admin.Enc)
	if err != nil {
		return nil, vault.Recipient{}, err
	}
	wr, err := vault.NewRecipient(wk.EncPub())
	return node, wr, err
}
