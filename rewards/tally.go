// Package rewards is the data holder's side of patient rewards: the
// private tally of what each patient's records earned, and the notes
// (vouchers) it signs on a patient's signed request (ledger.ClaimReward
// redeems them).
//
// The tally never leaves the institution: it is kept sealed on its node
// (Store). Each released contribution adds an Entry: the job's site, the
// patient share the site pays into the pool, and the cohort's pseudonyms.
// The share is split exactly over the true cohort, in whole tokens: every
// row earns floor(share / n), and the share's remainder (share mod n) goes
// one token each to the first rows of an order keyed by the tally's secret
// (Tally.Key), so an entry's rows earn exactly its share, to the token.
// Rows are identified by pseudonym, so a patient linked after a job still
// collects what their records earned. A row's balance is what it earned in
// jobs that have settled, less what notes paid.
//
// Exact amounts would give cohorts away if they reached the ledger (the
// share is public, so share / amount is the cohort), so they never do: a
// balance is paid out as notes of fixed public denominations
// (ledger.RewardDenominations, powers of two), one note per voucher, each
// with its own random nullifier and recipient. A claim says only "this
// organisation paid this recipient one note of 2^k".
package rewards

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/medchain/medchain/ledger"
)

// Entry is one released contribution's earnings.
type Entry struct {
	Job     uint64   `json:"job"`
	Dataset string   `json:"dataset"`
	Share   uint64   `json:"share"`  // the patient share the site pays into the pool
	Base    uint64   `json:"base"`   // floor(Share / len(Cohort)): what every row earns
	Cohort  []string `json:"cohort"` // pseudonyms, sorted, distinct
	Plus    []string `json:"plus"`   // the Share mod len(Cohort) rows that earn Base+1, sorted
}

// Earned is what the row with pseudonym p earned in e (0 if not in it).
func (e *Entry) Earned(p string) uint64 {
	if _, in := slices.BinarySearch(e.Cohort, p); !in {
		return 0
	}
	if _, plus := slices.BinarySearch(e.Plus, p); plus {
		return e.Base + 1
	}
	return e.Base
}

// Issued is the notes one request was answered with that are not known to
// be claimed: an answer lost in transit is not lost to the patient, whose
// next vouchers request gets them again (Outstanding), until the ledger
// shows them claimed (Prune).
type Issued struct {
	Wallet   string           `json:"wallet"`
	Vouchers []ledger.Voucher `json:"vouchers"`
}

// Tally is an institution's private record of patient earnings.
type Tally struct {
	// Key orders each entry's rows for its remainder (remainderRows); drawn
	// from crypto/rand on the first Accrue, and sealed with the tally.
	Key     []byte            `json:"key,omitempty"`
	Entries []Entry           `json:"entries"`
	Paid    map[string]uint64 `json:"paid"` // by pseudonym: paid out in vouchers
	Issued  []Issued          `json:"issued"`
	// Pending are receipt sets recorded with their release and not yet
	// all on the ledger (the worker posts them after the result).
	Pending []Pending `json:"pending,omitempty"`
	// Seen are the requests answered whose time window is still open: a
	// request is answered once (Admit).
	Seen []Seen `json:"seen,omitempty"`
}

// Pending is a site's receipt set waiting to be posted.
type Pending struct {
	Job     uint64 `json:"job"`
	Dataset string `json:"dataset"`
	Tags    []byte `json:"tags"`
}

// Forget removes a job site's entry and pending receipts: its release
// never reached the ledger and the job closed without it.
func (t *Tally) Forget(job uint64, dataset string) {
	t.Entries = slices.DeleteFunc(t.Entries, func(e Entry) bool { return e.Job == job && e.Dataset == dataset })
	t.SetPending(job, dataset, nil)
}

// SetPending records (tags not nil) or clears (nil) the receipt set of a
// job's site.
func (t *Tally) SetPending(job uint64, dataset string, tags []byte) {
	t.Pending = slices.DeleteFunc(t.Pending, func(p Pending) bool { return p.Job == job && p.Dataset == dataset })
	if tags != nil {
		t.Pending = append(t.Pending, Pending{Job: job, Dataset: dataset, Tags: tags})
	}
}

// ErrEmptyCohort is returned by Accrue for a cohort of no rows.
var ErrEmptyCohort = errors.New("rewards: a released contribution has no cohort")

// Accrue records a released contribution: share tokens of the patient pool
// earned by the rows of cohort (pseudonyms). A second call for the same job
// and dataset replaces the first (a worker retrying after a crash), and
// splits the same way: the split depends only on the tally's key, the job,
// the dataset and the cohort.
func (t *Tally) Accrue(job uint64, dataset string, share uint64, cohort []string) error {
	c := slices.Clone(cohort)
	slices.Sort(c)
	c = slices.Compact(c)
	if len(c) == 0 {
		return ErrEmptyCohort
	}
	if len(t.Key) == 0 {
		t.Key = make([]byte, 32)
		if _, err := rand.Read(t.Key); err != nil {
			return fmt.Errorf("rewards: tally key: %w", err)
		}
	}
	n := uint64(len(c))
	e := Entry{Job: job, Dataset: dataset, Share: share, Base: share / n, Cohort: c,
		Plus: remainderRows(t.Key, job, dataset, c, int(share%n))}
	t.Entries = slices.DeleteFunc(t.Entries, func(x Entry) bool { return x.Job == job && x.Dataset == dataset })
	t.Entries = append(t.Entries, e)
	return nil
}

// upgrade splits again the entries of a tally written before the exact
// split (they have no Plus list): the pools kept what the old rule did not
// pay, so paying it now keeps them covered, and Paid stands.
func (t *Tally) upgrade() error {
	var old []Entry
	for _, e := range t.Entries {
		if e.Plus == nil {
			old = append(old, e)
		}
	}
	for _, e := range old {
		if err := t.Accrue(e.Job, e.Dataset, e.Share, e.Cohort); err != nil {
			return err
		}
	}
	return nil
}

// remainderRows picks the r rows of cohort that earn one token more: the
// first r in the order of HMAC-SHA256(key, domain, job, dataset, pseudonym).
// Keyed, so that nobody without the tally (a patient, a researcher) can
// predict or steer who gets them; deterministic, so that a retried release
// splits the same way; fresh per job, so that no row is favoured across
// jobs (ordering by pseudonym would give the same rows every remainder).
func remainderRows(key []byte, job uint64, dataset string, cohort []string, r int) []string {
	if r == 0 {
		return []string{}
	}
	type ranked struct {
		rank [32]byte
		p    string
	}
	rs := make([]ranked, len(cohort))
	for i, p := range cohort {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(remainderDomain))
		m.Write(binary.BigEndian.AppendUint64(nil, job))
		m.Write(append([]byte(dataset), 0))
		m.Write([]byte(p))
		rs[i] = ranked{p: p}
		m.Sum(rs[i].rank[:0])
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		if c := bytes.Compare(a.rank[:], b.rank[:]); c != 0 {
			return c
		}
		return strings.Compare(a.p, b.p)
	})
	out := make([]string, r)
	for i := range out {
		out[i] = rs[i].p
	}
	slices.Sort(out)
	return out
}

const remainderDomain = "medchain/rewards/v2/remainder\x00"

// Settled reports whether a job's site has paid its pool share in: the
// job has closed on the ledger with a result for the site (a site with a
// result is paid whatever happens to the rest of the job). A release
// whose result never reached the ledger earns nothing.
type Settled func(job uint64, dataset string) (bool, error)

// earned is what each of the pseudonyms earned in settled jobs, in tokens.
func (t *Tally) earned(pseudonyms []string, settled Settled) (map[string]uint64, error) {
	out := make(map[string]uint64, len(pseudonyms))
	for i := range t.Entries {
		e := &t.Entries[i]
		ok, err := settled(e.Job, e.Dataset)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		for _, p := range pseudonyms {
			out[p] += e.Earned(p) // at most the pools' sum: no overflow
		}
	}
	return out, nil
}

// Balance is what a patient whose rows carry pseudonyms may still claim.
func (t *Tally) Balance(pseudonyms []string, settled Settled) (uint64, error) {
	earned, err := t.earned(pseudonyms, settled)
	if err != nil {
		return 0, err
	}
	var sum uint64
	for _, p := range distinct(pseudonyms) {
		sum += earned[p] - min(earned[p], t.Paid[p])
	}
	return sum, nil
}

// Used lists the entries (job, dataset) whose cohorts hold any of the
// pseudonyms, settled or not, without amounts: what one use earned is
// about share / cohort, so it is not shown per use, only summed into the
// balance.
func (t *Tally) Used(pseudonyms []string) []Entry {
	var out []Entry
	for _, e := range t.Entries {
		if slices.ContainsFunc(pseudonyms, func(p string) bool { _, in := slices.BinarySearch(e.Cohort, p); return in }) {
			out = append(out, Entry{Job: e.Job, Dataset: e.Dataset})
		}
	}
	return out
}

// Denominate splits an amount into notes' amounts: the fewest of
// ledger.RewardDenominations (powers of two) of at least unit, largest
// first — the binary digits of the amount, with as many of the largest
// denomination as it takes; what is below unit is left out (it stays in
// the tally).
func Denominate(amount, unit uint64) []uint64 {
	var out []uint64
	for i := len(ledger.RewardDenominations) - 1; i >= 0; i-- {
		d := ledger.RewardDenominations[i]
		if d < unit {
			break
		}
		for amount >= d {
			out = append(out, d)
			amount -= d
		}
	}
	return out
}

// IssueRequest is what notes are issued on: the patient's verified
// request (Request.Verify, Tally.Admit) and the pseudonyms linked to their
// wallet.
type IssueRequest struct {
	Wallet     string
	Recipient  string
	Unit       uint64 // the smallest denomination to pay in (Request.Unit)
	Notes      int    // at most this many notes, the largest first (0: up to MaxVouchers)
	Pseudonyms []string
}

// Issue pays the patient's balance out in notes to the recipient — all of
// it, or the req.Notes largest notes of it — signed by key for org on
// chainID, with nullifiers from rand, and records them as paid. The caller
// saves the tally before handing the notes out.
func (t *Tally) Issue(req IssueRequest, org, chainID string, key ed25519.PrivateKey, settled Settled, rand io.Reader) ([]ledger.Voucher, error) {
	ps := distinct(req.Pseudonyms)
	earned, err := t.earned(ps, settled)
	if err != nil {
		return nil, err
	}
	var balance uint64
	for _, p := range ps {
		balance += earned[p] - min(earned[p], t.Paid[p])
	}
	amounts := Denominate(balance, req.Unit)
	limit := MaxVouchers
	if req.Notes > 0 {
		limit = min(limit, req.Notes)
	}
	if len(amounts) > limit {
		amounts = amounts[:limit] // the largest first; the rest waits for the next request
	}
	vs := make([]ledger.Voucher, len(amounts))
	var total uint64
	for i, a := range amounts {
		var n [32]byte
		if _, err := io.ReadFull(rand, n[:]); err != nil {
			return nil, fmt.Errorf("rewards: nullifier: %w", err)
		}
		vs[i] = ledger.Voucher{Org: org, Amount: a, Recipient: req.Recipient, Nullifier: hex.EncodeToString(n[:])}
		ledger.SignVoucher(key, chainID, &vs[i])
		total += a
	}
	if t.Paid == nil {
		t.Paid = map[string]uint64{}
	}
	for _, p := range ps { // debit the rows in pseudonym order
		take := min(total, earned[p]-min(earned[p], t.Paid[p]))
		t.Paid[p] += take
		total -= take
	}
	if len(vs) > 0 {
		t.Issued = append(t.Issued, Issued{Wallet: req.Wallet, Vouchers: vs})
	}
	return vs, nil
}

// Outstanding are the notes issued to wallet's requests not yet pruned as
// claimed, oldest first.
func (t *Tally) Outstanding(wallet string) []ledger.Voucher {
	var out []ledger.Voucher
	for _, is := range t.Issued {
		if is.Wallet == wallet {
			out = append(out, is.Vouchers...)
		}
	}
	return out
}

// Prune forgets wallet's issued notes that spent says are claimed (their
// nullifier is spent on the ledger).
func (t *Tally) Prune(wallet string, spent func(nullifier string) (bool, error)) error {
	for i := range t.Issued {
		is := &t.Issued[i]
		if is.Wallet != wallet {
			continue
		}
		var keep []ledger.Voucher
		for _, v := range is.Vouchers {
			ok, err := spent(v.Nullifier)
			if err != nil {
				return err
			}
			if !ok {
				keep = append(keep, v)
			}
		}
		is.Vouchers = keep
	}
	t.Issued = slices.DeleteFunc(t.Issued, func(is Issued) bool { return len(is.Vouchers) == 0 })
	return nil
}

// Seen is a request answered: its signer's wallet, its id, and the time
// (unix seconds) after which its window is closed and it could not be
// verified again anyway.
type Seen struct {
	Wallet string `json:"wallet"`
	ID     string `json:"id"`
	Until  int64  `json:"until"`
}

// ErrReplayed is matched by Admit's error for a request answered before.
var ErrReplayed = errors.New("rewards: request already answered")

// Admit records a verified request (the signer's wallet and r's id) as
// answered, or refuses it if it was answered before: a signed request is
// good once. It is remembered for as long as Verify would accept its time,
// and forgotten after; the memory is in the tally, sealed and saved with
// the answer's effects, so it survives a restart.
func (t *Tally) Admit(wallet string, r *Request, now time.Time) error {
	n := now.Unix()
	t.Seen = slices.DeleteFunc(t.Seen, func(s Seen) bool { return s.Until < n })
	for _, s := range t.Seen {
		if s.Wallet == wallet && s.ID == r.ID {
			return fmt.Errorf("%w: sign each request afresh (a new id)", ErrReplayed)
		}
	}
	t.Seen = append(t.Seen, Seen{Wallet: wallet, ID: r.ID, Until: r.Time + int64(MaxRequestAge/time.Second)})
	return nil
}

// MaxVouchers bounds the vouchers one request gets (each is a claim
// transaction the patient sends).
const MaxVouchers = 64

func distinct(ps []string) []string {
	c := slices.Clone(ps)
	slices.Sort(c)
	return slices.Compact(c)
}
