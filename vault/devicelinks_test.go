package vault_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/medchain/medchain/vault"
)

// The device link table: per organisation, sealed under the
// organisation's link-table key, readable only with a key that key is
// wrapped to, next to the patient link table without disturbing it.
func TestDeviceLinks(t *testing.T) {
	v, err := vault.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	node, other := identity(t, 1), identity(t, 3)
	if l, err := v.DeviceLinks("stmary", node); err != nil || len(l.Links) != 0 {
		t.Fatalf("fresh table: %v %v", l, err)
	}
	if prev, err := v.LinkDevice("stmary", "cuff-7", "psn-planted-4417", node); err != nil || prev != "" {
		t.Fatal(prev, err)
	}
	v.LinkDevice("stmary", "ox-1", "psn-b", node)
	if prev, err := v.LinkDevice("stmary", "cuff-7", "psn-c", node); err != nil || prev != "psn-planted-4417" {
		t.Fatalf("relink: %q %v", prev, err)
	}
	// The patient link table shares the key and is unaffected.
	if _, err := v.LinkPatient("stmary", "psn-c", "0123456789abcdef0123456789abcdef01234567", node); err != nil {
		t.Fatal(err)
	}
	l, err := v.DeviceLinks("stmary", node)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := l.Pseudonym("cuff-7"); !ok || p != "psn-c" {
		t.Fatalf("cuff-7 → %q %v", p, ok)
	}
	if _, ok := l.Pseudonym("unknown"); ok {
		t.Fatal("an unlinked device has a pseudonym")
	}
	if pl, err := v.Links("stmary", node); err != nil || len(pl.Links) != 1 {
		t.Fatalf("patient links beside device links: %v %v", pl, err)
	}
	// Another key, though the vault's secret is right there, opens nothing.
	if _, err := v.DeviceLinks("stmary", other); !errors.Is(err, vault.ErrNotRecipient) {
		t.Fatalf("another key: %v", err)
	}
	if l, _ := v.DeviceLinks("other", node); len(l.Links) != 0 {
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
	if _, err := v.DeviceLinks("stmary", node); !errors.Is(err, vault.ErrCorrupt) {
		t.Fatalf("modified table: %v", err)
	}
	for _, bad := range [][3]string{{"Bad Org", "d1", "p"}, {"o", "not an id!", "p"}, {"o", "d1", ""}} {
		if _, err := v.LinkDevice(bad[0], bad[1], bad[2], node); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// The series key is created once, wrapped to the node key, and opens only
// with it.
func TestSeriesKey(t *testing.T) {
	v, _ := vault.Open(t.TempDir())
	k1, err := v.SeriesKey(identity(t, 1))
	if err != nil || len(k1) != 32 {
		t.Fatal(k1, err)
	}
	k2, err := v.SeriesKey(identity(t, 1))
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("the series key changed")
	}
	secret, _ := v.Secret()
	if bytes.Equal(k1, secret) {
		t.Fatal("the series key is the secret")
	}
	if _, err := v.SeriesKey(identity(t, 2)); !errors.Is(err, vault.ErrNotRecipient) {
		t.Fatalf("another key: %v", err)
	}
}
