package app_test

import (
	"bytes"
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store/pebble"
)

// recorder keeps the blocks it is shown.
type recorder struct{ blocks []app.Block }

func (r *recorder) ObserveBlock(b app.Block) { r.blocks = append(r.blocks, b) }

// chain is an app on a fresh on-disk store, at genesis with a funded
// patient account for each key.
func chain(t *testing.T, enc *ecdh.PrivateKey, pubs ...ed25519.PublicKey) *app.App {
	t.Helper()
	db, err := pebble.Open("medchain", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a, err := app.New(db)
	if err != nil {
		t.Fatal(err)
	}
	var g ledger.Genesis
	for _, p := range pubs {
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{PubKey: p, EncKey: enc.PublicKey().Bytes(), Kind: ledger.KindPatient, Balance: 100})
	}
	gj, _ := json.Marshal(g)
	if _, err := a.InitChain(context.Background(), &abci.InitChainRequest{ChainId: "obs-test", AppStateBytes: gj}); err != nil {
		t.Fatal(err)
	}
	return a
}

// The observer sees each committed block once, after Commit, with every
// transaction's type and result; and a chain with an observer reaches the
// same app hashes as one without: observing changes no state.
func TestObserverSeesCommittedBlocksAndChangesNothing(t *testing.T) {
	_, key, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(nonce uint64, msg ledger.Msg) []byte {
		tx, err := ledger.SignTx(key, "obs-test", nonce, msg)
		if err != nil {
			t.Fatal(err)
		}
		return tx
	}
	other, _, err := ed25519.GenerateKey(nil) // a second account, the payee
	if err != nil {
		t.Fatal(err)
	}
	to := ledger.Address(other)
	blocks := [][][]byte{
		{sign(0, &ledger.Transfer{To: to, Amount: 1}), sign(0, &ledger.Transfer{To: to, Amount: 1})}, // the second reuses the nonce
		{sign(1, &ledger.Transfer{To: to, Amount: 1000})},                                            // more than the balance
	}
	enc, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	observed, plain := chain(t, enc, key.Public().(ed25519.PublicKey), other), chain(t, enc, key.Public().(ed25519.PublicKey), other)
	rec := &recorder{}
	observed.SetObserver(rec)
	t0 := time.Unix(1_700_000_000, 0)
	for i, txs := range blocks {
		var hashes [2][]byte
		for j, a := range []*app.App{observed, plain} {
			req := &abci.FinalizeBlockRequest{Height: int64(i + 1), Time: t0.Add(time.Duration(i) * time.Second), Txs: txs}
			res, err := a.FinalizeBlock(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if j == 0 && len(rec.blocks) != i {
				t.Fatalf("block %d observed before its commit", i+1)
			}
			if _, err := a.Commit(context.Background(), &abci.CommitRequest{}); err != nil {
				t.Fatal(err)
			}
			hashes[j] = res.AppHash
		}
		if !bytes.Equal(hashes[0], hashes[1]) {
			t.Fatalf("height %d: app hash %x with an observer, %x without", i+1, hashes[0], hashes[1])
		}
	}
	if len(rec.blocks) != 2 {
		t.Fatalf("%d blocks observed, want 2", len(rec.blocks))
	}
	want := [][]ledger.Code{{ledger.CodeOK, ledger.CodeBadNonce}, {ledger.CodeInsufficientFund}}
	for i, b := range rec.blocks {
		if b.Height != int64(i+1) || !b.Time.Equal(t0.Add(time.Duration(i)*time.Second)) || len(b.Txs) != len(want[i]) {
			t.Fatalf("block %d: %+v", i+1, b)
		}
		for j, tx := range b.Txs {
			if tx.Type != ledger.TxTransfer || tx.Result.Code != want[i][j] {
				t.Errorf("block %d tx %d: %s %s, want transfer %s", i+1, j, tx.Type, tx.Result.Code, want[i][j])
			}
		}
	}
}
