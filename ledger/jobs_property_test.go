package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"
)

func jobRoot(id string) string {
	h := sha256.Sum256([]byte("root of " + id))
	return hex.EncodeToString(h[:])
}

func jobPolicy(price uint64, split RewardSplit, perJob, total uint64) Policy {
	return Policy{Purposes: []string{"research"}, Requesters: Requesters{Anyone: true},
		Analyses: Analyses{Builtins: []string{"cohort_count"}}, MinCohort: MinCohortFloor,
		EpsilonPerJobMilli: perJob, EpsilonTotalMilli: total, Price: price, Split: split,
		Attestation: AttestSoftware, ConsentModel: ConsentOptIn}
}

// TestPropertyJobs drives random job traffic — submissions with random
// datasets, epsilons and ceilings; results from the right and wrong
// workers with the right and wrong roots; failures for every reason, those
// given before reading data and those after; expiries — and checks after
// every block: tokens are conserved (balances + escrows + pools = supply);
// each dataset's spent budget equals the epsilon of its admitted sites plus
// its released ones, and never exceeds its total; a closed job holds no
// escrow. And settlement pays for what was released (issue 10, finding 1):
// every account's balance and every pool is exactly what its genesis
// balance and the closed jobs say — each site that released a result, or
// touched its data before refusing, is paid its price by its split even
// when another site failed the job or it expired, and the requester gets
// back only the price of the sites that released nothing.
func TestPropertyJobs(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		m, db := newWorld(rt)
		h, now := int64(0), int64(1_700_000_000)
		nonces := map[string]uint64{}
		sign := func(who string, msg Msg) []byte {
			raw := mustSign(who, nonces[who], msg)
			nonces[who]++
			return raw
		}
		run := func(txs ...[]byte) []Result {
			h++
			now += 10
			if err := m.BeginBlock(BlockInfo{Height: h, Time: now}); err != nil {
				rt.Fatal(err)
			}
			var out []Result
			for _, raw := range txs {
				r, err := m.DeliverTx(raw)
				if err != nil {
					rt.Fatal(err)
				}
				out = append(out, r)
			}
			commitBlock(rt, m, db)
			return out
		}
		run(
			sign("alice", &RegisterWorker{Address: testAddr("wanda"), Attestation: AttestTypeSoftware, Measurement: genMeasurement}),
			sign("carol", &RegisterWorker{Address: testAddr("walt"), Attestation: AttestTypeSoftware, Measurement: genMeasurement}),
			sign("alice", &RegisterDataset{ID: "cardio", Version: 1, Title: "C", Schema: []Field{{Name: "age", Type: "integer"}},
				RecordBand: "1k-10k", ContentRoot: jobRoot("cardio"), Locator: "vault://c"}),
			sign("carol", &RegisterDataset{ID: "sleep", Version: 1, Title: "S", Schema: []Field{{Name: "age", Type: "integer"}},
				RecordBand: "1k-10k", ContentRoot: jobRoot("sleep"), Locator: "vault://s"}),
			sign("alice", &SetPolicy{Dataset: "cardio", Policy: jobPolicy(37, RewardSplit{6000, 3000, 1000}, 300, 1000)}),
			sign("carol", &SetPolicy{Dataset: "sleep", Policy: jobPolicy(11, RewardSplit{3333, 3333, 3334}, 250, 900)}),
		)
		supply, err := GetSupply(m.block)
		if err != nil {
			rt.Fatal(err)
		}
		initial := map[string]uint64{}
		for _, name := range jobAccounts {
			a, err := GetAccount(m.block, testAddr(name))
			if err != nil || a == nil {
				rt.Fatalf("account %s: %v", name, err)
			}
			initial[name] = a.Balance
		}
		workerOf := map[string]string{"cardio": "wanda", "sleep": "walt"}
		// What the traffic did, from the transactions' own results: the
		// worker that computed on each job's site (posted a result, or
		// refused after reading data), by job and dataset.
		computed := map[uint64]map[string]string{}
		type act struct {
			kind, ds, who, reason string
			job, amount           uint64
		}
		// What the claims paid: by claimant, and out of each dataset's
		// pool (each organisation here has one dataset).
		claimed := map[string]uint64{}
		blocks := rapid.IntRange(1, 12).Draw(rt, "blocks")
		for range blocks {
			var txs [][]byte
			var acts []act
			for range rapid.IntRange(0, 6).Draw(rt, "txs") {
				ds := rapid.SampledFrom([]string{"cardio", "sleep"}).Draw(rt, "dataset")
				job := rapid.Uint64Range(0, 5).Draw(rt, "job")
				switch rapid.SampledFrom([]string{"submit", "submit", "post", "post", "post_wrong", "fail", "expire", "claim", "claim"}).Draw(rt, "action") {
				case "submit":
					who := rapid.SampledFrom([]string{"rita", "bob"}).Draw(rt, "requester")
					sites := rapid.SliceOfNDistinct(rapid.SampledFrom([]string{"cardio", "sleep"}), 1, 2, rapid.ID[string]).Draw(rt, "sites")
					txs = append(txs, sign(who, &SubmitJob{Datasets: sites, Analysis: "cohort_count", Params: []byte(`{}`),
						Purpose: "research", MaxPrice: rapid.Uint64Range(0, 60).Draw(rt, "ceiling"), ResultKey: testEncKey(who),
						EpsilonMilli: rapid.Uint64Range(0, 300).Draw(rt, "epsilon")}))
				case "post":
					acts = append(acts, act{kind: "post", ds: ds, who: workerOf[ds], job: job})
					txs = append(txs, sign(workerOf[ds], &PostResult{Job: job, Dataset: ds, ContentRoot: jobRoot(ds),
						Measurement: genMeasurement, ResultHash: genMeasurement, Locator: "vault://r"}))
				case "post_wrong":
					other := map[string]string{"wanda": "walt", "walt": "wanda"}[workerOf[ds]]
					txs = append(txs, sign(other, &PostResult{Job: job, Dataset: ds, ContentRoot: jobRoot(ds),
						Measurement: genMeasurement, ResultHash: genMeasurement, Locator: "vault://r"}))
				case "fail":
					reason := rapid.SampledFrom(FailReasons).Draw(rt, "reason")
					acts = append(acts, act{kind: "fail", ds: ds, who: workerOf[ds], job: job, reason: reason})
					txs = append(txs, sign(workerOf[ds], &FailJob{Job: job, Dataset: ds, Reason: reason}))
				case "expire":
					txs = append(txs, sign("pat", &ExpireJob{Job: job}))
				case "claim":
					// A voucher of the dataset's organisation (signed by
					// its worker) or, now and then, of the other one's
					// worker; amounts that often exceed what is pooled.
					org := map[string]string{"cardio": "hosp-a", "sleep": "lab-b"}[ds]
					issuer := workerOf[ds]
					if rapid.IntRange(0, 4).Draw(rt, "foreign issuer") == 0 {
						issuer = map[string]string{"wanda": "walt", "walt": "wanda"}[issuer]
					}
					who := rapid.SampledFrom([]string{"pat", "paula"}).Draw(rt, "claimant")
					n := sha256.Sum256([]byte(rapid.SampledFrom([]string{"a", "b", "c", "d", "e", "f"}).Draw(rt, "nullifier")))
					v := Voucher{Org: org, Amount: rapid.SampledFrom([]uint64{1, 1, 1, 8, 64, 128}).Draw(rt, "amount"), Recipient: testAddr(who), Nullifier: hex.EncodeToString(n[:])}
					SignVoucher(testKey(issuer), testChain, &v)
					acts = append(acts, act{kind: "claim", ds: ds, who: who, amount: v.Amount})
					txs = append(txs, sign(who, &ClaimReward{Voucher: v}))
				}
				for len(acts) < len(txs) {
					acts = append(acts, act{})
				}
			}
			for i, r := range run(txs...) {
				a := acts[i]
				if r.Code == CodeOK && a.kind == "claim" {
					claimed[a.who] += a.amount
					claimed[a.ds] += a.amount
				}
				if r.Code != CodeOK || (a.kind != "post" && a.kind != "fail") {
					continue
				}
				// A refusal made before reading any data touches nothing.
				if a.kind == "fail" && slices.Contains(untouchedReasons, a.reason) {
					continue
				}
				if computed[a.job] == nil {
					computed[a.job] = map[string]string{}
				}
				if computed[a.job][a.ds] == "" {
					computed[a.job][a.ds] = a.who
				}
			}
			checkJobInvariants(rt, m, supply)
			checkSettlement(rt, m, initial, computed, claimed)
		}
	})
}

func checkJobInvariants(t *rapid.T, m *Machine, supply uint64) {
	t.Helper()
	st := m.block
	var jobs []Job
	for id := uint64(0); ; id++ {
		j, err := GetJob(st, id)
		if err != nil {
			t.Fatal(err)
		}
		if j == nil {
			break
		}
		jobs = append(jobs, *j)
	}
	want := map[string]uint64{}
	for _, j := range jobs {
		var price uint64
		for _, s := range j.Sites {
			price += s.Price
			// Epsilon stays spent while a job runs and, once it closed,
			// for every site that touched data (a result, a contribution
			// or a refusal made after reading data).
			if j.Status == JobAdmitted || s.Result != nil || s.Touched != "" {
				want[s.Dataset] += s.EpsilonMilli
			}
		}
		switch j.Status {
		case JobAdmitted:
			if j.Escrow != price {
				t.Fatalf("job %d admitted with escrow %d, price %d", j.ID, j.Escrow, price)
			}
		default:
			if j.Escrow != 0 {
				t.Fatalf("job %d is %s but holds escrow %d", j.ID, j.Status, j.Escrow)
			}
		}
	}
	for _, ds := range []string{"cardio", "sleep"} {
		b, err := GetBudget(st, ds)
		if err != nil {
			t.Fatal(err)
		}
		pol, _ := GetPolicy(st, ds)
		if b.SpentMilli != want[ds] {
			t.Fatalf("%s: budget spent %d, admitted and released sites account for %d", ds, b.SpentMilli, want[ds])
		}
		if b.SpentMilli > pol.EpsilonTotalMilli {
			t.Fatalf("%s: spent %d of %d", ds, b.SpentMilli, pol.EpsilonTotalMilli)
		}
	}
	var sum, held uint64
	for _, name := range []string{"root", "alice", "bob", "carol", "rita", "pat", "paula", "wanda", "walt"} {
		a, err := GetAccount(st, testAddr(name))
		if err != nil || a == nil {
			t.Fatalf("account %s: %v", name, err)
		}
		sum += a.Balance
	}
	for _, j := range jobs {
		held += j.Escrow
	}
	for _, ds := range []string{"cardio", "sleep"} {
		p, _ := GetPool(st, ds)
		held += p
	}
	if sum+held != supply {
		t.Fatalf("balances %d + escrows and pools %d != supply %d", sum, held, supply)
	}
}

// jobAccounts are the accounts of the standard world.
var jobAccounts = []string{"root", "alice", "bob", "carol", "rita", "pat", "paula", "wanda", "walt"}

// checkSettlement recomputes every balance and pool from the genesis
// balances, the jobs' prices and splits, and what the traffic did
// (computed: the worker that computed on each job's site): a closed job
// paid each site computed on its price — the institution's and pool's
// shares rounded down, the worker the rest — and refunded the requester
// the rest of the escrow; an admitted job holds its escrow. The job
// traffic is the only traffic after setup.
func checkSettlement(t *rapid.T, m *Machine, initial map[string]uint64, computed map[uint64]map[string]string, claimed map[string]uint64) {
	t.Helper()
	name := map[string]string{}
	for _, n := range jobAccounts {
		name[testAddr(n)] = n
	}
	want := maps.Clone(initial)
	pools := map[string]uint64{}
	for _, n := range []string{"pat", "paula"} {
		want[n] += claimed[n]
	}
	for id := uint64(0); ; id++ {
		j, err := GetJob(m.block, id)
		if err != nil {
			t.Fatal(err)
		}
		if j == nil {
			break
		}
		var spent uint64
		for _, s := range j.Sites {
			if j.Status == JobAdmitted {
				spent += s.Price
				continue
			}
			worker := computed[j.ID][s.Dataset]
			if worker == "" {
				continue // refunded
			}
			spent += s.Price
			inst, pool := s.Price*uint64(s.Split.InstitutionBps)/10000, s.Price*uint64(s.Split.PatientPoolBps)/10000
			want[name[s.Payee]] += inst
			pools[s.Dataset] += pool
			want[worker] += s.Price - inst - pool
		}
		want[name[j.Requester]] -= spent
	}
	for _, n := range jobAccounts {
		a, _ := GetAccount(m.block, testAddr(n))
		if a.Balance != want[n] {
			t.Fatalf("%s's balance is %d; genesis and the jobs say %d", n, a.Balance, want[n])
		}
	}
	for _, ds := range []string{"cardio", "sleep"} {
		if p, _ := GetPool(m.block, ds); p != pools[ds]-claimed[ds] {
			t.Fatalf("%s's pool is %d; the jobs paid in %d and claims took %d", ds, p, pools[ds], claimed[ds])
		}
	}
}
