package app_test

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/ledger"
)

// The ABCI "/key" query (CometBFT's abci_query, unauthenticated) serves
// state keys with their proofs, except a patient's consents and consent
// count: those are served only on a signed API request.
func TestQueryRefusesConsentKeys(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	a := chain(t, enc, pub)
	tx, err := ledger.SignTx(key, "obs-test", 0, &ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeAll}, Provision: ledger.Permit, Purposes: []string{"research"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := a.FinalizeBlock(context.Background(), &abci.FinalizeBlockRequest{Height: 1, Time: time.Unix(1_700_000_000, 0), Txs: [][]byte{tx}})
	if err != nil || res.TxResults[0].Code != 0 {
		t.Fatalf("give_consent: %v %+v", err, res)
	}
	if _, err := a.Commit(context.Background(), &abci.CommitRequest{}); err != nil {
		t.Fatal(err)
	}
	addr := ledger.Address(pub)
	for _, k := range [][]byte{ledger.KeyConsent(addr, 0), ledger.KeyConsentCount(addr)} {
		q, err := a.Query(context.Background(), &abci.QueryRequest{Path: "/key", Data: k})
		if err != nil {
			t.Fatal(err)
		}
		if ledger.Code(q.Code) != ledger.CodeUnauthenticated || len(q.Value) != 0 || !strings.Contains(q.Log, "signed request") {
			t.Errorf("query %s: code %d value %x log %q, want unauthenticated and nothing", k, q.Code, q.Value, q.Log)
		}
	}
	q, err := a.Query(context.Background(), &abci.QueryRequest{Path: "/key", Data: ledger.KeyAccount(addr)})
	if err != nil || q.Code != 0 || len(q.Value) == 0 {
		t.Fatalf("query of the account: %v %+v", err, q)
	}
}
