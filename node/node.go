package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	cmtflags "github.com/cometbft/cometbft/libs/cli/flags"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/mempool"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/rpc/client/local"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/spf13/viper"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/app"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/metrics"
	"github.com/medchain/medchain/recordserver"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/store/pebble"
	"github.com/medchain/medchain/vault/vaultcfg"
	"github.com/medchain/medchain/web"
)

// Node is a running medchain node.
type Node struct {
	home      string
	settings  Settings
	db        *pebble.Store
	app       *app.App
	cmt       *nm.Node
	rpc       *local.Local
	api       *http.Server
	apiLn     net.Listener
	apiConns  *countingListener
	apiCancel context.CancelFunc // ends the API requests' contexts at Stop
	metrics   *metrics.Metrics
	jobs      jobCache
	logFile   *os.File
	results   *compute.ResultStore
	stopWork  context.CancelFunc
	workDone  chan struct{}
	devices   *devices             // device ingestion, if on
	records   *recordserver.Server // patients' records and shares, if on
	instVault *institutionVault    // the records account's vault, for the console
	rewards   rewardDesk
	blocks    blockSignal // closes a channel at each committed block
}

var (
	_ api.Backend      = (*Node)(nil)
	_ api.ResultSource = (*Node)(nil)
)

// Options adjust a node at start.
type Options struct {
	API string    // override the API listen address ("" = from settings)
	Log io.Writer // CometBFT's log; default <home>/node.log
	// Workers runs a compute worker for every `<org>-worker` key in
	// <home>/keys that is a registered worker of <org> with
	// WorkerMeasurement (dev and demo networks; production runs one worker
	// per institution node). Logs go to <home>/worker.log.
	Workers           bool
	WorkerMeasurement string        // "" = SHA-256 of this executable
	WorkerEvery       time.Duration // default 250 ms
	// PsqlConn, when set, turns on CometBFT's PostgreSQL indexer for this
	// run (tx_index.indexer = "psql", tx_index.psql-conn = PsqlConn),
	// whatever config.toml says: every block's and transaction's events
	// are written to that database, whose schema must already be loaded
	// (docs/indexer.md). Start checks the connection and the tables first.
	PsqlConn string
	// DevSignIn lets the web app offer this home's demo keys for one-click
	// sign-in (marked DEV ONLY). Only `medchain up` sets it.
	DevSignIn bool
	// HTTP, when set, replaces the HTTP settings of <home>/medchain.json
	// (LoadHTTP reads those, for a caller that changes a few).
	HTTP *HTTPSettings
	// Devices, when set, runs medical-device ingestion (docs/iomt.md).
	Devices *DeviceOptions
	// Records, when set, serves patients their own records and the shares
	// they make of them (docs/patients.md).
	Records *RecordOptions
}

// LoadCometConfig reads <home>/config/config.toml.
func LoadCometConfig(home string) (*cfg.Config, error) {
	v := viper.New()
	v.SetConfigFile(filepath.Join(home, "config", "config.toml"))
	if err := v.ReadInConfig(); err != nil {
		return nil, fmt.Errorf("read CometBFT config: %w", err)
	}
	c := cfg.DefaultConfig()
	if err := v.Unmarshal(c); err != nil {
		return nil, fmt.Errorf("parse CometBFT config: %w", err)
	}
	c.SetRoot(home)
	if err := c.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("CometBFT config: %w", err)
	}
	return c, nil
}

// Start opens the stores and starts CometBFT and the API. The node keeps
// running until Stop.
func Start(home string, o Options) (*Node, error) {
	s, err := LoadSettings(home)
	if err != nil {
		return nil, err
	}
	if o.API != "" {
		s.API = o.API
	}
	hs, err := s.httpSettings(home)
	if o.HTTP != nil {
		hs, err = *o.HTTP, o.HTTP.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("HTTP settings: %w", err)
	}
	c, err := LoadCometConfig(home)
	if err != nil {
		return nil, err
	}
	if o.PsqlConn != "" {
		c.TxIndex.Indexer, c.TxIndex.PsqlConn = "psql", o.PsqlConn
	}
	if c.TxIndex.Indexer == "psql" {
		if err := CheckPsqlIndex(c.TxIndex); err != nil {
			return nil, err
		}
	}
	n := &Node{home: home, settings: s}
	ok := false
	defer func() {
		if !ok {
			n.Stop()
		}
	}()
	w := o.Log
	if w == nil {
		f, err := os.OpenFile(LogPath(home), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		n.logFile, w = f, f
	}
	logger, err := cmtflags.ParseLogLevel(c.LogLevel, cmtlog.NewTMLogger(cmtlog.NewSyncWriter(w)), cfg.DefaultLogLevel)
	if err != nil {
		return nil, err
	}
	if n.db, err = pebble.Open("medchain", c.DBDir()); err != nil {
		return nil, err
	}
	if n.app, err = app.New(n.db); err != nil {
		return nil, fmt.Errorf("open the ledger state in %s: %w", c.DBDir(), err)
	}
	n.metrics = n.newMetrics()
	nk, err := p2p.LoadNodeKey(c.NodeKeyFile())
	if err != nil {
		return nil, err
	}
	pv := privval.LoadFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile())
	n.cmt, err = nm.NewNode(context.Background(), c, pv, nk, proxy.NewConnSyncLocalClientCreator(n.app),
		nm.DefaultGenesisDocProviderFunc(c), cfg.DefaultDBProvider, nm.DefaultMetricsProvider(c.Instrumentation), logger)
	if err != nil {
		return nil, fmt.Errorf("create CometBFT node: %w", err)
	}
	if err := n.cmt.Start(); err != nil {
		return nil, fmt.Errorf("start CometBFT node: %w", err)
	}
	n.rpc = local.New(n.cmt)
	if n.results, err = compute.OpenResultStore(compute.ResultsDir(home)); err != nil {
		return nil, err
	}
	n.apiLn, err = net.Listen("tcp", s.API)
	if err != nil {
		return nil, fmt.Errorf("API listen on %s: %w", s.API, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", api.NewServer(n, api.Config{Limits: hs.Limits, Observer: n.metrics, PlanStudy: planStudy}).Handler())
	mux.Handle("GET /metrics", n.metrics.Handler())
	mux.Handle("/", web.HandlerWith(webOptions(home, o)))
	if o.Devices != nil {
		if err := n.startDevices(*o.Devices, mux); err != nil {
			return nil, err
		}
	}
	if o.Records != nil {
		if err := n.startRecords(*o.Records); err != nil {
			return nil, err
		}
	}
	n.api, n.apiConns = apiServer(n.apiLn, mux, hs)
	// Requests' contexts end when the node stops, so long-lived answers
	// (live device streams) return and the server's graceful shutdown does
	// not wait on clients that never hang up.
	apiCtx, apiCancel := context.WithCancel(context.Background())
	n.api.BaseContext = func(net.Listener) context.Context { return apiCtx }
	n.apiCancel = apiCancel
	go n.api.Serve(n.apiConns)
	if o.Workers {
		if err := n.startWorkers(o); err != nil {
			return nil, err
		}
	}
	ok = true
	return n, nil
}

// startWorkers runs compute.RunNodeWorkers against the node's own API.
func (n *Node) startWorkers(o Options) error {
	m := o.WorkerMeasurement
	if m == "" {
		var err error
		if m, err = compute.ExecutableMeasurement(); err != nil {
			return err
		}
	}
	v, err := vaultcfg.Open(filepath.Join(n.home, "vault"))
	if err != nil {
		return err
	}
	lf, err := os.OpenFile(filepath.Join(n.home, "worker.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.stopWork, n.workDone = cancel, make(chan struct{})
	go func() {
		defer close(n.workDone)
		defer lf.Close()
		log := slog.New(slog.NewTextHandler(lf, nil))
		var deals sync.WaitGroup
		deals.Go(func() {
			runDealWorkers(ctx, KeysDir(n.home), v, n.results, client.New("http://"+n.APIAddr()), o.WorkerEvery, log)
		})
		compute.RunNodeWorkers(ctx, compute.NodeWorkers{
			KeysDir: KeysDir(n.home), Vault: v, Results: n.results, Ledger: client.New("http://" + n.APIAddr()),
			Measurement: m, Every: o.WorkerEvery, Log: log,
		})
		deals.Wait()
	}()
	return nil
}

// ResultBlob implements api.ResultSource: an encrypted result from the
// node's results store (<home>/results).
func (n *Node) ResultBlob(hash string) ([]byte, error) { return n.results.Get(hash) }

// APIAddr is the address the API listens on.
func (n *Node) APIAddr() string { return n.apiLn.Addr().String() }

// Stop shuts the node down; it is safe to call on a half-started node.
func (n *Node) Stop() error {
	var errs []error
	if n.stopWork != nil {
		n.stopWork()
		<-n.workDone
	}
	if n.devices != nil {
		errs = append(errs, n.devices.close())
		n.devices = nil
	}
	if n.api != nil {
		if n.apiCancel != nil {
			n.apiCancel()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := n.api.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			// A handler still running after the grace period (a client
			// that does not read): close its connection rather than fail
			// the stop.
			errs = append(errs, n.api.Close())
		} else {
			errs = append(errs, err)
		}
		cancel()
	}
	if n.records != nil {
		errs = append(errs, n.records.Close())
	}
	if n.cmt != nil && n.cmt.IsRunning() {
		errs = append(errs, n.cmt.Stop())
		n.cmt.Wait()
	}
	if n.db != nil {
		errs = append(errs, n.db.Close())
	}
	if n.logFile != nil {
		errs = append(errs, n.logFile.Close())
	}
	return errors.Join(errs...)
}

// App is the ledger application (for in-process tests and tools).
func (n *Node) App() *app.App { return n.app }

// ChainID implements api.Backend.
func (n *Node) ChainID() string { return n.app.ChainID() }

// View implements api.Backend.
func (n *Node) View(fn func(r store.ReadWriter, c ledger.Commitment) error) error {
	return n.app.View(fn)
}

// Iterate implements api.Backend.
func (n *Node) Iterate(prefix []byte, fn func(k, v []byte) bool) error {
	return n.app.Iterate(prefix, fn)
}

// Broadcast implements api.Backend.
func (n *Node) Broadcast(ctx context.Context, tx []byte) (ledger.Result, error) {
	if err := n.app.Precheck(tx); err != nil {
		var le *ledger.Error
		if errors.As(err, &le) {
			return ledger.Result{Code: le.Code, Log: le.Msg}, nil
		}
		return ledger.Result{}, err
	}
	r, err := n.rpc.BroadcastTxSync(ctx, tx)
	if errors.Is(err, mempool.ErrTxInCache) {
		return ledger.Result{}, api.ErrTxInCache
	}
	if err != nil {
		return ledger.Result{}, err
	}
	return ledger.Result{Code: ledger.Code(r.Code), Log: r.Log}, nil
}

// Status implements api.Backend.
func (n *Node) Status(ctx context.Context) (*api.NodeStatus, error) {
	st, err := n.rpc.Status(ctx)
	if err != nil {
		return nil, err
	}
	ni, err := n.rpc.NetInfo(ctx)
	if err != nil {
		return nil, err
	}
	out := &api.NodeStatus{
		ChainID:    st.NodeInfo.Network,
		NodeID:     string(st.NodeInfo.DefaultNodeID),
		Moniker:    st.NodeInfo.Moniker,
		CatchingUp: st.SyncInfo.CatchingUp,
		BlockTime:  st.SyncInfo.LatestBlockTime,
		Peers:      ni.NPeers,
		Version:    app.Version,
	}
	err = n.app.View(func(r store.ReadWriter, c ledger.Commitment) error {
		out.Height, out.AppHash, out.Commitment = c.Height, c.AppHash, c
		return nil
	})
	if err != nil {
		return nil, err
	}
	vals, err := n.rpc.Validators(ctx, nil, nil, nil)
	if err == nil {
		out.Validators = vals.Total
	}
	return out, nil
}

// SignedHeader implements api.Backend.
func (n *Node) SignedHeader(ctx context.Context, height int64) (*api.SignedHeader, error) {
	c, err := n.rpc.Commit(ctx, &height)
	if err != nil {
		return nil, err
	}
	var vals []*cmttypes.Validator
	for page := 1; ; page++ {
		p, per := page, 100
		r, err := n.rpc.Validators(ctx, &height, &p, &per)
		if err != nil {
			return nil, err
		}
		vals = append(vals, r.Validators...)
		if len(vals) >= r.Total {
			break
		}
	}
	set := cmttypes.NewValidatorSet(vals)
	sh, err := cmtjson.Marshal(c.SignedHeader)
	if err != nil {
		return nil, err
	}
	vs, err := cmtjson.Marshal(set)
	if err != nil {
		return nil, err
	}
	return &api.SignedHeader{Height: height, SignedHeader: sh, Validators: vs}, nil
}

// webOptions offers the home's demo keys to the web app's sign-in page on a
// dev network only (Options.DevSignIn, set by `medchain up`).
func webOptions(home string, o Options) web.Options {
	// And only from a key directory marked as a dev keystore (plaintext
	// by design): never from a real keystore.
	if !o.DevSignIn || !keys.IsDev(KeysDir(home)) {
		return web.Options{}
	}
	return web.Options{DevKeysDir: KeysDir(home)}
}

// planStudy is the API's study planner: the pooled study of a job that is
// fitted as one model across its datasets (compute.NeedsStudy), declared
// as the CLI declares it, so that a browser signs the same submit_job.
func planStudy(m *ledger.SubmitJob, schema []ledger.Field) (*ledger.StudyRequest, error) {
	if !compute.NeedsStudy(m) {
		return nil, nil
	}
	return compute.PlanJobStudy(m.Analysis, m.Params, schema, nil)
}
