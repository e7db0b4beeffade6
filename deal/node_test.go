package deal_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/deal"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
)

// A node run with workers (medchain up, medchain node) delivers deals by
// itself: its <org>-worker key delivers the accepted records of its
// organisation's datasets, and the buyer collects them through the API.
func TestNodeDeliversDeals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	n, err := apitest.StartWith(node.Options{Workers: true, WorkerMeasurement: measurement, WorkerEvery: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := &recorder{Client: client.New(n.URL)}
	v, err := vault.Open(filepath.Join(n.Home, "vault"))
	if err != nil {
		t.Fatal(err)
	}
	secret, err := v.Secret()
	if err != nil {
		t.Fatal(err)
	}
	pseudo, err := deid.New(deid.SafeHarbor(), secret)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := n.Key("northside-admin")
	if err != nil {
		t.Fatal(err)
	}
	worker, err := keys.Generate("northside-worker")
	if err != nil {
		t.Fatal(err)
	}
	if err := worker.Save(node.KeysDir(n.Home)); err != nil {
		t.Fatal(err)
	}
	people, err := synth.Generate(synth.Config{N: 20, Seed: 3, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := seed.Publish(ctx, c.Client, v, secret, seed.Site{Admin: admin, Worker: worker, Measurement: measurement,
		Org: "northside", Dataset: "ns-deal", Title: "ns-deal", People: people, RefDate: refDate,
		Policy: ledger.Policy{Purposes: []string{"research"}, Requesters: ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
			Analyses: ledger.Analyses{Builtins: []string{"cohort_count"}}, MinCohort: ledger.MinCohortFloor,
			EpsilonPerJobMilli: 500, EpsilonTotalMilli: 5000, Price: 10,
			Split:       ledger.RewardSplit{InstitutionBps: 5000, PatientPoolBps: 4000, WorkerBps: 1000},
			Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptIn}}); err != nil {
		t.Fatal(err)
	}
	nodeID, _ := vault.NodeIdentity(admin.Enc)
	wr, _ := vault.NewRecipient(worker.EncPub())
	buyer, err := n.Key("rita-researcher")
	if err != nil {
		t.Fatal(err)
	}
	rec := c.submit(t, ctx, buyer, &ledger.PostDeal{Purpose: "research", Datasets: []string{"ns-deal"}, Fields: []string{"age", "hdl"},
		PricePerRecord: 10, Budget: 30, MaxRecords: 3, ExpiryBlocks: 5000, BuyerKey: buyer.EncPub()})
	id := eventUint(t, rec, "post_deal", "deal")
	for i := range 3 {
		k, _ := keys.Generate("p")
		if _, err := v.LinkPatient("northside", pseudo.PatientPseudonym(people[i].ID), k.Address(), nodeID, wr); err != nil {
			t.Fatal(err)
		}
		c.submit(t, ctx, k, &ledger.RegisterAccount{PubKey: k.PubKey(), EncKey: k.EncPub(), Kind: ledger.KindPatient})
		c.submit(t, ctx, k, &ledger.AcceptDeal{Deal: id, Dataset: "ns-deal"})
	}
	for {
		d, err := c.Deal(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Delivered == 3 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the node's worker delivered %d of 3 records", d.Delivered)
		case <-time.After(200 * time.Millisecond):
		}
	}
	rows, err := deal.Fetch(ctx, c.Client, id, buyer)
	if err != nil || len(rows) != 3 {
		t.Fatalf("buyer got %d rows: %v", len(rows), err)
	}
}
