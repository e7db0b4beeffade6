package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/ledger"
)

// The deal routes: a posted deal, its acceptance by a patient, filters,
// and the answers for what is malformed or missing (a row that was never
// delivered is not found, whoever asks).
func TestDeals(t *testing.T) {
	ds := world(t)
	rita := key(t, "rita-researcher")
	res := do(t, "rita-researcher", &ledger.PostDeal{Purpose: "research", Datasets: []string{ds}, Fields: []string{"age"},
		PricePerRecord: 2, Budget: 4, MaxRecords: 2, ExpiryBlocks: 1000, BuyerKey: rita.EncPub()})
	var id string
	for _, e := range res.Result.Events {
		for _, a := range e.Attrs {
			if e.Type == "post_deal" && a.Key == "deal" {
				id = a.Value
			}
		}
	}
	do(t, "patient-3", &ledger.AcceptDeal{Deal: mustUint(t, id), Dataset: ds})
	patient := key(t, "patient-3").Address()

	d := getOK[ledger.Deal](t, "/v1/deals/"+id)
	if d.Buyer != rita.Address() || d.Pending != 1 || d.Escrow != 4 || d.Status != ledger.DealOpen {
		t.Errorf("deal %s: %+v", id, d)
	}
	list := getOK[api.DealList](t, "/v1/deals?status=open&dataset="+ds+"&buyer="+rita.Address())
	if !containsDeal(list.Deals, d.ID) {
		t.Errorf("deal %s not listed among open deals of %s: %+v", id, ds, list.Deals)
	}
	if list := getOK[api.DealList](t, "/v1/deals?status=closed&dataset="+ds); containsDeal(list.Deals, d.ID) {
		t.Errorf("open deal %s listed as closed", id)
	}
	acc := getOK[api.AcceptanceList](t, "/v1/deals/"+id+"/acceptances?status=pending")
	if len(acc.Acceptances) != 1 || acc.Acceptances[0].Patient != patient || acc.Acceptances[0].Dataset != ds {
		t.Errorf("acceptances: %+v", acc)
	}
	mine := getOK[api.AcceptanceList](t, "/v1/patients/"+patient+"/deals")
	found := false
	for _, a := range mine.Acceptances {
		found = found || fmt.Sprint(a.Deal) == id
	}
	if !found {
		t.Errorf("patient's deals: %+v", mine)
	}

	for _, c := range []struct{ path, param string }{
		{"/v1/deals/x", "id"},
		{"/v1/deals?buyer=bob", "buyer"},
		{"/v1/deals?status=maybe", "status"},
		{"/v1/deals/" + id + "/acceptances?status=maybe", "status"},
		{"/v1/deals/" + id + "/rows/xyz", "address"},
		{"/v1/patients/xyz/deals", "address"},
	} {
		e := apiErr(t, "GET", c.path, nil, 400, "invalid_field")
		if e.Param != c.param {
			t.Errorf("GET %s: %+v, want param %s", c.path, e, c.param)
		}
	}
	for _, path := range []string{"/v1/deals/999999", "/v1/deals/999999/acceptances",
		"/v1/deals/" + id + "/rows/" + patient, "/v1/deals/" + id + "/rows/" + strings.Repeat("0", 40)} {
		apiErr(t, "GET", path, nil, 404, "not_found")
	}
}

func containsDeal(ds []ledger.Deal, id uint64) bool {
	for _, d := range ds {
		if d.ID == id {
			return true
		}
	}
	return false
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	var n uint64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}
