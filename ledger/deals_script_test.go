package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/store"
)

// buildDealMsg builds the deal transactions of scripts:
//
//	post_deal [purpose=P] [datasets=(ID, …) | org=ORG] [fields=(F, …)] [price=N] [budget=N] [max=N] [blocks=N] [key=NAME]
//	accept_deal deal=N dataset=ID
//	withdraw_acceptance deal=N
//	deliver_deal_rows deal=N patients=(NAME, …)
//	close_deal deal=N
//	decline_acceptances deal=N patients=(NAME, …)
//
// A delivered row's hash is the SHA-256 of "row of NAME" unless
// hash= gives one for every patient.
func (r *scriptRunner) buildDealMsg(t *testing.T, signer string, typ TxType, a *args) Msg {
	switch typ {
	case TxPostDeal:
		return &PostDeal{Purpose: a.str("purpose", "research"), Datasets: a.list("datasets"), Org: a.str("org", ""),
			Fields: a.list("fields", "age", "sbp"), PricePerRecord: a.u64("price", 10), Budget: a.u64("budget", 100),
			MaxRecords: a.u64("max", 10), ExpiryBlocks: a.u64("blocks", 10), BuyerKey: r.key(t, a.str("key", signer), true)}
	case TxAcceptDeal:
		return &AcceptDeal{Deal: a.u64("deal", 0), Dataset: a.str("dataset", "")}
	case TxWithdrawAcceptance:
		return &WithdrawAcceptance{Deal: a.u64("deal", 0)}
	case TxCloseDeal:
		return &CloseDeal{Deal: a.u64("deal", 0)}
	case TxDeclineAcceptances:
		m := &DeclineAcceptances{Deal: a.u64("deal", 0)}
		for _, p := range a.list("patients") {
			m.Patients = append(m.Patients, r.addr(p))
		}
		return m
	}
	m := &DeliverDealRows{Deal: a.u64("deal", 0)}
	hash := a.str("hash", "")
	for _, p := range a.list("patients") {
		h := hash
		if h == "" {
			sum := sha256.Sum256([]byte("row of " + p))
			h = hex.EncodeToString(sum[:])
		}
		m.Rows = append(m.Rows, DeliveredRow{Patient: r.addr(p), RowHash: h})
	}
	return m
}

// printDeals prints deals (deal N …) with their acceptances.
func (r *scriptRunner) printDeals(t *testing.T, out *strings.Builder, st store.Reader, words []string) {
	for _, w := range words {
		var id uint64
		if _, err := fmt.Sscan(w, &id); err != nil {
			t.Fatalf("deal %q: %v", w, err)
		}
		d, err := GetDeal(st, id)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			fmt.Fprintf(out, "deal %d: none\n", id)
			continue
		}
		from := "datasets=(" + strings.Join(d.Datasets, ", ") + ")"
		if d.Org != "" {
			from = "org=" + d.Org
		}
		fmt.Fprintf(out, "deal %d: %s buyer=%s %s %s fields=(%s) price=%d max=%d expires=%d\n", d.ID, d.Status, r.readable(d.Buyer), d.Purpose,
			from, strings.Join(d.Fields, ", "), d.PricePerRecord, d.MaxRecords, d.Expires)
		fmt.Fprintf(out, "  budget=%d escrow=%d pending=%d delivered=%d paid patients=%d institutions=%d workers=%d refunded=%d\n",
			d.Budget, d.Escrow, d.Pending, d.Delivered, d.PaidPatients, d.PaidInstitutions, d.PaidWorkers, d.Refunded)
		addrs := slices.Sorted(maps.Keys(r.names))
		for _, addr := range addrs {
			a, err := GetAcceptance(st, d.ID, addr)
			if err != nil {
				t.Fatal(err)
			}
			if a == nil {
				continue
			}
			fmt.Fprintf(out, "  %s: %s %s v%d accepted=%d changed=%d", r.readable(a.Patient), a.Status, a.Dataset, a.Version, a.Accepted, a.Changed)
			if dl := a.Delivery; dl != nil {
				fmt.Fprintf(out, " by %s row=%.8s… paid patient=%d institution=%d worker=%d", r.readable(dl.Worker), dl.RowHash, dl.Patient, dl.Institution, dl.WorkerFee)
			}
			fmt.Fprintln(out)
		}
	}
}
