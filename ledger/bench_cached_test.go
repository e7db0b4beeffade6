package ledger

import (
	"fmt"
	"testing"

	"github.com/medchain/medchain/store"
)

// BenchmarkDeliverTransferCached is BenchmarkDeliverTransfer as a node runs
// it: every transaction was decoded and verified at CheckTx, so DeliverTx
// finds it in the TxCache and pays only for execution, the audit entry and
// the state tree.
func BenchmarkDeliverTransferCached(b *testing.B) {
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
	cache := NewTxCache(testChain, blockSize)
	m.UseTxCache(cache)
	nonces := make([]uint64, senders)
	block := make([][]byte, 0, blockSize)
	b.ResetTimer()
	for done, h := 0, int64(1); done < b.N; h++ {
		b.StopTimer()
		block = block[:0]
		for i := 0; i < blockSize && done+i < b.N; i++ {
			s := (done + i) % senders
			raw := mustSign(names[s], nonces[s], &Transfer{To: testAddr(names[(s+1)%senders]), Amount: 1})
			nonces[s]++
			if _, err := DecodeAndVerifyCached(raw, testChain, cache); err != nil {
				b.Fatal(err)
			}
			block = append(block, raw)
		}
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
		done += len(block)
	}
}
