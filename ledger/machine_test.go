package ledger

import (
	"errors"
	"testing"

	"github.com/medchain/medchain/store"
)

// Result codes are protocol: clients match on the numbers and the names.
// This table must only ever grow.
func TestCodesAreStable(t *testing.T) {
	want := []struct {
		code Code
		num  uint32
		name string
	}{
		{CodeOK, 0, "ok"}, {CodeMalformed, 1, "malformed"}, {CodeOversize, 2, "oversize"},
		{CodeUnknownType, 3, "unknown_type"}, {CodeWrongChain, 4, "wrong_chain"},
		{CodeBadSignature, 5, "bad_signature"}, {CodeBadNonce, 6, "bad_nonce"},
		{CodeUnknownAccount, 7, "unknown_account"}, {CodeUnauthorized, 8, "unauthorized"},
		{CodeInvalidField, 9, "invalid_field"}, {CodeNotFound, 10, "not_found"},
		{CodeAlreadyExists, 11, "already_exists"}, {CodeInsufficientFund, 12, "insufficient_funds"},
		{CodeInvalidState, 13, "invalid_state"}, {CodeExpired, 14, "expired"},
		{CodeOverflow, 15, "overflow"}, {CodeInternal, 16, "internal"},
		{CodeBudgetExhausted, 17, "budget_exhausted"}, {CodePriceExceeded, 18, "price_exceeded"},
		{CodeInvalidProof, 19, "invalid_proof"},
		{CodeEvidenceMalformed, 20, "evidence_malformed"}, {CodeEvidenceSignature, 21, "evidence_bad_signature"},
		{CodeEvidenceExpired, 22, "evidence_expired"}, {CodeEvidenceRevoked, 23, "evidence_revoked"},
		{CodeEvidenceDebug, 24, "evidence_debug"}, {CodeEvidenceMeasurement, 25, "evidence_measurement"},
		{CodeEvidenceReportData, 26, "evidence_report_data"}, {CodeEvidenceTCB, 27, "evidence_tcb"},
		{CodeRateLimited, 28, "rate_limited"},
		{CodeNullifierSpent, 30, "nullifier_spent"},
		{CodeBadVoucher, 31, "bad_voucher"},
		{CodePoolInsufficient, 32, "pool_insufficient"},
		{CodeShareRevoked, 34, "share_revoked"},
		{CodeShareClosed, 35, "share_closed"},
		{CodeWrongPasscode, 36, "wrong_passcode"},
		{CodeShareLocked, 37, "share_locked"},
		{CodeDealFull, 38, "deal_full"},
		{CodeFieldNotAllowed, 39, "field_not_allowed"},
		{CodeAlreadyDelivered, 40, "already_delivered"},
		{CodeUnauthenticated, 42, "unauthenticated"},
		{CodeReplayed, 43, "replayed"},
		{CodeCodeNotApproved, 44, "code_not_approved"},
		{CodeSandboxLimits, 45, "sandbox_limits"},
		{CodeAccountSuspended, 46, "account_suspended"},
	}
	codes := Codes()
	if len(codes) != len(want) {
		t.Fatalf("Codes() has %d codes, this table %d: add the new code here", len(codes), len(want))
	}
	for i, w := range want {
		if codes[i] != w.code || uint32(w.code) != w.num || w.code.String() != w.name {
			t.Errorf("code %d: got %d %q, want %d %q", i, uint32(codes[i]), codes[i], w.num, w.name)
		}
	}
	if got := Code(99).String(); got != "code_99" {
		t.Errorf("unknown code prints as %q", got)
	}
	if !errors.Is(errf(CodeBadNonce, "x"), &Error{Code: CodeBadNonce}) || errors.Is(errf(CodeBadNonce, "x"), &Error{Code: CodeExpired}) {
		t.Error("errors.Is must match on the code")
	}
}

// failingStore fails every read once failing is set.
type failingStore struct {
	*store.Mem
	failing bool
}

func (f *failingStore) Get(k []byte) ([]byte, error) {
	if f.failing {
		return nil, errors.New("disk on fire")
	}
	return f.Mem.Get(k)
}

// A store failure is the node's fault, not the sender's: DeliverTx returns
// an error (code internal) instead of a result, so the node stops rather
// than commit a block computed from a broken store.
func TestStoreFailureIsInternal(t *testing.T) {
	db := &failingStore{Mem: store.NewMem()}
	m, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.InitChain(testChain, worldGenesis()); err != nil {
		t.Fatal(err)
	}
	commitBlock(t, m, db)
	if err := m.BeginBlock(BlockInfo{Height: 1, Time: 1_700_000_000}); err != nil {
		t.Fatal(err)
	}
	db.failing = true
	_, err = m.DeliverTx(mustSign("alice", 0, &Transfer{To: testAddr("bob"), Amount: 1}))
	if CodeOf(err) != CodeInternal {
		t.Fatalf("DeliverTx on a failing store: err %v (code %s), want code internal", err, CodeOf(err))
	}
	if CodeOf(nil) != CodeOK || CodeOf(errors.New("x")) != CodeInternal {
		t.Error("CodeOf: nil is ok, foreign errors are internal")
	}
}

// Anyone can deliver a transaction's bytes again. The replay fails, and the
// record clients look up by transaction hash must still show the original
// result.
func TestReplayKeepsOriginalTxRecord(t *testing.T) {
	m, db := newWorld(t)
	tx := mustSign("alice", 0, &Transfer{To: testAddr("bob"), Amount: 1})
	for h := int64(1); h <= 2; h++ {
		if err := m.BeginBlock(BlockInfo{Height: h, Time: 1_700_000_000 + h}); err != nil {
			t.Fatal(err)
		}
		res, err := m.DeliverTx(tx)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int64]Code{1: CodeOK, 2: CodeBadNonce}[h]; res.Code != want {
			t.Fatalf("height %d: %s, want %s", h, res.Code, want)
		}
		commitBlock(t, m, db)
	}
	rec, err := GetTxRecord(db, TxHash(tx))
	if err != nil || rec == nil {
		t.Fatalf("GetTxRecord: %v, %v", rec, err)
	}
	if rec.Code != CodeOK || rec.Height != 1 {
		t.Errorf("tx record after a replay: code %s at height %d, want ok at height 1", rec.Code, rec.Height)
	}
}

// A transaction that fails without consuming a nonce can be delivered again
// later and succeed; then the record shows the success.
func TestTxRecordShowsLaterSuccess(t *testing.T) {
	m, db := newWorld(t)
	tx := mustSign("alice", 1, &Transfer{To: testAddr("bob"), Amount: 1}) // one ahead
	first := mustSign("alice", 0, &Transfer{To: testAddr("bob"), Amount: 2})
	if err := m.BeginBlock(BlockInfo{Height: 1, Time: 1_700_000_000}); err != nil {
		t.Fatal(err)
	}
	for i, raw := range [][]byte{tx, first, tx} {
		res, err := m.DeliverTx(raw)
		if err != nil {
			t.Fatal(err)
		}
		if want := []Code{CodeBadNonce, CodeOK, CodeOK}[i]; res.Code != want {
			t.Fatalf("tx %d: %s (%s), want %s", i, res.Code, res.Log, want)
		}
	}
	commitBlock(t, m, db)
	rec, err := GetTxRecord(db, TxHash(tx))
	if err != nil || rec == nil || rec.Code != CodeOK || rec.Index != 2 {
		t.Errorf("tx record: %+v, %v; want ok at index 2", rec, err)
	}
}

// The app hash commits to the state root and the audit log; a commitment
// whose parts were changed no longer verifies, and the restart path reads
// back exactly what was committed.
func TestCommitment(t *testing.T) {
	m, db := newWorld(t)
	if err := m.BeginBlock(BlockInfo{Height: 1, Time: 1_700_000_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DeliverTx(mustSign("alice", 0, &Transfer{To: testAddr("bob"), Amount: 1})); err != nil {
		t.Fatal(err)
	}
	c := commitBlock(t, m, db)
	if err := c.Verify(); err != nil {
		t.Fatal(err)
	}
	if c.Height != 1 || c.AuditSize != 1 || len(c.AppHash) != 32 {
		t.Errorf("commitment %+v: want height 1, one audit entry, a 32-byte app hash", c)
	}
	bad := c
	bad.AuditSize++
	if bad.Verify() == nil {
		t.Error("a commitment with a changed audit size verifies")
	}
	stored, err := GetCommitment(db, 1)
	if err != nil || stored == nil || string(stored.AppHash) != string(c.AppHash) {
		t.Errorf("GetCommitment(1) = %+v, %v", stored, err)
	}
	m2, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	if got := m2.Last(); string(got.AppHash) != string(c.AppHash) || got.StateRoot != c.StateRoot || m2.ChainID() != testChain {
		t.Errorf("reopened machine: last %+v chain %q, want %+v", got, m2.ChainID(), c)
	}
	if _, err := m2.InitChain(testChain, worldGenesis()); err == nil {
		t.Error("InitChain on a store that has a chain succeeded")
	}
}

// Queries can prove an account's value against the app hash.
func TestStateProof(t *testing.T) {
	m, db := newWorld(t)
	if err := m.BeginBlock(BlockInfo{Height: 1, Time: 1_700_000_000}); err != nil {
		t.Fatal(err)
	}
	c := commitBlock(t, m, db)
	for _, key := range [][]byte{KeyAccount(testAddr("alice")), KeyAccount(testAddr("nobody"))} {
		p, err := ProveState(db, c, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Verify(); err != nil {
			t.Errorf("proof of %s: %v", key, err)
		}
		if p.Value != nil {
			p.Value = append([]byte{}, p.Value...)
			p.Value[len(p.Value)-2]++ // the balance digit
		} else {
			p.Value = []byte("{}")
		}
		if p.Verify() == nil {
			t.Errorf("proof of %s verifies a changed value", key)
		}
	}
}

// CheckNonce is the mempool's check against committed state: replays are
// refused, nonces ahead are let through (earlier transactions in the same
// block may catch the account up), unknown signers are refused unless they
// are registering themselves.
func TestCheckNonce(t *testing.T) {
	m, db := newWorld(t)
	if err := m.BeginBlock(BlockInfo{Height: 1, Time: 1_700_000_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.DeliverTx(mustSign("alice", 0, &Transfer{To: testAddr("bob"), Amount: 1})); err != nil {
		t.Fatal(err)
	}
	commitBlock(t, m, db)
	for _, tc := range []struct {
		name string
		raw  []byte
		want Code
	}{
		{"replay", mustSign("alice", 0, &Transfer{To: testAddr("bob"), Amount: 1}), CodeBadNonce},
		{"next", mustSign("alice", 1, &Transfer{To: testAddr("bob"), Amount: 1}), CodeOK},
		{"ahead", mustSign("alice", 5, &Transfer{To: testAddr("bob"), Amount: 1}), CodeOK},
		{"unknown signer", mustSign("zed", 0, &Transfer{To: testAddr("bob"), Amount: 1}), CodeUnknownAccount},
		{"self-registration", mustSign("zed", 0, &RegisterAccount{PubKey: testPub("zed"), EncKey: testEncKey("zed"), Kind: KindPatient}), CodeOK},
	} {
		tx, err := DecodeAndVerify(tc.raw, testChain)
		if err != nil {
			t.Fatal(err)
		}
		if got := CodeOf(CheckNonce(db, tx)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// A transaction that fails keeps nothing but its nonce bump — even when
// its handler changed the signer's own account before failing (a handler
// that pays its signer and then refuses must not leave the payment).
func TestFailedHandlerKeepsOnlyTheNonce(t *testing.T) {
	m, db := newWorld(t)
	d := registryByType[TxTransfer]
	saved := d.handle
	defer func() { d.handle = saved }()
	d.handle = func(c *txCtx, _ Msg) ([]Event, error) {
		c.signer.Balance += 1_000_000 // credit the signer in place …
		return nil, errf(CodeInvalidState, "… then refuse")
	}
	if err := m.BeginBlock(BlockInfo{Height: 1, Time: 1_700_000_000}); err != nil {
		t.Fatal(err)
	}
	r, err := m.DeliverTx(mustSign("rita", 0, &Transfer{To: testAddr("bob"), Amount: 1}))
	if err != nil || r.Code != CodeInvalidState {
		t.Fatalf("result %+v %v", r, err)
	}
	commitBlock(t, m, db)
	a, err := GetAccount(db, testAddr("rita"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Balance != 2_000 || a.Nonce != 1 {
		t.Fatalf("after a failed transaction: balance %d, nonce %d; want 2000 and 1", a.Balance, a.Nonce)
	}
}
