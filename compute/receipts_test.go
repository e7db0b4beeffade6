package compute_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/receipts"
	"github.com/medchain/medchain/rewards"
)

// TestWorkerReceiptsAndRewards runs the worker on a real node: an opt-in
// site with 20 linked patients who permit research and one who denies it.
// After a count job the site's receipt set is on the ledger, of the band's
// top size; each permitting patient's key recognises the job and the
// denying one's does not. The node's reward desk then answers each patient:
// their balance is the per-row share of the pool; vouchers pay it in
// denominations; claims succeed once; a request signed by another key, or
// by an unlinked wallet, gets nothing.
func TestWorkerReceiptsAndRewards(t *testing.T) {
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e := newEnv(t, ctx, n)
	// 1000 rows: band 1k-10k, a set of 10 000 tags in five parts.
	e.price = 1000 // a patient share that earns whole tokens per row
	wk, people, rows := e.site("northside", "northside-admin", "ni-rx", 1000, 21, ledger.ConsentOptIn)
	if err := wk.Save(node.KeysDir(n.Home)); err != nil { // where the node's desk finds it
		t.Fatal(err)
	}
	var in []*keys.Key
	for i := range 20 {
		in = append(in, e.patient("northside", people[i], permit(ledger.ScopeAll, "", "research")))
	}
	out := e.patient("northside", people[20], deny(ledger.ScopeAll, "", "research"))

	rita := e.key("rita-researcher")
	rec := e.submit(rita, &ledger.SubmitJob{Datasets: []string{"ni-rx"}, Analysis: "cohort_count", Params: json.RawMessage(`{}`),
		Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()})
	job, err := client.JobID(rec)
	if err != nil {
		t.Fatal(err)
	}
	store, err := compute.OpenResultStore(compute.ResultsDir(n.Home))
	if err != nil {
		t.Fatal(err)
	}
	w := &compute.Worker{Key: wk, Org: "northside", Measurement: measurement, Vault: e.v, Ledger: e.c, Results: store}
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if j, _ := e.c.Job(ctx, job); j.Status != ledger.JobCompleted {
		t.Fatalf("job %d is %s (%s)", job, j.Status, j.Reason)
	}
	set, err := e.c.ReceiptSet(ctx, job, "ni-rx")
	if err != nil {
		t.Fatal(err)
	}
	dv, _ := e.c.DatasetVersion(ctx, "ni-rx", 1)
	size, _ := ledger.ReceiptSetSize(dv.RecordBand)
	if rows >= size || set.Parts != 5 || set.Posted != set.Parts || len(set.Tags) != size*receipts.TagSize || set.Worker != wk.Address() {
		t.Fatalf("receipt set of %d rows: %d/%d parts, %d bytes, by %s; want %d tags", rows, set.Posted, set.Parts, len(set.Tags), set.Worker, size)
	}
	// How soon after the release the whole set is on the ledger depends on
	// block timing (logged, not asserted: the test node makes 100 ms blocks).
	if set.CompleteHeight < set.ReleasedHeight {
		t.Fatalf("result at height %d, receipts complete before it, at %d", set.ReleasedHeight, set.CompleteHeight)
	}
	t.Logf("result at height %d, its %d receipt parts complete at %d", set.ReleasedHeight, set.Parts, set.CompleteHeight)
	chain, _ := e.c.Chain(ctx)
	recognises := func(k *keys.Key) bool {
		ok, err := receipts.NewScanner(k.Enc, chain).Recognises(set.WorkerEncKey, job, "ni-rx", set.Tags)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i, k := range in {
		if !recognises(k) {
			t.Fatalf("included patient %d does not recognise the job", i)
		}
	}
	if recognises(out) {
		t.Fatal("the patient who denied research recognises the job")
	}
	page, err := e.c.Receipts(ctx, 0, 0)
	if err != nil || len(page.Receipts) != 1 || page.More {
		t.Fatalf("GET /v1/receipts: %+v %v", page, err)
	}

	// Rewards, through the node's API.
	pool := uint64(1000 * 3000 / 10000)
	// The share is split exactly over the cohort: the 20 permits earn
	// 300 / 20 = 15 each.
	each := pool / 20
	var last *rewards.Request
	ask := func(k *keys.Key, action string, signer *keys.Key) (*rewards.Answer, error) {
		id := make([]byte, 32)
		rand.Read(id)
		req := &rewards.Request{ChainID: chain, Org: "northside", Action: action, ID: hex.EncodeToString(id), Time: time.Now().Unix()}
		if action == rewards.ActionVouchers {
			req.Recipient = k.Address()
		}
		req.Sign(signer.Sign)
		last = req
		return e.c.Rewards(ctx, req)
	}
	var claimed uint64
	for i, k := range in {
		a, err := ask(k, rewards.ActionBalance, k)
		if err != nil {
			t.Fatal(err)
		}
		// The consented cohort is the 20 permits (opt-in: unlinked rows are out).
		if a.Balance != each || len(a.Uses) != 1 || a.Uses[0].Job != job || !a.Uses[0].Settled {
			t.Fatalf("patient %d: %+v", i, a)
		}
		a, err = ask(k, rewards.ActionVouchers, k)
		if err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			// The answer is lost: the next request gets the same notes
			// back as outstanding (the ledger shows them unclaimed), and
			// no new ones.
			lost := a.Vouchers
			if a, err = ask(k, rewards.ActionVouchers, k); err != nil {
				t.Fatal(err)
			}
			if len(a.Vouchers) != 0 || !slices.EqualFunc(a.Outstanding, lost, func(x, y ledger.Voucher) bool { return x.Nullifier == y.Nullifier }) {
				t.Fatalf("after a lost answer: %+v; the lost notes were %+v", a, lost)
			}
			a.Vouchers, a.Outstanding = a.Outstanding, nil
		}
		if i == 0 {
			// The same signed request sent again within its window is
			// refused (replayed), and issues nothing.
			var ce *client.Error
			if _, err := e.c.Rewards(ctx, last); !errors.As(err, &ce) || ce.Status != 401 || ce.Code != uint32(ledger.CodeReplayed) || ce.Param != "id" {
				t.Fatalf("a replayed vouchers request: %v", err)
			}
		}
		if a.Balance != 0 || len(a.Vouchers) == 0 {
			t.Fatalf("patient %d after vouchers: %+v", i, a)
		}
		for _, v := range a.Vouchers {
			e.submit(k, &ledger.ClaimReward{Voucher: v})
			claimed += v.Amount
		}
		if i == 0 {
			r, err := e.c.SignAndSubmit(ctx, k, &ledger.ClaimReward{Voucher: a.Vouchers[0]}, true)
			if err != nil || r.Result == nil || r.Result.Code != ledger.CodeNullifierSpent {
				t.Fatalf("a voucher claimed twice: %+v %v", r, err)
			}
		}
	}
	if b, _ := e.c.DatasetBudget(ctx, "ni-rx"); claimed != pool || b.PatientPool != 0 {
		t.Fatalf("claimed %d of a pool of %d; the pool holds %d", claimed, pool, b.PatientPool)
	}
	// A request naming one patient's key but signed by another's is refused;
	// the patient who denied research has no uses and nothing to claim.
	id := make([]byte, 32)
	rand.Read(id)
	forged := &rewards.Request{ChainID: chain, Org: "northside", Action: rewards.ActionBalance, ID: hex.EncodeToString(id), Time: time.Now().Unix()}
	forged.Sign(in[2].Sign)
	forged.PubKey = in[1].PubKey()
	var ce *client.Error
	if _, err := e.c.Rewards(ctx, forged); !errors.As(err, &ce) || ce.Status != 403 {
		t.Fatalf("a request for one patient signed by another: %v", err)
	}
	a, err := ask(out, rewards.ActionBalance, out)
	if err != nil || a.Balance != 0 || slices.ContainsFunc(a.Uses, func(u rewards.Use) bool { return u.Job == job }) {
		t.Fatalf("the patient who denied research: %+v %v", a, err)
	}
}
