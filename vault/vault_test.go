package vault_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/blob"
	"github.com/medchain/medchain/vocab"
)

// schema has a column of every field type.
var schema = record.Schema{
	{Name: "age", Type: "integer", Unit: "a"},
	{Name: "sex", Type: "code"},
	{Name: "sbp", Type: "number", System: "http://loinc.org", Code: "8480-6", Unit: "mm[Hg]"},
	{Name: "smoker", Type: "boolean"},
	{Name: "birth_year", Type: "year"},
	{Name: "zip3", Type: "string"},
}

// row is row i of a test dataset. Every column has nulls, and sbp is null
// on both sides of the first chunk boundary (rows 65535 and 65536).
func row(i int) record.Row {
	v := func(null bool, x record.Value) record.Value {
		if null {
			return record.Null()
		}
		return x
	}
	zip := record.Str(fmt.Sprintf("%03d", i%1000))
	if i%19 == 0 {
		zip = record.Str("") // empty is a value, not a null
	}
	return record.Row{
		Pseudonym: fmt.Sprintf("p%07d", i),
		Values: []record.Value{
			v(i%7 == 3, record.Num(float64(i%90))),
			v(i%11 == 0, record.Str([]string{"female", "male"}[i%2])),
			v(i%13 == 0 || i == 65535 || i == 65536, record.Num(100+float64(i%80)+0.25)),
			v(i%17 == 0, record.Bool(i%2 == 0)),
			v(i%29 == 0, record.Num(float64(1930+i%70))),
			v(i%23 == 0, zip),
		},
	}
}

// fixture is a vault with the node's key and a worker's.
type fixture struct {
	v      *vault.Vault
	node   *vault.Identity
	worker *vault.Identity
	other  *vault.Identity
}

func identity(t testing.TB, seed byte) *vault.Identity {
	t.Helper()
	k := keys.FromSeed("k", [32]byte{1: seed}) // byte 0 loses its low bits to X25519 clamping
	id, err := vault.NewIdentity(k.Enc)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	v, err := vault.Open(filepath.Join(t.TempDir(), "vault"))
	if err != nil {
		t.Fatal(err)
	}
	node, err := vault.NodeIdentity(keys.FromSeed("st-mary-admin", [32]byte{1}).Enc)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{v: v, node: node, worker: identity(t, 2), other: identity(t, 3)}
}

// write stores rows 0..n-1 as a version and returns its summary.
func (f *fixture) write(t testing.TB, dataset string, version uint64, n, chunkRows int) *vault.Summary {
	t.Helper()
	lk, err := f.v.Lock(dataset)
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Unlock()
	w, err := lk.Create(vault.Meta{Version: version, Schema: schema, ChunkRows: chunkRows,
		Recipients: []vault.Recipient{f.node.Recipient(), f.worker.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := w.Append(row(i)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (f *fixture) open(t testing.TB, s *vault.Summary, id *vault.Identity) *vault.Version {
	t.Helper()
	r, err := f.v.Open(s.Dataset, s.Version, s.ContentRoot, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Every value of every type, nulls included, comes back as written, at and
// around the chunk size.
func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	for _, n := range []int{0, 1, 65535, 65536, 65537} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := f.write(t, "rt", uint64(n+1), n, 0)
			if s.Rows != uint64(n) || s.Chunks != 7*((n+65535)/65536) {
				t.Fatalf("summary: %+v", s)
			}
			r := f.open(t, s, f.node)
			i := 0
			for got, err := range r.Rows() {
				if err != nil {
					t.Fatal(err)
				}
				want := row(i)
				if got.Pseudonym != want.Pseudonym || fmt.Sprint(got.Values) != fmt.Sprint(want.Values) {
					t.Fatalf("row %d:\n got %+v\nwant %+v", i, got, want)
				}
				i++
			}
			if i != n {
				t.Fatalf("read %d rows, wrote %d", i, n)
			}
		})
	}
}

// An analysis reads one column: only that column's chunks are touched.
func TestColumnReadsOnlyItsChunks(t *testing.T) {
	f := newFixture(t)
	s := f.write(t, "cols", 1, 100, 16)
	// Delete every chunk except those of sbp: reading sbp still works.
	m, err := f.v.Manifest("cols", 1)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := blob.OpenDir(filepath.Join(f.v.Root(), "datasets", "cols", "1", "blobs"))
	for _, c := range m.Columns {
		if c.Name != "sbp" {
			for _, ch := range c.Chunks {
				st.Delete(ch.Addr)
			}
		}
	}
	r := f.open(t, s, f.worker)
	var sum float64
	rows := 0
	for c, err := range r.Column("sbp") {
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < c.Rows; i++ {
			if c.Valid(i) {
				sum += c.Nums[i]
			}
		}
		rows += c.Rows
	}
	var want float64
	for i := 0; i < 100; i++ {
		if v := row(i).Values[2]; v.Kind == record.KindNumber {
			want += v.Num
		}
	}
	if rows != 100 || sum != want {
		t.Fatalf("sbp: %d rows, sum %v; want 100, %v", rows, sum, want)
	}
	for _, err := range r.Column("age") {
		if !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("age after its chunks were deleted: %v", err)
		}
		break
	}
	for _, err := range r.Column("no-such-column") {
		if !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("unknown column: %v", err)
		}
	}
}

// chunkPath is the file of one stored chunk.
func chunkPath(t *testing.T, f *fixture, dataset string, version uint64, col string, chunk int) string {
	t.Helper()
	m, err := f.v.Manifest(dataset, version)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range m.Columns {
		if c.Name == col {
			st, _ := blob.OpenDir(filepath.Join(f.v.Root(), "datasets", dataset, fmt.Sprint(version), "blobs"))
			return st.Path(c.Chunks[chunk].Addr)
		}
	}
	t.Fatalf("no column %s", col)
	return ""
}

// readAll reads a column to the end and returns the first error.
func readAll(r *vault.Version, col string) error {
	for _, err := range r.Column(col) {
		if err != nil {
			return err
		}
	}
	return nil
}

// wantVaultError checks err is a *vault.Error of the given kind whose text
// names exactly the given part.
func wantVaultError(t *testing.T, err error, kind error, names string) {
	t.Helper()
	var ve *vault.Error
	if !errors.As(err, &ve) || !errors.Is(err, kind) {
		t.Fatalf("got %v, want a *vault.Error wrapping %q", err, kind)
	}
	if !strings.Contains(err.Error(), names) {
		t.Fatalf("error %q does not name %q", err, names)
	}
}

func TestTamper(t *testing.T) {
	t.Run("flipped byte in a chunk", func(t *testing.T) {
		f := newFixture(t)
		s := f.write(t, "ds", 1, 100, 16)
		p := chunkPath(t, f, "ds", 1, "sbp", 2)
		b, _ := os.ReadFile(p)
		b[len(b)/2] ^= 0x01
		os.WriteFile(p, b, 0o600)

		r := f.open(t, s, f.node) // the manifest is intact
		err := readAll(r, "sbp")
		wantVaultError(t, err, vault.ErrCorrupt, "dataset ds version 1: column sbp chunk 2:")
		var ve *vault.Error
		errors.As(err, &ve)
		if ve.Dataset != "ds" || ve.Version != 1 || ve.Column != "sbp" || ve.Chunk != 2 {
			t.Fatalf("error fields: %+v", ve)
		}
		if err := readAll(r, "age"); err != nil {
			t.Fatalf("other columns are unaffected: %v", err)
		}
		_, err = r.Verify()
		wantVaultError(t, err, vault.ErrCorrupt, "column sbp chunk 2")
	})
	t.Run("two chunks' blobs exchanged", func(t *testing.T) {
		f := newFixture(t)
		s := f.write(t, "ds", 1, 100, 16)
		p0, p1 := chunkPath(t, f, "ds", 1, "sbp", 0), chunkPath(t, f, "ds", 1, "sbp", 1)
		b0, _ := os.ReadFile(p0)
		b1, _ := os.ReadFile(p1)
		os.WriteFile(p0, b1, 0o600)
		os.WriteFile(p1, b0, 0o600)
		wantVaultError(t, readAll(f.open(t, s, f.node), "sbp"), vault.ErrCorrupt, "column sbp chunk 0")
	})
	t.Run("chunk from another column", func(t *testing.T) {
		f := newFixture(t)
		s := f.write(t, "ds", 1, 100, 16)
		b, _ := os.ReadFile(chunkPath(t, f, "ds", 1, "age", 1))
		os.WriteFile(chunkPath(t, f, "ds", 1, "sbp", 1), b, 0o600)
		wantVaultError(t, readAll(f.open(t, s, f.node), "sbp"), vault.ErrCorrupt, "column sbp chunk 1")
	})
	t.Run("chunk from another version", func(t *testing.T) {
		f := newFixture(t)
		s := f.write(t, "ds", 1, 100, 16)
		f.write(t, "ds", 2, 100, 16)
		b, _ := os.ReadFile(chunkPath(t, f, "ds", 2, "sbp", 3))
		os.WriteFile(chunkPath(t, f, "ds", 1, "sbp", 3), b, 0o600)
		wantVaultError(t, readAll(f.open(t, s, f.node), "sbp"), vault.ErrCorrupt, "column sbp chunk 3")
	})
	t.Run("flipped byte in the manifest", func(t *testing.T) {
		f := newFixture(t)
		s := f.write(t, "ds", 1, 100, 16)
		p := filepath.Join(f.v.Root(), "datasets", "ds", "1", "blobs", s.Manifest[:2], s.Manifest)
		b, _ := os.ReadFile(p)
		b[10] ^= 0x20
		os.WriteFile(p, b, 0o600)
		_, err := f.v.Open("ds", 1, s.ContentRoot, f.node)
		wantVaultError(t, err, vault.ErrCorrupt, "dataset ds version 1: manifest:")
	})
	t.Run("manifest rewritten and re-stored", func(t *testing.T) {
		// Someone with write access to the vault but no data key edits
		// the manifest (here: a column's unit) and stores it properly
		// under its new hash.
		f := newFixture(t)
		s := f.write(t, "ds", 1, 100, 16)
		dir := filepath.Join(f.v.Root(), "datasets", "ds", "1")
		st, _ := blob.OpenDir(filepath.Join(dir, "blobs"))
		addr, _ := blob.ParseAddr(s.Manifest)
		b, _ := st.Get(addr)
		b = bytes.Replace(b, []byte(`"unit": "mm[Hg]"`), []byte(`"unit": "kPa"`), 1)
		naddr, _ := st.Put(b)
		os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte(naddr.String()+"\n"), 0o600)
		_, err := f.v.Open("ds", 1, s.ContentRoot, f.node)
		wantVaultError(t, err, vault.ErrCorrupt, "manifest: integrity check failed: the manifest does not authenticate")
	})
	t.Run("manifest of another version", func(t *testing.T) {
		f := newFixture(t)
		s := f.write(t, "ds", 1, 100, 16)
		f.write(t, "ds", 2, 50, 16)
		ref2, _ := os.ReadFile(filepath.Join(f.v.Root(), "datasets", "ds", "2", "MANIFEST"))
		os.WriteFile(filepath.Join(f.v.Root(), "datasets", "ds", "1", "MANIFEST"), ref2, 0o600)
		_, err := f.v.Open("ds", 1, s.ContentRoot, f.node)
		wantVaultError(t, err, vault.ErrNotFound, "dataset ds version 1: manifest:") // not in v1's store
	})
	t.Run("not the published root", func(t *testing.T) {
		f := newFixture(t)
		f.write(t, "ds", 1, 100, 16)
		other := f.write(t, "ds", 2, 100, 16)
		_, err := f.v.Open("ds", 1, other.ContentRoot, f.node)
		wantVaultError(t, err, vault.ErrRootMismatch, "dataset ds version 1: content root:")
	})
	t.Run("key not allowed", func(t *testing.T) {
		f := newFixture(t)
		s := f.write(t, "ds", 1, 10, 0)
		_, err := f.v.Open("ds", 1, s.ContentRoot, f.other)
		wantVaultError(t, err, vault.ErrNotRecipient, "dataset ds version 1: data key: key is not allowed to open this version: "+f.other.Recipient().String()+" is not among the 2 recipients")
	})
}

// Rotating who may open a version re-wraps its data key; no chunk changes.
func TestRewrap(t *testing.T) {
	f := newFixture(t)
	s := f.write(t, "ds", 1, 1000, 100)
	before, _ := f.v.Manifest("ds", 1)

	newWorker := identity(t, 9)
	if err := f.v.Rewrap("ds", 1, f.node, []vault.Recipient{f.node.Recipient(), newWorker.Recipient()}); err != nil {
		t.Fatal(err)
	}
	after, _ := f.v.Manifest("ds", 1)
	if fmt.Sprint(after.Columns) != fmt.Sprint(before.Columns) || after.ContentRoot != s.ContentRoot {
		t.Fatal("rewrap changed the data")
	}
	if got := strings.Join(after.Recipients(), " "); got != f.node.Recipient().String()+" "+newWorker.Recipient().String() {
		t.Fatalf("recipients after rewrap: %s", got)
	}
	if _, err := f.v.Open("ds", 1, s.ContentRoot, f.worker); !errors.Is(err, vault.ErrNotRecipient) {
		t.Fatalf("the removed worker opened the version: %v", err)
	}
	r := f.open(t, s, newWorker)
	if err := readAll(r, "sbp"); err != nil {
		t.Fatal(err)
	}
	// The old manifest, which still held the removed worker's wrapped key, is gone.
	old := filepath.Join(f.v.Root(), "datasets", "ds", "1", "blobs", s.Manifest[:2], s.Manifest)
	if _, err := os.Stat(old); !os.IsNotExist(err) {
		t.Fatalf("old manifest still stored: %v", err)
	}
	// Only a current recipient can rewrap.
	if err := f.v.Rewrap("ds", 1, f.worker, []vault.Recipient{f.worker.Recipient()}); !errors.Is(err, vault.ErrNotRecipient) {
		t.Fatalf("rewrap by a former recipient: %v", err)
	}
}

// Every chunk has an inclusion proof in the published root, checkable by
// anyone with the chunk's bytes and no key; a wrong chunk or a tampered
// proof does not verify.
func TestProofs(t *testing.T) {
	f := newFixture(t)
	s := f.write(t, "ds", 1, 100, 16) // 7 chunks per column, 49 leaves
	m, _ := f.v.Manifest("ds", 1)
	for _, c := range m.Columns {
		for i := range c.Chunks {
			sealed, p, err := f.v.ReadChunk("ds", 1, c.Name, i)
			if err != nil {
				t.Fatal(err)
			}
			if err := vault.VerifyChunk(s.ContentRoot, sealed, p); err != nil {
				t.Fatalf("%s/%d: %v", c.Name, i, err)
			}
		}
	}
	sealed, p, _ := f.v.ReadChunk("ds", 1, "sbp", 3)
	other, _, _ := f.v.ReadChunk("ds", 1, "sbp", 4)
	bad := func(name string, root string, b []byte, p *vault.Proof) {
		if err := vault.VerifyChunk(root, b, p); !errors.Is(err, vault.ErrInvalidProof) {
			t.Errorf("%s: %v, want ErrInvalidProof", name, err)
		}
	}
	flipped := bytes.Clone(sealed)
	flipped[0] ^= 1
	bad("flipped chunk byte", s.ContentRoot, flipped, p)
	bad("another chunk", s.ContentRoot, other, p)
	q := *p
	q.Hashes = append([][]byte{}, p.Hashes...)
	q.Hashes[1] = bytes.Clone(q.Hashes[1])
	q.Hashes[1][5] ^= 1
	bad("tampered proof hash", s.ContentRoot, sealed, &q)
	q = *p
	q.Index++
	bad("wrong index", s.ContentRoot, sealed, &q)
	q = *p
	q.Hashes = p.Hashes[:len(p.Hashes)-1]
	bad("truncated proof", s.ContentRoot, sealed, &q)
	bad("another root", f.write(t, "ds", 2, 100, 16).ContentRoot, sealed, p)
	bad("malformed root", "xyz", sealed, p)
}

func TestRecordBand(t *testing.T) {
	for n, want := range map[uint64]string{0: "<100", 99: "<100", 100: "100-999", 999: "100-999", 1000: "1k-10k",
		9999: "1k-10k", 10_000: "10k-100k", 99_999: "10k-100k", 100_000: "100k-1M", 999_999: "100k-1M", 1_000_000: ">1M"} {
		if got := vault.RecordBand(n); got != want {
			t.Errorf("RecordBand(%d) = %s, want %s", n, got, want)
		}
	}
	for _, b := range vocab.RecordBands {
		found := false
		for _, n := range []uint64{0, 100, 1000, 10_000, 100_000, 1_000_000} {
			found = found || vault.RecordBand(n) == b
		}
		if !found {
			t.Errorf("band %s never produced", b)
		}
	}
}

func TestCheckRow(t *testing.T) {
	ok := row(1)
	if err := vault.CheckRow(schema, &ok); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		mod   func(r *record.Row)
		field string
	}{
		"no pseudonym":       {func(r *record.Row) { r.Pseudonym = "" }, vault.PseudonymColumn},
		"missing value":      {func(r *record.Row) { r.Values = r.Values[:5] }, ""},
		"text in a number":   {func(r *record.Row) { r.Values[2] = record.Str("120") }, "sbp"},
		"fractional age":     {func(r *record.Row) { r.Values[0] = record.Num(40.5) }, "age"},
		"infinite number":    {func(r *record.Row) { r.Values[2] = record.Num(1 / zero()) }, "sbp"},
		"number in a bool":   {func(r *record.Row) { r.Values[3] = record.Num(1) }, "smoker"},
		"bool in a code":     {func(r *record.Row) { r.Values[1] = record.Bool(true) }, "sex"},
		"fractional year":    {func(r *record.Row) { r.Values[4] = record.Num(1970.2) }, "birth_year"},
		"number in a string": {func(r *record.Row) { r.Values[5] = record.Num(980) }, "zip3"},
	} {
		r := row(1)
		r.Values = append([]record.Value{}, r.Values...)
		c.mod(&r)
		err := vault.CheckRow(schema, &r)
		var ie *record.InputError
		if !errors.As(err, &ie) || ie.Field != c.field {
			t.Errorf("%s: %v (want an InputError on field %q)", name, err, c.field)
		}
	}
}

func zero() float64 { return 0 }

func TestCreateRejects(t *testing.T) {
	f := newFixture(t)
	lk, err := f.v.Lock("ds")
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Unlock()
	rs := []vault.Recipient{f.node.Recipient()}
	for name, m := range map[string]vault.Meta{
		"version 0":       {Version: 0, Schema: schema, Recipients: rs},
		"no recipients":   {Version: 1, Schema: schema},
		"reserved name":   {Version: 1, Schema: record.Schema{{Name: vault.PseudonymColumn, Type: "string"}}, Recipients: rs},
		"duplicate field": {Version: 1, Schema: record.Schema{{Name: "a", Type: "number"}, {Name: "a", Type: "code"}}, Recipients: rs},
		"unknown type":    {Version: 1, Schema: record.Schema{{Name: "a", Type: "date"}}, Recipients: rs},
	} {
		if _, err := lk.Create(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Nothing of a version is visible until Commit, and Abort (or a crash)
// leaves nothing behind; a committed version can be removed again when its
// publication fails.
func TestAllOrNothing(t *testing.T) {
	f := newFixture(t)
	lk, _ := f.v.Lock("ds")
	w, err := lk.Create(vault.Meta{Version: 1, Schema: schema, ChunkRows: 10, Recipients: []vault.Recipient{f.node.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 35; i++ {
		w.Append(row(i))
	}
	if f.v.Has("ds", 1) {
		t.Fatal("version visible before Commit")
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if n := countFiles(t, f.v.Root()); n != 0 {
		t.Fatalf("%d files left after Abort", n)
	}

	// A crash mid-write leaves a staging directory; the next Open clears it.
	w, _ = lk.Create(vault.Meta{Version: 1, Schema: schema, ChunkRows: 10, Recipients: []vault.Recipient{f.node.Recipient()}})
	for i := 0; i < 35; i++ {
		w.Append(row(i))
	}
	lk.Unlock() // the process dies: its lock goes with it
	if countFiles(t, f.v.Root()) == 0 {
		t.Fatal("expected staged chunks")
	}
	v2, err := vault.Open(f.v.Root())
	if err != nil {
		t.Fatal(err)
	}
	if n := countFiles(t, f.v.Root()); n != 0 {
		t.Fatalf("%d files left after reopening", n)
	}

	// Commit, then the publication fails: Abort removes the version.
	lk, _ = v2.Lock("ds")
	defer lk.Unlock()
	w, _ = lk.Create(vault.Meta{Version: 1, Schema: schema, Recipients: []vault.Recipient{f.node.Recipient()}})
	w.Append(row(0))
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if !v2.Has("ds", 1) {
		t.Fatal("committed version not visible")
	}
	if _, err := lk.Create(vault.Meta{Version: 1, Schema: schema, Recipients: []vault.Recipient{f.node.Recipient()}}); !errors.Is(err, vault.ErrExists) {
		t.Fatalf("second create of version 1: %v", err)
	}
	w.Abort()
	if v2.Has("ds", 1) || countFiles(t, f.v.Root()) != 0 {
		t.Fatal("aborted version still on disk")
	}
}

// countFiles counts regular files under root, except lock files and the
// secret.
func countFiles(t *testing.T, root string) int {
	t.Helper()
	n := 0
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && !strings.HasSuffix(p, ".lock") {
			n++
		}
		return nil
	})
	return n
}

func TestLock(t *testing.T) {
	f := newFixture(t)
	lk, err := f.v.Lock("ds")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.v.Lock("ds"); !errors.Is(err, vault.ErrLocked) {
		t.Fatalf("second lock: %v", err)
	}
	if other, err := f.v.Lock("other"); err != nil {
		t.Fatalf("lock of another dataset: %v", err)
	} else {
		other.Unlock()
	}
	lk.Unlock()
	lk, err = f.v.Lock("ds")
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	lk.Unlock()
	if _, err := f.v.Lock("../etc"); err == nil {
		t.Fatal("a path accepted as a dataset id")
	}
}

func TestSecret(t *testing.T) {
	f := newFixture(t)
	s1, err := f.v.Secret()
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := f.v.Secret()
	if len(s1) != vault.SecretSize || !bytes.Equal(s1, s2) || bytes.Equal(s1, make([]byte, vault.SecretSize)) {
		t.Fatalf("secret %x then %x", s1, s2)
	}
	info, err := os.Stat(filepath.Join(f.v.Root(), "secret"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", info.Mode(), err)
	}
}

func TestQuarantineIsSealed(t *testing.T) {
	f := newFixture(t)
	lk, _ := f.v.Lock("ds")
	defer lk.Unlock()
	w, _ := lk.Create(vault.Meta{Version: 1, Schema: schema, Recipients: []vault.Recipient{f.node.Recipient()}})
	w.Append(row(1))
	q := &vault.Quarantine{Rows: 1, Problems: []record.InputError{{Source: "Jane_Doe_42.json", Where: "Bundle.entry[3]", Field: "sbp", Reason: "implausible"}}}
	w.SetQuarantine(q)
	s, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.open(t, s, f.node).Quarantine()
	if err != nil || fmt.Sprint(got) != fmt.Sprint(q) {
		t.Fatalf("quarantine: %+v, %v", got, err)
	}
	if grepTree(t, f.v.Root(), "Jane_Doe") {
		t.Fatal("the quarantine report is stored in the clear")
	}
}

// The ingest report is sealed with the version like the quarantine report:
// its exact counts are read back only with a key the data key is wrapped to,
// and are not on disk in the clear.
func TestIngestReportIsSealed(t *testing.T) {
	f := newFixture(t)
	lk, _ := f.v.Lock("ds")
	defer lk.Unlock()
	w, _ := lk.Create(vault.Meta{Version: 1, Schema: schema, Recipients: []vault.Recipient{f.node.Recipient()}})
	w.Append(row(1))
	report := []byte(`{"rows_read":"Seventeen_Rows_Read"}`)
	w.SetIngestReport(report)
	s, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.open(t, s, f.node).IngestReport()
	if err != nil || !bytes.Equal(got, report) {
		t.Fatalf("ingest report: %q, %v", got, err)
	}
	if grepTree(t, f.v.Root(), "Seventeen_Rows_Read") {
		t.Fatal("the ingest report is stored in the clear")
	}
}

// grepTree reports whether any file under root contains s.
func grepTree(t *testing.T, root, s string) bool {
	t.Helper()
	found := false
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			found = found || bytes.Contains(b, []byte(s))
		}
		return nil
	})
	return found
}
