package vault_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/vault/blob"
)

// Finding 5 of issue 10: manifests are readable without the data key
// (anyone who can list the vault reads them) and showed the exact row
// count. Now a manifest carries the record band, as the ledger does; the
// exact count is sealed; and the sealed blobs are padded, so versions of
// 1, 7, 42 and 99 rows — all in the band "<100" — store blobs of the same
// sizes, and the count cannot be read off the files either. The exact
// count is still there for whoever holds the data key.
func TestManifestsCarryNoExactCount(t *testing.T) {
	f := newFixture(t)
	var sizes [][]int64
	for i, n := range []int{1, 7, 42, 99} {
		s := f.write(t, "small", uint64(i+1), n, 0)
		dir := filepath.Join(f.v.Root(), "datasets", "small", s.Locator[strings.LastIndex(s.Locator, "/")+1:])
		ref, err := os.ReadFile(filepath.Join(dir, "MANIFEST"))
		if err != nil {
			t.Fatal(err)
		}
		addr, err := blob.ParseAddr(strings.TrimSpace(string(ref)))
		if err != nil {
			t.Fatal(err)
		}
		st, err := blob.OpenDir(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := st.Get(addr)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if _, ok := m["rows"]; ok {
			t.Errorf("%d rows: the manifest states the row count: %v", n, m["rows"])
		}
		if m["record_band"] != "<100" {
			t.Errorf("%d rows: record band %v, want <100", n, m["record_band"])
		}
		if km, err := f.v.Manifest("small", uint64(i+1)); err != nil || km.Rows != 0 {
			t.Errorf("%d rows: read without the key, the manifest says %d rows (%v)", n, km.Rows, err)
		}
		var vs []int64
		st.Walk(func(a blob.Addr) error {
			if a != addr {
				fi, err := os.Stat(st.Path(a))
				if err != nil {
					t.Fatal(err)
				}
				vs = append(vs, fi.Size())
			}
			return nil
		})
		slices.Sort(vs)
		sizes = append(sizes, vs)
		if r := f.open(t, s, f.node); r.NumRows() != uint64(n) {
			t.Errorf("opened with the key: %d rows, want %d", r.NumRows(), n)
		}
	}
	for i := 1; i < len(sizes); i++ {
		if !slices.Equal(sizes[i], sizes[0]) {
			t.Errorf("chunk sizes differ between versions of the same band: %v and %v", sizes[0], sizes[i])
		}
	}
}
