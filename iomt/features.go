package iomt

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/series"
	"github.com/medchain/medchain/vocab"
)

// Readings become research data as a dataset: one row per patient
// (pseudonym), with per-measure summaries over a window — mean, maximum
// and standard deviation of heart rate and systolic pressure — sealed
// into the vault as a dataset version like any ingest and registered on
// the ledger, so studies reach them only through the policy, consent and
// output controls every dataset has. No time, device or single reading is
// in the rows.

// featureMeasures are the measures summarised, by normalize's field name.
var featureMeasures = []struct{ field, code string }{{"heart_rate", "8867-4"}, {"sbp", "8480-6"}}

var featureStats = []string{"mean", "max", "sd"}

// FeatureSchema is the schema of a features dataset.
func FeatureSchema() []vocab.Field {
	var out []vocab.Field
	for _, m := range featureMeasures {
		unit := ""
		for _, f := range normalize.Schema() {
			if f.Name == m.field {
				unit = f.Unit
			}
		}
		for _, s := range featureStats {
			out = append(out, vocab.Field{Name: m.field + "_" + s, System: "loinc", Code: m.code, Unit: unit, Type: "number"})
		}
		out = append(out, vocab.Field{Name: m.field + "_n", System: "local", Type: "integer"})
	}
	return out
}

// accum is Welford's running mean and variance, and the maximum.
type accum struct {
	n        int
	mean, m2 float64
	max      float64
}

func (a *accum) add(x float64) {
	a.n++
	d := x - a.mean
	a.mean += d / float64(a.n)
	a.m2 += d * (x - a.mean)
	if a.n == 1 || x > a.max {
		a.max = x
	}
}

// Features summarises the readings measured in [from, to) per patient,
// each value converted to its field's unit (normalize's conversion; a
// stored reading already passed its plausibility check). Rows are sorted
// by pseudonym; a measure a patient has no reading of is null.
func Features(st *series.Store, from, to time.Time) ([]record.Row, error) {
	conf := normalize.DefaultConfig()
	acc := map[string][]accum{}
	err := st.Scan(series.Cols(series.ColPseudonym, series.ColTime, series.ColCode, series.ColValue, series.ColUnit), func(f *series.Frame) error {
		for i := range f.Readings {
			r := &f.Readings[i]
			if r.Time < from.UnixMilli() || r.Time >= to.UnixMilli() {
				continue
			}
			k := slices.IndexFunc(featureMeasures, func(m struct{ field, code string }) bool { return m.code == r.Code })
			if k < 0 {
				continue
			}
			_, v, err := conf.Observe(r.Code, r.Unit, r.Value)
			if err != nil {
				continue // stored under other ranges than today's: leave it out rather than guess
			}
			a := acc[r.Pseudonym]
			if a == nil {
				a = make([]accum, len(featureMeasures))
				acc[r.Pseudonym] = a
			}
			a[k].add(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rows := make([]record.Row, 0, len(acc))
	for psn, a := range acc {
		row := record.Row{Pseudonym: psn}
		for _, m := range a {
			if m.n == 0 {
				row.Values = append(row.Values, record.Null(), record.Null(), record.Null(), record.Num(0))
				continue
			}
			sd := record.Null()
			if m.n > 1 {
				sd = record.Num(math.Sqrt(m.m2 / float64(m.n-1)))
			}
			row.Values = append(row.Values, record.Num(m.mean), record.Num(m.max), sd, record.Num(float64(m.n)))
		}
		rows = append(rows, row)
	}
	slices.SortFunc(rows, func(a, b record.Row) int { return strings.Compare(a.Pseudonym, b.Pseudonym) })
	return rows, nil
}

// PublishFeatures seals rows (from Features) as the next version of
// dataset in the vault, its data key wrapped to the node, recipients and
// the institution's registered workers (as an ingest does), and registers it on the ledger with its record band and content root.
// As with an ingest, a version the ledger refuses is removed again.
func PublishFeatures(ctx context.Context, v *vault.Vault, node *vault.Identity, l ingest.Ledger, dataset, title, description string,
	rows []record.Row, recipients []vault.Recipient) (*ingest.Published, *vault.Summary, error) {
	if len(rows) == 0 {
		return nil, nil, errors.New("iomt: no readings in the window: nothing to publish")
	}
	schema := FeatureSchema()
	lk, err := v.Lock(dataset)
	if err != nil {
		return nil, nil, err
	}
	defer lk.Unlock()
	latest, err := l.LatestVersion(ctx, dataset)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	version := latest + 1
	if v.Has(dataset, version) {
		if err := lk.Remove(version); err != nil {
			return nil, nil, err
		}
	}
	// As an ingest does: the institution's registered workers can open the
	// version without a rewrap.
	ks, err := l.WorkerKeys(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: the institution's registered workers: %w", err)
	}
	rs := append([]vault.Recipient{node.Recipient()}, recipients...)
	for i, k := range ks {
		r, err := vault.NewRecipient(k)
		if err != nil {
			return nil, nil, fmt.Errorf("ledger: registered worker %d of the institution: encryption key: %w", i, err)
		}
		rs = append(rs, r)
	}
	w, err := lk.Create(vault.Meta{Version: version, Schema: schema, Recipients: rs})
	if err != nil {
		return nil, nil, err
	}
	published := false
	defer func() {
		if !published {
			w.Abort()
		}
	}()
	for _, r := range rows {
		if err := vault.CheckRow(schema, &r); err != nil {
			return nil, nil, err
		}
		if err := w.Append(r); err != nil {
			return nil, nil, err
		}
	}
	sum, err := w.Commit()
	if err != nil {
		return nil, nil, err
	}
	pub, err := l.Publish(ctx, &ledger.RegisterDataset{ID: dataset, Version: version, Title: title, Description: description,
		Schema: schema, RecordBand: sum.RecordBand, ContentRoot: sum.ContentRoot, Locator: sum.Locator})
	if errors.Is(err, ingest.ErrUncertain) {
		published = true
		return nil, sum, fmt.Errorf("publish dataset %s version %d: %w (the sealed version stays in the vault)", dataset, version, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("publish dataset %s version %d: %w (the sealed version was removed from the vault)", dataset, version, err)
	}
	published = true
	return pub, sum, nil
}
