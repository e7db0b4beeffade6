package compute

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/gbt"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/receipts"
	"github.com/medchain/medchain/rewards"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vocab"
)

// Usage receipts and reward tallies (issue 12). With every release the
// worker (1) records in the institution's sealed tally what the cohort's
// rows earned (the site's patient-pool share, split per row), together with
// the receipt set it is about to publish, (2) posts the result, (3) posts
// the receipt set (one tag per linked patient of the cohort, padded to the
// version's band top) and clears it from the tally. A worker that stops
// between (2) and (3) posts the set on its next run (postPendingReceipts).

// ReceiptLedger is what receipts need of the ledger beyond Backend:
// accounts (the linked patients' encryption keys) and a site's receipt set.
// *client.Client implements it.
type ReceiptLedger interface {
	Account(ctx context.Context, addr string) (*ledger.Account, error)
	ReceiptSet(ctx context.Context, job uint64, dataset string) (*api.ReceiptView, error)
	Chain(ctx context.Context) (string, error)
	Submit(ctx context.Context, tx []byte, wait bool) (*api.TxSubmitted, error)
	Tx(ctx context.Context, hash string) (*ledger.TxRecord, error)
}

var _ ReceiptLedger = (*client.Client)(nil)

// released is what a release leaves for receipts and rewards: the cohort's
// pseudonyms and the version's record band.
type released struct {
	cohort []string
	band   string
}

// cohortRows is the rows a release used: the design's rows for a
// regression (its complete cases under the filter), the filter's cohort
// otherwise. t is already narrowed to the consented rows.
func cohortRows(j *ledger.Job, t *analysis.Table) ([]bool, error) {
	switch j.Analysis {
	case "logistic_regression", "linear_regression":
		var p regressionParams
		if err := decodeParams(j.Params, &p); err != nil {
			return nil, err
		}
		d, err := analysis.NewFactorDesign(t, p.Outcome, p.Features, p.Factors, p.Filter)
		if err != nil {
			return nil, err
		}
		return d.Rows(), nil
	case "boosted_trees":
		var p gbt.Params
		if err := decodeParams(j.Params, &p); err != nil {
			return nil, err
		}
		d, err := analysis.NewDesign(t, p.Outcome, p.Features, nil)
		if err != nil {
			return nil, err
		}
		return d.Rows(), nil
	}
	var p struct {
		Filter analysis.Filter `json:"filter"`
	}
	_ = json.Unmarshal(j.Params, &p) // the analysis decoded the params strictly
	return t.Select(p.Filter)
}

// cohortPseudonyms lists the pseudonyms of the version's rows flagged in rows.
func cohortPseudonyms(v *vault.Version, rows []bool) ([]string, error) {
	var out []string
	i := 0
	for c, err := range v.Pseudonyms() {
		if err != nil {
			return nil, err
		}
		for r := 0; r < c.Rows; r++ {
			if i < len(rows) && rows[i] {
				out = append(out, c.Strs[r])
			}
			i++
		}
	}
	return out, nil
}

// rewardStores shares one Store per tally file within the process, so the
// workers and the node's reward desk serialise their updates.
var rewardStores sync.Map // path → *rewards.Store

// RewardStore opens the organisation's reward tally in the vault
// (<vault>/rewards/<org>.tally), sealed under a key derived from the vault
// secret.
func RewardStore(v *vault.Vault, org string) (*rewards.Store, error) {
	path := filepath.Join(v.Root(), "rewards", org+".tally")
	if s, ok := rewardStores.Load(path); ok {
		return s.(*rewards.Store), nil
	}
	secret, err := v.Secret()
	if err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "medchain/compute/rewards-tally/v1/"+org, 32)
	if err != nil {
		return nil, err
	}
	s, err := rewards.OpenStore(path, [32]byte(key))
	if err != nil {
		return nil, err
	}
	actual, _ := rewardStores.LoadOrStore(path, s)
	return actual.(*rewards.Store), nil
}

// receiptSet builds the site's receipt set: a tag for each row of the
// cohort whose pseudonym is linked to a registered wallet, padded to the
// band's top with random tags, sorted.
func (w *Worker) receiptSet(ctx context.Context, chainID string, j *ledger.Job, site ledger.JobSite, rel *released) ([]byte, error) {
	size, ok := ledger.ReceiptSetSize(rel.band)
	if !ok {
		return nil, nil // the ledger keeps no receipts for this band (docs/patients.md)
	}
	rl, ok := w.Ledger.(ReceiptLedger)
	if !ok {
		return nil, errors.New("the ledger backend cannot read accounts and receipts")
	}
	id, err := vault.NewIdentity(w.Key.Enc)
	if err != nil {
		return nil, err
	}
	links, err := w.Vault.Links(site.Org, id)
	if err != nil {
		return nil, err
	}
	var tags []receipts.Tag
	seen := map[string]bool{}
	for _, p := range rel.cohort {
		wallet, ok := links.Wallet(p)
		if !ok || seen[wallet] {
			continue
		}
		seen[wallet] = true
		a, err := rl.Account(ctx, wallet)
		if client.IsNotFound(err) {
			continue // linked to a wallet not (or no longer) on the ledger
		}
		if err != nil {
			return nil, err
		}
		k, err := receipts.WorkerKey(w.Key.Enc, a.EncKey)
		if errors.Is(err, receipts.ErrKey) {
			continue
		}
		if err != nil {
			return nil, err
		}
		tags = append(tags, receipts.TagFor(k, chainID, j.ID, site.Dataset))
	}
	return receipts.Pad(tags, size, rand.Reader)
}

// recordRelease adds the release to the tally with its pending receipt
// set, before the result is posted: a release is never posted unrecorded.
func (w *Worker) recordRelease(j *ledger.Job, site ledger.JobSite, rel *released, set []byte) error {
	st, err := RewardStore(w.Vault, w.Org)
	if err != nil {
		return err
	}
	return st.Update(func(t *rewards.Tally) error {
		if err := t.Accrue(j.ID, site.Dataset, site.PoolShare(), rel.cohort); err != nil {
			return err
		}
		t.SetPending(j.ID, site.Dataset, set)
		return nil
	})
}

// postResultWithReceipts posts a release's result and, right behind it,
// its receipt set: every transaction signed at once with consecutive
// nonces and sent without waiting but for the last, so that the set
// reaches the result's block or the next (the mempool admits a signer's
// transactions in sequence) and a patient sees the use within about a
// block of the release. The result goes through SignAndSubmit like every
// other transaction of the worker.
func (w *Worker) postResultWithReceipts(ctx context.Context, msg *ledger.PostResult, set []byte) error {
	rl, ok := w.Ledger.(ReceiptLedger)
	if !ok {
		return errors.New("the ledger backend cannot read accounts and receipts")
	}
	acct, err := rl.Account(ctx, w.Key.Address())
	if err != nil {
		return err
	}
	r, err := w.Ledger.SignAndSubmit(ctx, w.Key, msg, false) // signed with acct.Nonce
	if err != nil {
		return fmt.Errorf("%s: %w", msg.Type(), err)
	}
	if err := w.sendReceipts(ctx, rl, msg.Job, msg.Dataset, set, 0, acct.Nonce+1); err != nil {
		return err // the next run posts what is missing (postPendingReceipts)
	}
	// The last part is committed, so the result before it is too.
	rec, err := rl.Tx(ctx, r.Hash)
	if err != nil {
		return fmt.Errorf("%s: %w", msg.Type(), err)
	}
	if rec.Code != ledger.CodeOK {
		return fmt.Errorf("%s: %w", msg.Type(), &client.Error{Code: uint32(rec.Code), Name: rec.Code.String(), Message: rec.Log})
	}
	return w.clearPending(msg.Job, msg.Dataset)
}

// postReceipts posts the rest of a site's receipt set: from the first part
// the ledger does not have, with the worker's next nonce.
func (w *Worker) postReceipts(ctx context.Context, job uint64, dataset string, set []byte) error {
	rl, ok := w.Ledger.(ReceiptLedger)
	if !ok {
		return errors.New("the ledger backend cannot read accounts and receipts")
	}
	var from uint32
	switch v, err := rl.ReceiptSet(ctx, job, dataset); {
	case err == nil:
		from = v.Posted
	case !client.IsNotFound(err):
		return err
	}
	acct, err := rl.Account(ctx, w.Key.Address())
	if err != nil {
		return err
	}
	if err := w.sendReceipts(ctx, rl, job, dataset, set, int(from), acct.Nonce); err != nil {
		return err
	}
	return w.clearPending(job, dataset)
}

// sendReceipts signs parts from..last of a set with nonces from nonce on
// and submits them, waiting for the last to commit.
func (w *Worker) sendReceipts(ctx context.Context, rl ReceiptLedger, job uint64, dataset string, set []byte, from int, nonce uint64) error {
	chain, err := rl.Chain(ctx)
	if err != nil {
		return err
	}
	per := ledger.ReceiptTagsPerPart * ledger.ReceiptTagSize
	for part := from; part*per < len(set); part++ {
		tags := set[part*per : min(len(set), (part+1)*per)]
		raw, err := ledger.SignTx(w.Key.Sign, chain, nonce, &ledger.PostReceipts{Job: job, Dataset: dataset, Part: uint32(part), Tags: tags})
		if err != nil {
			return err
		}
		nonce++
		r, err := rl.Submit(ctx, raw, (part+1)*per >= len(set))
		if err == nil {
			err = client.ResultError(r)
		}
		if err != nil {
			return fmt.Errorf("post_receipts part %d: %w", part, err)
		}
	}
	return nil
}

// clearPending forgets a receipt set once it is all on the ledger.
func (w *Worker) clearPending(job uint64, dataset string) error {
	st, err := RewardStore(w.Vault, w.Org)
	if err != nil {
		return err
	}
	return st.Update(func(t *rewards.Tally) error { t.SetPending(job, dataset, nil); return nil })
}

// postPendingReceipts posts the receipt sets of results this worker posted
// whose receipts did not all reach the ledger (a crash in between), and
// forgets those of releases whose result never made it.
func (w *Worker) postPendingReceipts(ctx context.Context) error {
	st, err := RewardStore(w.Vault, w.Org)
	if err != nil {
		return err
	}
	var pending []rewards.Pending
	if err := st.View(func(t *rewards.Tally) error { pending = slices.Clone(t.Pending); return nil }); err != nil {
		return err
	}
	var errs []error
	for _, p := range pending {
		j, err := w.Ledger.Job(ctx, p.Job)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		i := slices.IndexFunc(j.Sites, func(s ledger.JobSite) bool { return s.Dataset == p.Dataset })
		if i < 0 || j.Sites[i].Result == nil {
			if j.Status != ledger.JobAdmitted { // closed without this release: it earned nothing
				if err := st.Update(func(t *rewards.Tally) error { t.Forget(p.Job, p.Dataset); return nil }); err != nil {
					errs = append(errs, err)
				}
			}
			continue // not posted yet: the site runs again and replaces the entry
		}
		if j.Sites[i].Result.Worker != w.Key.Address() {
			continue // another worker of the organisation posted it, with its own set
		}
		if err := w.postReceipts(ctx, p.Job, p.Dataset, p.Tags); err != nil {
			errs = append(errs, fmt.Errorf("receipts of job %d %s: %w", p.Job, p.Dataset, err))
		}
	}
	return errors.Join(errs...)
}

// RewardDesk answers patients' signed reward requests for the
// organisations whose worker keys a node holds (<home>/keys/<org>-worker).
type RewardDesk struct {
	KeysDir string
	Vault   *vault.Vault
	Ledger  interface {
		Status(ctx context.Context) (*api.NodeStatus, error)
		Account(ctx context.Context, addr string) (*ledger.Account, error)
		Job(ctx context.Context, id uint64) (*ledger.Job, error)
		StateProof(ctx context.Context, key string) (*ledger.StateProof, error)
	}
	Now func() time.Time // nil: time.Now
}

// Orgs are the organisations the desk answers for: those whose worker
// key (<KeysDir>/<org>-worker) it holds.
func (d *RewardDesk) Orgs() ([]string, error) {
	names, err := keys.List(d.KeysDir)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, n := range names {
		if org, ok := strings.CutSuffix(n, "-worker"); ok && vocab.IsID(org) {
			out = append(out, org)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Rewards verifies a request and answers it from the organisation's tally:
// the wallet's balance and uses, and for a vouchers request the vouchers
// (recorded as paid before they are returned).
func (d *RewardDesk) Rewards(ctx context.Context, req *rewards.Request) (*rewards.Answer, error) {
	if !vocab.IsID(req.Org) {
		return nil, &rewards.RequestError{Field: "org", Problem: "not an organisation id"}
	}
	key, err := keys.Load(d.KeysDir, req.Org+"-worker")
	if errors.Is(err, keys.ErrNotFound) {
		return nil, fmt.Errorf("%w: this node runs no worker of %q", rewards.ErrNoTally, req.Org)
	}
	if err != nil {
		return nil, err
	}
	stat, err := d.Ledger.Status(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	wallet, err := req.Verify(stat.ChainID, req.Org, now())
	if err != nil {
		return nil, err
	}
	acct, err := d.Ledger.Account(ctx, wallet)
	if client.IsNotFound(err) || err == nil && acct.Kind != ledger.KindPatient {
		return nil, &rewards.RequestError{Field: "pub_key", Problem: "not a registered patient account"}
	}
	if err != nil {
		return nil, err
	}
	id, err := vault.NewIdentity(key.Enc)
	if err != nil {
		return nil, err
	}
	links, err := d.Vault.Links(req.Org, id)
	if err != nil {
		return nil, err
	}
	var pseudonyms []string
	for _, l := range links.Links {
		if l.Wallet == wallet {
			pseudonyms = append(pseudonyms, l.Pseudonym)
		}
	}
	if len(pseudonyms) == 0 {
		return nil, fmt.Errorf("%w: the wallet is linked to no record of %q", rewards.ErrNoTally, req.Org)
	}
	jobs := map[uint64]*ledger.Job{}
	settled := func(job uint64, dataset string) (bool, error) {
		j, ok := jobs[job]
		if !ok {
			var err error
			if j, err = d.Ledger.Job(ctx, job); err != nil {
				return false, err
			}
			jobs[job] = j
		}
		return j.Status != ledger.JobAdmitted && slices.ContainsFunc(j.Sites, func(s ledger.JobSite) bool {
			return s.Dataset == dataset && s.Result != nil && s.Excluded == ""
		}), nil
	}
	st, err := RewardStore(d.Vault, req.Org)
	if err != nil {
		return nil, err
	}
	a := &rewards.Answer{Org: req.Org, Wallet: wallet, Uses: []rewards.Use{}}
	err = st.Update(func(t *rewards.Tally) error {
		// A request is answered once (its id is remembered, sealed in the
		// tally, until its time would no longer verify): a copy of it
		// replayed within its window gets nothing, not even the balance.
		if err := t.Admit(wallet, req, now()); err != nil {
			return err
		}
		for _, e := range t.Used(pseudonyms) {
			s, err := settled(e.Job, e.Dataset)
			if err != nil {
				return err
			}
			a.Uses = append(a.Uses, rewards.Use{Job: e.Job, Dataset: e.Dataset, Settled: s})
		}
		if req.Action == rewards.ActionVouchers {
			// Notes issued before and not claimed on the ledger are
			// offered again (before the new ones are recorded).
			if err := t.Prune(wallet, func(n string) (bool, error) {
				p, err := d.Ledger.StateProof(ctx, string(ledger.KeyNullifier(n)))
				return err == nil && p.Value != nil, err
			}); err != nil {
				return err
			}
			a.Outstanding = t.Outstanding(wallet)
			vs, err := t.Issue(rewards.IssueRequest{Wallet: wallet, Recipient: req.Recipient, Unit: req.Unit, Notes: int(req.Notes), Pseudonyms: pseudonyms},
				req.Org, stat.ChainID, key.Sign, settled, rand.Reader)
			if err != nil {
				return err
			}
			a.Vouchers = vs
		}
		a.Balance, err = t.Balance(pseudonyms, settled)
		return err
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}
