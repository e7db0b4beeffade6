package vault_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/medchain/medchain/vault"
)

func TestDeviceLinks(t *testing.T) {
	v, err := vault.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if l, err := v.DeviceLinks("stmary"); err != nil || len(l.Links) != 0 {
		t.Fatalf("fresh table: %v %v", l, err)
	}
	if prev, err := v.LinkDevice("stmary", "cuff-7", "psn-planted-4417"); err != nil || prev != "" {
		t.Fatal(prev, err)
	}
	v.LinkDevice("stmary", "ox-1", "psn-b")
	if prev, err := v.LinkDevice("stmary", "cuff-7", "psn-c"); err != nil || prev != "psn-planted-4417" {
		t.Fatalf("relink: %q %v", prev, err)
	}
	l, err := v.DeviceLinks("stmary")
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := l.Pseudonym("cuff-7"); !ok || p != "psn-c" {
		t.Fatalf("cuff-7 → %q %v", p, ok)
	}
	if _, ok := l.Pseudonym("unknown"); ok {
		t.Fatal("an unlinked device has a pseudonym")
	}
	// Another organisation's table is another table.
	if l, _ := v.DeviceLinks("other"); len(l.Links) != 0 {
		t.Fatal("tables leak between organisations")
	}
	// Sealed: neither device ids nor pseudonyms are readable in the file,
	// and a modified file is refused.
	path := filepath.Join(v.Root(), "links", "stmary.devices")
	data, _ := os.ReadFile(path)
	for _, s := range []string{"cuff-7", "psn-c", "ox-1"} {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("%s in the clear", s)
		}
	}
	data[len(data)-1] ^= 1
	os.WriteFile(path, data, 0o600)
	if _, err := v.DeviceLinks("stmary"); !errors.Is(err, vault.ErrCorrupt) {
		t.Fatalf("modified table: %v", err)
	}
	for _, bad := range [][3]string{{"Bad Org", "d1", "p"}, {"o", "not an id!", "p"}, {"o", "d1", ""}} {
		if _, err := v.LinkDevice(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
