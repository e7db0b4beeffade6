// Package ingest runs the vault's ingest pipeline from a source file to a
// published dataset version:
//
//	read (CSV, FHIR, NDJSON) → normalise → de-identify → validate → seal → store → publish
//
// It is all-or-nothing. Rows are sealed into a staging area of the vault;
// only when every row is in does the version move into place, and only then
// is it published on the ledger (register_dataset, version = latest + 1).
// If publishing fails the version is removed again, so the vault never
// holds a version the ledger does not know, and the ledger never
// references data the vault does not have. Bad rows either fail the whole
// ingest (nothing is published, nothing stays on disk) or, by policy, are
// set aside in a quarantine report sealed with the version — counts,
// file, row or JSON path and reason, never a value.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/medchain/medchain/csvsrc"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vault"
)

// BadRows is what happens to rows that fail a check.
type BadRows string

// Bad-row policies.
const (
	Fail       BadRows = "fail"       // any bad row fails the ingest; nothing is published
	Quarantine BadRows = "quarantine" // bad rows are set aside and reported; the rest is published
)

// Options say what to ingest and how.
type Options struct {
	Source  string          // a file, or a directory of them
	Format  Format          // csv, fhir or ndjson
	Mapping *csvsrc.Mapping // the column mapping of a CSV source
	Rules   *deid.Rules     // de-identification profile; nil means Safe Harbor
	// Normalize says how features are chosen; its RefDate must be set.
	Normalize normalize.Config

	Dataset     string
	Title       string
	Description string
	BadRows     BadRows // default Fail
	// Recipients are the keys, besides the node's own, the data key is
	// wrapped to: the worker keys the dataset's policy allows. If there
	// are none, the data key is wrapped to the compute workers registered
	// for the publishing institution on the ledger (Ledger.WorkerKeys), so
	// that the institution's own worker can open the version without a
	// rewrap.
	Recipients []vault.Recipient
	ChunkRows  int // 0 means vault.DefaultChunkRows
	// Originals, if set, keeps each kept row's source record (a FHIR
	// Bundle, a CSV row with its header) for the patient to ask for
	// (vault.Originals), filed to the vault's originals recipients — or,
	// at the vault's first use, to this key (vault.OriginalsIdentity of
	// the institution key): never to a worker.
	Originals *vault.Recipient
	// OriginalsOrg is the ingesting organisation: the originals' recipients
	// are recorded per organisation, so institutions that share a vault (a
	// dev network's) keep theirs apart.
	OriginalsOrg string

	// Progress, if set, is called as the source is read, with the rows
	// seen so far. It runs on the ingest's goroutine: keep it cheap.
	Progress func(Progress)
}

// Progress is how far an ingest has got.
type Progress struct {
	BytesRead  int64
	BytesTotal int64
	Rows       int // rows (patients) read
	Bad        int
}

// Ledger is what an ingest needs of the ledger.
type Ledger interface {
	// LatestVersion is a dataset's latest published version, 0 if none.
	LatestVersion(ctx context.Context, dataset string) (uint64, error)
	// WorkerKeys are the X25519 public keys of the compute workers
	// registered for the publishing institution's organisation, in a
	// stable order; none if it has none.
	WorkerKeys(ctx context.Context) ([][]byte, error)
	// Publish submits register_dataset and waits for it to commit. An
	// error means the version is not on the ledger, unless it wraps
	// ErrUncertain: the transaction may still commit.
	Publish(ctx context.Context, m *ledger.RegisterDataset) (*Published, error)
}

// ErrUncertain is wrapped by a Publish error after which the transaction
// may still commit (the node stopped answering mid-way). The sealed version
// then stays in the vault: if the transaction commits, the ledger
// references it; if not, the next ingest of the dataset replaces it.
var ErrUncertain = errors.New("publication outcome unknown")

// Published is a committed register_dataset.
type Published struct {
	TxHash string `json:"tx_hash"`
	Height int64  `json:"height"`
}

// Report is what an ingest did.
type Report struct {
	Dataset         string        `json:"dataset"`
	Version         uint64        `json:"version"`
	Format          Format        `json:"format"`
	Files           int           `json:"files"`
	SourceFiles     []SourceFile  `json:"source_files"` // by position and hash: never a file name
	Bytes           int64         `json:"bytes_read"`
	RefDate         string        `json:"ref_date"`
	RowsRead        int           `json:"rows_read"`
	RowsKept        int           `json:"rows_kept"`
	RowsQuarantined int           `json:"rows_quarantined"`
	Quarantined     []Reason      `json:"quarantined_by_reason,omitempty"`
	Deid            deid.Report   `json:"deid"`
	DeidProfile     string        `json:"deid_profile"`
	Schema          record.Schema `json:"schema"`
	// Recipients are the keys the data key is wrapped to: the node's
	// first, then the given or registered workers' (age recipients).
	Recipients []string `json:"recipients"`
	// RegisteredWorkers says the workers' keys were the ones registered
	// on the ledger (no recipients were given).
	RegisteredWorkers bool `json:"registered_workers"`
	// OriginalsKept is how many rows' source records were filed for
	// their patients (Options.Originals).
	OriginalsKept int           `json:"originals_kept"`
	Vault         vault.Summary `json:"vault"`
	Published     Published     `json:"published"`
	Elapsed       time.Duration `json:"elapsed_ns"`
}

// Reason counts the problems of one kind among the quarantined rows (a
// row may have several).
type Reason struct {
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// RejectedError is the error of an ingest that had bad rows under the Fail
// policy: nothing was published and nothing stays in the vault. It lists
// every problem found (the whole source is checked, so that one run shows
// everything to fix).
type RejectedError struct {
	Rows     int // bad rows
	Problems []*record.InputError
}

func (e *RejectedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d bad row(s); nothing was published (--bad-rows quarantine publishes the good rows and reports the bad):", e.Rows)
	const show = 20
	for i, p := range e.Problems {
		if i == show {
			fmt.Fprintf(&b, "\n  … and %d more", len(e.Problems)-show)
			break
		}
		b.WriteString("\n  " + p.Error())
	}
	return b.String()
}

// Unwrap exposes the problems to errors.As.
func (e *RejectedError) Unwrap() []error {
	out := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p
	}
	return out
}

// workerRecipients are the registered workers' keys as recipients.
func workerRecipients(ctx context.Context, l Ledger) ([]vault.Recipient, error) {
	ks, err := l.WorkerKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("ledger: the institution's registered workers: %w", err)
	}
	out := make([]vault.Recipient, 0, len(ks))
	for i, k := range ks {
		r, err := vault.NewRecipient(k)
		if err != nil {
			return nil, fmt.Errorf("ledger: registered worker %d of the institution: encryption key: %w", i, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Run ingests a source into the vault and publishes it. node is the
// node's own vault key (vault.NodeIdentity of the institution key), which
// the data key is always wrapped to; secret is the institution's
// pseudonym secret.
func Run(ctx context.Context, v *vault.Vault, node *vault.Identity, secret []byte, l Ledger, o Options) (*Report, error) {
	start := time.Now()
	if o.BadRows == "" {
		o.BadRows = Fail
	}
	if o.BadRows != Fail && o.BadRows != Quarantine {
		return nil, fmt.Errorf("bad-rows policy %q: want fail or quarantine", o.BadRows)
	}
	if o.Title == "" {
		return nil, errors.New("a dataset needs a title")
	}
	if o.Normalize.RefDate.IsZero() {
		return nil, errors.New("a reference date is required (ages and feature selection depend on it)")
	}
	if err := o.Normalize.Check(); err != nil {
		return nil, err
	}
	rules := o.Rules
	if rules == nil {
		rules = deid.SafeHarbor()
	}
	d, err := deid.New(rules, secret)
	if err != nil {
		return nil, err
	}
	profile, err := rules.Hash()
	if err != nil {
		return nil, err
	}
	fields := normalize.Fields()
	schema := deid.LedgerSchema(d.SchemaFor(sourceSchema(fields)))
	src, err := openSource(o.Source, o.Format, o.Mapping)
	if err != nil {
		return nil, err
	}

	// The lock is held from choosing the version number until the ledger
	// has it (see vault.Lock).
	lk, err := v.Lock(o.Dataset)
	if err != nil {
		return nil, err
	}
	defer lk.Unlock()
	latest, err := l.LatestVersion(ctx, o.Dataset)
	if err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	version := latest + 1
	if v.Has(o.Dataset, version) {
		// The ledger does not have it, so it is what a failed or crashed
		// ingest left after moving the version into place.
		if err := lk.Remove(version); err != nil {
			return nil, err
		}
	}
	recipients := append([]vault.Recipient{node.Recipient()}, o.Recipients...)
	registered := len(o.Recipients) == 0
	if registered {
		ws, err := workerRecipients(ctx, l)
		if err != nil {
			return nil, err
		}
		recipients = append(recipients, ws...)
	}
	w, err := lk.Create(vault.Meta{Version: version, Schema: schema, DeidProfile: profile,
		Recipients: recipients, ChunkRows: o.ChunkRows})
	if err != nil {
		return nil, err
	}
	var ow *vault.OriginalsWriter
	if o.Originals != nil {
		to, err := v.OriginalsRecipients(o.OriginalsOrg, *o.Originals)
		if err == nil {
			ow, err = v.CreateOriginals(o.Dataset, version, to)
		}
		if err != nil {
			w.Abort()
			return nil, err
		}
	}
	published := false
	defer func() {
		if !published {
			w.Abort() // removes the staging area, or the installed version if publishing failed
			if ow != nil {
				ow.Abort()
			}
		}
	}()

	rep := &Report{Dataset: o.Dataset, Version: version, Format: o.Format, Files: len(src.files),
		RefDate: o.Normalize.RefDate.Format(time.DateOnly), DeidProfile: profile, Schema: schema,
		RegisteredWorkers: registered}
	for _, r := range recipients {
		rep.Recipients = append(rep.Recipients, r.String())
	}
	var bad []*record.InputError
	badRows := 0
	seen := make(map[string]struct{})
	reject := func(problems ...*record.InputError) {
		badRows++
		bad = append(bad, problems...)
	}
	if o.Progress != nil {
		src.progress = func(done, total int64) {
			o.Progress(Progress{BytesRead: done, BytesTotal: total, Rows: rep.RowsRead, Bad: badRows})
		}
	}
	err = src.read(func(it item) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		rep.RowsRead++
		if it.problem != nil {
			reject(it.problem)
			return nil
		}
		rec, problems := normalize.NormalizeAll(it.patient, o.Normalize)
		if len(problems) > 0 {
			reject(problems...)
			return nil
		}
		if !slices.Equal(rec.Fields, fields) {
			return fmt.Errorf("normalize produced fields %v, want %v", rec.Fields, fields) // a bug, not bad input
		}
		row, err := d.Apply(rec)
		if err != nil {
			var ie *record.InputError
			if !errors.As(err, &ie) {
				return err
			}
			reject(ie)
			return nil
		}
		if err := vault.CheckRow(schema, &row); err != nil {
			var ie *record.InputError
			if !errors.As(err, &ie) {
				return err
			}
			ie.Source, ie.Where = rec.Source, rec.Where
			reject(ie)
			return nil
		}
		if _, dup := seen[row.Pseudonym]; dup {
			reject(&record.InputError{Source: rec.Source, Where: rec.Where, Field: "patient_id", Reason: "the same patient as an earlier row: one row per patient"})
			return nil
		}
		seen[row.Pseudonym] = struct{}{}
		if badRows > 0 && o.BadRows == Fail {
			return nil // keep checking the source, but the ingest is lost: seal nothing more
		}
		rep.RowsKept++
		if ow != nil && it.patient.Original != nil {
			if err := ow.Put(row.Pseudonym, it.patient.Original.MediaType, it.patient.Original.Data); err != nil {
				return err
			}
			rep.OriginalsKept++
		}
		return w.Append(row)
	})
	rep.Bytes = src.done
	if err != nil {
		return nil, err
	}
	rep.SourceFiles = src.sums
	if o.Progress != nil {
		o.Progress(Progress{BytesRead: src.done, BytesTotal: src.total, Rows: rep.RowsRead, Bad: badRows})
	}
	if badRows > 0 && o.BadRows == Fail {
		return nil, &RejectedError{Rows: badRows, Problems: bad}
	}
	if rep.RowsKept == 0 {
		return nil, fmt.Errorf("no rows to publish (%d read, %d bad)", rep.RowsRead, badRows)
	}
	if badRows > 0 {
		rep.RowsQuarantined = badRows
		rep.Quarantined = byReason(bad)
		q := &vault.Quarantine{Rows: badRows}
		for _, p := range bad {
			q.Problems = append(q.Problems, *p)
		}
		w.SetQuarantine(q)
	}
	// The report is sealed with the version, for the institution's console
	// (ReadReport): everything but what only the commit and the
	// publication tell (Vault, Published, Elapsed).
	rep.Deid = d.Report()
	sealed, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	w.SetIngestReport(sealed)
	sum, err := w.Commit()
	if err != nil {
		return nil, err
	}
	rep.Vault = *sum
	if ow != nil {
		if err := ow.Commit(); err != nil {
			return nil, err
		}
	}
	pub, err := l.Publish(ctx, &ledger.RegisterDataset{
		ID: o.Dataset, Version: version, Title: o.Title, Description: o.Description, Schema: schema,
		RecordBand: sum.RecordBand, ContentRoot: sum.ContentRoot, Locator: sum.Locator, DeidProfile: profile,
	})
	if errors.Is(err, ErrUncertain) {
		published = true // it may be: keep the data it would reference
		return nil, fmt.Errorf("publish dataset %s version %d: %w (the sealed version stays in the vault; check the transaction, then `medchain dataset verify`)", o.Dataset, version, err)
	}
	if err != nil {
		return nil, fmt.Errorf("publish dataset %s version %d: %w (the sealed version was removed from the vault)", o.Dataset, version, err)
	}
	rep.Published, published = *pub, true
	rep.Elapsed = time.Since(start)
	return rep, nil
}

// ReadReport reads the report of the ingest that wrote a version, as sealed
// with it (Vault, Published and Elapsed are not kept); nil if the version
// was written before reports were kept.
func ReadReport(v *vault.Version) (*Report, error) {
	b, err := v.IngestReport()
	if err != nil || b == nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("ingest report of %s version %d: %w", v.Manifest().Dataset, v.Manifest().Version, err)
	}
	return &r, nil
}

// sourceSchema describes the normaliser's fields: the research fields with
// their codes and units, the identifying ones by name only. The
// de-identification rules then decide which columns keep which meaning.
func sourceSchema(fields []string) record.Schema {
	known := normalize.Schema()
	out := make(record.Schema, len(fields))
	for i, f := range fields {
		out[i] = ledger.Field{Name: f}
		if j := slices.IndexFunc(known, func(k ledger.Field) bool { return k.Name == f }); j >= 0 {
			out[i] = known[j]
		}
	}
	return out
}

// byReason groups problems by field and reason, most frequent first.
func byReason(ps []*record.InputError) []Reason {
	var out []Reason
	for _, p := range ps {
		i := slices.IndexFunc(out, func(r Reason) bool { return r.Field == p.Field && r.Reason == p.Reason })
		if i < 0 {
			out = append(out, Reason{Field: p.Field, Reason: p.Reason})
			i = len(out) - 1
		}
		out[i].Count++
	}
	slices.SortStableFunc(out, func(a, b Reason) int { return b.Count - a.Count })
	return out
}
