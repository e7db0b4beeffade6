// Package bench measures medchain's committed throughput and latency
// against CometBFT's own kvstore example application in the same harness:
// the same node configuration, the same in-process submission path, the
// same machine.
//
//	go test ./bench -run '^$' -bench . -benchtime 1x
//
// BenchmarkLoad offers a burst as fast as the node takes it (saturation
// throughput); BenchmarkLatency offers a steady rate well below saturation
// and reports the median time from submission to commit against the block
// interval; BenchmarkLoad4Validators runs four validators on loopback.
//
// Both applications get the same node configuration (node.CreateNetwork's)
// and the same load shape: 20 streams submitted side by side, one
// goroutine each. A medchain stream is one funded account's transfers,
// signed in advance; each goes through the node API's path, the app's
// Precheck (decoding and the one ed25519 verification) on the submitting
// goroutine, then BroadcastTxSync. Twenty accounts rather than the five
// demo ones keep every account inside the ledger's default rate limit of
// 1,000 transactions per account per block, as many users' traffic would;
// with five, no block could carry more than 5,000 transfers. A kvstore
// stream is key=value transactions of about a transfer's size.
//
// The figures, and where the time goes, are in docs/ledger.md
// (Performance notes). To see it yourself:
//
//	MEDCHAIN_BENCH_CPUPROFILE=cpu.prof go test ./bench -run '^$' -bench 'Load$/medchain' -benchtime 1x
//	MEDCHAIN_BENCH_TRACE=trace.out go test ./bench -run '^$' -bench 'Load$/medchain' -benchtime 1x
//
// profile, or trace, only the measured stretch (a trace slows the run
// several times; use it for where goroutines wait, not for rates).
package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	abci "github.com/cometbft/cometbft/abci/types"
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
	"github.com/medchain/medchain/store/pebble"
)

const blockTime = 500 * time.Millisecond

// streams is how many submitters offer transactions at once, each its own
// sequence: for medchain, each a funded account of its own (loadSender).
// Twenty keeps every account well inside the ledger's default rate limits
// (1,000 transactions per account per block, four blocks' worth in the
// mempool), as many users' traffic would, so the figures measure the
// ledger and not its per-account limit: with the five demo accounts a
// block could carry at most 5,000 transfers, where kvstore's carry 13,500.
const streams = 20

// loadSender names the i-th load account the harness adds to genesis.
func loadSender(i int) string { return fmt.Sprintf("load-%02d", i) }

// addSenders gives each home's genesis the load accounts (patients, which
// belong to no organisation, each funded), with their keys in every
// home's key directory, before the nodes start.
func addSenders(b *testing.B, homes []string) {
	var accts []ledger.GenesisAccount
	for i := 0; i < streams; i++ {
		k, err := keys.Generate(loadSender(i))
		if err != nil {
			b.Fatal(err)
		}
		for _, h := range homes {
			if err := k.Save(node.KeysDir(h)); err != nil {
				b.Fatal(err)
			}
		}
		accts = append(accts, ledger.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncPub(), Kind: ledger.KindPatient, Balance: 1_000_000})
	}
	for _, h := range homes {
		c, err := node.LoadCometConfig(h)
		if err != nil {
			b.Fatal(err)
		}
		doc, err := cmttypes.GenesisDocFromFile(c.GenesisFile())
		if err != nil {
			b.Fatal(err)
		}
		g, err := ledger.ParseGenesis(doc.AppState)
		if err != nil {
			b.Fatal(err)
		}
		g.Accounts = append(g.Accounts, accts...)
		if doc.AppState, err = ledger.MarshalGenesis(g); err != nil {
			b.Fatal(err)
		}
		if err := doc.SaveAs(c.GenesisFile()); err != nil {
			b.Fatal(err)
		}
	}
}

// net is a running network under test: where to submit, and how.
type network struct {
	rpc      *local.Local
	precheck func([]byte) error // the node API's precheck, or nil
	timings  []*timed
}

// startComet runs a CometBFT node over an application in home.
func startComet(b *testing.B, home string, cc proxy.ClientCreator, waitHeight bool) *local.Local {
	c, err := node.LoadCometConfig(home)
	if err != nil {
		b.Fatal(err)
	}
	if c.P2P.PersistentPeers == "" {
		// A one-node network has no peers; refuse strays (other test
		// networks on this machine) that would feed it transactions.
		c.P2P.MaxNumInboundPeers, c.P2P.MaxNumOutboundPeers = 0, 0
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
	if waitHeight {
		waitForHeight(b, rpc, 2)
	}
	return rpc
}

// waitForHeight waits until the chain is past genesis, whose state is
// committed with the first block, so CheckTx sees the funded accounts.
func waitForHeight(b *testing.B, rpc *local.Local, h int64) {
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if st, err := rpc.Status(context.Background()); err == nil && st.SyncInfo.LatestBlockHeight >= h {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("node did not reach height %d", h)
		}
	}
}

func newHomes(b *testing.B, n int) []string {
	var homes []string
	for i := 0; i < n; i++ {
		homes = append(homes, filepath.Join(b.TempDir(), fmt.Sprintf("node%d", i)))
	}
	o := node.NetOptions{ChainID: "bench", Validators: n, Demo: true, BlockTime: blockTime}
	if n == 1 {
		ports := freePorts(b, 3)
		o.API, o.RPC, o.P2P = ports[0], ports[1], ports[2]
	} else {
		o.PortBase = freeBase(b, n)
	}
	if err := node.CreateNetwork(homes, o); err != nil {
		b.Fatal(err)
	}
	return homes
}

// startMedchain starts validators over medchain's app. The app is safe for
// CometBFT's per-connection concurrency.
func startMedchain(b *testing.B, validators int) (*network, string) {
	homes := newHomes(b, validators)
	addSenders(b, homes)
	net := &network{}
	var rpcs []*local.Local
	var apps []*app.App
	for i, home := range homes {
		c, _ := node.LoadCometConfig(home)
		db, err := pebble.Open("medchain", c.DBDir())
		if err != nil {
			b.Fatal(err)
		}
		a, err := app.New(db)
		if err != nil {
			b.Fatal(err)
		}
		// Registered before the node's own cleanup, so it runs after the
		// node has stopped (cleanups run last-in, first-out).
		b.Cleanup(func() { db.Close() })
		apps = append(apps, a)
		t := newTimed(a)
		net.timings = append(net.timings, t)
		rpc := startComet(b, home, proxy.NewConnSyncLocalClientCreator(t), false)
		rpcs = append(rpcs, rpc)
		if i == 0 {
			net.rpc, net.precheck = rpc, a.Precheck
		}
	}
	for _, rpc := range rpcs {
		waitForHeight(b, rpc, 2)
	}
	// Measure the steady state: not while the apps' one-time start-up work
	// (deriving the bounds-proof generators, a core for seconds) competes
	// with the load for the machine's cores.
	for _, a := range apps {
		<-a.Ready()
	}
	return net, homes[0]
}

// startKVStore starts CometBFT's kvstore example, which expects one mutex
// over all ABCI connections.
func startKVStore(b *testing.B) *network {
	home := newHomes(b, 1)[0]
	c, _ := node.LoadCometConfig(home)
	a := kvstore.NewPersistentApplication(filepath.Join(c.DBDir(), "kvstore"))
	t := newTimed(a)
	return &network{rpc: startComet(b, home, proxy.NewLocalClientCreator(t), true), timings: []*timed{t}}
}

// transfers signs n transfers per load account, one stream per account.
func transfers(b *testing.B, home string, n int) [][][]byte {
	dir := node.KeysDir(home)
	to, err := keys.Load(dir, "patient-1")
	if err != nil {
		b.Fatal(err)
	}
	var out [][][]byte
	for s := 0; s < streams; s++ {
		k, err := keys.Load(dir, loadSender(s))
		if err != nil {
			b.Fatal(err)
		}
		txs := make([][]byte, n)
		for i := range txs {
			if txs[i], err = ledger.SignTx(k.Sign, "bench", uint64(i), &ledger.Transfer{To: to.Address(), Amount: 1}); err != nil {
				b.Fatal(err)
			}
		}
		out = append(out, txs)
	}
	b.ReportMetric(float64(len(out[0][0])), "tx-bytes")
	return out
}

// kvTxs makes kvstore transactions of about the size of a signed transfer.
func kvTxs(n int) [][][]byte {
	var out [][][]byte
	for s := 0; s < streams; s++ {
		txs := make([][]byte, n)
		for i := range txs {
			txs[i] = kvstore.NewTx(fmt.Sprintf("k%d-%d", s, i), fmt.Sprintf("%0300d", i))
		}
		out = append(out, txs)
	}
	return out
}

// drive submits the streams (one goroutine per stream, in order; paced to
// rate tx/s in total if rate > 0) and records when each transaction is
// seen committed. It reports committed tx/s, the median latency from
// submission to commit, and the mean interval between blocks.
func drive(b *testing.B, net *network, streams [][][]byte, rate float64) {
	ctx := context.Background()
	total := 0
	for _, s := range streams {
		total += len(s)
	}
	submitted := make(map[string]time.Time, total)
	var mu sync.Mutex
	sub, err := net.rpc.Subscribe(ctx, "bench", cmttypes.QueryForEvent(cmttypes.EventNewBlock).String(), 1000)
	if err != nil {
		b.Fatal(err)
	}
	defer net.rpc.UnsubscribeAll(ctx, "bench")

	if path := os.Getenv("MEDCHAIN_BENCH_CPUPROFILE"); path != "" {
		// The test binary's -cpuprofile is lost when CometBFT's shutdown
		// races; profile just the measured stretch instead.
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if path := os.Getenv("MEDCHAIN_BENCH_TRACE"); path != "" {
		// An execution trace of the measured stretch shows where the
		// submitters wait (go tool trace -pprof=sync, =sched).
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		trace.Start(f)
		defer func() { trace.Stop(); f.Close() }()
	}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	failed := make(chan struct{}, len(streams))
	for _, s := range streams {
		wg.Add(1)
		go func(txs [][]byte) {
			defer wg.Done()
			var every time.Duration
			if rate > 0 {
				every = time.Duration(float64(time.Second) * float64(len(streams)) / rate)
			}
			for i, tx := range txs {
				if every > 0 {
					time.Sleep(time.Until(start.Add(time.Duration(i) * every)))
				}
				mu.Lock()
				submitted[string(cmttypes.Tx(tx).Hash())] = time.Now()
				mu.Unlock()
				if net.precheck != nil {
					// The node API's path: precheck on the submitting goroutine.
					if err := net.precheck(tx); err != nil {
						b.Errorf("precheck: %v", err)
						failed <- struct{}{}
						return
					}
				}
				r, err := net.rpc.BroadcastTxSync(ctx, tx)
				if err != nil || r.Code != 0 {
					b.Errorf("broadcast: %v %+v", err, r)
					failed <- struct{}{}
					return
				}
			}
		}(s)
	}
	var latencies []time.Duration
	var blocks []time.Time
	committed := 0
	timeout := time.After(3 * time.Minute)
	for committed < total {
		select {
		case ev := <-sub:
			now := time.Now()
			blocks = append(blocks, now)
			mu.Lock()
			for _, tx := range ev.Data.(cmttypes.EventDataNewBlock).Block.Txs {
				if t0, ok := submitted[string(tx.Hash())]; ok {
					latencies = append(latencies, now.Sub(t0))
					committed++
				}
			}
			mu.Unlock()
		case <-failed:
			b.FailNow()
		case <-timeout:
			b.Fatalf("only %d of %d committed after 3 minutes", committed, total)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	wg.Wait()
	slices.Sort(latencies)
	b.ReportMetric(float64(total)/elapsed.Seconds(), "tx/s")
	b.ReportMetric(float64(latencies[len(latencies)/2].Milliseconds()), "p50-commit-ms")
	if len(blocks) > 1 {
		iv := blocks[len(blocks)-1].Sub(blocks[0]) / time.Duration(len(blocks)-1)
		b.ReportMetric(float64(iv.Milliseconds()), "block-interval-ms")
	}
	for i, t := range net.timings {
		b.Logf("node%d ABCI time: %s", i, t)
	}
	if ni, err := net.rpc.NetInfo(ctx); err == nil {
		b.Logf("node0 peers: %d", ni.NPeers)
		for _, p := range ni.Peers {
			b.Logf("  peer %s %s", p.NodeInfo.Moniker, p.RemoteIP)
		}
	}
}

// BenchmarkLoad: 20,000 signed medchain transfers, or 20,000 kvstore
// transactions of the same size, offered as fast as the node accepts them.
func BenchmarkLoad(b *testing.B) {
	b.Run("medchain", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			net, home := startMedchain(b, 1)
			drive(b, net, transfers(b, home, 20_000/streams), 0)
		}
	})
	b.Run("kvstore", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			drive(b, startKVStore(b), kvTxs(20_000/streams), 0)
		}
	})
}

// BenchmarkLatency: a steady 1,000 tx/s for 8 s. A transaction waits on
// average half a block interval for the next proposal, then the block's
// execution and commit: the median should sit near one interval.
func BenchmarkLatency(b *testing.B) {
	b.Run("medchain", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			net, home := startMedchain(b, 1)
			drive(b, net, transfers(b, home, 8_000/streams), 1000)
		}
	})
	b.Run("kvstore", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			drive(b, startKVStore(b), kvTxs(8_000/streams), 1000)
		}
	})
}

// BenchmarkLoad4Validators: four validators in this process on loopback
// (each with its own stores), 10,000 transfers submitted to node0.
func BenchmarkLoad4Validators(b *testing.B) {
	for i := 0; i < b.N; i++ {
		net, home := startMedchain(b, 4)
		drive(b, net, transfers(b, home, 10_000/streams), 0)
	}
}

var _ abci.Application = (*timed)(nil)

func freeBase(tb testing.TB, n int) int {
	tb.Helper()
	for base := 40000; base < 60000; base += 97 {
		ok := true
		var ls []net.Listener
		for p := base; p < base+10*n; p++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				break
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		if ok {
			return base
		}
	}
	tb.Fatal("no free port range")
	return 0
}
