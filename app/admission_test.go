package app

import (
	"context"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store/pebble"
)

const chainID = "medchain-app-test"

func key(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("medchain/app-test/" + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func pub(name string) []byte { return key(name).Public().(ed25519.PublicKey) }

func encKey(t *testing.T, name string) []byte {
	seed := sha256.Sum256([]byte("medchain/app-test-enc/" + name))
	k, err := ecdh.X25519().NewPrivateKey(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey().Bytes()
}

func addr(name string) string { return ledger.Address(pub(name)) }

func sign(t *testing.T, name string, nonce uint64, msg ledger.Msg) []byte {
	t.Helper()
	raw, err := ledger.SignTx(key(name), chainID, nonce, msg)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func selfRegister(t *testing.T, name string) []byte {
	return sign(t, name, 0, &ledger.RegisterAccount{PubKey: pub(name), EncKey: encKey(t, name), Kind: ledger.KindPatient})
}

// newApp starts the app on a real on-disk store with a small genesis:
// alice and bob of one hospital, rate limits of 3 transactions per account
// and 2 self-registrations per block.
func newApp(t *testing.T) *App {
	t.Helper()
	db, err := pebble.Open("medchain", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	g := ledger.Genesis{
		Orgs: []ledger.GenesisOrg{{ID: "hosp-a", Name: "Hospital A", Kind: ledger.OrgHospital, Admins: []string{addr("alice")}}},
		Accounts: []ledger.GenesisAccount{
			{PubKey: pub("alice"), EncKey: encKey(t, "alice"), Kind: ledger.KindInstitution, Org: "hosp-a", Balance: 1000},
			{PubKey: pub("bob"), EncKey: encKey(t, "bob"), Kind: ledger.KindInstitution, Org: "hosp-a"},
		},
		MaxTxsPerAccountPerBlock: 3, MaxSelfRegistrationsPerBlock: 2,
	}
	state, err := ledger.MarshalGenesis(g)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.InitChain(context.Background(), &abci.InitChainRequest{ChainId: chainID, AppStateBytes: state}); err != nil {
		t.Fatal(err)
	}
	return a
}

func transfer(t *testing.T, nonce, amount uint64) []byte {
	return sign(t, "alice", nonce, &ledger.Transfer{To: addr("bob"), Amount: amount})
}

func checkTx(t *testing.T, a *App, raw []byte, typ abci.CheckTxType) ledger.Code {
	t.Helper()
	r, err := a.CheckTx(context.Background(), &abci.CheckTxRequest{Tx: raw, Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	return ledger.Code(r.Code)
}

func commitBlock(t *testing.T, a *App, height int64, txs ...[]byte) []*abci.ExecTxResult {
	t.Helper()
	r, err := a.FinalizeBlock(context.Background(), &abci.FinalizeBlockRequest{Height: height, Time: time.Unix(1_700_000_000+height, 0), Txs: txs})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Commit(context.Background(), &abci.CommitRequest{}); err != nil {
		t.Fatal(err)
	}
	return r.TxResults
}

// Issue 10, finding 2: CheckTx used to accept any nonce at or above the
// next one. Now the mempool takes exactly the next nonce, counting the
// signer's transactions already in it, and at most MempoolBlocks blocks'
// worth of them; after a commit, CometBFT's recheck of what is left
// rebuilds the sequence.
func TestCheckTxExactNonce(t *testing.T) {
	a := newApp(t)
	commitBlock(t, a, 1) // the mempool reads committed state: genesis is committed with block 1
	n := abci.CHECK_TX_TYPE_CHECK
	for _, c := range []struct {
		name string
		raw  []byte
		want ledger.Code
	}{
		{"next", transfer(t, 0, 1), ledger.CodeOK},
		{"same nonce, other bytes", transfer(t, 0, 2), ledger.CodeBadNonce},
		{"ahead", transfer(t, 2, 1), ledger.CodeBadNonce},
		{"next after the pending one", transfer(t, 1, 1), ledger.CodeOK},
		{"unknown signer", sign(t, "zed", 0, &ledger.Transfer{To: addr("bob"), Amount: 1}), ledger.CodeUnknownAccount},
		{"number out of range", transfer(t, 2, 0), ledger.CodeInvalidField},
	} {
		if got := checkTx(t, a, c.raw, n); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// The pending sequence is capped at MempoolBlocks × 3.
	for nonce := uint64(2); nonce < 3*ledger.MempoolBlocks; nonce++ {
		if got := checkTx(t, a, transfer(t, nonce, 1), n); got != ledger.CodeOK {
			t.Fatalf("nonce %d: %s", nonce, got)
		}
	}
	if got := checkTx(t, a, transfer(t, 3*ledger.MempoolBlocks, 1), n); got != ledger.CodeRateLimited {
		t.Fatalf("over the mempool cap: %s, want rate_limited", got)
	}

	// Block 2 commits nonces 0 and 1; the recheck keeps 2 onwards.
	commitBlock(t, a, 2, transfer(t, 0, 1), transfer(t, 1, 1))
	if got := checkTx(t, a, transfer(t, 1, 1), abci.CHECK_TX_TYPE_RECHECK); got != ledger.CodeBadNonce {
		t.Fatalf("recheck of a committed nonce: %s", got)
	}
	for nonce := uint64(2); nonce < 3*ledger.MempoolBlocks; nonce++ {
		if got := checkTx(t, a, transfer(t, nonce, 1), abci.CHECK_TX_TYPE_RECHECK); got != ledger.CodeOK {
			t.Fatalf("recheck nonce %d: %s", nonce, got)
		}
	}
	if got := checkTx(t, a, transfer(t, 3*ledger.MempoolBlocks, 1), n); got != ledger.CodeOK {
		t.Fatalf("the next nonce once the pool has room: %s", got)
	}
}

// Issue 10, finding 2: a future-nonce transaction used to be included,
// fail with bad_nonce and take an audit index. Now an honest proposer
// leaves such transactions out (and those over a rate limit), and
// validators reject a proposal whose transactions do not decode or verify.
// (ProcessProposal does not enforce the sequence: see app.go.)
func TestProposalAdmission(t *testing.T) {
	a := newApp(t)
	ctx := context.Background()
	process := func(txs ...[]byte) abci.ProcessProposalStatus {
		t.Helper()
		r, err := a.ProcessProposal(ctx, &abci.ProcessProposalRequest{Height: 1, Txs: txs})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	accept, reject := abci.PROCESS_PROPOSAL_STATUS_ACCEPT, abci.PROCESS_PROPOSAL_STATUS_REJECT
	for _, c := range []struct {
		name string
		txs  [][]byte
		want abci.ProcessProposalStatus
	}{
		{"in sequence", [][]byte{transfer(t, 0, 1), transfer(t, 1, 5000), transfer(t, 2, 1)}, accept},
		{"bad signature", [][]byte{func() []byte { b := transfer(t, 0, 1); b[len(b)-5] ^= 1; return b }()}, reject},
		{"number out of range", [][]byte{transfer(t, 0, 0)}, reject},
	} {
		if got := process(c.txs...); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}

	// The proposer drops what does not fit, keeping the order of the rest.
	in := [][]byte{transfer(t, 0, 1), transfer(t, 2, 1), transfer(t, 1, 1), selfRegister(t, "pat"), selfRegister(t, "paula"), selfRegister(t, "pia")}
	r, err := a.PrepareProposal(ctx, &abci.PrepareProposalRequest{Height: 1, MaxTxBytes: 1 << 20, Txs: in})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{in[0], in[2], in[3], in[4]}
	if len(r.Txs) != len(want) {
		t.Fatalf("prepared %d transactions, want %d", len(r.Txs), len(want))
	}
	for i := range want {
		if string(r.Txs[i]) != string(want[i]) {
			t.Fatalf("prepared transaction %d differs", i)
		}
	}
	if process(r.Txs...) != accept {
		t.Fatal("the prepared proposal is rejected")
	}
	// Every transaction of the accepted block consumes its nonce, the
	// failed one included.
	res := commitBlock(t, a, 1, transfer(t, 0, 1), transfer(t, 1, 5000), transfer(t, 2, 1))
	if res[1].Code != uint32(ledger.CodeInsufficientFund) {
		t.Fatalf("the failing transfer: %d %s", res[1].Code, res[1].Log)
	}
	if got := checkTx(t, a, transfer(t, 3, 1), abci.CHECK_TX_TYPE_CHECK); got != ledger.CodeOK {
		t.Fatalf("nonce 3 after the block: %s", got)
	}
}
