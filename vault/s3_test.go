package vault_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/blob"
	"github.com/medchain/medchain/vault/blob/s3blob"
)

// The vault's blobs in S3: the tests speak the S3 API over loopback HTTP
// to gofakes3 (an S3 server written in Go, memory backend) started in the
// test process.

// bucket is a fresh bucket on an in-process S3 server.
type bucket struct {
	opts  s3blob.Options
	admin *minio.Client
}

func newBucket(t testing.TB) *bucket {
	t.Helper()
	ts := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(ts.Close)
	o := s3blob.Options{Endpoint: strings.TrimPrefix(ts.URL, "http://"), Bucket: "vault-st-mary", Prefix: "v1",
		AccessKey: "test-access", SecretKey: "test-secret", PathStyle: true}
	c, err := minio.New(o.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(context.Background(), o.Bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return &bucket{opts: o, admin: c}
}

func (b *bucket) store(t testing.TB) *s3blob.Store {
	t.Helper()
	st, err := s3blob.Open(b.opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// objects lists the keys in the bucket.
func (b *bucket) objects(t testing.TB) []string {
	t.Helper()
	var out []string
	for o := range b.admin.ListObjects(context.Background(), b.opts.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out = append(out, o.Key)
	}
	return out
}

// failing is the S3 store with its n-th Put (and every later one) failing,
// as when the server goes away mid-ingest.
type failing struct {
	vault.BlobStore
	n, puts atomic.Int64
}

func (f *failing) Put(b []byte) (blob.Addr, error) {
	if f.puts.Add(1) >= f.n.Load() {
		return blob.Addr{}, errors.New("injected: connection reset by peer")
	}
	return f.BlobStore.Put(b)
}

func s3Fixture(t testing.TB, st vault.BlobStore, name string) *fixture {
	t.Helper()
	f := newFixture(t)
	v, err := vault.OpenWith(filepath.Join(t.TempDir(), "vault"), st, name)
	if err != nil {
		t.Fatal(err)
	}
	f.v = v
	return f
}

// A version written with the blobs in S3 reads back whole; the version's
// directory holds only its MANIFEST pointer, the bucket one object per
// chunk plus the manifest.
func TestS3RoundTrip(t *testing.T) {
	b := newBucket(t)
	f := s3Fixture(t, b.store(t), b.opts.Locator())
	s := f.write(t, "rt", 1, 250, 100)
	if got, want := len(b.objects(t)), s.Chunks+1; got != want {
		t.Fatalf("bucket holds %d objects, want %d chunks + 1 manifest", got, want)
	}
	if n := countFiles(t, f.v.Root()); n != 2 { // BLOBSTORE and the MANIFEST pointer
		t.Fatalf("%d files in the vault directory, want 2", n)
	}
	r := f.open(t, s, f.worker)
	i := 0
	for got, err := range r.Rows() {
		if err != nil {
			t.Fatal(err)
		}
		if got.Pseudonym != row(i).Pseudonym {
			t.Fatalf("row %d: %s", i, got.Pseudonym)
		}
		i++
	}
	if i != 250 {
		t.Fatalf("read %d rows", i)
	}
	if _, err := r.Verify(); err != nil {
		t.Fatal(err)
	}
	// Rewrap stores a new manifest and deletes the old one.
	if err := f.v.Rewrap("rt", 1, f.node, []vault.Recipient{f.node.Recipient()}); err != nil {
		t.Fatal(err)
	}
	if got, want := len(b.objects(t)), s.Chunks+1; got != want {
		t.Fatalf("after rewrap the bucket holds %d objects, want %d", got, want)
	}
	if _, err := f.v.Open("rt", 1, s.ContentRoot, f.worker); !errors.Is(err, vault.ErrNotRecipient) {
		t.Fatalf("worker after rewrap: %v", err)
	}
}

// A write whose store fails part-way leaves nothing: no version visible,
// nothing staged, no object in the bucket. So does a committed version
// whose publication failed (Abort after Commit), and Lock.Remove of a
// version left behind.
func TestS3FailedWriteLeavesNothing(t *testing.T) {
	b := newBucket(t)
	st := &failing{BlobStore: b.store(t)}
	f := s3Fixture(t, st, b.opts.Locator())
	lk, err := f.v.Lock("ds")
	if err != nil {
		t.Fatal(err)
	}
	defer lk.Unlock()
	for _, failAt := range []int64{1, 5, 22} { // the first chunk, mid-way, the manifest (3 chunks × 7 columns + manifest)
		st.puts.Store(0)
		st.n.Store(failAt)
		w, err := lk.Create(vault.Meta{Version: 1, Schema: schema, ChunkRows: 10, Recipients: []vault.Recipient{f.node.Recipient()}})
		if err != nil {
			t.Fatal(err)
		}
		err = nil
		for i := 0; i < 25 && err == nil; i++ {
			err = w.Append(row(i))
		}
		if err == nil {
			_, err = w.Commit()
		} else {
			w.Abort()
		}
		if err == nil || !strings.Contains(err.Error(), "injected") {
			t.Fatalf("put %d failing: write error %v", failAt, err)
		}
		if f.v.Has("ds", 1) {
			t.Fatalf("put %d failing: version visible", failAt)
		}
		if objs := b.objects(t); len(objs) != 0 {
			t.Fatalf("put %d failing: %d objects left in the bucket: %v", failAt, len(objs), objs)
		}
		if n := countFiles(t, f.v.Root()); n != 1 { // BLOBSTORE
			t.Fatalf("put %d failing: %d files in the vault directory", failAt, n)
		}
	}

	st.n.Store(1 << 40)
	w, err := lk.Create(vault.Meta{Version: 1, Schema: schema, ChunkRows: 10, Recipients: []vault.Recipient{f.node.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 25; i++ {
		w.Append(row(i))
	}
	if _, err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	if !f.v.Has("ds", 1) || len(b.objects(t)) != 22 {
		t.Fatalf("committed: visible %v, %d objects", f.v.Has("ds", 1), len(b.objects(t)))
	}
	if err := w.Abort(); err != nil { // the ledger refused it
		t.Fatal(err)
	}
	if f.v.Has("ds", 1) || len(b.objects(t)) != 0 {
		t.Fatalf("aborted after commit: visible %v, %d objects", f.v.Has("ds", 1), len(b.objects(t)))
	}

	f.write(t, "left", 1, 25, 10)
	lk2, err := f.v.Lock("left")
	if err != nil {
		t.Fatal(err)
	}
	defer lk2.Unlock()
	if err := lk2.Remove(1); err != nil {
		t.Fatal(err)
	}
	if f.v.Has("left", 1) || len(b.objects(t)) != 0 {
		t.Fatalf("removed: visible %v, %d objects", f.v.Has("left", 1), len(b.objects(t)))
	}
}

// A vault's blob store is chosen once: Open refuses a vault whose blobs
// are in S3 (naming the store), OpenWith refuses another store, and a
// vault with versions in its directories cannot move to S3.
func TestBlobStoreIsChosenOnce(t *testing.T) {
	b := newBucket(t)
	root := filepath.Join(t.TempDir(), "vault")
	if _, err := vault.OpenWith(root, b.store(t), b.opts.Locator()); err != nil {
		t.Fatal(err)
	}
	if _, err := vault.Open(root); err == nil || !strings.Contains(err.Error(), b.opts.Locator()) {
		t.Fatalf("Open of an S3 vault: %v", err)
	}
	if _, err := vault.OpenWith(root, b.store(t), "s3://elsewhere/bucket"); err == nil || !strings.Contains(err.Error(), "cannot change") {
		t.Fatalf("OpenWith another store: %v", err)
	}

	f := newFixture(t)
	f.write(t, "ds", 1, 3, 0)
	if _, err := vault.OpenWith(f.v.Root(), b.store(t), b.opts.Locator()); err == nil || !strings.Contains(err.Error(), "already holds 1 version") {
		t.Fatalf("OpenWith a directory vault: %v", err)
	}
}

// BenchmarkWriteVersion writes a version of 65,536 rows × 6 columns (plus
// pseudonyms: 7 chunks) and commits it, with the blobs in the version's
// directory or in S3 (gofakes3 over loopback HTTP, in this process).
// Reported as rows/s.
func BenchmarkWriteVersion(b *testing.B) {
	for _, where := range []string{"dir", "s3"} {
		b.Run(where, func(b *testing.B) {
			var f *fixture
			if where == "s3" {
				bk := newBucket(b)
				f = s3Fixture(b, bk.store(b), bk.opts.Locator())
			} else {
				f = newFixture(b)
			}
			rows := make([]record.Row, 65536)
			for i := range rows {
				rows[i] = row(i)
			}
			v := uint64(0)
			for b.Loop() {
				v++
				lk, err := f.v.Lock("bench")
				if err != nil {
					b.Fatal(err)
				}
				w, err := lk.Create(vault.Meta{Version: v, Schema: schema, Recipients: []vault.Recipient{f.node.Recipient()}})
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range rows {
					if err := w.Append(r); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := w.Commit(); err != nil {
					b.Fatal(err)
				}
				lk.Unlock()
			}
			b.ReportMetric(float64(len(rows))*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkReadVersion reads every row of that version back (each chunk
// fetched, re-hashed, authenticated, decrypted, unpadded and decoded),
// from the directory or from S3. Reported as rows/s.
func BenchmarkReadVersion(b *testing.B) {
	for _, where := range []string{"dir", "s3"} {
		b.Run(where, func(b *testing.B) {
			var f *fixture
			if where == "s3" {
				bk := newBucket(b)
				f = s3Fixture(b, bk.store(b), bk.opts.Locator())
			} else {
				f = newFixture(b)
			}
			s := f.write(b, "bench", 1, 65536, 0)
			r := f.open(b, s, f.node)
			for b.Loop() {
				n := 0
				for _, err := range r.Rows() {
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != 65536 {
					b.Fatalf("read %d rows", n)
				}
			}
			b.ReportMetric(65536*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
