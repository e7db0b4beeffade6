package web_test

import (
	"encoding/base64"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/web"
)

// TestImportEncryptedKeyFile imports a key file that `medchain key new`
// wrote outside a dev keystore — its secrets encrypted with age under the
// keystore passphrase (scrypt, age's default work factor) — into the
// browser: a wrong file passphrase is refused, the right one opens it in the
// page, and the key is kept encrypted under the browser passphrase. The
// page's address is the Go key's. Neither passphrase nor key was sent.
func TestImportEncryptedKeyFile(t *testing.T) {
	browser := chromium(t)
	const filePass, keepPass = "keystore passphrase 7", "browser passphrase 9"
	dir := t.TempDir()
	k, err := keys.Generate("carol-researcher")
	if err != nil {
		t.Fatal(err)
	}
	if err := k.SaveWith(dir, func(bool) ([]byte, error) { return []byte(filePass), nil }); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(dir, "carol-researcher.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(file), "age_scrypt") || strings.Contains(string(file), "ed25519_seed") {
		t.Fatalf("the key file is not the encrypted kind:\n%s", file)
	}
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	ctx, requests := browserCtx(t, browser)
	try := func(pass string) error {
		return run(ctx, chromedp.SetValue("#import-text", string(file), chromedp.ByID),
			chromedp.SetValue("#import-file-pass", pass, chromedp.ByID),
			chromedp.SetValue("#import-pass", keepPass, chromedp.ByID),
			chromedp.Click("#import-form button", chromedp.ByQuery))
	}
	if err := run(ctx, chromedp.Navigate(srv.URL+"/#signin"), chromedp.WaitVisible("#import-text", chromedp.ByID)); err != nil {
		t.Fatal(err)
	}
	if err := try("not the passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#signin-msg", "wrong passphrase for the key file"); err != nil {
		t.Fatal(err)
	}
	if err := try(filePass); err != nil {
		t.Fatal(err)
	}
	if _, err := waitText(ctx, "#signin-msg", "Imported and signed in as carol-researcher"); err != nil {
		t.Fatal(err)
	}
	var kept string
	if err := run(ctx, chromedp.Evaluate(`localStorage.getItem("medchain.keys.v1")`, &kept)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(kept, k.Address()) {
		t.Fatalf("the browser keeps %s, want the key of address %s", kept, k.Address())
	}
	secrets := map[string]string{"file passphrase": filePass, "browser passphrase": keepPass}
	for name, b := range map[string][]byte{"ed25519 seed": k.Sign.Seed(), "x25519 key": k.Enc.Bytes()} {
		secrets[name+" (base64)"] = base64.StdEncoding.EncodeToString(b)
		secrets[name+" (hex)"] = hex.EncodeToString(b)
		if strings.Contains(kept, secrets[name+" (base64)"]) {
			t.Errorf("the %s is kept in plaintext in localStorage", name)
		}
	}
	for _, r := range requests() {
		for name, s := range secrets {
			if strings.Contains(r, s) {
				t.Errorf("the %s was sent to the server: %.200s", name, r)
			}
		}
	}
}
