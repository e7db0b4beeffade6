package ledger

import (
	"fmt"
	"testing"
	"time"

	"github.com/medchain/medchain/store"
)

// BenchmarkDeliverTransfer measures the state machine's throughput on signed
// transfers: blocks of 1000, each delivered, sealed (state tree and audit
// log) and committed to an in-memory store. Signing happens outside the
// timer; decoding and signature verification are inside, as on a node.
// b.N counts transactions.
func BenchmarkDeliverTransfer(b *testing.B) {
	const blockSize, senders = 1000, 100
	g := worldGenesis()
	names := make([]string, senders)
	for i := range names {
		names[i] = fmt.Sprintf("sender-%d", i)
		g.Accounts = append(g.Accounts, genesisAccount(names[i], KindPatient, "", 1_000_000_000))
	}
	db := store.NewMem()
	m, err := New(db)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.InitChain(testChain, g); err != nil {
		b.Fatal(err)
	}
	nonces := make([]uint64, senders)
	next := func(i int) []byte {
		s := i % senders
		raw := mustSign(names[s], nonces[s], &Transfer{To: testAddr(names[(s+1)%senders]), Amount: 1})
		nonces[s]++
		return raw
	}
	block := make([][]byte, 0, blockSize)
	var elapsed time.Duration
	b.ResetTimer()
	b.StopTimer()
	for done, h := 0, int64(1); done < b.N; h++ {
		block = block[:0]
		for i := 0; i < blockSize && done+i < b.N; i++ {
			block = append(block, next(done+i))
		}
		start := time.Now()
		b.StartTimer()
		if err := m.BeginBlock(BlockInfo{Height: h, Time: 1_700_000_000 + h}); err != nil {
			b.Fatal(err)
		}
		for _, raw := range block {
			if res, err := m.DeliverTx(raw); err != nil || res.Code != CodeOK {
				b.Fatalf("%s %s %v", res.Code, res.Log, err)
			}
		}
		commitBlock(b, m, db)
		b.StopTimer()
		elapsed += time.Since(start)
		done += len(block)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tx/s")
}

// BenchmarkDecodeAndVerify measures CheckTx's stateless part: strict JSON
// decoding and one ed25519 verification.
func BenchmarkDecodeAndVerify(b *testing.B) {
	raw := mustSign("alice", 7, &Transfer{To: testAddr("bob"), Amount: 42})
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeAndVerify(raw, testChain); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeTx measures decoding alone (the canonical checks
// included), without the signature: what the API's precheck pays besides
// the one verification.
func BenchmarkDecodeTx(b *testing.B) {
	raw := mustSign("alice", 7, &Transfer{To: testAddr("bob"), Amount: 42})
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeTx(raw); err != nil {
			b.Fatal(err)
		}
	}
}
