package keys_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medchain/medchain/keys"
)

func TestMain(m *testing.M) {
	restore := keys.SetScryptWorkFactor(10) // the files are what is tested, not scrypt's cost
	code := m.Run()
	restore()
	os.Exit(code)
}

// secretForms are the encodings a private key could be written in.
func secretForms(k *keys.Key) map[string][]byte {
	out := map[string][]byte{}
	for name, b := range map[string][]byte{"ed25519 seed": k.Sign.Seed(), "x25519 private key": k.Enc.Bytes()} {
		out[name+" (raw)"] = b
		out[name+" (hex)"] = []byte(hex.EncodeToString(b))
		out[name+" (base64)"] = []byte(base64.StdEncoding.EncodeToString(b))
		out[name+" (base64, unpadded)"] = []byte(base64.RawStdEncoding.EncodeToString(b))
	}
	return out
}

// readDir returns every byte of every file in dir.
func readDir(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

// Finding 5 of issue 10: private keys were plaintext JSON. A key saved
// anywhere but a dev keystore is encrypted under the passphrase: no form
// of its private keys is in the directory, it loads back with the
// passphrase, and not with another or with none.
func TestKeysAtRestAreEncrypted(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(keys.EnvPassphraseFile, "")
	t.Setenv(keys.EnvPassphrase, "correct horse battery staple")
	k, err := keys.Generate("st-mary-admin")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Save(dir); err != nil {
		t.Fatal(err)
	}
	all := readDir(t, dir)
	for form, b := range secretForms(k) {
		if bytes.Contains(all, b) {
			t.Errorf("the key directory holds the %s", form)
		}
	}
	if !bytes.Contains(all, []byte(k.Address())) {
		t.Error("the address is not in the clear (keys list shows it)")
	}
	got, err := keys.Load(dir, "st-mary-admin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Sign.Seed(), k.Sign.Seed()) || !bytes.Equal(got.Enc.Bytes(), k.Enc.Bytes()) {
		t.Fatal("loaded another key")
	}

	// Another process (no cache), a wrong passphrase, no passphrase.
	other := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(dir, "st-mary-admin.json"))
	os.WriteFile(filepath.Join(other, "st-mary-admin.json"), b, 0o600)
	t.Setenv(keys.EnvPassphrase, "wrong horse")
	if _, err := keys.Load(other, "st-mary-admin"); !errors.Is(err, keys.ErrPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	t.Setenv(keys.EnvPassphrase, "")
	if _, err := keys.Load(other, "st-mary-admin"); !errors.Is(err, keys.ErrNoPassphrase) || !strings.Contains(err.Error(), keys.EnvPassphraseFile) {
		t.Fatalf("no passphrase: %v", err)
	}
	// From a file, owner-only.
	pf := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(pf, []byte("correct horse battery staple\n"), 0o600)
	t.Setenv(keys.EnvPassphraseFile, pf)
	if got, err := keys.Load(other, "st-mary-admin"); err != nil || got.Address() != k.Address() {
		t.Fatalf("passphrase file: %v", err)
	}
	os.Chmod(pf, 0o644)
	if _, err := keys.LoadWith(t.TempDir(), "x", keys.FromEnvironment); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	if _, err := keys.FromEnvironment(false); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("world-readable passphrase file: %v", err)
	}
}

// A dev network's keys are plaintext, and say so: the directory holds the
// marker file, and every key file a warning.
func TestDevKeystoreIsMarked(t *testing.T) {
	dir := t.TempDir()
	if err := keys.MarkDev(dir); err != nil {
		t.Fatal(err)
	}
	t.Setenv(keys.EnvPassphraseFile, "")
	t.Setenv(keys.EnvPassphrase, "") // a dev keystore never asks
	k, _ := keys.Generate("patient-1")
	if err := k.Save(dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "patient-1.json"))
	if !bytes.Contains(b, []byte("UNENCRYPTED DEVELOPMENT KEY")) {
		t.Fatalf("a plaintext key without its warning:\n%s", b)
	}
	m, _ := os.ReadFile(filepath.Join(dir, keys.DevMarker))
	if !bytes.Contains(m, []byte("NOT ENCRYPTED")) {
		t.Fatalf("marker: %s", m)
	}
	if got, err := keys.Load(dir, "patient-1"); err != nil || got.Address() != k.Address() {
		t.Fatal(err)
	}
	if names, _ := keys.List(dir); len(names) != 1 || names[0] != "patient-1" {
		t.Fatalf("list: %v", names)
	}

	// The same plaintext file where no marker says dev is refused.
	plain := t.TempDir()
	os.WriteFile(filepath.Join(plain, "patient-1.json"), b, 0o600)
	if _, err := keys.Load(plain, "patient-1"); !errors.Is(err, keys.ErrPlaintext) {
		t.Fatalf("plaintext outside a dev keystore: %v", err)
	}
}

// A key file whose address does not match its key is refused.
func TestAddressChecked(t *testing.T) {
	dir := t.TempDir()
	keys.MarkDev(dir)
	k, _ := keys.Generate("a")
	k.Save(dir)
	other, _ := keys.Generate("b")
	b, _ := os.ReadFile(filepath.Join(dir, "a.json"))
	b = bytes.Replace(b, []byte(k.Address()), []byte(other.Address()), 1)
	os.WriteFile(filepath.Join(dir, "a.json"), b, 0o600)
	if _, err := keys.Load(dir, "a"); err == nil || !strings.Contains(err.Error(), "is not the key's") {
		t.Fatalf("mismatched address: %v", err)
	}
}

// BenchmarkLoadEncrypted loads a key encrypted at age's default scrypt
// work factor (2^18), in a fresh directory each time (no cache): the cost
// a guess at the passphrase also pays. BenchmarkLoadCached is a repeated
// load in one process, as a node's workers do.
func BenchmarkLoadEncrypted(b *testing.B) {
	restore := keys.SetScryptWorkFactor(18)
	defer restore()
	b.Setenv(keys.EnvPassphraseFile, "")
	b.Setenv(keys.EnvPassphrase, "correct horse battery staple")
	k, _ := keys.Generate("w")
	src := b.TempDir()
	if err := k.Save(src); err != nil {
		b.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(src, "w.json"))
	for b.Loop() {
		dir := b.TempDir()
		os.WriteFile(filepath.Join(dir, "w.json"), raw, 0o600)
		if _, err := keys.Load(dir, "w"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadCached(b *testing.B) {
	b.Setenv(keys.EnvPassphraseFile, "")
	b.Setenv(keys.EnvPassphrase, "correct horse battery staple")
	k, _ := keys.Generate("w")
	dir := b.TempDir()
	if err := k.Save(dir); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := keys.Load(dir, "w"); err != nil {
			b.Fatal(err)
		}
	}
}

// The public half of an encrypted key reads without the passphrase, and
// must agree with the private keys.
func TestLoadPublic(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(keys.EnvPassphraseFile, "")
	t.Setenv(keys.EnvPassphrase, "pass")
	k, _ := keys.Generate("a")
	if err := k.Save(dir); err != nil {
		t.Fatal(err)
	}
	t.Setenv(keys.EnvPassphrase, "")
	p, err := keys.LoadPublic(dir, "a")
	if err != nil || p.Address != k.Address() || !bytes.Equal(p.PubKey, k.PubKey()) || !bytes.Equal(p.EncPub, k.EncPub()) {
		t.Fatalf("public half: %+v %v", p, err)
	}
	// Another address in the clear is caught.
	other, _ := keys.Generate("b")
	b, _ := os.ReadFile(filepath.Join(dir, "a.json"))
	os.WriteFile(filepath.Join(dir, "a.json"), bytes.Replace(b, []byte(k.Address()), []byte(other.Address()), 1), 0o600)
	if _, err := keys.LoadPublic(dir, "a"); err == nil {
		t.Fatal("a mismatched address was accepted")
	}
}
