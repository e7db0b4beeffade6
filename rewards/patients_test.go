package rewards_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/receipts"
	"github.com/medchain/medchain/rewards"
	"github.com/medchain/medchain/store"
)

const chainID = "medchain-patients-test"

// party is an account with both keys, derived from its name.
type party struct {
	name string
	sig  ed25519.PrivateKey
	enc  *ecdh.PrivateKey
}

func newParty(name string) party {
	s := sha256.Sum256([]byte("medchain/rewards-test/sig/" + name))
	e := sha256.Sum256([]byte("medchain/rewards-test/enc/" + name))
	enc, err := ecdh.X25519().NewPrivateKey(e[:])
	if err != nil {
		panic(err)
	}
	return party{name: name, sig: ed25519.NewKeyFromSeed(s[:]), enc: enc}
}

func (p party) addr() string { return ledger.Address(p.sig.Public().(ed25519.PublicKey)) }

// chain is a real ledger state machine on an in-memory store, one block per
// call to run.
type chain struct {
	t      testing.TB
	m      *ledger.Machine
	db     *store.Mem
	height int64
	nonces map[string]uint64
}

func (c *chain) run(txs ...[]byte) []ledger.Result {
	c.t.Helper()
	c.height++
	if err := c.m.BeginBlock(ledger.BlockInfo{Height: c.height, Time: 1_700_000_000 + 10*c.height}); err != nil {
		c.t.Fatal(err)
	}
	var out []ledger.Result
	for _, raw := range txs {
		r, err := c.m.DeliverTx(raw)
		if err != nil {
			c.t.Fatal(err)
		}
		out = append(out, r)
	}
	if _, err := c.m.EndBlock(); err != nil {
		c.t.Fatal(err)
	}
	if err := c.m.Commit(c.db); err != nil {
		c.t.Fatal(err)
	}
	c.m.Committed()
	return out
}

func (c *chain) mustRun(txs ...[]byte) {
	c.t.Helper()
	for i, r := range c.run(txs...) {
		if r.Code != ledger.CodeOK {
			c.t.Fatalf("block %d tx %d: %s: %s", c.height, i, r.Code, r.Log)
		}
	}
}

func (c *chain) sign(p party, msg ledger.Msg) []byte {
	c.t.Helper()
	raw, err := ledger.SignTx(p.sig, chainID, c.nonces[p.name], msg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.nonces[p.name]++
	return raw
}

// site is one institution: its admin, worker, dataset and the patients
// whose rows it holds (row i's pseudonym, linked to patient rows[i]).
type site struct {
	org, dataset  string
	admin, worker party
	rows          []int // patient index of each row
	pseudonym     func(row int) string
	tally         rewards.Tally
}

// The issue's test: 200 linked patients across two institutions and 30
// randomised jobs. Each patient's scan of every receipt set on the ledger
// finds exactly the jobs that used their rows; an outsider finds none;
// every set of a site has the same size (its version's band top) whatever
// the cohort. Then every included patient asks each institution for notes
// and claims them (some one note at a time, each to a fresh wallet): the
// claims add up to what the pools received, to the token, and the pools are
// left empty; every note is a power of two; a replayed request and a note
// claimed twice are refused; no claim's bytes name a job, a dataset or a
// pseudonym.
func TestReceiptsAndRewardsForTwoHundredPatients(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 2026))
	patients := make([]party, 200)
	for i := range patients {
		patients[i] = newParty(fmt.Sprint("patient-", i))
	}
	rita := newParty("rita")
	sites := []*site{
		{org: "hosp-a", dataset: "cardio", admin: newParty("alice"), worker: newParty("wka")},
		{org: "hosp-b", dataset: "renal", admin: newParty("bert"), worker: newParty("wkb")},
	}
	// Patients 0–129 have rows at hosp-a, 70–199 at hosp-b: 60 at both.
	for i := 0; i < 130; i++ {
		sites[0].rows = append(sites[0].rows, i)
	}
	for i := 70; i < 200; i++ {
		sites[1].rows = append(sites[1].rows, i)
	}
	for _, s := range sites {
		org := s.org
		s.pseudonym = func(row int) string {
			h := sha256.Sum256(fmt.Appendf(nil, "%s/row/%d", org, row))
			return hex.EncodeToString(h[:16])
		}
	}

	g := ledger.Genesis{Authorities: []string{sites[0].admin.addr()}, JobTimeoutBlocks: 50}
	acct := func(p party, kind ledger.AccountKind, org string, balance uint64) ledger.GenesisAccount {
		return ledger.GenesisAccount{PubKey: p.sig.Public().(ed25519.PublicKey), EncKey: p.enc.PublicKey().Bytes(), Kind: kind, Org: org, Balance: balance}
	}
	labAdmin := newParty("lab-admin")
	g.Orgs = append(g.Orgs, ledger.GenesisOrg{ID: "lab", Name: "Lab", Kind: ledger.OrgLab, Admins: []string{labAdmin.addr()}})
	g.Accounts = append(g.Accounts, acct(labAdmin, ledger.KindInstitution, "lab", 0), acct(rita, ledger.KindResearcher, "lab", 1_000_000))
	for _, s := range sites {
		g.Orgs = append(g.Orgs, ledger.GenesisOrg{ID: s.org, Name: s.org, Kind: ledger.OrgHospital, Admins: []string{s.admin.addr()}})
		g.Accounts = append(g.Accounts, acct(s.admin, ledger.KindInstitution, s.org, 0), acct(s.worker, ledger.KindWorker, s.org, 0))
	}
	for _, p := range patients {
		g.Accounts = append(g.Accounts, acct(p, ledger.KindPatient, "", 0))
	}
	db := store.NewMem()
	m, err := ledger.New(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.InitChain(chainID, g); err != nil {
		t.Fatal(err)
	}
	c := &chain{t: t, m: m, db: db, nonces: map[string]uint64{}}
	measurement := hex.EncodeToString(make([]byte, 32))
	root := func(ds string) string { h := sha256.Sum256([]byte(ds)); return hex.EncodeToString(h[:]) }
	var setup [][]byte
	for _, s := range sites {
		setup = append(setup,
			c.sign(s.admin, &ledger.RegisterWorker{Address: s.worker.addr(), Attestation: ledger.AttestTypeSoftware, Measurement: measurement}),
			c.sign(s.admin, &ledger.RegisterDataset{ID: s.dataset, Version: 1, Title: s.dataset, Schema: []ledger.Field{{Name: "age", Type: "integer"}},
				RecordBand: "100-999", ContentRoot: root(s.dataset), Locator: "vault://" + s.dataset}),
			c.sign(s.admin, &ledger.SetPolicy{Dataset: s.dataset, Policy: ledger.Policy{Purposes: []string{"research"},
				Requesters: ledger.Requesters{Anyone: true}, Analyses: ledger.Analyses{Builtins: []string{"cohort_count"}},
				MinCohort: ledger.MinCohortFloor, EpsilonPerJobMilli: 10, EpsilonTotalMilli: 1000, Price: 997,
				Split:       ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
				Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptOut}}))
	}
	c.mustRun(setup...)

	// 30 jobs on one site or both, each site's cohort a random subset of
	// its rows of at least the minimum cohort.
	truth := map[int][]uint64{} // patient → jobs that used their rows
	cohortSize := map[string][]int{}
	poolIn := uint64(0)
	for job := range uint64(30) {
		var ds []*site
		switch rng.IntN(3) {
		case 0:
			ds = []*site{sites[0]}
		case 1:
			ds = []*site{sites[1]}
		default:
			ds = sites
		}
		var names []string
		for _, s := range ds {
			names = append(names, s.dataset)
		}
		c.mustRun(c.sign(rita, &ledger.SubmitJob{Datasets: names, Analysis: "cohort_count", Params: []byte(`{}`), Purpose: "research",
			MaxPrice: 10_000, ResultKey: rita.enc.PublicKey().Bytes()}))
		for _, s := range ds {
			n := int(ledger.MinCohortFloor) + rng.IntN(len(s.rows)-int(ledger.MinCohortFloor)+1)
			perm := rng.Perm(len(s.rows))[:n]
			var tags []receipts.Tag
			var cohort []string
			for _, row := range perm {
				p := patients[s.rows[row]]
				k, err := receipts.WorkerKey(s.worker.enc, p.enc.PublicKey().Bytes())
				if err != nil {
					t.Fatal(err)
				}
				tags = append(tags, receipts.TagFor(k, chainID, job, s.dataset))
				cohort = append(cohort, s.pseudonym(row))
				truth[s.rows[row]] = append(truth[s.rows[row]], job)
			}
			cohortSize[s.dataset] = append(cohortSize[s.dataset], n)
			size, _ := ledger.ReceiptSetSize("100-999")
			set, err := receipts.Pad(tags, size, crand{rng})
			if err != nil {
				t.Fatal(err)
			}
			txs := [][]byte{c.sign(s.worker, &ledger.PostResult{Job: job, Dataset: s.dataset, ContentRoot: root(s.dataset),
				Measurement: measurement, ResultHash: root(fmt.Sprint(job)), Locator: "vault://r"})}
			for part := range ledger.ReceiptParts(size) {
				lo := part * ledger.ReceiptTagsPerPart * ledger.ReceiptTagSize
				hi := min(len(set), lo+ledger.ReceiptTagsPerPart*ledger.ReceiptTagSize)
				txs = append(txs, c.sign(s.worker, &ledger.PostReceipts{Job: job, Dataset: s.dataset, Part: uint32(part), Tags: set[lo:hi]}))
			}
			c.mustRun(txs...)
			share := 997 * 3000 / 10000
			poolIn += uint64(share)
			if err := s.tally.Accrue(job, s.dataset, uint64(share), cohort); err != nil {
				t.Fatal(err)
			}
		}
		if j, _ := ledger.GetJob(db, job); j.Status != ledger.JobCompleted {
			t.Fatalf("job %d is %s", job, j.Status)
		}
	}

	// Receipts: what each patient's own scan finds.
	type published struct {
		set       ledger.ReceiptSet
		tags      []byte
		workerEnc []byte
	}
	var all []published
	for _, k := range db.Keys([]byte("s/rcpt/")) {
		var job uint64
		var ds string
		for _, s := range sites {
			if bytes.HasSuffix(k, []byte("/"+s.dataset)) {
				ds = s.dataset
			}
		}
		fmt.Sscanf(string(k[len("s/rcpt/"):len("s/rcpt/")+16]), "%x", &job)
		set, err := ledger.GetReceiptSet(db, job, ds)
		if err != nil || set == nil {
			t.Fatalf("receipt set %s: %v", k, err)
		}
		tags, err := ledger.GetReceiptTags(db, job, ds)
		if err != nil {
			t.Fatal(err)
		}
		w, err := ledger.GetAccount(db, set.Worker)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, published{*set, tags, w.EncKey})
	}
	sizes := map[string]map[int]bool{}
	for _, p := range all {
		if sizes[p.set.Dataset] == nil {
			sizes[p.set.Dataset] = map[int]bool{}
		}
		sizes[p.set.Dataset][len(p.tags)/receipts.TagSize] = true
	}
	for ds, n := range sizes {
		if len(n) != 1 || !n[999] {
			t.Errorf("%s: receipt sets of sizes %v; want every one 999 (the band's top)", ds, slices.Sorted(maps.Keys(n)))
		}
		if distinct := slices.Compact(slices.Sorted(slices.Values(cohortSize[ds]))); len(distinct) < 2 {
			t.Errorf("%s: the cohorts should differ in size to show anything: %v", ds, distinct)
		}
	}
	scan := func(p party) []uint64 {
		sc := receipts.NewScanner(p.enc, chainID)
		var jobs []uint64
		for _, pub := range all {
			ok, err := sc.Recognises(pub.workerEnc, pub.set.Job, pub.set.Dataset, pub.tags)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				jobs = append(jobs, pub.set.Job)
			}
		}
		return jobs
	}
	included := 0
	for i, p := range patients {
		want := slices.Clone(truth[i])
		slices.Sort(want)
		got := scan(p)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("patient %d recognises jobs %v; the jobs that used their rows are %v", i, got, want)
		}
		if len(want) > 0 {
			included++
		}
	}
	if got := scan(newParty("outsider")); len(got) != 0 {
		t.Fatalf("a patient in no dataset recognises jobs %v", got)
	}
	t.Logf("%d receipt sets, %d of 200 patients used", len(all), included)

	// Rewards: every included patient asks each institution for vouchers
	// and claims them.
	settled := func(job uint64, dataset string) (bool, error) {
		j, err := ledger.GetJob(db, job)
		return err == nil && j != nil && j.Status != ledger.JobAdmitted &&
			slices.ContainsFunc(j.Sites, func(s ledger.JobSite) bool { return s.Dataset == dataset && s.Result != nil }), err
	}
	// The split, checked against the jobs: each release's share is split
	// over its true cohort, every row floor(share/n) or one token more, and
	// the rows' earnings add up to the share exactly.
	wantClaim := map[int]uint64{} // patient → tokens over both sites
	for _, s := range sites {
		for _, e := range s.tally.Entries {
			n := uint64(len(e.Cohort))
			var sum, plus uint64
			for _, p := range e.Cohort {
				got := e.Earned(p)
				if got != e.Share/n && got != e.Share/n+1 {
					t.Fatalf("job %d %s: a row of a cohort of %d earned %d of a share of %d", e.Job, e.Dataset, n, got, e.Share)
				}
				sum += got
				if got > e.Share/n {
					plus++
				}
			}
			if sum != e.Share || plus != e.Share%n {
				t.Fatalf("job %d %s: rows earned %d (%d of them one more) of a share of %d over %d", e.Job, e.Dataset, sum, plus, e.Share, n)
			}
		}
		for row, i := range s.rows {
			for _, e := range s.tally.Entries {
				wantClaim[i] += e.Earned(s.pseudonym(row))
			}
		}
	}
	var claimed uint64
	claimedBy := map[int]uint64{}
	var claims, registrations [][]byte
	now := time.Unix(1_700_000_000, 0)
	issued := 0
	for i, p := range patients {
		for _, s := range sites {
			row := slices.Index(s.rows, i)
			if row < 0 {
				continue
			}
			// One patient in five takes one note per request, each to a
			// fresh wallet of theirs: notes are claimable to any address.
			oneByOne := i%5 == 0
			for ask := 0; ; ask++ {
				recipient := p
				if oneByOne {
					recipient = newParty(fmt.Sprintf("patient-%d/%s/note-%d", i, s.org, ask))
				}
				req := rewards.Request{ChainID: chainID, Org: s.org, Action: rewards.ActionVouchers, Recipient: recipient.addr(),
					ID: hex.EncodeToString(fmt.Appendf(nil, "%016d%016d", i, ask)), Time: now.Unix()}
				if oneByOne {
					req.Notes = 1
				}
				req.Sign(p.sig)
				wallet, err := req.Verify(chainID, s.org, now)
				if err != nil || wallet != p.addr() {
					t.Fatalf("request of patient %d: %v", i, err)
				}
				if err := s.tally.Admit(wallet, &req, now); err != nil {
					t.Fatal(err)
				}
				// The same signed request again is refused, not answered.
				if err := s.tally.Admit(wallet, &req, now.Add(rewards.MaxRequestAge)); !errors.Is(err, rewards.ErrReplayed) {
					t.Fatalf("a replayed request: %v", err)
				}
				vs, err := s.tally.Issue(rewards.IssueRequest{Wallet: wallet, Recipient: req.Recipient, Notes: int(req.Notes),
					Pseudonyms: []string{s.pseudonym(row)}}, s.org, chainID, s.worker.sig, settled, crand{rng})
				if err != nil {
					t.Fatal(err)
				}
				if ask == 0 && (len(vs) > 0) != (wantClaimAt(s, row) > 0) {
					t.Fatalf("patient %d at %s: %d notes for %d earned", i, s.org, len(vs), wantClaimAt(s, row))
				}
				if len(vs) == 0 {
					break
				}
				if oneByOne {
					if len(vs) != 1 {
						t.Fatalf("a request for one note got %d", len(vs))
					}
					registrations = append(registrations, c.sign(recipient, &ledger.RegisterAccount{PubKey: recipient.sig.Public().(ed25519.PublicKey),
						EncKey: recipient.enc.PublicKey().Bytes(), Kind: ledger.KindPatient}))
				}
				issued += len(vs)
				for _, v := range vs {
					if !slices.Contains(ledger.RewardDenominations, v.Amount) || v.Amount&(v.Amount-1) != 0 {
						t.Fatalf("a note of %d: not a power of two", v.Amount)
					}
					raw := c.sign(recipient, &ledger.ClaimReward{Voucher: v})
					claims = append(claims, raw)
					claimed += v.Amount
					claimedBy[i] += v.Amount
					// What a claim shows: no job, no dataset, no pseudonym,
					// no cohort size — the claim message is the voucher and
					// the voucher's fields are these and no others.
					for _, secret := range []string{`"job"`, "cardio", "renal", s.pseudonym(row), `"cohort"`, `"dataset"`} {
						if bytes.Contains(raw, []byte(secret)) {
							t.Fatalf("a claim's bytes hold %q", secret)
						}
					}
					var fields map[string]json.RawMessage
					vb, _ := json.Marshal(v)
					json.Unmarshal(vb, &fields)
					if got := slices.Sorted(maps.Keys(fields)); !slices.Equal(got, []string{"amount", "issuer", "nullifier", "org", "recipient", "signature"}) {
						t.Fatalf("a voucher carries %v", got)
					}
				}
				if !oneByOne {
					break
				}
			}
		}
	}
	for len(registrations) > 0 { // the ledger takes 100 self-registrations a block
		n := min(len(registrations), 100)
		c.mustRun(registrations[:n]...)
		registrations = registrations[n:]
	}
	for len(claims) > 0 {
		n := min(len(claims), 500)
		c.mustRun(claims[:n]...)
		claims = claims[n:]
	}
	for i := range patients {
		if claimedBy[i] != wantClaim[i] {
			t.Fatalf("patient %d claimed %d; their rows earned %d", i, claimedBy[i], wantClaim[i])
		}
	}
	// Every token the pools received was claimed, and nothing else: the
	// claims add up to the pools' receipts to the token and the pools are
	// empty.
	if claimed != poolIn {
		t.Fatalf("claims took %d; the pools received %d", claimed, poolIn)
	}
	var left uint64
	for _, s := range sites {
		p, err := ledger.GetOrgPool(db, s.org)
		if err != nil {
			t.Fatal(err)
		}
		left += p
	}
	if left != 0 {
		t.Fatalf("the pools hold %d after every claim; they received %d and claims took %d", left, poolIn, claimed)
	}
	var paid uint64
	for _, k := range db.Keys([]byte("s/acct/")) {
		a, err := ledger.GetAccount(db, string(k[len("s/acct/"):]))
		if err == nil && a != nil && a.Kind == ledger.KindPatient {
			paid += a.Balance
		}
	}
	if paid != claimed {
		t.Fatalf("patient wallets hold %d, claims paid %d", paid, claimed)
	}
	t.Logf("pools received %d; %d notes claimed %d; the pools hold %d", poolIn, issued, claimed, left)

	// A note is good once.
	var v ledger.Voucher
	for _, is := range sites[0].tally.Issued {
		if len(is.Vouchers) > 0 && is.Vouchers[0].Recipient == is.Wallet {
			v = is.Vouchers[0]
			break
		}
	}
	var owner party
	for _, p := range patients {
		if p.addr() == v.Recipient {
			owner = p
		}
	}
	if r := c.run(c.sign(owner, &ledger.ClaimReward{Voucher: v})); r[0].Code != ledger.CodeNullifierSpent {
		t.Fatalf("second claim of a voucher: %s %s", r[0].Code, r[0].Log)
	}
}

// wantClaimAt is what row earned at site s over all its jobs.
func wantClaimAt(s *site, row int) uint64 {
	var sum uint64
	for _, e := range s.tally.Entries {
		sum += e.Earned(s.pseudonym(row))
	}
	return sum
}

// crand reads random bytes from a seeded generator, so the test is
// reproducible (the node draws padding and nullifiers from crypto/rand).
type crand struct{ r *rand.Rand }

func (c crand) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c.r.Uint32())
	}
	return len(p), nil
}
