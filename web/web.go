// Package web serves medchain's web app: static files (built from web/app by
// `npm run build`, embedded in the binary) that talk to the node's own /v1
// API from the browser. Keys stay in the browser; the server never sees one.
package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed static
var static embed.FS

// Options adjust the web app.
type Options struct {
	// DevKeysDir, when set, serves the key files in that directory at
	// /dev-keys.json for one-click sign-in. Only a dev network (medchain up)
	// sets it: its demo keys are plaintext, public by design and marked DEV
	// ONLY in the page. A real node leaves it empty and serves no key.
	DevKeysDir string
}

// Handler serves the web app without dev keys.
func Handler() http.Handler { return HandlerWith(Options{}) }

// HandlerWith serves the web app.
func HandlerWith(o Options) http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		if r.URL.Path == "/dev-keys.json" {
			serveDevKeys(w, o.DevKeysDir)
			return
		}
		fsrv.ServeHTTP(w, r)
	})
}

// devKey is what the sign-in page needs of a dev key file.
type devKey struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	Seed    []byte `json:"ed25519_seed"`
	X25519  []byte `json:"x25519_private"`
	DevOnly bool   `json:"dev_only"`
}

func serveDevKeys(w http.ResponseWriter, dir string) {
	if dir == "" {
		http.NotFound(w, nil)
		return
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	sort.Strings(files)
	out := []devKey{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var k devKey
		// A key file that is not a plaintext key (an encrypted keystore
		// entry, say) has no seed and is not offered.
		if json.Unmarshal(b, &k) != nil || len(k.Seed) != 32 || len(k.X25519) != 32 || strings.HasSuffix(k.Name, "-worker") {
			continue
		}
		k.DevOnly = true
		out = append(out, k)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}
