package ledger

import (
	"github.com/medchain/medchain/store"
)

// Admission: what may enter the mempool and a block, so that every
// transaction a block carries costs its sender something and no one can
// make validators do expensive work for free.
//
//   - Nonces are exact. The mempool admits a transaction only with its
//     signer's next nonce, counting the signer's transactions already in the
//     mempool; a proposer includes a transaction only if, in order, it
//     carries its signer's next nonce, counting the earlier ones in the
//     block (PrepareProposal; ProcessProposal does not enforce it yet, see
//     app.go). A transaction ahead of its account never reaches an honest
//     block (and so never takes an audit index).
//   - Rate limits, set in genesis: at most max_txs_per_account_per_block
//     transactions of one signer in a block (failed ones count: a
//     transaction that fails in the block still consumed its nonce and its
//     share of the signer's quota — that is how a failure pays its way),
//     and at most max_self_registrations_per_block self-registrations
//     (a new patient key, which no one vouches for). The mempool holds up
//     to MempoolBlocks blocks' worth of each.
//   - Costly checks run before the mempool (CheckCostly): a
//     record_prediction's proof is verified against committed state and the
//     verdict remembered in the TxCache, so the block does not verify it
//     again; a post_contribution passes every check but its bounds proof,
//     which only the site's study worker can make the block verify, once per
//     iteration.

// Defaults of the rate limits when genesis sets none.
const (
	DefaultMaxTxsPerAccountPerBlock     = 1000
	DefaultMaxSelfRegistrationsPerBlock = 100
)

// MempoolBlocks is how many blocks' worth of one account's transactions,
// and of self-registrations, the mempool holds.
const MempoolBlocks = 4

// rateLimits returns the limits in force.
func (p Params) rateLimits() (perAccount, selfRegs uint32) {
	perAccount, selfRegs = p.MaxTxsPerAccountPerBlock, p.MaxSelfRegistrationsPerBlock
	if perAccount == 0 {
		perAccount = DefaultMaxTxsPerAccountPerBlock
	}
	if selfRegs == 0 {
		selfRegs = DefaultMaxSelfRegistrationsPerBlock
	}
	return perAccount, selfRegs
}

// isSelfRegistration says whether tx registers its own signing key.
func isSelfRegistration(tx *Tx) bool {
	reg, ok := tx.Msg.(*RegisterAccount)
	return ok && equalBytes(reg.PubKey, tx.Payload.Signer)
}

// Admission sequences transactions on top of committed state: the
// mempool's since the last commit, or a proposed block's. It is not
// consensus state; a proposal's check is deterministic because every
// validator runs it on the same committed state. Not safe for concurrent
// use.
type Admission struct {
	r          store.Reader
	chainID    string
	cache      *TxCache
	perAccount uint32
	selfRegs   uint32
	next       map[string]uint64 // signer → next nonce, for signers seen
	count      map[string]uint32 // signer → transactions admitted
	regs       uint32
}

// NewAdmission starts sequencing on committed state r. blocks scales the
// rate limits: 1 for a block, MempoolBlocks for the mempool.
func NewAdmission(r store.Reader, chainID string, cache *TxCache, blocks uint32) (*Admission, error) {
	p, err := GetParams(r)
	if err != nil {
		return nil, err
	}
	if p == nil {
		p = &Params{} // nothing committed yet: no account exists either
	}
	perAccount, selfRegs := p.rateLimits()
	return &Admission{r: r, chainID: chainID, cache: cache, perAccount: perAccount * blocks, selfRegs: selfRegs * blocks,
		next: map[string]uint64{}, count: map[string]uint32{}}, nil
}

// Check decodes and verifies raw and checks it is next in sequence and
// within the rate limits; it records nothing (Add does).
func (a *Admission) Check(raw []byte) (*Tx, error) {
	tx, err := DecodeAndVerifyCached(raw, a.chainID, a.cache)
	if err != nil {
		return nil, err
	}
	return tx, a.check(tx)
}

func (a *Admission) check(tx *Tx) error {
	addr := tx.Signer()
	next, seen := a.next[addr]
	if !seen {
		acct, err := getAccount(a.r, addr)
		if err != nil {
			return err
		}
		switch {
		case acct != nil:
			next = acct.Nonce
		case !isSelfRegistration(tx):
			return errf(CodeUnknownAccount, "payload.signer: no account %s", addr)
		}
	}
	if tx.Payload.Nonce != next {
		if tx.Payload.Nonce < next {
			return errf(CodeBadNonce, "payload.nonce: %d is used or pending for %s (next is %d)", tx.Payload.Nonce, addr, next)
		}
		return errf(CodeBadNonce, "payload.nonce: %d is ahead of %s's next nonce %d", tx.Payload.Nonce, addr, next)
	}
	if a.count[addr] >= a.perAccount {
		return errf(CodeRateLimited, "payload.signer: %s has %d transactions pending, the limit is %d", addr, a.count[addr], a.perAccount)
	}
	if isSelfRegistration(tx) && a.regs >= a.selfRegs {
		return errf(CodeRateLimited, "register_account: %d self-registrations are pending, the limit is %d", a.regs, a.selfRegs)
	}
	return nil
}

// Add records a checked transaction as admitted.
func (a *Admission) Add(tx *Tx) {
	addr := tx.Signer()
	a.next[addr] = tx.Payload.Nonce + 1
	a.count[addr]++
	if isSelfRegistration(tx) {
		a.regs++
	}
}

// Admit is Check then Add.
func (a *Admission) Admit(raw []byte) (*Tx, error) {
	tx, err := a.Check(raw)
	if err == nil {
		a.Add(tx)
	}
	return tx, err
}

// CheckCostly runs, against committed state r at the next height, the
// handler of a transaction whose checks are costly — record_prediction
// (a zero-knowledge proof) and post_contribution (a bounds proof) — and
// refuses the transaction unless it would succeed. A prediction's proof is
// verified here (anyone may send one): an invalid one is refused, a valid
// one remembered in cache so the block does not verify it again. A
// contribution gets every check but its bounds proof, which the block
// verifies once: the checks admit only the site's study worker, once per
// iteration, and a failing proof flags and excludes the site with
// evidence, so no one can make the validators verify more than one per
// site and iteration. (Verified here instead, it would leave the consensus
// path and blocks would keep coming while the sites wait on it: a study's
// deadlines are counted in blocks, so the sites' time to post would
// shrink.) Other types pass: their handlers are cheap and run in the block.
// now is the latest block time the caller knows (nothing here depends on
// it but expiries).
func CheckCostly(r store.Reader, chainID string, tx *Tx, cache *TxCache, now int64) error {
	switch tx.Msg.(type) {
	case *RecordPrediction, *PostContribution:
	default:
		return nil
	}
	signer, err := getAccount(r, tx.Signer())
	if err != nil {
		return err
	}
	if signer == nil {
		return errf(CodeUnknownAccount, "payload.signer: no account %s", tx.Signer())
	}
	var last Commitment
	if _, err := getState(r, KeyLast(), &last); err != nil {
		return err
	}
	c := txCtx{chainID: chainID, s: store.NewOverlay(r), height: last.Height + 1, now: now, tx: tx, signer: signer, addr: tx.Signer(), cache: cache, admission: true}
	_, err = handle(&c)
	return err
}

// verifiedKey names a verified statement in the cache: the transaction and
// the state its proof was checked against.
func verifiedKey(kind string, tx *Tx, state ...string) [32]byte {
	return hashParts(append([]string{kind, string(tx.Hash[:])}, state...)...)
}

// take counts a transaction of the block being applied against the rate
// limits. Only a block no honest validator would accept exceeds them; its
// extra transactions fail without consuming a nonce.
func (m *Machine) take(tx *Tx) error {
	if m.limits == nil {
		p, err := GetParams(m.block)
		if err != nil {
			return err
		}
		if p == nil {
			return errf(CodeInternal, "chain parameters missing")
		}
		perAccount, selfRegs := p.rateLimits()
		m.limits = &Admission{perAccount: perAccount, selfRegs: selfRegs, count: map[string]uint32{}}
	}
	a, addr := m.limits, tx.Signer()
	if a.count[addr] >= a.perAccount {
		return errf(CodeRateLimited, "payload.signer: %s already has %d transactions in this block, the limit is %d", addr, a.count[addr], a.perAccount)
	}
	if isSelfRegistration(tx) {
		if a.regs >= a.selfRegs {
			return errf(CodeRateLimited, "register_account: this block already has %d self-registrations, the limit is %d", a.regs, a.selfRegs)
		}
		a.regs++
	}
	a.count[addr]++
	return nil
}
