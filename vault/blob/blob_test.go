package blob

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDirRoundTrip(t *testing.T) {
	d, err := OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("sealed chunk bytes")
	addr, err := d.Put(data)
	if err != nil {
		t.Fatal(err)
	}
	if addr != AddrOf(data) {
		t.Fatalf("address %s is not the SHA-256 of the data", addr)
	}
	if again, err := d.Put(data); err != nil || again != addr {
		t.Fatalf("second Put: %s, %v", again, err)
	}
	got, err := d.Get(addr)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %q, %v", got, err)
	}
	if filepath.Base(filepath.Dir(d.Path(addr))) != addr.String()[:2] {
		t.Fatalf("blob not fanned out by its first byte: %s", d.Path(addr))
	}
	var n int
	if err := d.Walk(func(a Addr) error { n++; return nil }); err != nil || n != 1 {
		t.Fatalf("Walk saw %d blobs, %v", n, err)
	}
	if err := d.Delete(addr); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Get(addr); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v, want ErrNotFound", err)
	}
}

// Every read re-hashes: one flipped bit on disk is reported, never returned.
func TestDirDetectsFlippedBit(t *testing.T) {
	d, _ := OpenDir(t.TempDir())
	addr, _ := d.Put(bytes.Repeat([]byte{7}, 1000))
	p := d.Path(addr)
	raw, _ := os.ReadFile(p)
	raw[500] ^= 1
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := d.Get(addr)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get of a modified blob: %v, want ErrCorrupt", err)
	}
}

func TestParseAddr(t *testing.T) {
	a := AddrOf([]byte("x"))
	if p, err := ParseAddr(a.String()); err != nil || p != a {
		t.Fatalf("ParseAddr(String()) = %s, %v", p, err)
	}
	for _, bad := range []string{"", "zz", a.String()[:62], a.String() + "00", "g" + a.String()[1:]} {
		if _, err := ParseAddr(bad); err == nil {
			t.Errorf("ParseAddr(%q) accepted", bad)
		}
	}
}

// Storing bytes again repairs a damaged copy rather than trusting it.
func TestPutRepairs(t *testing.T) {
	d, _ := OpenDir(t.TempDir())
	data := []byte("chunk")
	addr, _ := d.Put(data)
	os.WriteFile(d.Path(addr), []byte("chunX"), 0o600)
	if _, err := d.Put(data); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Get(addr); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after re-Put: %q, %v", got, err)
	}
}
