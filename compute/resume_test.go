package compute_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/store"
)

// startNodeWithJobTimeout starts a one-validator demo node like apitest's,
// but with the genesis job_timeout_blocks set (node.NetOptions does not
// expose it, so the genesis file is patched before the node starts).
func startNodeWithJobTimeout(t *testing.T, blocks int64) *apitest.Node {
	t.Helper()
	dir, err := os.MkdirTemp("", "medchain-resume-")
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	var addrs [3]string
	for i := range addrs {
		if addrs[i], err = apitest.FreeAddr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := node.CreateNetwork([]string{home}, node.NetOptions{
		ChainID: apitest.ChainID, Validators: 1, Demo: true, BlockTime: 100 * time.Millisecond,
		API: addrs[0], RPC: addrs[1], P2P: addrs[2],
	}); err != nil {
		t.Fatal(err)
	}
	gf := filepath.Join(home, "config", "genesis.json")
	raw, err := os.ReadFile(gf)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var app map[string]json.RawMessage
	if err := json.Unmarshal(doc["app_state"], &app); err != nil {
		t.Fatal(err)
	}
	app["job_timeout_blocks"], _ = json.Marshal(blocks)
	doc["app_state"], _ = json.Marshal(app)
	if raw, err = json.Marshal(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gf, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	nd, err := node.Start(home, node.Options{})
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Stop(); os.RemoveAll(dir) })
	n := &apitest.Node{Home: home, URL: "http://" + nd.APIAddr(), Node: nd}
	if err := n.WaitHeight(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	return n
}

// dying is a worker's ledger connection in a process that dies the moment
// it is about to post a result: the analysis ran and the ciphertext is in
// the result store, but nothing reached the ledger.
type dying struct {
	*client.Client
	cancel context.CancelFunc
}

func (d *dying) SignAndSubmit(ctx context.Context, k *keys.Key, m ledger.Msg, wait bool) (*api.TxSubmitted, error) {
	if _, ok := m.(*ledger.PostResult); ok {
		d.cancel()
		return nil, context.Canceled
	}
	return d.Client.SignAndSubmit(ctx, k, m, wait)
}

// counting counts the post_result transactions the ledger accepted.
type counting struct {
	*client.Client
	mu    sync.Mutex
	posts int
}

func (c *counting) SignAndSubmit(ctx context.Context, k *keys.Key, m ledger.Msg, wait bool) (*api.TxSubmitted, error) {
	r, err := c.Client.SignAndSubmit(ctx, k, m, wait)
	if _, ok := m.(*ledger.PostResult); ok && err == nil && client.ResultError(r) == nil {
		c.mu.Lock()
		c.posts++
		c.mu.Unlock()
	}
	return r, err
}

// TestWorkerRestart kills a worker mid-job (after it computed and stored a
// result, before it posted) and checks both ways out: (a) with no worker
// the job passes its deadline and expire_job refunds the requester in full
// and gives the budget back, paying nobody; (b) a restarted worker (a new
// Worker value on the same vault and result store) picks up the job still
// admitted and completes it exactly once.
func TestWorkerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	const timeout = 40 // blocks of 100 ms
	n := startNodeWithJobTimeout(t, timeout)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	e := newEnv(t, ctx, n)
	var err error
	const org, dataset = "st-mary", "so-restart"
	wk, _, rows := e.site(org, "st-mary-admin", dataset, 200, 21, ledger.ConsentOptOut)
	if rows != 200 {
		t.Fatalf("ingested %d rows", rows)
	}
	results, err := compute.OpenResultStore(compute.ResultsDir(n.Home))
	if err != nil {
		t.Fatal(err)
	}
	rita := e.key("rita-researcher")
	admin := e.key("st-mary-admin")

	type ledgerView struct {
		rita, admin, worker, pool uint64
		spent                     uint64
	}
	view := func() ledgerView {
		var v ledgerView
		v.rita, v.admin, v.worker = balance(e, rita.Address()), balance(e, admin.Address()), balance(e, wk.Address())
		if err := n.View(func(r store.ReadWriter, _ ledger.Commitment) error {
			b, err := ledger.GetBudget(r, dataset)
			if err != nil {
				return err
			}
			v.spent = b.SpentMilli
			v.pool, err = ledger.GetPool(r, dataset)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return v
	}
	submitJob := func() (uint64, *ledger.Job) {
		rec := e.submit(rita, &ledger.SubmitJob{Datasets: []string{dataset}, Analysis: "cohort_count", Params: json.RawMessage(`{}`),
			Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()})
		id, err := client.JobID(rec)
		if err != nil {
			t.Fatal(err)
		}
		j, err := e.c.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != ledger.JobAdmitted {
			t.Fatalf("job %d is %s", id, j.Status)
		}
		return id, j
	}
	newWorker := func(b compute.Backend) *compute.Worker {
		return &compute.Worker{Key: wk, Org: org, Measurement: measurement, Vault: e.v, Ledger: b, Results: results,
			Noise: rand.NewChaCha8([32]byte{7})}
	}
	// kill runs a worker that dies just before posting.
	kill := func(id uint64) {
		t.Helper()
		wctx, wcancel := context.WithCancel(ctx)
		defer wcancel()
		_, err := newWorker(&dying{Client: e.c, cancel: wcancel}).RunOnce(wctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("killed worker: got %v, want it cancelled", err)
		}
		j, err := e.c.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != ledger.JobAdmitted || j.Sites[0].Result != nil {
			t.Fatalf("after the kill job %d is %s with result %+v", id, j.Status, j.Sites[0].Result)
		}
	}

	// (a) Killed, never restarted: the job expires and refunds.
	before := view()
	idA, jobA := submitJob()
	admitted := view()
	if admitted.rita != before.rita-jobA.Escrow || admitted.spent != before.spent+jobA.Sites[0].EpsilonMilli {
		t.Fatalf("admission: before %+v, after %+v, escrow %d", before, admitted, jobA.Escrow)
	}
	kill(idA)
	if r, err := e.c.SignAndSubmit(ctx, rita, &ledger.ExpireJob{Job: idA}, true); err != nil {
		t.Fatal(err)
	} else if code := r.Result.Code; code != ledger.CodeInvalidState {
		t.Fatalf("expire_job before the deadline: %s, want invalid_state", code)
	}
	if err := n.WaitHeight(ctx, jobA.Deadline+1); err != nil {
		t.Fatal(err)
	}
	// A worker restarted after the deadline leaves the job alone.
	if out, err := newWorker(e.c).RunOnce(ctx); err != nil {
		t.Fatal(err)
	} else if len(out) != 1 || out[0].Action != "skipped" {
		t.Fatalf("worker after the deadline: %+v", out)
	}
	e.submit(rita, &ledger.ExpireJob{Job: idA})
	j, err := e.c.Job(ctx, idA)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != ledger.JobExpired || j.Escrow != 0 || j.Sites[0].Result != nil {
		t.Fatalf("expired job: %s, escrow %d, result %+v", j.Status, j.Escrow, j.Sites[0].Result)
	}
	if after := view(); after != before {
		t.Fatalf("not a clean refund: before submit %+v, after expiry %+v", before, after)
	}

	// (b) Killed, then restarted before the deadline: completes once.
	before = view()
	idB, jobB := submitJob()
	kill(idB)
	ledgerB := &counting{Client: e.c}
	out, err := newWorker(ledgerB).RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].Job != idB || out[0].Action != "posted" {
		t.Fatalf("restarted worker: %+v", out)
	}
	// Running again (or a second restart) posts nothing more.
	if out, err := newWorker(ledgerB).RunOnce(ctx); err != nil || len(out) != 0 {
		t.Fatalf("second run: %+v, %v", out, err)
	}
	if ledgerB.posts != 1 {
		t.Fatalf("%d results posted, want 1", ledgerB.posts)
	}
	j, err = e.c.Job(ctx, idB)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != ledger.JobCompleted || j.Sites[0].Result == nil || j.Sites[0].Result.ResultHash != out[0].Hash {
		t.Fatalf("job %d: %s, result %+v", idB, j.Status, j.Sites[0].Result)
	}
	after := view()
	price := jobB.Escrow
	if after.rita != before.rita-price || after.spent != before.spent+jobB.Sites[0].EpsilonMilli ||
		after.admin+after.worker+after.pool != before.admin+before.worker+before.pool+price {
		t.Fatalf("settlement: before %+v, after %+v, price %d", before, after, price)
	}
	if blob, err := e.c.Result(ctx, idB, dataset); err != nil || len(blob.Ciphertext) == 0 {
		t.Fatalf("result download: %v", err)
	}
}
