// Package rewards is the data holder's side of patient rewards: the
// private tally of what each patient's records earned, and the vouchers
// it signs on a patient's signed request (ledger.ClaimReward redeems them).
//
// The tally never leaves the institution: it is kept sealed on its node
// (Store). Each released contribution adds an Entry: the job's site, the
// patient share the site pays into the pool, and the cohort's pseudonyms.
// Each row of the cohort earns share / cohort size, counted in millionths
// of a token (rounded down), so that a small share over a large cohort
// still accrues. Rows are identified by pseudonym, so a patient linked
// after a job still collects what their records earned. A row's balance is
// the whole tokens of what it earned in jobs that have settled, less what
// vouchers paid; the fractions (under one token per row, and the
// millionths lost to rounding) stay in the pool.
//
// Vouchers come in ledger.RewardDenominations and each carries a random
// nullifier, so a claim says only "this organisation paid this recipient
// one denomination" — not which job, dataset or cohort earned it.
package rewards

import (
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"

	"github.com/medchain/medchain/ledger"
)

// Entry is one released contribution's earnings.
type Entry struct {
	Job     uint64   `json:"job"`
	Dataset string   `json:"dataset"`
	Share   uint64   `json:"share"`         // the patient share the site pays into the pool
	PerRow  uint64   `json:"per_row_micro"` // floor(Share × Micro / splitOf(len(Cohort)))
	Cohort  []string `json:"cohort"`        // pseudonyms, sorted, distinct
}

// Issued is a voucher request answered: kept so that a retried request
// gets the same vouchers rather than new ones.
type Issued struct {
	Wallet   string           `json:"wallet"`
	Request  string           `json:"request"`
	Vouchers []ledger.Voucher `json:"vouchers"`
}

// Tally is an institution's private record of patient earnings.
type Tally struct {
	Entries []Entry           `json:"entries"`
	Paid    map[string]uint64 `json:"paid"` // by pseudonym: paid out in vouchers
	Issued  []Issued          `json:"issued"`
	// Pending are receipt sets recorded with their release and not yet
	// all on the ledger (the worker posts them after the result).
	Pending []Pending `json:"pending,omitempty"`
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
// and dataset replaces the first (a worker retrying after a crash).
func (t *Tally) Accrue(job uint64, dataset string, share uint64, cohort []string) error {
	c := slices.Clone(cohort)
	slices.Sort(c)
	c = slices.Compact(c)
	if len(c) == 0 {
		return ErrEmptyCohort
	}
	// Each row earns the share divided by the cohort's size rounded up to
	// a power of two, not by its exact size: a patient sees what a use
	// earned them and the share is public, so an exact division would tell
	// them the exact cohort — a count the output controls may have noised
	// or refused. What the rounding leaves stays in the pool.
	div := splitOf(len(c))
	hi, lo := bits.Mul64(share, Micro)
	if hi >= div {
		return fmt.Errorf("rewards: a share of %d is too large to split", share)
	}
	per, _ := bits.Div64(hi, lo, div)
	e := Entry{Job: job, Dataset: dataset, Share: share, PerRow: per, Cohort: c}
	t.Entries = slices.DeleteFunc(t.Entries, func(x Entry) bool { return x.Job == job && x.Dataset == dataset })
	t.Entries = append(t.Entries, e)
	return nil
}

// Micro is the tally's unit: a millionth of a token.
const Micro = 1_000_000

// Settled reports whether a job's site has paid its pool share in: the
// job has closed on the ledger with a result for the site (a site with a
// result is paid whatever happens to the rest of the job). A release
// whose result never reached the ledger earns nothing.
type Settled func(job uint64, dataset string) (bool, error)

// earned is what each of the pseudonyms earned in settled jobs, in whole
// tokens (its millionths rounded down).
func (t *Tally) earned(pseudonyms []string, settled Settled) (map[string]uint64, error) {
	out := make(map[string]uint64, len(pseudonyms))
	micro := make(map[string]uint64, len(pseudonyms))
	for _, e := range t.Entries {
		ok, err := settled(e.Job, e.Dataset)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		for _, p := range pseudonyms {
			if _, in := slices.BinarySearch(e.Cohort, p); in {
				micro[p] += e.PerRow // at most the pools' sum × Micro: no overflow below 2^44 tokens
			}
		}
	}
	for p, m := range micro {
		out[p] = m / Micro
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
// pseudonyms, settled or not: the patient's own view of their earnings.
func (t *Tally) Used(pseudonyms []string) []Entry {
	var out []Entry
	for _, e := range t.Entries {
		if slices.ContainsFunc(pseudonyms, func(p string) bool { _, in := slices.BinarySearch(e.Cohort, p); return in }) {
			out = append(out, Entry{Job: e.Job, Dataset: e.Dataset, PerRow: e.PerRow})
		}
	}
	return out
}

// Denominate splits an amount into vouchers' amounts: the fewest of
// ledger.RewardDenominations of at least unit, largest first; what is
// below unit is left out (it stays in the tally).
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

// IssueRequest is what a voucher is issued on: the patient's verified
// request (VerifyRequest) and the pseudonyms linked to their wallet.
type IssueRequest struct {
	Wallet     string
	Recipient  string
	Request    string // the request's id, for idempotence
	Unit       uint64 // the smallest denomination to pay in (Request.Unit)
	Pseudonyms []string
}

// Issue pays the patient's whole balance out in vouchers to the recipient,
// signed by key for org on chainID, with nullifiers from rand, and records
// them as paid. A request id seen before returns the vouchers it got then.
// The caller saves the tally before handing the vouchers out.
func (t *Tally) Issue(req IssueRequest, org, chainID string, key ed25519.PrivateKey, settled Settled, rand io.Reader) ([]ledger.Voucher, error) {
	for _, is := range t.Issued {
		if is.Wallet == req.Wallet && is.Request == req.Request {
			return is.Vouchers, nil
		}
	}
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
	if len(amounts) > MaxVouchers {
		amounts = amounts[:MaxVouchers] // the largest first; the rest waits for the next request
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
	t.Issued = append(t.Issued, Issued{Wallet: req.Wallet, Request: req.Request, Vouchers: vs})
	return vs, nil
}

// MaxVouchers bounds the vouchers one request gets (each is a claim
// transaction the patient sends).
const MaxVouchers = 64

func distinct(ps []string) []string {
	c := slices.Clone(ps)
	slices.Sort(c)
	return slices.Compact(c)
}

// splitOf is what a share is divided by for a cohort of n rows: n rounded
// up to a power of two, so a row's earnings tell only that bracket.
func splitOf(n int) uint64 {
	return uint64(1) << bits.Len64(uint64(max(n, 1)-1))
}
