package ledger

import (
	"slices"
	"testing"
)

// Issue 10, finding 2: 60 record_prediction transactions with invalid
// proofs from a fresh account were all included, each costing every
// validator a full verification. Now the proof is verified before the
// mempool (CheckCostly, against committed state): an invalid one is
// refused there, a valid one is remembered in the cache, and the block
// does not verify it again.
func TestCheckCostlyPrediction(t *testing.T) {
	m, db := newWorld(t)
	if err := m.BeginBlock(BlockInfo{Height: 1, Time: 1_700_000_000}); err != nil {
		t.Fatal(err)
	}
	if res, err := m.DeliverTx(mustSign("bob", 0, testRegisterModel("cvd-1", "cvd"))); err != nil || res.Code != CodeOK {
		t.Fatalf("register_model: %v %s", err, res.Log)
	}
	commitBlock(t, m, db)

	calls := 0
	was := verifyPrediction
	verifyPrediction = func(chainID string, md *Model, x []int64, bucket uint32, request string, proof []byte) error {
		calls++
		return was(chainID, md, x, bucket, request, proof)
	}
	t.Cleanup(func() { verifyPrediction = was })

	cache := NewTxCache(testChain, 16)
	m.UseTxCache(cache)
	check := func(raw []byte) error {
		tx, err := DecodeAndVerifyCached(raw, testChain, cache)
		if err != nil {
			t.Fatal(err)
		}
		return CheckCostly(db, testChain, tx, cache, 1_700_000_000)
	}

	x, bucket, proof := testPrediction("cvd", testChain, "cvd-1", "req-1", []float64{58, 135, 1})
	bad := slices.Clone(proof)
	bad[100] ^= 4
	if err := check(mustSign("pat", 0, &RecordPrediction{Model: "cvd-1", X: x, Bucket: bucket, Request: "req-1", Proof: bad})); CodeOf(err) != CodeInvalidProof {
		t.Fatalf("an invalid proof: %v, want invalid_proof before the mempool", err)
	}
	if err := check(mustSign("pat", 0, &RecordPrediction{Model: "nope", X: x, Bucket: bucket, Request: "req-1", Proof: proof})); CodeOf(err) != CodeNotFound {
		t.Fatalf("an unknown model: %v, want not_found", err)
	}
	good := mustSign("pat", 0, &RecordPrediction{Model: "cvd-1", X: x, Bucket: bucket, Request: "req-1", Proof: proof})
	if err := check(good); err != nil {
		t.Fatalf("a valid proof: %v", err)
	}
	if calls != 2 {
		t.Fatalf("%d verifications before the block, want 2 (the invalid proof and the valid one)", calls)
	}
	if err := m.BeginBlock(BlockInfo{Height: 2, Time: 1_700_000_010}); err != nil {
		t.Fatal(err)
	}
	if res, err := m.DeliverTx(good); err != nil || res.Code != CodeOK {
		t.Fatalf("record_prediction in the block: %v %s %s", err, res.Code, res.Log)
	}
	if calls != 2 {
		t.Fatalf("the block verified the proof again (%d verifications)", calls)
	}
	// Without the cache (another node, or a proposer that skipped the
	// mempool) the block verifies it: the outcome never depends on the cache.
	m2, db2 := newWorld(t)
	if err := m2.BeginBlock(BlockInfo{Height: 1, Time: 1_700_000_000}); err != nil {
		t.Fatal(err)
	}
	m2.DeliverTx(mustSign("bob", 0, testRegisterModel("cvd-1", "cvd")))
	commitBlock(t, m2, db2)
	if err := m2.BeginBlock(BlockInfo{Height: 2, Time: 1_700_000_010}); err != nil {
		t.Fatal(err)
	}
	if res, err := m2.DeliverTx(good); err != nil || res.Code != CodeOK || calls != 3 {
		t.Fatalf("uncached: %v %s, %d verifications", err, res.Code, calls)
	}
}
