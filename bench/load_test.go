// Package bench measures medchain's committed throughput against CometBFT's
// own kvstore example application in the same harness: the same node
// configuration, the same in-process submission path, the same machine.
//
//	go test ./bench -run '^$' -bench Load -benchtime 1x
package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	cfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/rpc/client/local"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/store"
)

const (
	blockTime = 500 * time.Millisecond
	txsPerRun = 20000
)

// startComet runs a one-validator CometBFT node over application a in home.
func startComet(b *testing.B, home string, cc proxy.ClientCreator) (*nm.Node, *local.Local) {
	c, err := node.LoadCometConfig(home)
	if err != nil {
		b.Fatal(err)
	}
	nk, err := p2p.LoadNodeKey(c.NodeKeyFile())
	if err != nil {
		b.Fatal(err)
	}
	pv := privval.LoadFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
	n, err := nm.NewNode(context.Background(), c, pv, nk, cc,
		nm.DefaultGenesisDocProviderFunc(c), cfg.DefaultDBProvider, nm.DefaultMetricsProvider(c.Instrumentation), cmtlog.NewNopLogger())
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if n.IsRunning() {
			n.Stop()
			n.Wait()
		}
	})
	rpc := local.New(n)
	// Genesis state is committed with the first block; wait for it so
	// CheckTx sees the funded accounts.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if st, err := rpc.Status(context.Background()); err == nil && st.SyncInfo.LatestBlockHeight >= 2 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("node did not reach height 2")
		}
	}
	return n, rpc
}

func newHome(b *testing.B) string {
	home := filepath.Join(b.TempDir(), "home")
	ports := freePorts(b, 3)
	err := node.CreateNetwork([]string{home}, node.NetOptions{
		ChainID: "bench", Validators: 1, Demo: true, BlockTime: blockTime,
		API: ports[0], RPC: ports[1], P2P: ports[2],
	})
	if err != nil {
		b.Fatal(err)
	}
	return home
}

// drive submits streams of transactions (one goroutine per stream, each in
// order) and records when each is seen committed. It reports committed
// tx/s over the first to the last committing block, the median latency
// from submission to commit, and the mean block interval.
func drive(b *testing.B, n *nm.Node, rpc *local.Local, precheck func([]byte) error, streams [][][]byte) {
	ctx := context.Background()
	total := 0
	for _, s := range streams {
		total += len(s)
	}
	submitted := make(map[string]time.Time, total)
	var mu sync.Mutex
	sub, err := rpc.Subscribe(ctx, "bench", cmttypes.QueryForEvent(cmttypes.EventNewBlock).String(), 1000)
	if err != nil {
		b.Fatal(err)
	}
	defer rpc.UnsubscribeAll(ctx, "bench")

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	failed := make(chan struct{}, len(streams))
	for _, s := range streams {
		wg.Add(1)
		go func(txs [][]byte) {
			defer wg.Done()
			for _, tx := range txs {
				mu.Lock()
				submitted[string(cmttypes.Tx(tx).Hash())] = time.Now()
				mu.Unlock()
				if precheck != nil {
					if err := precheck(tx); err != nil {
						b.Errorf("precheck: %v", err)
						failed <- struct{}{}
						return
					}
				}
				r, err := rpc.BroadcastTxSync(ctx, tx)
				if err != nil || r.Code != 0 {
					b.Errorf("broadcast: %v %+v", err, r)
					failed <- struct{}{}
					return
				}
			}
		}(s)
	}
	var latencies []time.Duration
	var blockTimes []time.Time
	committed := 0
	timeout := time.After(2 * time.Minute)
	for committed < total {
		select {
		case ev := <-sub:
			blk := ev.Data.(cmttypes.EventDataNewBlock).Block
			now := time.Now()
			if len(blk.Txs) > 0 {
				blockTimes = append(blockTimes, now)
			}
			mu.Lock()
			for _, tx := range blk.Txs {
				if t0, ok := submitted[string(tx.Hash())]; ok {
					latencies = append(latencies, now.Sub(t0))
					committed++
				}
			}
			mu.Unlock()
		case <-failed:
			b.FailNow()
		case <-timeout:
			b.Fatalf("only %d of %d committed after 2 minutes", committed, total)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	wg.Wait()
	slices.Sort(latencies)
	b.ReportMetric(float64(total)/elapsed.Seconds(), "tx/s")
	b.ReportMetric(float64(latencies[len(latencies)/2].Milliseconds()), "p50-commit-ms")
	if len(blockTimes) > 1 {
		iv := blockTimes[len(blockTimes)-1].Sub(blockTimes[0]) / time.Duration(len(blockTimes)-1)
		b.ReportMetric(float64(iv.Milliseconds()), "block-interval-ms")
	}
}

// BenchmarkLoad/medchain drives signed token transfers; BenchmarkLoad/kvstore
// drives CometBFT's kvstore example with transactions of the same size.
func BenchmarkLoad(b *testing.B) {
	senders := []string{"rita-researcher", "st-mary-admin", "northside-admin", "lakeview-admin", "acme-admin"}
	b.Run("medchain", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			home := newHome(b)
			dir := node.KeysDir(home)
			to, _ := keys.Load(dir, "patient-1")
			var streams [][][]byte
			size := 0
			for _, s := range senders {
				k, err := keys.Load(dir, s)
				if err != nil {
					b.Fatal(err)
				}
				var txs [][]byte
				for n := 0; n < txsPerRun/len(senders); n++ {
					tx, err := ledger.SignTx(k.Sign, "bench", uint64(n), &ledger.Transfer{To: to.Address(), Amount: 1})
					if err != nil {
						b.Fatal(err)
					}
					size = len(tx)
					txs = append(txs, tx)
				}
				streams = append(streams, txs)
			}
			c, _ := node.LoadCometConfig(home)
			db, err := store.OpenDisk("medchain", c.DBDir())
			if err != nil {
				b.Fatal(err)
			}
			a, err := app.New(db)
			if err != nil {
				b.Fatal(err)
			}
			// medchain's app is safe for CometBFT's per-connection concurrency.
			ta := newTimed(a)
			n, rpc := startComet(b, home, proxy.NewConnSyncLocalClientCreator(ta))
			b.Cleanup(func() { b.Log(ta) })
			b.ReportMetric(float64(size), "tx-bytes")
			// The same path as the node's API: precheck on the submitting
			// goroutine, then the mempool.
			drive(b, n, rpc, a.Precheck, streams)
			n.Stop()
			n.Wait()
			db.Close()
		}
	})
	b.Run("kvstore", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			home := newHome(b)
			c, _ := node.LoadCometConfig(home)
			a := kvstore.NewPersistentApplication(filepath.Join(c.DBDir(), "kvstore"))
			var streams [][][]byte
			for s := range senders {
				var txs [][]byte
				for n := 0; n < txsPerRun/len(senders); n++ {
					// ~320 bytes, like a signed medchain transfer.
					txs = append(txs, kvstore.NewTx(fmt.Sprintf("k%d-%d", s, n), fmt.Sprintf("%0300d", n)))
				}
				streams = append(streams, txs)
			}
			// kvstore expects one mutex over all connections.
			ta := newTimed(a)
			n, rpc := startComet(b, home, proxy.NewLocalClientCreator(ta))
			b.Cleanup(func() { b.Log(ta) })
			drive(b, n, rpc, nil, streams)
			n.Stop()
			n.Wait()
		}
	})
}
