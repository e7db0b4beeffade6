package store

import (
	"bytes"
	"fmt"
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
