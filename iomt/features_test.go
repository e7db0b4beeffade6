package iomt_test

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"math"
	"testing"
	"time"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/iomt"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/vault"
)

// memLedger is the ledger side of a publication, in memory.
type memLedger struct{ published []*ledger.RegisterDataset }

func (l *memLedger) LatestVersion(context.Context, string) (uint64, error) {
	return uint64(len(l.published)), nil
}

func (l *memLedger) WorkerKeys(context.Context) ([][]byte, error) { return nil, nil }

func (l *memLedger) Publish(_ context.Context, m *ledger.RegisterDataset) (*ingest.Published, error) {
	l.published = append(l.published, m)
	return &ingest.Published{}, nil
}

// Readings become one row per patient with mean, maximum, standard
// deviation and count per measure over the window, sealed as a dataset
// version that opens to exactly those values.
func TestFeatures(t *testing.T) {
	f := newFixture(t, 2)
	defer f.close()
	submit := func(dev, code, unit string, v float64, at time.Time) {
		f.seq[dev]++
		s := device.Sign(device.Reading{Device: dev, Seq: f.seq[dev], Time: at.UnixMilli(), Code: code, Value: v, Unit: unit}, f.keys[dev])
		if err := f.g.Submit(context.Background(), &s); err != nil {
			t.Fatal(err)
		}
	}
	in := now.Add(-time.Minute)
	for _, v := range []float64{60, 70, 80} {
		submit("dev-0000", "8867-4", "/min", v, in)
	}
	submit("dev-0000", "8480-6", "kPa", 16, in) // converted: 120.01 mm[Hg]
	submit("dev-0001", "8867-4", "/min", 90, in)
	submit("dev-0001", "8867-4", "/min", 200, now.Add(-4*time.Minute)) // before the window
	rows, err := iomt.Features(f.st, now.Add(-2*time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Pseudonym != "psn-0000" || rows[1].Pseudonym != "psn-0001" {
		t.Fatalf("rows %+v", rows)
	}
	schema := iomt.FeatureSchema()
	col := func(r int, name string) (float64, bool) {
		for i, fld := range schema {
			if fld.Name == name {
				v := rows[r].Values[i]
				return v.Num, v.Kind != 0
			}
		}
		t.Fatalf("no column %s", name)
		return 0, false
	}
	for _, c := range []struct {
		row  int
		name string
		want float64
	}{
		{0, "heart_rate_mean", 70}, {0, "heart_rate_max", 80}, {0, "heart_rate_sd", 10}, {0, "heart_rate_n", 3},
		{0, "sbp_mean", 120.01}, {0, "sbp_n", 1},
		{1, "heart_rate_mean", 90}, {1, "heart_rate_max", 90}, {1, "heart_rate_n", 1}, {1, "sbp_n", 0},
	} {
		if got, ok := col(c.row, c.name); !ok || math.Abs(got-c.want) > 0.01 {
			t.Errorf("row %d %s = %g (present %v), want %g", c.row, c.name, got, ok, c.want)
		}
	}
	if _, ok := col(1, "heart_rate_sd"); ok {
		t.Error("a standard deviation of one reading")
	}
	if _, ok := col(1, "sbp_mean"); ok {
		t.Error("a mean of no readings")
	}

	ek, _ := ecdh.X25519().GenerateKey(rand.Reader)
	id, _ := vault.NewIdentity(ek)
	l := &memLedger{}
	_, sum, err := iomt.PublishFeatures(context.Background(), f.v, id, l, "vitals-window", "Vitals", "", rows, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.published) != 1 || l.published[0].RecordBand != "<100" || l.published[0].ContentRoot != sum.ContentRoot {
		t.Fatalf("published %+v", l.published)
	}
	ver, err := f.v.Open("vitals-window", 1, sum.ContentRoot, id)
	if err != nil {
		t.Fatal(err)
	}
	for ch, err := range ver.Column("heart_rate_mean") {
		if err != nil {
			t.Fatal(err)
		}
		if ch.Rows != 2 || ch.Nums[0] != 70 || ch.Nums[1] != 90 {
			t.Fatalf("sealed column %+v", ch)
		}
	}
}
