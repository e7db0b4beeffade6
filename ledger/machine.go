package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/medchain/medchain/audit"
	"github.com/medchain/medchain/smt"
	"github.com/medchain/medchain/store"
)

// Machine is medchain's deterministic state machine. It reads committed
// state from a store.Reader and stages every write of a block in memory;
// the caller persists the staged writes atomically after EndBlock (Commit).
// It has no clock (block time comes in BlockInfo), no randomness, no
// goroutines, no floating point, and never iterates a map unsorted.
//
// A Machine is not safe for concurrent use; the ABCI adapter serialises calls.
type Machine struct {
	chainID string
	db      store.Reader
	block   *store.Overlay // writes staged since the last Commit
	info    BlockInfo
	log     *audit.Appender // the block's audit appends; its meta record is written at EndBlock
	txIndex int
	last    Commitment
	pending *Commitment    // sealed but not yet committed
	txs     *TxCache       // optional; see TxCache
	ctx     txCtx          // the context of the transaction being applied (apply)
	limits  *Admission     // the block's rate-limit counts (admission.go); nil until its first transaction
	txs1    *store.Overlay // the overlay a transaction stages in (apply), reused
}

// BlockInfo is what a block tells the state machine about itself.
type BlockInfo struct {
	Height int64
	Time   int64 // unix seconds, from the block header
}

// Commitment is what the app hash at a height is made of. Anyone holding it
// can recompute the app hash and compare it with a signed block header.
type Commitment struct {
	_         struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Height    int64    `json:"height"`
	StateRoot smt.Hash `json:"state_root"`
	AuditSize uint64   `json:"audit_size"`
	AuditRoot HexBytes `json:"audit_root"`
	AppHash   HexBytes `json:"app_hash"`
}

// HexBytes marshals as lowercase hex.
type HexBytes []byte

// MarshalText implements encoding.TextMarshaler.
func (h HexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (h *HexBytes) UnmarshalText(b []byte) error {
	d, err := hex.DecodeString(string(b))
	if err != nil {
		return err
	}
	*h = d
	return nil
}

const appHashDomain = "medchain/apphash/v1"

// AppHash binds the state root and the audit log (size and root) into the
// 32 bytes CometBFT puts in the next block header.
func AppHash(stateRoot smt.Hash, auditSize uint64, auditRoot []byte) []byte {
	h := sha256.New()
	h.Write([]byte(appHashDomain))
	h.Write(stateRoot[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], auditSize)
	h.Write(n[:])
	h.Write(auditRoot)
	return h.Sum(nil)
}

// Verify recomputes the app hash from the commitment's parts.
func (c Commitment) Verify() error {
	if got := AppHash(c.StateRoot, c.AuditSize, c.AuditRoot); !equalBytes(got, c.AppHash) {
		return fmt.Errorf("commitment at height %d: parts hash to %x, not app hash %x", c.Height, got, []byte(c.AppHash))
	}
	return nil
}

func equalBytes(a, b []byte) bool { return string(a) == string(b) }

// New opens the state machine on a committed store.
func New(db store.Reader) (*Machine, error) {
	if err := checkStateFormat(db); err != nil {
		return nil, err
	}
	m := &Machine{db: db, block: store.NewOverlay(db)}
	found, err := getState(db, KeyLast(), &m.last)
	if err != nil {
		return nil, fmt.Errorf("ledger: read last commitment: %w", err)
	}
	if found {
		var p Params
		if _, err := getState(db, KeyParams(), &p); err != nil {
			return nil, fmt.Errorf("ledger: read params: %w", err)
		}
		m.chainID = p.ChainID
	}
	return m, nil
}

// UseTxCache shares a decoded-transaction cache with the mempool check.
func (m *Machine) UseTxCache(c *TxCache) { m.txs = c }

// Staged is committed state with the writes staged since: between blocks,
// what InitChain staged before the first commit. The proposal checks read
// it (on the consensus connection, never during a block).
func (m *Machine) Staged() store.Reader { return m.block }

// ChainID is the chain this machine belongs to ("" before InitChain).
func (m *Machine) ChainID() string { return m.chainID }

// Last is the latest commitment (zero before genesis).
func (m *Machine) Last() Commitment { return m.last }

// InitChain stages the genesis state and returns the genesis commitment.
// Its writes are persisted with the first block's Commit, as ABCI requires.
func (m *Machine) InitChain(chainID string, g Genesis) (Commitment, error) {
	if m.last.Height != 0 || len(m.last.AppHash) != 0 {
		return Commitment{}, errors.New("ledger: InitChain on a store that already has a chain")
	}
	if err := g.apply(m.block, chainID); err != nil {
		return Commitment{}, err
	}
	if err := m.block.Set(KeyStateFormat(), []byte(strconv.Itoa(StateFormat))); err != nil {
		return Commitment{}, err
	}
	m.chainID = chainID
	return m.seal(0)
}

// BeginBlock starts staging a block.
func (m *Machine) BeginBlock(info BlockInfo) error {
	log, err := audit.Open(m.block, AuditPrefix)
	if err != nil {
		return fmt.Errorf("ledger: open audit log: %w", err)
	}
	// One appender for the block: each entry's leaf and nodes are written
	// as it is applied, the log's meta record (its size and frontier) once
	// at EndBlock. The stored log is the same as with an Append per entry.
	app, err := log.NewAppender()
	if err != nil {
		return fmt.Errorf("ledger: open audit log: %w", err)
	}
	m.info, m.log, m.txIndex, m.limits = info, app, 0, nil
	return nil
}

// Result is a transaction's outcome as reported to CometBFT and clients.
type Result struct {
	// Type is the transaction's type ("" for bytes that did not decode),
	// for observers of a block (metrics); it is not part of the record.
	Type       TxType  `json:"-"`
	Code       Code    `json:"code"`
	Log        string  `json:"log"`
	Events     []Event `json:"events,omitempty"`
	AuditIndex uint64  `json:"audit_index"`
}

// Event is an indexed attribute set (CometBFT's event model).
type Event struct {
	_     struct{}    `cbor:",toarray"` // stored as an array of its fields (state.go)
	Type  string      `json:"type"`
	Attrs []Attribute `json:"attributes"`
}

// Attribute is one key/value of an Event.
type Attribute struct {
	_     struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Key   string   `json:"key"`
	Value string   `json:"value"`
}

// AuditEntry is what the audit log records for every transaction in a block:
// who did what, its outcome, and the hash of every state value it changed.
// It carries no record-level data: state values are referred to by hash.
type AuditEntry struct {
	Height  int64         `json:"height"`
	Index   int           `json:"index"`
	TxHash  string        `json:"tx_hash"`
	Type    TxType        `json:"type,omitempty"`
	Signer  string        `json:"signer,omitempty"`
	Nonce   uint64        `json:"nonce"`
	Code    Code          `json:"code"`
	Log     string        `json:"log,omitempty"`
	Changes []StateChange `json:"changes,omitempty"`
}

// StateChange names a state key and the SHA-256 of its new value (empty when deleted).
type StateChange struct {
	Key       string `json:"key"`
	ValueHash string `json:"value_hash,omitempty"`
}

// TxRecord is kept per transaction hash so clients can find its result and
// audit entry.
type TxRecord struct {
	_          struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Height     int64    `json:"height"`
	Index      int      `json:"index"`
	Code       Code     `json:"code"`
	Log        string   `json:"log"`
	AuditIndex uint64   `json:"audit_index"`
	Events     []Event  `json:"events,omitempty"` // what the transaction created (ids, sequence numbers)
}

// DeliverTx applies one transaction of the current block. A failing
// transaction changes nothing but (when its signature and nonce were good)
// the signer's nonce, so it cannot be replayed; it never returns an error
// for the sender's mistakes, only a result code.
func (m *Machine) DeliverTx(raw []byte) (Result, error) {
	idx := m.txIndex
	m.txIndex++
	entry := AuditEntry{Height: m.info.Height, Index: idx, TxHash: TxHash(raw)}
	res, changes, err := m.apply(raw, &entry)
	if err != nil {
		return Result{}, err // store failure: the node's fault
	}
	entry.Code, entry.Log, entry.Changes = res.Code, res.Log, changes
	// The appender keeps the entry's bytes (no copy): a fresh buffer each.
	ai, err := m.log.Append(appendAuditEntry(make([]byte, 0, auditEntrySizeHint), &entry))
	if err != nil {
		return Result{}, fmt.Errorf("ledger: append audit entry: %w", err)
	}
	res.AuditIndex, res.Type = ai, entry.Type
	res.Events = append(res.Events, Event{Type: "medchain", Attrs: []Attribute{
		{Key: "type", Value: string(entry.Type)}, {Key: "signer", Value: entry.Signer}, {Key: "audit_index", Value: strconv.FormatUint(ai, 10)},
	}})
	// Anyone can deliver the same bytes again; the replay fails and must not
	// hide the result of the delivery that took effect. A success needs no
	// look-up: it consumed its nonce, and nonces only grow, so the same
	// bytes cannot have succeeded before.
	var prev *TxRecord
	if res.Code != CodeOK {
		if prev, err = GetTxRecord(m.block, entry.TxHash); err != nil {
			return Result{}, err
		}
	}
	if prev == nil || prev.Code != CodeOK {
		rec := TxRecord{Height: m.info.Height, Index: idx, Code: res.Code, Log: res.Log, AuditIndex: ai, Events: res.Events}
		if err := putState(m.block, KeyTxResult(entry.TxHash), rec); err != nil {
			return Result{}, err
		}
	}
	return res, nil
}

// apply runs the transaction in its own overlay; only a success merges it.
func (m *Machine) apply(raw []byte, entry *AuditEntry) (Result, []StateChange, error) {
	tx, err := DecodeAndVerifyCached(raw, m.chainID, m.txs)
	if err != nil {
		return failed(err), nil, nil
	}
	entry.Type, entry.Signer, entry.Nonce = tx.Payload.Type, tx.Signer(), tx.Payload.Nonce

	signer, err := m.checkNonce(tx)
	if err == nil {
		err = m.take(tx)
	}
	if err != nil {
		if CodeOf(err) == CodeInternal {
			return Result{}, nil, err
		}
		return failed(err), nil, nil
	}
	// The transaction's own overlay, reused from the last one: its writes
	// were merged into the block (or dropped) before this one began.
	if m.txs1 == nil {
		m.txs1 = store.NewOverlay(m.block)
	}
	txs := m.txs1
	txs.Reuse(m.block)
	// The context lives in the machine: dispatch through the registry is an
	// indirect call, which would move a fresh one to the heap every time.
	m.ctx = txCtx{chainID: m.chainID, s: txs, height: m.info.Height, now: m.info.Time, tx: tx, signer: signer, addr: tx.Signer(), cache: m.txs}
	c := &m.ctx
	var bumped []byte // the signer's account with only its nonce bumped
	if signer != nil {
		// The nonce is consumed whatever the outcome, so a signed
		// transaction takes effect (or fails) at most once.
		signer.Nonce++
		if bumped, err = EncodeState(signer); err != nil {
			return Result{}, nil, &Error{Code: CodeInternal, Msg: fmt.Sprintf("encode the signer's account: %v", err)}
		}
		if err := txs.Set(KeyAccount(signer.Address), bumped); err != nil {
			return Result{}, nil, &Error{Code: CodeInternal, Msg: fmt.Sprintf("write the signer's account: %v", err)}
		}
	}
	var events []Event
	herr := checkNotSuspended(txs, c.addr)
	if herr == nil {
		events, herr = handle(c)
	}
	m.ctx = txCtx{} // keep nothing of this transaction alive
	if herr != nil {
		if CodeOf(herr) == CodeInternal {
			return Result{}, nil, herr
		}
		// Discard everything but the nonce bump: the account as it was
		// encoded before the handler ran, not the handler's copy of it (a
		// handler that credited its signer and then failed would otherwise
		// keep the credit).
		txs.Reuse(m.block)
		if signer != nil {
			if err := txs.Set(KeyAccount(signer.Address), bumped); err != nil {
				return Result{}, nil, &Error{Code: CodeInternal, Msg: fmt.Sprintf("write the signer's account: %v", err)}
			}
		}
	}
	changes := stateChanges(txs)
	txs.MergeInto(m.block)
	if herr != nil {
		return failed(herr), changes, nil
	}
	return Result{Code: CodeOK, Log: "ok", Events: events}, changes, nil
}

func failed(err error) Result {
	var e *Error
	if errors.As(err, &e) {
		return Result{Code: e.Code, Log: e.Msg}
	}
	return Result{Code: CodeInternal, Log: err.Error()}
}

func stateChanges(o *store.Overlay) []StateChange {
	chs := o.ChangesWithPrefix(StatePrefix)
	if len(chs) == 0 {
		return nil
	}
	out := make([]StateChange, 0, len(chs))
	for _, ch := range chs {
		sc := StateChange{Key: string(ch.Key)}
		if ch.Value != nil {
			h := sha256.Sum256(ch.Value)
			sc.ValueHash = hex.EncodeToString(h[:])
		}
		out = append(out, sc)
	}
	return out
}

// checkNonce returns the signer's account (nil for a self-registering
// patient, whose nonce must be 0) after checking the nonce is the next one.
func (m *Machine) checkNonce(tx *Tx) (*Account, error) {
	acct, err := getAccount(m.block, tx.Signer())
	if err != nil {
		return nil, err
	}
	if acct == nil {
		if reg, ok := tx.Msg.(*RegisterAccount); ok && equalBytes(reg.PubKey, tx.Payload.Signer) {
			if tx.Payload.Nonce != 0 {
				return nil, errf(CodeBadNonce, "payload.nonce: a new account signs with nonce 0, got %d", tx.Payload.Nonce)
			}
			return nil, nil
		}
		return nil, errf(CodeUnknownAccount, "payload.signer: no account %s", tx.Signer())
	}
	if tx.Payload.Nonce != acct.Nonce {
		if tx.Payload.Nonce < acct.Nonce {
			return nil, errf(CodeBadNonce, "payload.nonce: %d already used by %s (next is %d)", tx.Payload.Nonce, acct.Address, acct.Nonce)
		}
		return nil, errf(CodeBadNonce, "payload.nonce: %d is ahead of %s's next nonce %d", tx.Payload.Nonce, acct.Address, acct.Nonce)
	}
	return acct, nil
}

// CheckNonce is the cheap, stateless part of the nonce check against
// committed state (the API's precheck): it rejects replays (nonces already
// used) and unknown signers. The exact sequence, counting pending
// transactions, is Admission's (the mempool's CheckTx).
func CheckNonce(r store.Reader, tx *Tx) error {
	acct, err := getAccount(r, tx.Signer())
	if err != nil {
		return err
	}
	if acct == nil {
		if reg, ok := tx.Msg.(*RegisterAccount); ok && equalBytes(reg.PubKey, tx.Payload.Signer) {
			return nil
		}
		return errf(CodeUnknownAccount, "payload.signer: no account %s", tx.Signer())
	}
	if tx.Payload.Nonce < acct.Nonce {
		return errf(CodeBadNonce, "payload.nonce: %d already used by %s (next is %d)", tx.Payload.Nonce, acct.Address, acct.Nonce)
	}
	return checkNotSuspended(r, acct.Address)
}

// EndBlock folds the block's state changes into the state tree and returns
// the commitment whose app hash goes into the next header.
func (m *Machine) EndBlock() (Commitment, error) {
	return m.seal(m.info.Height)
}

func (m *Machine) seal(height int64) (Commitment, error) {
	if m.log != nil {
		err := m.log.Flush()
		m.log = nil
		if err != nil {
			return Commitment{}, fmt.Errorf("ledger: write the audit log's size: %w", err)
		}
	}
	tree := smt.New(m.block, NodePrefix)
	root, err := tree.Update(m.last.StateRoot, m.block.ChangesWithPrefix(StatePrefix))
	if err != nil {
		return Commitment{}, fmt.Errorf("ledger: update state tree: %w", err)
	}
	log, err := audit.Open(m.block, AuditPrefix)
	if err != nil {
		return Commitment{}, fmt.Errorf("ledger: open audit log: %w", err)
	}
	aroot, err := log.Root()
	if err != nil {
		return Commitment{}, fmt.Errorf("ledger: audit root: %w", err)
	}
	c := Commitment{Height: height, StateRoot: root, AuditSize: log.Size(), AuditRoot: aroot}
	c.AppHash = AppHash(root, c.AuditSize, aroot)
	if err := putState(m.block, KeyCommitment(height), c); err != nil {
		return Commitment{}, err
	}
	if err := putState(m.block, KeyLast(), c); err != nil {
		return Commitment{}, err
	}
	m.pending = &c
	return c, nil
}

// Commit hands the staged writes to w (the caller's atomic batch) and starts
// a fresh stage. The caller must make the batch durable before answering
// CometBFT's Commit, and must call Committed afterwards.
func (m *Machine) Commit(w store.Writer) error {
	if m.pending == nil {
		return errors.New("ledger: Commit without EndBlock")
	}
	// One atomic batch: the order of its writes (one per key) cannot
	// change what the store holds after it, so they are not sorted.
	return m.block.WriteUnordered(w)
}

// Committed records that the batch given to Commit is durable.
func (m *Machine) Committed() {
	if m.pending != nil {
		m.last = *m.pending
		m.pending = nil
	}
	// The next block is likely about as large as this one.
	m.block = store.NewOverlaySize(m.db, m.block.Len())
}

// Abort drops the staged block (the consensus engine will replay it).
func (m *Machine) Abort() {
	m.pending, m.log = nil, nil
	m.block = store.NewOverlay(m.db)
}
