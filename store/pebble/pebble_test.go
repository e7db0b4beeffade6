package pebble

import (
	"bytes"
	"fmt"
	"testing"
)

func TestStore(t *testing.T) {
	dir := t.TempDir()
	s, err := Open("test", dir)
	if err != nil {
		t.Fatal(err)
	}
	b := s.NewBatch()
	for _, k := range []string{"a/1", "a/2", "a/3", "b/1", "a\xff"} {
		if err := b.Set([]byte(k), []byte("v"+k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Delete([]byte("a/2")); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.Get([]byte("a/1")); v != nil {
		t.Fatalf("a batch is visible before WriteSync: %q", v)
	}
	if err := b.WriteSync(); err != nil {
		t.Fatal(err)
	}
	discarded := s.NewBatch()
	discarded.Set([]byte("a/9"), []byte("x"))
	discarded.Discard()

	if v, err := s.Get([]byte("a/1")); err != nil || string(v) != "va/1" {
		t.Fatalf("Get a/1 = %q, %v", v, err)
	}
	for _, k := range []string{"a/2", "a/9", "zz"} {
		if v, err := s.Get([]byte(k)); err != nil || v != nil {
			t.Fatalf("Get %s = %q, %v; want absent", k, v, err)
		}
	}
	list := func(prefix string, limit int) string {
		var out []string
		err := s.Iterate([]byte(prefix), func(k, v []byte) bool {
			out = append(out, fmt.Sprintf("%s=%s", k, v))
			return len(out) < limit
		})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(out)
	}
	for _, c := range []struct {
		prefix string
		limit  int
		want   string
	}{
		{"a/", 10, "[a/1=va/1 a/3=va/3]"},
		{"a/", 1, "[a/1=va/1]"},
		{"a", 10, "[a/1=va/1 a/3=va/3 a\xff=va\xff]"},
		{"a\xff", 10, "[a\xff=va\xff]"},
		{"c", 10, "[]"},
	} {
		if got := list(c.prefix, c.limit); got != c.want {
			t.Errorf("Iterate(%q) = %s, want %s", c.prefix, got, c.want)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened, the committed writes are there.
	s, err = Open("test", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Get([]byte("b/1")); err != nil || string(v) != "vb/1" {
		t.Fatalf("after reopening, Get b/1 = %q, %v", v, err)
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want []byte }{
		{nil, nil},
		{[]byte{}, nil},
		{[]byte("a"), []byte("b")},
		{[]byte("a/"), []byte("a0")},
		{[]byte{'a', 0xff}, []byte("b")},
		{[]byte{0xff, 0xff}, nil},
	} {
		if got := prefixEnd(c.in); !bytes.Equal(got, c.want) {
			t.Errorf("prefixEnd(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// BenchmarkBlockBatch writes a block-sized batch (20,000 keys, about 5 MB,
// like a block of transfers' writes) and makes it durable: "sized" starts
// each batch at the last one's size, as NewBatch does, "grown" from empty.
func BenchmarkBlockBatch(b *testing.B) {
	for _, sized := range []bool{true, false} {
		name := map[bool]string{true: "sized", false: "grown"}[sized]
		b.Run(name, func(b *testing.B) {
			s, err := Open("bench", b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			value := bytes.Repeat([]byte{'v'}, 240)
			for i := 0; b.Loop(); i++ {
				if !sized {
					s.lastBatch.Store(0)
				}
				batch := s.NewBatch()
				for k := range 20000 {
					if err := batch.Set(fmt.Appendf(nil, "k/%d/%d", i, k), value); err != nil {
						b.Fatal(err)
					}
				}
				if err := batch.WriteSync(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
