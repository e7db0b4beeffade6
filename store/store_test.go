package store

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
)

// An overlay reads its own writes first, then the base; ChangesWithPrefix
// lists the staged writes under a prefix in key order, deletes included.
func TestOverlayChanges(t *testing.T) {
	base := NewMem()
	base.Set([]byte("s/b"), []byte("base"))
	o := NewOverlay(base)
	o.Set([]byte("s/c"), []byte("3"))
	o.Set([]byte("a/x"), []byte("audit"))
	o.Set([]byte("s/a"), nil)
	o.Delete([]byte("s/b"))
	if v, _ := o.Get([]byte("s/b")); v != nil {
		t.Fatalf("deleted key reads %q", v)
	}
	if v, _ := o.Get([]byte("s/a")); v == nil || len(v) != 0 {
		t.Fatalf("a nil Set must stage an empty value, not a delete: %v", v)
	}
	if got, want := changes(o.ChangesWithPrefix([]byte("s/"))), "s/a=[] s/b=<del> s/c=3"; got != want {
		t.Fatalf("ChangesWithPrefix: %s, want %s", got, want)
	}
	if got, want := changes(o.Changes()), "a/x=audit s/a=[] s/b=<del> s/c=3"; got != want {
		t.Fatalf("Changes: %s, want %s", got, want)
	}
}

// MergeInto leaves the destination overlay exactly as WriteTo (Set and
// Delete in key order) does, overriding its earlier writes.
func TestOverlayMergeIntoIsWriteTo(t *testing.T) {
	build := func() (*Overlay, *Overlay) {
		block := NewOverlay(NewMem())
		block.Set([]byte("k1"), []byte("old"))
		block.Set([]byte("k2"), []byte("old"))
		block.Delete([]byte("k3"))
		tx := NewOverlay(block)
		tx.Set([]byte("k1"), []byte("new"))
		tx.Delete([]byte("k2"))
		tx.Set([]byte("k3"), []byte("back"))
		tx.Set([]byte("k4"), []byte{})
		return block, tx
	}
	a, txa := build()
	if err := txa.WriteTo(a); err != nil {
		t.Fatal(err)
	}
	b, txb := build()
	txb.MergeInto(b)
	if ga, gb := changes(a.Changes()), changes(b.Changes()); ga != gb {
		t.Fatalf("WriteTo: %s\nMergeInto: %s", ga, gb)
	}
}

func changes(cs []Change) string {
	var b bytes.Buffer
	for i, c := range cs {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := fmt.Sprintf("%s", c.Value)
		if c.Value == nil {
			v = "<del>"
		} else if len(c.Value) == 0 {
			v = "[]"
		}
		fmt.Fprintf(&b, "%s=%s", c.Key, v)
	}
	return b.String()
}

// memDB is a DB over Mem that counts reads and can fail a batch.
type memDB struct {
	*Mem
	reads int
	fail  bool
}

func (d *memDB) Get(k []byte) ([]byte, error) { d.reads++; return d.Mem.Get(k) }
func (d *memDB) NewBatch() Batch              { return &memBatch{d: d, o: NewOverlay(d.Mem)} }
func (d *memDB) Close() error                 { return nil }
func (d *memDB) Iterate(prefix []byte, fn func(k, v []byte) bool) error {
	for _, k := range d.Keys(prefix) {
		v, _ := d.Mem.Get(k)
		if !fn(k, v) {
			break
		}
	}
	return nil
}

type memBatch struct {
	d *memDB
	o *Overlay
}

func (b *memBatch) Set(k, v []byte) error { return b.o.Set(k, v) }
func (b *memBatch) Delete(k []byte) error { return b.o.Delete(k) }
func (b *memBatch) Discard()              {}
func (b *memBatch) WriteSync() error {
	if b.d.fail {
		return fmt.Errorf("disk full")
	}
	return b.o.WriteTo(b.d.Mem)
}

// A Cache reads each key from its database once, and afterwards returns
// what its own batches made durable: new values, deletions, nothing from a
// discarded batch; a failed write makes it forget everything.
func TestCacheFollowsItsBatches(t *testing.T) {
	db := &memDB{Mem: NewMem()}
	db.Mem.Set([]byte("a"), []byte("1"))
	c := NewCache(db, 100)
	get := func(k, want string, reads int) {
		t.Helper()
		v, err := c.Get([]byte(k))
		if err != nil || string(v) != want || (want == "") != (v == nil) || db.reads != reads {
			t.Fatalf("Get(%s) = %q, %v after %d database reads; want %q after %d", k, v, err, db.reads, want, reads)
		}
	}
	get("a", "1", 1)
	get("a", "1", 1)
	get("b", "", 2) // absent
	get("b", "", 2) // remembered as absent

	b := c.NewBatch()
	b.Set([]byte("b"), []byte("2"))
	b.Delete([]byte("a"))
	if err := b.WriteSync(); err != nil {
		t.Fatal(err)
	}
	get("a", "", 2)
	get("b", "2", 2)

	b = c.NewBatch()
	b.Set([]byte("b"), []byte("3"))
	b.Discard()
	get("b", "2", 2)

	db.fail = true
	b = c.NewBatch()
	b.Set([]byte("b"), []byte("4"))
	if err := b.WriteSync(); err == nil {
		t.Fatal("the failing write succeeded")
	}
	get("b", "2", 3) // forgotten, read again
}

// Whatever the sequence of reads and committed or discarded batches, and
// however small the bound, a Cache reads exactly what its database holds.
func TestCacheAgreesWithDatabase(t *testing.T) {
	db := &memDB{Mem: NewMem()}
	c := NewCache(db, 7)
	key := func(i int) []byte { return []byte(fmt.Sprintf("k%d", i%23)) }
	x := uint32(1)
	next := func(n int) int { x = x*1103515245 + 12345; return int(x>>8) % n }
	for step := 0; step < 5000; step++ {
		switch next(4) {
		case 0, 1:
			k := key(next(1000))
			got, _ := c.Get(k)
			want, _ := db.Mem.Get(k)
			if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
				t.Fatalf("step %d: Get(%s) = %q, database holds %q", step, k, got, want)
			}
		default:
			b := c.NewBatch()
			for range next(5) {
				if k := key(next(1000)); next(3) == 0 {
					b.Delete(k)
				} else {
					b.Set(k, []byte(fmt.Sprint(step)))
				}
			}
			if next(4) == 0 {
				b.Discard()
			} else if err := b.WriteSync(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// WriteUnordered leaves a store exactly as WriteTo does: each key is
// written once, so the order of the writes cannot show.
func TestOverlayWriteUnorderedIsWriteTo(t *testing.T) {
	base := NewMem()
	base.Set([]byte("gone"), []byte("x"))
	base.Set([]byte("kept"), []byte("y"))
	o := NewOverlay(base)
	o.Set([]byte("b"), []byte("2"))
	o.Set([]byte("a"), []byte("1"))
	o.Set([]byte("empty"), nil)
	o.Delete([]byte("gone"))
	a, b := NewMem(), NewMem()
	for _, m := range []*Mem{a, b} {
		m.Set([]byte("gone"), []byte("x"))
		m.Set([]byte("kept"), []byte("y"))
	}
	if err := o.WriteTo(a); err != nil {
		t.Fatal(err)
	}
	if err := o.WriteUnordered(b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.m, b.m) {
		t.Fatalf("WriteTo: %q\nWriteUnordered: %q", a.m, b.m)
	}
	if _, ok := b.m["gone"]; ok || len(b.m) != 4 {
		t.Fatalf("WriteUnordered left %q", b.m)
	}
}
