package series_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/vault/series"
)

var (
	secret = bytes.Repeat([]byte{7}, 32) // the store key (vault.SeriesKey in a vault)
	key    = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
)

// batch makes n signed readings of device dev starting at sequence seq.
func batch(dev string, seq uint64, n int) []series.Record {
	rs := make([]series.Record, n)
	for i := range rs {
		r := device.Reading{Device: dev, Seq: seq + uint64(i), Time: 1_780_000_000_000 + int64(i)*200,
			Code: "8867-4", Value: 60 + float64(i%40) + 0.25, Unit: "/min"}
		rs[i] = series.Record{Pseudonym: "psn-" + dev, Signed: device.Sign(r, key)}
	}
	return rs
}

func all(t *testing.T, s *series.Store, cols series.Columns) (rs []series.Record, anchors []series.Anchor) {
	t.Helper()
	err := s.Scan(cols, func(f *series.Frame) error {
		rs = append(rs, f.Readings...)
		if f.Anchor != nil {
			anchors = append(anchors, *f.Anchor)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rs, anchors
}

func equal(a, b series.Record) bool {
	return a.Pseudonym == b.Pseudonym && a.Device == b.Device && a.Seq == b.Seq && a.Time == b.Time &&
		a.Code == b.Code && a.Value == b.Value && a.Unit == b.Unit && bytes.Equal(a.Sig, b.Sig)
}

func TestRoundTripAcrossSegmentsAndReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := series.Open(dir, secret, series.Options{SegmentSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	var want []series.Record
	for i := range 20 {
		b := batch(fmt.Sprintf("dev-%d", i%3), uint64(1+i*10), 10)
		if _, err := s.Append(b); err != nil {
			t.Fatal(err)
		}
		want = append(want, b...)
		if i == 9 {
			if _, err := s.Mark(series.Anchor{Seq: 1, Count: 100, Root: [32]byte{9}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Close()
	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) < 3 {
		t.Fatalf("%d segments: the size limit did not start new ones", len(segs))
	}
	s, err = series.Open(dir, secret, series.Options{SegmentSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, anchors := all(t, s, series.All)
	if len(got) != len(want) {
		t.Fatalf("%d readings back, want %d", len(got), len(want))
	}
	for i := range got {
		if !equal(got[i], want[i]) {
			t.Fatalf("reading %d differs", i)
		}
		if !got[i].Verify(key.Public().(ed25519.PublicKey)) {
			t.Fatalf("reading %d no longer verifies", i)
		}
	}
	if len(anchors) != 1 || anchors[0].Seq != 1 || anchors[0].Count != 100 || anchors[0].Root[0] != 9 {
		t.Fatalf("anchors %+v", anchors)
	}
	// Readings appended after reopening follow the old ones.
	if _, err := s.Append(batch("dev-9", 1, 1)); err != nil {
		t.Fatal(err)
	}
	if got, _ := all(t, s, series.All); len(got) != len(want)+1 {
		t.Fatalf("%d after append, want %d", len(got), len(want)+1)
	}
}

// A reader that asks for some columns gets only those: the others are not
// even opened.
func TestColumnsReadAlone(t *testing.T) {
	s, err := series.Open(t.TempDir(), secret, series.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Append(batch("dev-1", 1, 5))
	got, _ := all(t, s, series.Cols(series.ColTime, series.ColValue))
	for _, r := range got {
		if r.Time == 0 || r.Value == 0 {
			t.Fatal("a requested column is empty")
		}
		if r.Pseudonym != "" || r.Device != "" || r.Sig != nil || r.Code != "" {
			t.Fatalf("a column not asked for was read: %+v", r)
		}
	}
}

// A crash mid-write leaves a partial last frame: Open cuts it off, and
// every frame before it (all that was acknowledged) is there.
func TestTornTailIsCut(t *testing.T) {
	dir := t.TempDir()
	s, _ := series.Open(dir, secret, series.Options{})
	s.Append(batch("dev-1", 1, 10))
	s.Append(batch("dev-1", 11, 10))
	s.Close()
	seg := filepath.Join(dir, "00000001.seg")
	full, _ := os.ReadFile(seg)
	first := 0
	{ // the length of the first frame
		s, _ := series.Open(dir, secret, series.Options{})
		s.Scan(series.All, func(f *series.Frame) error {
			if f.Offset > 0 && first == 0 {
				first = int(f.Offset)
			}
			return nil
		})
		s.Close()
	}
	for _, cut := range []int{first + 1, first + 4, first + 30, len(full) - 1} {
		os.WriteFile(seg, full[:cut], 0o600)
		s, err := series.Open(dir, secret, series.Options{})
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		got, _ := all(t, s, series.All)
		if len(got) != 10 {
			t.Fatalf("cut at %d: %d readings, want the first frame's 10", cut, len(got))
		}
		// And the store goes on after the cut.
		if _, err := s.Append(batch("dev-1", 11, 10)); err != nil {
			t.Fatal(err)
		}
		if got, _ := all(t, s, series.All); len(got) != 20 {
			t.Fatalf("cut at %d then append: %d", cut, len(got))
		}
		s.Close()
	}
}

// A flipped bit anywhere but the torn tail is corruption, reported with
// the place, never skipped; so is a frame moved to another offset.
func TestTamperIsReported(t *testing.T) {
	dir := t.TempDir()
	s, _ := series.Open(dir, secret, series.Options{})
	p1, _ := s.Append(batch("dev-1", 1, 10))
	p2, _ := s.Append(batch("dev-1", 11, 10))
	s.Append(batch("dev-1", 21, 10))
	s.Close()
	seg := filepath.Join(dir, "00000001.seg")
	full, _ := os.ReadFile(seg)
	for _, at := range []int{int(p1.Offset) + 40, int(p2.Offset) - 3, int(p2.Offset) + 60} {
		bad := bytes.Clone(full)
		bad[at] ^= 0x10
		os.WriteFile(seg, bad, 0o600)
		_, err := series.Open(dir, secret, series.Options{})
		var e *series.Error
		if !errors.As(err, &e) || !errors.Is(err, series.ErrCorrupt) {
			t.Fatalf("byte %d flipped: %v, want a corruption error", at, err)
		}
	}
	// Swap the first two frames (equal sizes): each fails its offset.
	n := int(p2.Offset)
	swapped := slices(full[n:2*n], full[:n], full[2*n:])
	os.WriteFile(seg, swapped, 0o600)
	if _, err := series.Open(dir, secret, series.Options{}); !errors.Is(err, series.ErrCorrupt) {
		t.Fatalf("swapped frames: %v", err)
	}
	// Another vault's secret opens nothing.
	os.WriteFile(seg, full, 0o600)
	if _, err := series.Open(dir, bytes.Repeat([]byte{8}, 32), series.Options{}); !errors.Is(err, series.ErrCorrupt) {
		t.Fatalf("another secret: %v", err)
	}
}

func slices(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// Nothing of a reading is readable in the files: no device id, pseudonym,
// code, unit or value.
func TestNothingInTheClear(t *testing.T) {
	dir := t.TempDir()
	s, _ := series.Open(dir, secret, series.Options{})
	rs := batch("planted-device-7731", 1, 50)
	for i := range rs {
		rs[i].Pseudonym = "planted-pseudonym-5521"
	}
	s.Append(rs)
	s.Close()
	data, _ := os.ReadFile(filepath.Join(dir, "00000001.seg"))
	for _, needle := range [][]byte{[]byte("planted-device-7731"), []byte("planted-pseudonym-5521"), []byte("8867-4"), []byte("/min"), rs[0].Sig[:16]} {
		if bytes.Contains(data, needle) {
			t.Errorf("%q is in the clear", needle)
		}
	}
}

func TestBadBatches(t *testing.T) {
	s, _ := series.Open(t.TempDir(), secret, series.Options{})
	defer s.Close()
	if _, err := s.Append(nil); err == nil {
		t.Error("an empty batch was stored")
	}
	b := batch("dev-1", 1, 2)
	b[1].Sig = nil
	if _, err := s.Append(b); err == nil {
		t.Error("a reading without signature was stored")
	}
	if got, _ := all(t, s, series.All); len(got) != 0 {
		t.Errorf("%d readings of refused batches stored", len(got))
	}
}

// BenchmarkAppend is one synced frame of a batch of readings: what group
// commit pays per acknowledgement round.
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s, _ := series.Open(b.TempDir(), secret, series.Options{})
			defer s.Close()
			rs := batch("dev-1", 1, n)
			for b.Loop() {
				if _, err := s.Append(rs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "readings/s")
		})
	}
}

func BenchmarkScanValues(b *testing.B) {
	s, _ := series.Open(b.TempDir(), secret, series.Options{})
	defer s.Close()
	for i := range 100 {
		s.Append(batch("dev-1", uint64(1+i*1000), 1000))
	}
	for b.Loop() {
		n := 0
		s.Scan(series.Cols(series.ColTime, series.ColCode, series.ColValue), func(f *series.Frame) error { n += len(f.Readings); return nil })
		if n != 100_000 {
			b.Fatal(n)
		}
	}
	b.ReportMetric(float64(b.N*100_000)/b.Elapsed().Seconds(), "readings/s")
}

// A read-only store reads what a writer has written so far, stops quietly
// at a frame still being written, and never cuts or writes anything.
func TestReadOnlyBesideAWriter(t *testing.T) {
	dir := t.TempDir()
	w, _ := series.Open(dir, secret, series.Options{})
	defer w.Close()
	w.Append(batch("dev-1", 1, 10))
	w.Append(batch("dev-1", 11, 10))
	seg := filepath.Join(dir, "00000001.seg")
	full, _ := os.ReadFile(seg)
	// Half a frame more, as if the writer were in the middle of it.
	f, _ := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(full[:len(full)/4])
	f.Close()
	r, err := series.Open(dir, secret, series.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := all(t, r, series.All); len(got) != 20 {
		t.Fatalf("read %d, want the 20 complete", len(got))
	}
	if st, _ := os.Stat(seg); st.Size() != int64(len(full)+len(full)/4) {
		t.Fatal("the read-only store changed the segment")
	}
	if _, err := r.Append(batch("dev-1", 21, 1)); err == nil {
		t.Fatal("a read-only store appended")
	}
}
