package rewards_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/rewards"
	"github.com/medchain/medchain/store"
)

// BenchmarkAccrue is a release of 1000 rows entered in the tally: the
// exact split and the keyed order of its remainder.
func BenchmarkAccrue(b *testing.B) {
	cohort := make([]string, 1000)
	for i := range cohort {
		cohort[i] = fmt.Sprintf("%032x", i)
	}
	tl := rewards.Tally{Key: make([]byte, 32)}
	job := uint64(0)
	for b.Loop() {
		if err := tl.Accrue(job, "ds", 999_999, cohort); err != nil {
			b.Fatal(err)
		}
		job++
		tl.Entries = tl.Entries[:0]
	}
}

// BenchmarkIssueNote is one note issued: a patient's request admitted
// (replay check) and answered with one signed note, on a tally of 100
// releases of 1000 rows.
func BenchmarkIssueNote(b *testing.B) {
	cohort := make([]string, 1000)
	for i := range cohort {
		cohort[i] = fmt.Sprintf("%032x", i)
	}
	tl := rewards.Tally{Key: make([]byte, 32)}
	for job := range uint64(100) {
		if err := tl.Accrue(job, "ds", 1_000_000_000, cohort); err != nil {
			b.Fatal(err)
		}
	}
	worker := newParty("bench-worker")
	p := newParty("bench-patient")
	settled := func(uint64, string) (bool, error) { return true, nil }
	rng := crand{rand.New(rand.NewPCG(1, 2))}
	now := time.Unix(1_700_000_000, 0)
	i := 0
	for b.Loop() {
		req := &rewards.Request{ChainID: chainID, Org: "hosp", Action: rewards.ActionVouchers, Recipient: p.addr(), Notes: 1,
			ID: fmt.Sprintf("%064x", i), Time: now.Unix()}
		if err := tl.Admit(p.addr(), req, now); err != nil {
			b.Fatal(err)
		}
		vs, err := tl.Issue(rewards.IssueRequest{Wallet: p.addr(), Recipient: p.addr(), Notes: 1, Pseudonyms: []string{cohort[i%len(cohort)]}},
			"hosp", chainID, worker.sig, settled, rng)
		if err != nil || len(vs) != 1 {
			b.Fatalf("%d notes: %v", len(vs), err)
		}
		i++
	}
}

// BenchmarkClaimApply is the ledger applying claim_reward transactions:
// decoding, the voucher's signature, the nullifier, the pool draw and the
// credit, 1000 claims a block.
func BenchmarkClaimApply(b *testing.B) {
	admin, worker, rita, pat := newParty("alice"), newParty("wka"), newParty("rita"), newParty("pat")
	acct := func(p party, kind ledger.AccountKind, org string, balance uint64) ledger.GenesisAccount {
		return ledger.GenesisAccount{PubKey: p.sig.Public().(ed25519.PublicKey), EncKey: p.enc.PublicKey().Bytes(), Kind: kind, Org: org, Balance: balance}
	}
	labAdmin := newParty("lab-admin")
	g := ledger.Genesis{Authorities: []string{admin.addr()}, JobTimeoutBlocks: 50,
		Orgs: []ledger.GenesisOrg{{ID: "lab", Name: "Lab", Kind: ledger.OrgLab, Admins: []string{labAdmin.addr()}},
			{ID: "hosp", Name: "hosp", Kind: ledger.OrgHospital, Admins: []string{admin.addr()}}},
		Accounts: []ledger.GenesisAccount{acct(labAdmin, ledger.KindInstitution, "lab", 0), acct(rita, ledger.KindResearcher, "lab", 1<<40),
			acct(admin, ledger.KindInstitution, "hosp", 0), acct(worker, ledger.KindWorker, "hosp", 0), acct(pat, ledger.KindPatient, "", 0)}}
	db := store.NewMem()
	m, err := ledger.New(db)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.InitChain(chainID, g); err != nil {
		b.Fatal(err)
	}
	c := &chain{t: b, m: m, db: db, nonces: map[string]uint64{}}
	measurement := hex.EncodeToString(make([]byte, 32))
	root := sha256.Sum256([]byte("cardio"))
	must := func(txs ...[]byte) {
		for i, r := range c.run(txs...) {
			if r.Code != ledger.CodeOK {
				b.Fatalf("tx %d: %s %s", i, r.Code, r.Log)
			}
		}
	}
	must(c.sign(admin, &ledger.RegisterWorker{Address: worker.addr(), Attestation: ledger.AttestTypeSoftware, Measurement: measurement}),
		c.sign(admin, &ledger.RegisterDataset{ID: "cardio", Version: 1, Title: "cardio", Schema: []ledger.Field{{Name: "age", Type: "integer"}},
			RecordBand: "100-999", ContentRoot: hex.EncodeToString(root[:]), Locator: "vault://cardio"}),
		c.sign(admin, &ledger.SetPolicy{Dataset: "cardio", Policy: ledger.Policy{Purposes: []string{"research"},
			Requesters: ledger.Requesters{Anyone: true}, Analyses: ledger.Analyses{Builtins: []string{"cohort_count"}},
			MinCohort: ledger.MinCohortFloor, EpsilonPerJobMilli: 10, EpsilonTotalMilli: 1000, Price: 1 << 36,
			Split:       ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
			Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptOut}}))
	must(c.sign(rita, &ledger.SubmitJob{Datasets: []string{"cardio"}, Analysis: "cohort_count", Params: []byte(`{}`), Purpose: "research",
		MaxPrice: 1 << 36, ResultKey: rita.enc.PublicKey().Bytes()}))
	must(c.sign(worker, &ledger.PostResult{Job: 0, Dataset: "cardio", ContentRoot: hex.EncodeToString(root[:]),
		Measurement: measurement, ResultHash: hex.EncodeToString(root[:]), Locator: "vault://r"}))
	// The claims, signed beforehand: notes of 1 token (the pool holds
	// about 2^34), each with its own nullifier.
	txs := make([][]byte, b.N)
	for i := range txs {
		v := ledger.Voucher{Org: "hosp", Amount: 1, Recipient: pat.addr(), Nullifier: fmt.Sprintf("%064x", i)}
		ledger.SignVoucher(worker.sig, chainID, &v)
		txs[i] = c.sign(pat, &ledger.ClaimReward{Voucher: v})
	}
	b.ResetTimer()
	for len(txs) > 0 {
		n := min(len(txs), 1000)
		for i, r := range c.run(txs[:n]...) {
			if r.Code != ledger.CodeOK {
				b.Fatalf("claim %d: %s %s", i, r.Code, r.Log)
			}
		}
		txs = txs[n:]
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "claims/s")
}
