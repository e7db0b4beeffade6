package vault_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medchain/medchain/vault"
)

func TestPatientLinks(t *testing.T) {
	dir := t.TempDir()
	v, err := vault.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	w1, w2 := strings.Repeat("a", 40), strings.Repeat("b", 40)
	if prev, err := v.LinkPatient("st-mary", "pseudo-1", w1); err != nil || prev != "" {
		t.Fatal(prev, err)
	}
	if prev, err := v.LinkPatient("st-mary", "pseudo-1", w2); err != nil || prev != w1 {
		t.Fatal(prev, err)
	}
	v.LinkPatient("st-mary", "pseudo-0", w1)
	l, err := v.Links("st-mary")
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := l.Wallet("pseudo-1"); !ok || got != w2 {
		t.Fatal(got, ok)
	}
	if _, ok := l.Wallet("pseudo-2"); ok {
		t.Fatal("unlinked pseudonym found")
	}
	if l, err := v.Links("northside"); err != nil || len(l.Links) != 0 {
		t.Fatal(l, err)
	}
	path := filepath.Join(dir, "links", "st-mary.links")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatal(st.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "pseudo-1") || strings.Contains(string(b), w2) {
		t.Fatal("link table stored in the clear")
	}
	// Another org's name on the file does not open (associated data), nor does a flipped bit.
	os.WriteFile(filepath.Join(dir, "links", "northside.links"), b, 0o600)
	if _, err := v.Links("northside"); !errors.Is(err, vault.ErrCorrupt) {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	os.WriteFile(path, b, 0o600)
	if _, err := v.Links("st-mary"); !errors.Is(err, vault.ErrCorrupt) {
		t.Fatal(err)
	}
	if _, err := v.LinkPatient("st-mary", "p", "not-a-wallet"); err == nil {
		t.Fatal("bad wallet accepted")
	}
}
