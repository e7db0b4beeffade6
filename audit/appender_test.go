package audit

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/medchain/medchain/store"
)

// memContents lists every key and value in db, sorted by key.
func memContents(db *store.Mem) []string {
	var out []string
	for _, k := range db.Keys(nil) {
		v, _ := db.Get(k)
		out = append(out, string(k)+"="+string(v))
	}
	slices.Sort(out)
	return out
}

// An Appender leaves the store exactly as one Append per entry would, in
// runs of any length (a block of one entry, of many, an empty one), and the
// log reopened on it has the same size and root.
func TestAppenderStoresWhatAppendStores(t *testing.T) {
	entries := testEntries(100)
	_, want := newTestLog(t, entries)
	wantLog, _ := Open(want, testPrefix)
	wantRoot, _ := wantLog.Root()

	db := store.NewMem()
	runs := []int{1, 0, 7, 33, 1, 2, 56} // sums to 100
	next := 0
	for _, n := range runs {
		l, err := Open(db, testPrefix)
		if err != nil {
			t.Fatal(err)
		}
		a, err := l.NewAppender()
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			idx, err := a.Append(bytes.Clone(entries[next]))
			if err != nil {
				t.Fatal(err)
			}
			if idx != uint64(next) {
				t.Fatalf("Append returned index %d, want %d", idx, next)
			}
			next++
		}
		if err := a.Flush(); err != nil {
			t.Fatal(err)
		}
		if l.Size() != uint64(next) || a.Size() != uint64(next) {
			t.Fatalf("after flush: Log size %d, Appender size %d, want %d", l.Size(), a.Size(), next)
		}
	}
	if got, w := memContents(db), memContents(want); !slices.Equal(got, w) {
		t.Fatalf("store after appender runs differs from Append's: %d vs %d records", len(got), len(w))
	}
	l, _ := Open(db, testPrefix)
	root, _ := l.Root()
	if l.Size() != 100 || !bytes.Equal(root, wantRoot) {
		t.Fatalf("reopened: size %d root %x, want 100 %x", l.Size(), root, wantRoot)
	}
	// Entries written through the appender verify like any other.
	for _, i := range []uint64{0, 1, 41, 99} {
		p, err := l.InclusionProof(i, 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInclusion(entries[i], i, 100, p, root); err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
}

// Until Flush the meta record keeps the old size: a log opened meanwhile
// sees none of the run's entries.
func TestAppenderMetaWaitsForFlush(t *testing.T) {
	db := store.NewMem()
	l, _ := Open(db, testPrefix)
	a, err := l.NewAppender()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := a.Append(testEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if other, _ := Open(db, testPrefix); other.Size() != 0 || l.Size() != 0 {
		t.Fatalf("before Flush: reopened size %d, Log size %d, want 0", other.Size(), l.Size())
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	if other, _ := Open(db, testPrefix); other.Size() != 5 {
		t.Fatalf("after Flush: reopened size %d, want 5", other.Size())
	}
}

// A second writer on the prefix makes the appender stale: it is noticed
// when the appender is made and at Flush, never silently overwritten.
func TestAppenderStale(t *testing.T) {
	db := store.NewMem()
	l1, _ := Open(db, testPrefix)
	l2, _ := Open(db, testPrefix)
	a, err := l1.NewAppender()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l2.Append([]byte("other")); err != nil {
		t.Fatal(err)
	}
	if _, err := l1.NewAppender(); !errors.Is(err, ErrStale) {
		t.Fatalf("NewAppender on a stale Log: %v, want ErrStale", err)
	}
	if _, err := a.Append([]byte("mine")); err != nil {
		t.Fatal(err)
	}
	if err := a.Flush(); !errors.Is(err, ErrStale) {
		t.Fatalf("Flush after another writer: %v, want ErrStale", err)
	}
	if _, err := a.Append([]byte("again")); !errors.Is(err, ErrStale) {
		t.Fatalf("Append after a failed Flush: %v, want the same error", err)
	}
}

// A failed write stops the appender: every later call fails with it, and
// the meta record is never written.
func TestAppenderWriteFailure(t *testing.T) {
	fs := &failingStore{ReadWriter: store.NewMem(), failAt: 4}
	l, _ := Open(fs, testPrefix)
	a, err := l.NewAppender()
	if err != nil {
		t.Fatal(err)
	}
	var failed error
	for i := 0; i < 4 && failed == nil; i++ {
		_, failed = a.Append(testEntry(i))
	}
	if !errors.Is(failed, errDisk) {
		t.Fatalf("Append error %v, want the store error", failed)
	}
	if err := a.Flush(); !errors.Is(err, errDisk) {
		t.Fatalf("Flush after a failed Append: %v, want the store error", err)
	}
	if l.Size() != 0 {
		t.Fatalf("Log size %d after a failed run, want 0", l.Size())
	}
}
