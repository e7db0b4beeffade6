package ledger

import (
	"fmt"
	"testing"

	"github.com/medchain/medchain/store"
)

// BenchmarkCheckLimits is the decode-time range check of every number, for
// the message with the most numbers (set_policy) — the cost limits.go adds
// to every DecodeTx.
func BenchmarkCheckLimits(b *testing.B) {
	m := numberSeeds()[5]
	if m.Type() != TxSetPolicy {
		b.Fatalf("seed 5 is %s", m.Type())
	}
	for b.Loop() {
		if err := checkLimits(TxSetPolicy, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAdmissionAdmit is a proposal check (or the mempool's CheckTx
// sequence) per transaction: transfers from 100 accounts, already decoded
// and verified in the cache as on a node, sequenced on committed state.
func BenchmarkAdmissionAdmit(b *testing.B) {
	const senders = 100
	g := worldGenesis()
	names := make([]string, senders)
	for i := range names {
		names[i] = fmt.Sprintf("sender-%d", i)
		g.Accounts = append(g.Accounts, genesisAccount(names[i], KindPatient, "", 1_000))
	}
	db := store.NewMem()
	m, err := New(db)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.InitChain(testChain, g); err != nil {
		b.Fatal(err)
	}
	const n = 1000
	cache := NewTxCache(testChain, n)
	txs := make([][]byte, n)
	for i := range txs {
		s := i % senders
		txs[i] = mustSign(names[s], uint64(i/senders), &Transfer{To: testAddr("bob"), Amount: 1})
		if _, err := DecodeAndVerifyCached(txs[i], testChain, cache); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for done := 0; done < b.N; {
		a, err := NewAdmission(m.Staged(), testChain, cache, 1)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < n && done < b.N; i, done = i+1, done+1 {
			if _, err := a.Admit(txs[i]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkRecordPredictionInBlock is a record_prediction (3 features)
// delivered in a block, with its proof verified at CheckTx (cached) and
// without any cache (what a node pays for one it never checked: decoding,
// the signature and the proof).
func BenchmarkRecordPredictionInBlock(b *testing.B) {
	x, bucket, proof := testPrediction("cvd", testChain, "cvd-1", "bench-1", []float64{58, 135, 1})
	for _, cached := range []bool{true, false} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			m, db := newWorld(b)
			if err := m.BeginBlock(BlockInfo{Height: 1, Time: 1_700_000_000}); err != nil {
				b.Fatal(err)
			}
			if res, err := m.DeliverTx(mustSign("bob", 0, testRegisterModel("cvd-1", "cvd"))); err != nil || res.Code != CodeOK {
				b.Fatalf("register_model: %v %s", err, res.Log)
			}
			commitBlock(b, m, db)
			raw := mustSign("pat", 0, &RecordPrediction{Model: "cvd-1", X: x, Bucket: bucket, Request: "bench-1", Proof: proof})
			cache := NewTxCache(testChain, 16)
			tx, err := DecodeAndVerifyCached(raw, testChain, cache)
			if err != nil {
				b.Fatal(err)
			}
			if cached {
				if err := CheckCostly(db, testChain, tx, cache, 1_700_000_000); err != nil {
					b.Fatal(err)
				}
			}
			if cached {
				m.UseTxCache(cache)
			}
			b.ResetTimer()
			for range b.N {
				if err := m.BeginBlock(BlockInfo{Height: 2, Time: 1_700_000_010}); err != nil {
					b.Fatal(err)
				}
				if res, err := m.DeliverTx(raw); err != nil || res.Code != CodeOK {
					b.Fatalf("%v %s %s", err, res.Code, res.Log)
				}
				m.Abort()
			}
		})
	}
}
