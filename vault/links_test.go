package vault_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
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
	node, worker, other := identity(t, 1), identity(t, 2), identity(t, 3)
	w1, w2 := strings.Repeat("a", 40), strings.Repeat("b", 40)
	if prev, err := v.LinkPatient("st-mary", "pseudo-1", w1, node); err != nil || prev != "" {
		t.Fatal(prev, err)
	}
	// The worker is given the table when the next link is written.
	if prev, err := v.LinkPatient("st-mary", "pseudo-1", w2, node, worker.Recipient()); err != nil || prev != w1 {
		t.Fatal(prev, err)
	}
	v.LinkPatient("st-mary", "pseudo-0", w1, node)
	for _, id := range []*vault.Identity{node, worker} {
		l, err := v.Links("st-mary", id)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := l.Wallet("pseudo-1"); !ok || got != w2 {
			t.Fatal(got, ok)
		}
		if _, ok := l.Wallet("pseudo-2"); ok {
			t.Fatal("unlinked pseudonym found")
		}
	}
	// A key the table is not shared with reads nothing, nor links.
	if _, err := v.Links("st-mary", other); !errors.Is(err, vault.ErrNotRecipient) {
		t.Fatalf("links read by a stranger: %v", err)
	}
	if _, err := v.LinkPatient("st-mary", "pseudo-9", w1, other); !errors.Is(err, vault.ErrNotRecipient) {
		t.Fatalf("link written by a stranger: %v", err)
	}
	if l, err := v.Links("northside", other); err != nil || len(l.Links) != 0 {
		t.Fatal(l, err)
	}
	path := filepath.Join(dir, "links", "st-mary.links")
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatal(st.Mode(), err)
	}
	if st, err := os.Stat(filepath.Join(dir, "links", "st-mary.key")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatal(st.Mode(), err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "pseudo-1") || strings.Contains(string(b), w2) {
		t.Fatal("link table stored in the clear")
	}
	// Another org's name on the file does not open (associated data), nor does a flipped bit.
	kb, _ := os.ReadFile(filepath.Join(dir, "links", "st-mary.key"))
	os.WriteFile(filepath.Join(dir, "links", "northside.links"), b, 0o600)
	os.WriteFile(filepath.Join(dir, "links", "northside.key"), kb, 0o600)
	if _, err := v.Links("northside", node); !errors.Is(err, vault.ErrCorrupt) {
		t.Fatal(err)
	}
	b[len(b)-1] ^= 1
	os.WriteFile(path, b, 0o600)
	if _, err := v.Links("st-mary", node); !errors.Is(err, vault.ErrCorrupt) {
		t.Fatal(err)
	}
	if _, err := v.LinkPatient("st-mary", "p", "not-a-wallet", node); err == nil {
		t.Fatal("bad wallet accepted")
	}
}

// TestCopiedVaultMapsNoPseudonym is finding 5 of issue 10: a copy of the
// vault's secret and links/ was enough to map pseudonyms to wallets,
// because the table's key was derived from the secret. Here an intruder
// copies exactly those files and tries every way in: the old derivation
// (HKDF of the secret), and the vault API with keys of their own. Nothing
// opens; the institution's node key still does.
func TestCopiedVaultMapsNoPseudonym(t *testing.T) {
	src := t.TempDir()
	v, err := vault.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := v.Secret()
	if err != nil {
		t.Fatal(err)
	}
	node := identity(t, 1)
	wallet := strings.Repeat("c", 40)
	if _, err := v.LinkPatient("st-mary", "pseudo-7", wallet, node); err != nil {
		t.Fatal(err)
	}

	// The copy: secret and links/, nothing else.
	dst := t.TempDir()
	copied := []string{"secret"}
	entries, _ := os.ReadDir(filepath.Join(src, "links"))
	for _, e := range entries {
		copied = append(copied, filepath.Join("links", e.Name()))
	}
	for _, f := range copied {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dst, f)), 0o700)
		os.WriteFile(filepath.Join(dst, f), b, 0o600)
	}

	// The old way in: the table's key derived from the secret.
	sealed, err := os.ReadFile(filepath.Join(dst, "links", "st-mary.links"))
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range []string{"medchain/vault/patient-links/v1", "medchain/vault/patient-links/v2"} {
		key, _ := hkdf.Key(sha256.New, secret, nil, info, 32)
		blk, _ := aes.NewCipher(key)
		aead, _ := cipher.NewGCMWithRandomNonce(blk)
		for _, ad := range [][]byte{[]byte(info + "\x00st-mary"), nil} {
			if plain, err := aead.Open(nil, nil, sealed, ad); err == nil {
				t.Fatalf("the copied table opens under a key derived from the copied secret: %s", plain)
			}
		}
	}
	// Through the vault, with any key the intruder has, or makes.
	cv, err := vault.Open(dst)
	if err != nil {
		t.Fatal(err)
	}
	if cs, _ := cv.Secret(); !bytes.Equal(cs, secret) {
		t.Fatal("the copy does not hold the secret")
	}
	for _, id := range []*vault.Identity{identity(t, 3), identity(t, 4)} {
		l, err := cv.Links("st-mary", id)
		if err == nil {
			t.Fatalf("the copied table opens with a stranger's key: %+v", l)
		}
		if _, err := cv.LinkPatient("st-mary", "pseudo-8", wallet, id); err == nil {
			t.Fatal("a stranger re-keyed the copied table")
		}
	}
	// Every byte of the copy: no wallet, no pseudonym in the clear.
	for _, f := range copied {
		b, _ := os.ReadFile(filepath.Join(dst, f))
		if bytes.Contains(b, []byte(wallet)) || bytes.Contains(b, []byte("pseudo-7")) {
			t.Fatalf("%s holds a link in the clear", f)
		}
	}
	// The institution's own key maps it.
	l, err := cv.Links("st-mary", node)
	if err != nil {
		t.Fatal(err)
	}
	if w, ok := l.Wallet("pseudo-7"); !ok || w != wallet {
		t.Fatalf("node key: %q %v", w, ok)
	}
}

// TestLinksFastDecode: the fast path decodes what json.Marshal writes to
// the same table as encoding/json, and anything unusual falls back to it.
func TestLinksFastDecode(t *testing.T) {
	for _, l := range []vault.Links{
		{Org: "st-mary"},
		{Org: "st-mary", Links: []vault.Link{}},
		{Org: "st-mary", Links: []vault.Link{{Pseudonym: "a1", Wallet: strings.Repeat("0", 40)}, {Pseudonym: "b2", Wallet: strings.Repeat("f", 40)}}},
		{Org: "st-mary", Links: []vault.Link{{Pseudonym: "a<b&\"c\\d\u00e9\x01", Wallet: "w"}}},
	} {
		plain, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := vault.DecodeLinks(plain)
		if err != nil {
			t.Fatalf("%s: %v", plain, err)
		}
		var want vault.Links
		if err := json.Unmarshal(plain, &want); err != nil {
			t.Fatal(err)
		}
		if len(got.Links) == 0 && len(want.Links) == 0 {
			got.Links, want.Links = nil, nil
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: decoded %+v, encoding/json %+v", plain, got, want)
		}
	}
	for _, bad := range []string{``, `{`, `{"org":"x","links":[{"pseudonym":"a","wallet":"b"}`, `{"org":"x","links":[]}x`, `[]`} {
		if _, err := vault.DecodeLinks([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
	// Whitespace and key order differ from json.Marshal's: the fallback.
	got, err := vault.DecodeLinks([]byte(` { "links" : [ { "wallet":"w", "pseudonym":"p" } ], "org":"o" } `))
	if err != nil || got.Org != "o" || len(got.Links) != 1 || got.Links[0] != (vault.Link{Pseudonym: "p", Wallet: "w"}) {
		t.Errorf("fallback: %+v %v", got, err)
	}
}

// BenchmarkLinkPatients100k writes a link table of 100,000 links in one
// LinkPatients (creating and wrapping its key) and reads it back with a
// worker's key, as the worker does before each job.
func BenchmarkLinkPatients100k(b *testing.B) {
	const n = 100_000
	links := make([]vault.Link, n)
	for i := range links {
		links[i] = vault.Link{Pseudonym: fmt.Sprintf("%064x", i), Wallet: fmt.Sprintf("%040x", i)}
	}
	node, worker := identity(b, 1), identity(b, 2)
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			v, err := vault.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			if _, err := v.LinkPatients("st-mary", links, node, worker.Recipient()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("read", func(b *testing.B) {
		v, err := vault.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.LinkPatients("st-mary", links, node, worker.Recipient()); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			l, err := v.Links("st-mary", worker)
			if err != nil || len(l.Links) != n {
				b.Fatal(err)
			}
		}
	})
}
