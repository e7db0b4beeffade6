package deal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vocab"
)

// Backend is what the delivering worker reads of the ledger and submits to
// it. *client.Client implements it.
type Backend interface {
	Status(ctx context.Context) (*api.NodeStatus, error)
	Worker(ctx context.Context, addr string) (*ledger.Worker, error)
	Deals(ctx context.Context, f client.DealFilter) ([]ledger.Deal, error)
	Acceptances(ctx context.Context, deal uint64, status string) ([]ledger.Acceptance, error)
	DatasetVersion(ctx context.Context, id string, version uint64) (*ledger.DatasetVersion, error)
	SignAndSubmit(ctx context.Context, key *keys.Key, msg ledger.Msg, wait bool) (*api.TxSubmitted, error)
}

var _ Backend = (*client.Client)(nil)

// Store keeps delivered ciphertexts under their hash (the node's results
// store, *compute.ResultStore, which the API serves rows from).
type Store interface {
	Put(ciphertext []byte) (hash string, err error)
}

// Deliverer is the worker's delivery of accepted deal records for its
// organisation's datasets.
type Deliverer struct {
	Key    *keys.Key    // the worker account's key: signs deliveries, opens data and link table keys
	Org    string       // the organisation it works for
	Vault  *vault.Vault // the institution's vault
	Ledger Backend
	Store  Store
	// Profiles returns the de-identification profile whose hash a dataset
	// version names (ledger DeidProfile); nil knows only Safe Harbor.
	Profiles func(hash string) (*deid.Rules, error)
	Log      *slog.Logger // nil = discard; never given a pseudonym, a wallet's row or a value
}

// Outcome is what one run did with one deal's acceptances at this
// institution. Counts only: which patient was or was not delivered is on
// the ledger for the deal's parties, not in logs.
type Outcome struct {
	Deal      uint64 `json:"deal"`
	Delivered int    `json:"delivered"`
	// Declined counts pending acceptances the institution holds no record
	// for (the wallet is not linked to one of its patients, or the
	// accepted version has no row for them): declined on the ledger
	// (decline_acceptances), which frees their places in the deal.
	Declined int `json:"declined"`
	// Skipped counts pending acceptances left pending, by reason:
	// row_too_large, field_refused (the dataset's profile does not
	// de-identify an asked field into something a deal may carry).
	Skipped map[string]int `json:"skipped,omitempty"`
}

// Errors RunOnce stops on.
var (
	ErrNotRegistered = errors.New("the worker key is not a registered worker of the organisation")
	ErrFieldRefused  = errors.New("an asked field is not de-identified into a value a deal may carry")
)

func (d *Deliverer) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

// RunOnce delivers every pending acceptance of every open deal whose
// record is in one of the organisation's datasets. A deal whose delivery
// fails for a transient reason (the ledger, the disk) is left for the next
// run and its error returned with the others.
func (d *Deliverer) RunOnce(ctx context.Context) ([]Outcome, error) {
	reg, err := d.Ledger.Worker(ctx, d.Key.Address())
	if client.IsNotFound(err) || err == nil && reg.Org != d.Org {
		return nil, fmt.Errorf("%w: %s, %s", ErrNotRegistered, d.Key.Address(), d.Org)
	}
	if err != nil {
		return nil, err
	}
	st, err := d.Ledger.Status(ctx)
	if err != nil {
		return nil, err
	}
	deals, err := d.Ledger.Deals(ctx, client.DealFilter{Status: ledger.DealOpen})
	if err != nil {
		return nil, err
	}
	var wallets map[string]string // wallet → pseudonym, read once per run when first needed
	var out []Outcome
	var errs []error
	for _, dl := range deals {
		// A delivery is committed in a later block than the latest: one
		// that would land at or after the expiry is not attempted.
		if st.Height+1 >= dl.Expires {
			continue
		}
		acc, err := d.Ledger.Acceptances(ctx, dl.ID, ledger.AcceptancePending)
		if err != nil {
			errs = append(errs, fmt.Errorf("deal %d: %w", dl.ID, err))
			continue
		}
		acc = slices.DeleteFunc(acc, func(a ledger.Acceptance) bool { return a.Org != d.Org })
		if len(acc) == 0 {
			continue
		}
		if wallets == nil {
			if wallets, err = d.wallets(); err != nil {
				return out, err
			}
		}
		o, err := d.deliver(ctx, &dl, acc, wallets)
		if err != nil {
			d.log().Warn("deal delivery not done; will retry", "deal", dl.ID, "err", err)
			errs = append(errs, fmt.Errorf("deal %d: %w", dl.ID, err))
		}
		if o.Delivered > 0 || o.Declined > 0 || len(o.Skipped) > 0 {
			d.log().Info("deal delivery", "deal", o.Deal, "delivered", o.Delivered, "declined", o.Declined, "skipped", o.Skipped)
			out = append(out, o)
		}
	}
	return out, errors.Join(errs...)
}

// wallets inverts the organisation's link table: the worker's key opens
// it (the institution shares it with its workers when linking).
func (d *Deliverer) wallets() (map[string]string, error) {
	id, err := vault.NewIdentity(d.Key.Enc)
	if err != nil {
		return nil, err
	}
	links, err := d.Vault.Links(d.Org, id)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(links.Links))
	for _, l := range links.Links {
		m[l.Wallet] = l.Pseudonym
	}
	return m, nil
}

// deliver delivers one deal's pending acceptances at this organisation,
// dataset version by dataset version, in transactions of at most
// ledger.MaxDeliveryRows rows.
func (d *Deliverer) deliver(ctx context.Context, dl *ledger.Deal, acc []ledger.Acceptance, wallets map[string]string) (Outcome, error) {
	o := Outcome{Deal: dl.ID, Skipped: map[string]int{}}
	type site struct {
		dataset string
		version uint64
	}
	bySite := map[site][]ledger.Acceptance{}
	var order []site
	for _, a := range acc {
		s := site{a.Dataset, a.Version}
		if _, ok := bySite[s]; !ok {
			order = append(order, s)
		}
		bySite[s] = append(bySite[s], a)
	}
	var rows []ledger.DeliveredRow
	var missing []string
	for _, s := range order {
		dv, err := d.Ledger.DatasetVersion(ctx, s.dataset, s.version)
		if err != nil {
			return o, err
		}
		got, miss, err := d.Prepare(dl, dv, bySite[s], wallets, o.Skipped)
		if errors.Is(err, ErrFieldRefused) {
			o.Skipped["field_refused"] += len(bySite[s])
			d.log().Warn("deal fields refused by the dataset's profile", "deal", dl.ID, "dataset", s.dataset, "err", err)
			continue
		}
		if err != nil {
			return o, err
		}
		rows = append(rows, got...)
		missing = append(missing, miss...)
	}
	for batch := range slices.Chunk(rows, ledger.MaxDeliveryRows) {
		r, err := d.Ledger.SignAndSubmit(ctx, d.Key, &ledger.DeliverDealRows{Deal: dl.ID, Rows: batch}, true)
		if err == nil {
			err = client.ResultError(r)
		}
		if err != nil {
			return o, fmt.Errorf("deliver_deal_rows: %w", err)
		}
		o.Delivered += len(batch)
	}
	for batch := range slices.Chunk(missing, ledger.MaxDeliveryRows) {
		r, err := d.Ledger.SignAndSubmit(ctx, d.Key, &ledger.DeclineAcceptances{Deal: dl.ID, Patients: batch}, true)
		if err == nil {
			err = client.ResultError(r)
		}
		if err != nil {
			return o, fmt.Errorf("decline_acceptances: %w", err)
		}
		o.Declined += len(batch)
	}
	if len(o.Skipped) == 0 {
		o.Skipped = nil
	}
	return o, nil
}

// Prepare makes the rows of acceptances of one dataset version (as the
// ledger describes it): each
// patient's row found through the link table (wallet → pseudonym), only
// the deal's fields, as de-identified under the version's profile, sealed
// to the buyer and stored. It returns the rows to deliver and the wallets
// it holds no record for (to decline), sorted by address, and counts in
// skipped the rows it leaves pending, by reason. Nothing read from the
// vault leaves this function except inside a ciphertext.
func (d *Deliverer) Prepare(dl *ledger.Deal, dv *ledger.DatasetVersion, acc []ledger.Acceptance,
	wallets map[string]string, skipped map[string]int) (rows []ledger.DeliveredRow, missing []string, err error) {
	dataset, version := dv.Dataset, dv.Version
	if err := d.checkFields(dv, dl.Fields); err != nil {
		return nil, nil, err
	}
	want := map[string]string{} // pseudonym → wallet
	for _, a := range acc {
		p, ok := wallets[a.Patient]
		if !ok {
			missing = append(missing, a.Patient)
			continue
		}
		want[p] = a.Patient
	}
	if len(want) == 0 {
		slices.Sort(missing)
		return nil, missing, nil
	}
	id, err := vault.NewIdentity(d.Key.Enc)
	if err != nil {
		return nil, nil, err
	}
	v, err := d.Vault.Open(dataset, version, dv.ContentRoot, id)
	if err != nil {
		return nil, nil, err
	}
	schema := v.Schema()
	pos := make([]int, len(dl.Fields))
	for i, f := range dl.Fields {
		if pos[i] = slices.IndexFunc(schema, func(x vocab.Field) bool { return x.Name == f }); pos[i] < 0 {
			return nil, nil, fmt.Errorf("%w: dataset %s version %d's vault has no column %q", ErrFieldRefused, dataset, version, f)
		}
	}
	type job struct {
		wallet string
		row    *Row
	}
	var jobs []job
	for row, err := range v.Rows() {
		if err != nil {
			return nil, nil, err
		}
		wallet, ok := want[row.Pseudonym]
		if !ok {
			continue
		}
		delete(want, row.Pseudonym)
		r := &Row{Format: RowFormat, Deal: dl.ID, Dataset: dataset, Version: version, Fields: dl.Fields, Values: make([]any, len(pos))}
		for i, p := range pos {
			r.Values[i] = jsonValue(row.Values[p])
		}
		jobs = append(jobs, job{wallet, r})
	}
	// Sealing is cheap; storing is a durable write (an fsync) per row,
	// which dominates: several run at once.
	hashes := make([]string, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(sealers, len(jobs)) {
		wg.Go(func() {
			for i := range next {
				ct, err := Seal(jobs[i].row, dl.BuyerKey)
				if err == nil {
					hashes[i], err = d.Store.Put(ct)
				}
				errs[i] = err
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	var out []ledger.DeliveredRow
	for i, j := range jobs {
		switch err := errs[i]; {
		case errors.Is(err, ErrRowTooLarge):
			skipped["row_too_large"]++
		case err != nil:
			return nil, nil, err
		default:
			out = append(out, ledger.DeliveredRow{Patient: j.wallet, RowHash: hashes[i]})
		}
	}
	for _, wallet := range want {
		missing = append(missing, wallet)
	}
	slices.Sort(missing)
	// Deliver in the acceptances' order (by address), not the vault's.
	slices.SortFunc(out, func(a, b ledger.DeliveredRow) int {
		switch {
		case a.Patient < b.Patient:
			return -1
		case a.Patient > b.Patient:
			return 1
		}
		return 0
	})
	return out, missing, nil
}

// sealers is how many rows are sealed and stored at once.
const sealers = 8

// deliverable are the de-identification methods whose output a deal may
// carry: values that Safe Harbor (or the institution's profile) made
// non-identifying. A pseudonym is a stable identifier across deals and
// datasets; redacted fields have no column.
var deliverable = []string{deid.Keep, deid.YearOnly, deid.Generalise, deid.Perturb, deid.ZIP3, deid.DateShift}

// checkFields checks the asked fields against the version's profile: the
// profile the worker holds must be the one the version was ingested with,
// and each field must come out of a method in deliverable.
func (d *Deliverer) checkFields(dv *ledger.DatasetVersion, fields []string) error {
	rules, err := d.profile(dv.DeidProfile)
	if err != nil {
		return err
	}
	idField := rules.IDField
	if idField == "" {
		idField = deid.DefaultIDField
	}
	for _, f := range fields {
		if f == idField {
			return fmt.Errorf("%w: %q is the patient id field", ErrFieldRefused, f)
		}
		method := rules.Default
		if method == "" {
			method = deid.Redact
		}
		if i := slices.IndexFunc(rules.Rules, func(r deid.Rule) bool { return r.Field == f }); i >= 0 {
			method = rules.Rules[i].Method
		}
		if !slices.Contains(deliverable, method) {
			return fmt.Errorf("%w: %q is de-identified by %s", ErrFieldRefused, f, method)
		}
	}
	return nil
}

func (d *Deliverer) profile(hash string) (*deid.Rules, error) {
	if d.Profiles != nil {
		r, err := d.Profiles(hash)
		if err != nil || r == nil {
			return nil, fmt.Errorf("%w: no de-identification profile %s: %v", ErrFieldRefused, hash, err)
		}
		return r, nil
	}
	sh := deid.SafeHarbor()
	h, err := sh.Hash()
	if err != nil {
		return nil, err
	}
	if hash != "" && hash != h {
		return nil, fmt.Errorf("%w: the version was ingested under profile %s, and this worker knows only Safe Harbor", ErrFieldRefused, hash)
	}
	return sh, nil
}

func jsonValue(v record.Value) any {
	switch v.Kind {
	case record.KindNumber:
		return v.Num
	case record.KindText:
		return v.Str
	case record.KindBool:
		return v.B
	}
	return nil
}
