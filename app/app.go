// Package app adapts the ledger state machine to CometBFT's ABCI++ and keeps
// its state in the on-disk store. All consensus logic lives in package
// ledger; this package only translates requests, persists commits
// atomically and serves reads of committed state.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	abci "github.com/cometbft/cometbft/abci/types"

	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/zk"
)

// Version is reported through ABCI Info.
const Version = "0.1.0"

// App is the ABCI application.
type App struct {
	abci.BaseApplication

	db store.DB

	// CometBFT calls the app on separate connections concurrently
	// (consensus, mempool, query; see NewConnSyncLocalClientCreator). The
	// consensus connection alone drives m's block staging; mu guards what
	// the others read — the committed store and m's last commitment — and
	// is held exclusively only while Commit writes, so no reader ever sees
	// half a block.
	mu  sync.RWMutex
	m   *ledger.Machine
	txs *ledger.TxCache

	// obs sees each committed block; staged is the block FinalizeBlock
	// executed, handed over once Commit has made it durable. Both belong to
	// the consensus connection.
	obs    BlockObserver
	staged *Block

	// batch holds the writes of the block FinalizeBlock executed, for
	// Commit to make durable. It is filled in FinalizeBlock, which CometBFT
	// runs without its mempool lock, so Commit, which holds it (and so
	// stalls CheckTx), only writes. It belongs to the consensus connection.
	batch store.Batch

	ready chan struct{} // closed when the start-up work is done (Ready)

	verifying chan struct{} // Precheck's decoding and verification slots (verifySlots)

	// pool sequences the mempool's transactions since the last commit
	// (exact nonces, per-account and self-registration limits); Commit
	// drops it and CometBFT's recheck of the remaining transactions, in
	// mempool order, builds it again. poolMu guards it.
	poolMu sync.Mutex
	pool   *ledger.Admission

	// lastTime is the latest block's time (unix seconds), for the
	// expiries CheckCostly meets.
	lastTime atomic.Int64
}

// BlockObserver sees each block once it is committed: metrics and the
// like. It runs on the consensus connection after the commit is durable,
// so it must be quick and must not call back into the app; it observes
// only, and nothing it does can change state.
type BlockObserver interface {
	ObserveBlock(b Block)
}

// Block is a committed block's outcome.
type Block struct {
	Height int64
	Time   time.Time
	Txs    []TxOutcome
}

// TxOutcome is one transaction's result in a committed block. Type is ""
// for bytes that did not decode (a proposer's fault; the ledger answered
// malformed).
type TxOutcome struct {
	Type   ledger.TxType
	Result ledger.Result
}

// SetObserver installs o. Call it before the node starts.
func (a *App) SetObserver(o BlockObserver) { a.obs = o }

var _ abci.Application = (*App)(nil)

// readCacheSize bounds the values the app remembers from its store: the
// accounts that mempool checks and blocks read, the state tree's upper
// nodes, the audit log's frontier.
const readCacheSize = 1 << 16

// New opens the application on a store (store/pebble's, in a node). Every
// read and write of the store goes through a read cache (store.Cache),
// which the app's locking keeps coherent: nothing reads while Commit
// writes.
func New(db store.DB) (*App, error) {
	db = store.NewCache(db, readCacheSize)
	m, err := ledger.New(db)
	if err != nil {
		return nil, err
	}
	a := &App{db: db, m: m, ready: make(chan struct{}), verifying: make(chan struct{}, verifySlots())}
	a.setTxCache(m.ChainID())
	// The generators of the studies' bounds proofs are derived once per
	// process (hash-to-group, a few seconds of CPU for the largest study);
	// derive them now, outside consensus, rather than inside the first
	// block that verifies a contribution.
	go func() {
		defer close(a.ready)
		_ = zk.PrepareBoundsGenerators(federated.StepLen(federated.MaxColumns))
	}()
	return a, nil
}

// Ready is closed once the app's start-up work (deriving the bounds-proof
// generators, which occupies a core for a few seconds) is done. The app
// serves before that; a measurement of steady throughput waits for it.
func (a *App) Ready() <-chan struct{} { return a.ready }

// txCacheSize covers a full mempool (node config mempool.size) with room.
const txCacheSize = 100_000

func (a *App) setTxCache(chainID string) {
	if chainID == "" {
		return
	}
	a.txs = ledger.NewTxCache(chainID, txCacheSize)
	a.m.UseTxCache(a.txs)
}

// Info tells CometBFT where the application is, so it replays only the
// blocks the app has not committed.
func (a *App) Info(context.Context, *abci.InfoRequest) (*abci.InfoResponse, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	last := a.m.Last()
	return &abci.InfoResponse{
		Data:             "medchain",
		Version:          Version,
		AppVersion:       1,
		LastBlockHeight:  last.Height,
		LastBlockAppHash: last.AppHash,
	}, nil
}

// InitChain loads the genesis app_state.
func (a *App) InitChain(_ context.Context, req *abci.InitChainRequest) (*abci.InitChainResponse, error) {
	g, err := ledger.ParseGenesis(req.AppStateBytes)
	if err != nil {
		return nil, fmt.Errorf("medchain genesis: %w", err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	c, err := a.m.InitChain(req.ChainId, g)
	if err != nil {
		return nil, fmt.Errorf("medchain genesis: %w", err)
	}
	a.setTxCache(req.ChainId)
	return &abci.InitChainResponse{AppHash: c.AppHash}, nil
}

// CheckTx is the mempool's gate (ledger/admission.go): well-formed,
// signed for this chain, every number in range, the signer's exact next
// nonce counting its transactions already in the mempool, within the
// per-account and self-registration limits, and — for the types whose
// checks are costly — a proof that verifies against committed state. It
// reads committed state only.
func (a *App) CheckTx(_ context.Context, req *abci.CheckTxRequest) (*abci.CheckTxResponse, error) {
	if err := a.admit(req.Tx); err != nil {
		return &abci.CheckTxResponse{Code: uint32(ledger.CodeOf(err)), Log: err.Error(), Codespace: "medchain"}, nil
	}
	return &abci.CheckTxResponse{Code: abci.CodeTypeOK}, nil
}

func (a *App) admit(raw []byte) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	a.poolMu.Lock()
	defer a.poolMu.Unlock()
	if a.pool == nil {
		p, err := ledger.NewAdmission(a.db, a.m.ChainID(), a.txs, ledger.MempoolBlocks)
		if err != nil {
			return err
		}
		a.pool = p
	}
	tx, err := a.pool.Check(raw)
	if err != nil {
		return err
	}
	if err := ledger.CheckCostly(a.db, a.m.ChainID(), tx, a.txs, a.lastTime.Load()); err != nil {
		return err
	}
	a.pool.Add(tx)
	return nil
}

// Precheck is the stateless part of CheckTx and its costly checks,
// callable from any goroutine. The API runs it on the submitting request's
// goroutine before handing the transaction to the mempool, so decoding,
// signature and proof verification happen in parallel across requests (up
// to verifySlots at once) and the mempool's own (sequential) CheckTx finds
// them in the cache. It refuses replays of used nonces; the exact sequence
// is CheckTx's.
func (a *App) Precheck(tx []byte) error {
	chainID := a.ChainID()
	// Decoding and verifying take a slot (verifySlots): however many
	// requests arrive at once, they leave a core to consensus. Neither
	// needs the lock (the cache has its own), so Commit never waits on a
	// verification.
	a.verifying <- struct{}{}
	t, err := ledger.DecodeAndVerifyCached(tx, chainID, a.txs)
	<-a.verifying
	if err != nil {
		return err
	}
	a.mu.RLock()
	err = ledger.CheckNonce(a.db, t)
	a.mu.RUnlock()
	if err != nil {
		return err
	}
	// A proof takes milliseconds to seconds to verify: not under the read
	// lock, which would hold up Commit (and with it every reader) behind
	// a submitter's proof. The store's batches are atomic, so a commit
	// landing meanwhile can only make this check refuse what CheckTx, under
	// the lock, then judges afresh; a verdict is cached under the state it
	// was checked against, so it never applies to another.
	return ledger.CheckCostly(a.db, chainID, t, a.txs, a.lastTime.Load())
}

// verifySlots is how many Prechecks may decode and verify at once: all
// cores but one, and at least one. Each verification is a core's work for
// tens of microseconds, and the API runs one per request on the request's
// goroutine; unbounded, a burst of submissions takes every core and starves
// the consensus goroutine, whose block execution then stretches the block
// interval (the load benchmark's FinalizeBlock took 9.4 s for 20,000
// transfers on the loaded 2-core VM with twenty submitters).
func verifySlots() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// PrepareProposal keeps the mempool's order, trims to the byte limit and
// leaves out what ProcessProposal would refuse (a transaction out of its
// signer's sequence, or over a rate limit, after an earlier one was left
// out or went stale).
func (a *App) PrepareProposal(_ context.Context, req *abci.PrepareProposalRequest) (*abci.PrepareProposalResponse, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	adm, err := ledger.NewAdmission(a.m.Staged(), a.m.ChainID(), a.txs, 1)
	if err != nil {
		return nil, err
	}
	var total int64
	txs := make([][]byte, 0, len(req.Txs))
	for _, tx := range req.Txs {
		if total+int64(len(tx)) > req.MaxTxBytes {
			break
		}
		if _, err := adm.Admit(tx); err != nil {
			continue
		}
		total += int64(len(tx))
		txs = append(txs, tx)
	}
	return &abci.PrepareProposalResponse{Txs: txs}, nil
}

// ProcessProposal rejects a block that carries a transaction no honest
// proposer would include for its bytes alone: one that does not decode,
// verify or fit its numeric ranges. The sequence and rate-limit checks
// PrepareProposal applies are not enforced here: with them, a one-validator
// network's compute study tests stalled (its own proposals were rejected
// for a reason not yet found; see the admission report), so a block from a
// proposer that skipped them is accepted and its out-of-sequence or
// over-limit transactions get bad_nonce or rate_limited in FinalizeBlock.
func (a *App) ProcessProposal(_ context.Context, req *abci.ProcessProposalRequest) (*abci.ProcessProposalResponse, error) {
	a.mu.RLock()
	chainID := a.m.ChainID()
	a.mu.RUnlock()
	for _, tx := range req.Txs {
		if _, err := ledger.DecodeAndVerifyCached(tx, chainID, a.txs); err != nil {
			return &abci.ProcessProposalResponse{Status: abci.PROCESS_PROPOSAL_STATUS_REJECT}, nil
		}
	}
	return &abci.ProcessProposalResponse{Status: abci.PROCESS_PROPOSAL_STATUS_ACCEPT}, nil
}

// FinalizeBlock executes the block and stages its writes. An error here is
// a store failure (the node's fault): CometBFT stops rather than diverge.
func (a *App) FinalizeBlock(_ context.Context, req *abci.FinalizeBlockRequest) (*abci.FinalizeBlockResponse, error) {
	if a.batch != nil { // a block executed again (a new round) replaces the last
		a.batch.Discard()
		a.batch = nil
	}
	if err := a.m.BeginBlock(ledger.BlockInfo{Height: req.Height, Time: req.Time.Unix()}); err != nil {
		return nil, err
	}
	a.lastTime.Store(req.Time.Unix())
	results := make([]*abci.ExecTxResult, len(req.Txs))
	var out *Block
	if a.obs != nil {
		out = &Block{Height: req.Height, Time: req.Time, Txs: make([]TxOutcome, 0, len(req.Txs))}
	}
	for i, tx := range req.Txs {
		r, err := a.m.DeliverTx(tx)
		if err != nil {
			a.m.Abort()
			return nil, fmt.Errorf("height %d tx %d: %w", req.Height, i, err)
		}
		results[i] = execResult(r)
		if a.obs != nil {
			out.Txs = append(out.Txs, TxOutcome{Type: r.Type, Result: r})
		}
	}
	c, err := a.m.EndBlock()
	if err != nil {
		a.m.Abort()
		return nil, err
	}
	b := a.db.NewBatch()
	if err := a.m.Commit(b); err != nil {
		b.Discard()
		a.m.Abort()
		return nil, err
	}
	a.batch = b
	if a.obs != nil {
		a.staged = out
	}
	return &abci.FinalizeBlockResponse{TxResults: results, AppHash: c.AppHash}, nil
}

func execResult(r ledger.Result) *abci.ExecTxResult {
	out := &abci.ExecTxResult{Code: uint32(r.Code), Log: r.Log}
	if r.Code != ledger.CodeOK {
		out.Codespace = "medchain"
	}
	for _, e := range r.Events {
		ae := abci.Event{Type: e.Type}
		for _, at := range e.Attrs {
			ae.Attributes = append(ae.Attributes, abci.EventAttribute{Key: at.Key, Value: at.Value, Index: true})
		}
		out.Events = append(out.Events, ae)
	}
	return out
}

// Commit makes the block's writes, batched by FinalizeBlock, durable in
// one synced write.
func (a *App) Commit(context.Context, *abci.CommitRequest) (*abci.CommitResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	b := a.batch
	if b == nil {
		return nil, errors.New("commit: no block executed since the last commit")
	}
	a.batch = nil
	if err := b.WriteSync(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	a.m.Committed()
	if b := a.staged; b != nil {
		a.staged = nil
		a.obs.ObserveBlock(*b)
	}

	a.poolMu.Lock()
	a.pool = nil
	a.poolMu.Unlock()
	return &abci.CommitResponse{}, nil
}

// Query answers "/key" (data = a state key) with the value and a JSON state
// proof against the latest commitment.
func (a *App) Query(_ context.Context, req *abci.QueryRequest) (*abci.QueryResponse, error) {
	if req.Path != "/key" {
		return &abci.QueryResponse{Code: uint32(ledger.CodeNotFound), Log: fmt.Sprintf("unknown query path %q (known: /key)", req.Path)}, nil
	}
	// A consent is shown only to whom it concerns, on a signed request
	// (the API's GET /v1/state/proof); this interface has no signer.
	if _, ok := ledger.ConsentKeyPatient(req.Data); ok {
		return &abci.QueryResponse{Code: uint32(ledger.CodeUnauthenticated), Log: fmt.Sprintf("%q: consents are served only on a signed request: GET /v1/state/proof of the medchain API, signed by the patient or by the institution the consent concerns (docs/patients.md)", req.Data)}, nil
	}
	var p *ledger.StateProof
	err := a.View(func(r store.ReadWriter, c ledger.Commitment) error {
		var err error
		p, err = ledger.ProveState(r, c, req.Data)
		return err
	})
	if err != nil {
		return &abci.QueryResponse{Code: uint32(ledger.CodeOf(err)), Log: err.Error()}, nil
	}
	pb, _ := json.Marshal(p)
	return &abci.QueryResponse{Key: req.Data, Value: p.Value, Height: p.Commitment.Height, Info: string(pb)}, nil
}

// View runs fn over committed state and the latest commitment, excluding
// concurrent commits. The ReadWriter's writes go to a throwaway overlay.
func (a *App) View(fn func(r store.ReadWriter, c ledger.Commitment) error) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return fn(store.NewOverlay(a.db), a.m.Last())
}

// Iterate lists committed keys under a prefix (excluding concurrent commits).
func (a *App) Iterate(prefix []byte, fn func(k, v []byte) bool) error {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.db.Iterate(prefix, fn)
}

// ChainID is the chain id from genesis.
func (a *App) ChainID() string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.m.ChainID()
}
