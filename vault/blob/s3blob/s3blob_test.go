package s3blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"

	"github.com/medchain/medchain/vault/blob"
)

// The tests speak the S3 API over loopback HTTP to a real server: by
// default gofakes3 (an S3 implementation in Go, memory backend) started in
// this process on 127.0.0.1; with MEDCHAIN_S3_TEST_LOCATOR set
// (e.g. s3://minioadmin:minioadmin@127.0.0.1:9000/x?tls=false&path-style=true)
// the same tests run against that server instead, each in a fresh bucket
// it creates and removes (the locator's bucket is ignored).

// server is an S3 endpoint for one test, with a fresh bucket.
type server struct {
	opts  Options       // for the store under test (bucket, prefix set)
	admin *minio.Client // direct access to the bucket, to tamper
}

func newServer(tb testing.TB) *server {
	tb.Helper()
	var base Options
	if loc := os.Getenv("MEDCHAIN_S3_TEST_LOCATOR"); loc != "" {
		o, err := ParseLocator(loc)
		if err != nil {
			tb.Fatal(err)
		}
		base = o
	} else {
		ts := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
		tb.Cleanup(ts.Close)
		base = Options{Endpoint: strings.TrimPrefix(ts.URL, "http://"), AccessKey: "test-access", SecretKey: "test-secret", PathStyle: true}
	}
	var rnd [4]byte
	rand.Read(rnd[:])
	base.Bucket = "medchain-test-" + hex.EncodeToString(rnd[:])
	base.Prefix = "st-mary/vault"
	st, err := New(base)
	if err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	if err := st.c.MakeBucket(ctx, base.Bucket, minio.MakeBucketOptions{Region: base.Region}); err != nil {
		tb.Fatalf("make bucket: %v", err)
	}
	tb.Cleanup(func() {
		if ok, _ := st.c.BucketExists(ctx, base.Bucket); !ok {
			return
		}
		for o := range st.c.ListObjects(ctx, base.Bucket, minio.ListObjectsOptions{Recursive: true}) {
			if o.Err == nil {
				st.c.RemoveObject(ctx, base.Bucket, o.Key, minio.RemoveObjectOptions{})
			}
		}
		st.c.RemoveBucket(ctx, base.Bucket)
	})
	return &server{opts: base, admin: st.c}
}

func (s *server) open(tb testing.TB) *Store {
	tb.Helper()
	st, err := Open(s.opts)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// objects lists every key in the bucket.
func (s *server) objects(tb testing.TB) []string {
	tb.Helper()
	var keys []string
	for o := range s.admin.ListObjects(context.Background(), s.opts.Bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			tb.Fatal(o.Err)
		}
		keys = append(keys, o.Key)
	}
	return keys
}

func (s *server) putRaw(tb testing.TB, key string, data []byte) {
	tb.Helper()
	_, err := s.admin.PutObject(context.Background(), s.opts.Bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	if err != nil {
		tb.Fatal(err)
	}
}

func TestS3RoundTrip(t *testing.T) {
	srv := newServer(t)
	st := srv.open(t)
	data := []byte("sealed chunk bytes")
	addr, err := st.Put(data)
	if err != nil {
		t.Fatal(err)
	}
	if addr != blob.AddrOf(data) {
		t.Fatalf("address %s is not the SHA-256 of the data", addr)
	}
	h := addr.String()
	if want := "st-mary/vault/" + h[:2] + "/" + h; st.Key(addr) != want {
		t.Fatalf("key %q, want %q (blob.Dir's layout under the prefix)", st.Key(addr), want)
	}
	got, err := st.Get(addr)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %q, %v", got, err)
	}
	small, err := st.Put([]byte{0})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(small); err != nil || !bytes.Equal(got, []byte{0}) {
		t.Fatalf("Get of a one-byte blob: %q, %v", got, err)
	}
	if ok, err := st.Has(addr); err != nil || !ok {
		t.Fatalf("Has: %v, %v", ok, err)
	}
	// Objects outside the prefix, or not named like blobs, are not blobs.
	srv.putRaw(t, "elsewhere/"+h[:2]+"/"+h, data)
	srv.putRaw(t, "st-mary/vault/README", []byte("x"))
	srv.putRaw(t, "st-mary/vault/00/"+h, data) // wrong fan-out directory
	var seen []blob.Addr
	if err := st.Walk(func(a blob.Addr) error { seen = append(seen, a); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 {
		t.Fatalf("Walk saw %v, want the 2 blobs", seen)
	}
	if err := st.Delete(addr); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(addr); err != nil {
		t.Fatalf("second Delete: %v", err)
	}
	if ok, err := st.Has(addr); err != nil || ok {
		t.Fatalf("Has after Delete: %v, %v", ok, err)
	}
}

func TestS3PutIdempotent(t *testing.T) {
	srv := newServer(t)
	st := srv.open(t)
	data := bytes.Repeat([]byte("chunk "), 1000)
	a1, err := st.Put(data)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := st.Put(data)
	if err != nil || a2 != a1 {
		t.Fatalf("second Put: %s, %v (first %s)", a2, err, a1)
	}
	// A second store on the same bucket and prefix (another process, a
	// retry after a lost answer) agrees.
	a3, err := srv.open(t).Put(data)
	if err != nil || a3 != a1 {
		t.Fatalf("Put through a second store: %s, %v", a3, err)
	}
	if keys := srv.objects(t); len(keys) != 1 || keys[0] != st.Key(a1) {
		t.Fatalf("bucket holds %q, want exactly [%q]", keys, st.Key(a1))
	}
	if got, err := st.Get(a1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get: %d bytes, %v", len(got), err)
	}
}

// An object modified in the bucket (here overwritten through the S3 API,
// one bit flipped) is reported by Get, never returned; storing the bytes
// again repairs it.
func TestS3DetectsCorruptObject(t *testing.T) {
	srv := newServer(t)
	st := srv.open(t)
	data := bytes.Repeat([]byte{7}, 1000)
	addr, err := st.Put(data)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(data)
	bad[500] ^= 1
	srv.putRaw(t, st.Key(addr), bad)
	_, err = st.Get(addr)
	if !errors.Is(err, blob.ErrCorrupt) {
		t.Fatalf("Get of a modified object: %v, want ErrCorrupt", err)
	}
	for _, want := range []string{srv.opts.Bucket, st.Key(addr), blob.AddrOf(bad).String()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if _, err := st.Put(data); err != nil {
		t.Fatal(err)
	}
	if got, err := st.Get(addr); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("after re-Put: %d bytes, %v", len(got), err)
	}
}

func TestS3MissingObject(t *testing.T) {
	srv := newServer(t)
	st := srv.open(t)
	addr := blob.AddrOf([]byte("never stored"))
	_, err := st.Get(addr)
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get of a missing blob: %v, want ErrNotFound", err)
	}
	if errors.Is(err, ErrNoBucket) || errors.Is(err, blob.ErrCorrupt) {
		t.Fatalf("missing blob reported as %v", err)
	}
	for _, want := range []string{srv.opts.Bucket, st.Key(addr)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	if ok, err := st.Has(addr); err != nil || ok {
		t.Fatalf("Has of a missing blob: %v, %v", ok, err)
	}
}

// A bucket that does not exist is a configuration error, named, and never
// mistaken for a missing blob: at Open, and if it vanishes later.
func TestS3MissingBucket(t *testing.T) {
	srv := newServer(t)
	o := srv.opts
	o.Bucket = "medchain-no-such-bucket"
	_, err := Open(o)
	if !errors.Is(err, ErrNoBucket) || !strings.Contains(err.Error(), `"medchain-no-such-bucket"`) {
		t.Fatalf("Open of a missing bucket: %v, want ErrNoBucket naming the bucket", err)
	}

	st := srv.open(t)
	if err := srv.admin.RemoveBucket(context.Background(), srv.opts.Bucket); err != nil {
		t.Fatal(err)
	}
	data := []byte("chunk")
	addr := blob.AddrOf(data)
	_, perr := st.Put(data)
	_, gerr := st.Get(addr)
	for op, err := range map[string]error{"Put": perr, "Get": gerr} {
		if !errors.Is(err, ErrNoBucket) || errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%s after the bucket was removed: %v, want ErrNoBucket", op, err)
			continue
		}
		for _, want := range []string{srv.opts.Bucket, st.Key(addr)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s error %q does not name %q", op, err, want)
			}
		}
	}
	if ok, err := st.Has(addr); ok || !errors.Is(err, ErrNoBucket) {
		t.Errorf("Has after the bucket was removed: %v, %v, want ErrNoBucket", ok, err)
	}
	if err := st.Walk(func(blob.Addr) error { return nil }); !errors.Is(err, ErrNoBucket) {
		t.Errorf("Walk after the bucket was removed: %v, want ErrNoBucket", err)
	}
}

func TestParseLocator(t *testing.T) {
	env := map[string]string{"AWS_ACCESS_KEY_ID": "envkey", "AWS_SECRET_ACCESS_KEY": "envsecret"}
	getenv := func(k string) string { return env[k] }
	for _, c := range []struct {
		loc  string
		want Options
	}{
		{"s3://minio.internal:9000/vault", Options{Endpoint: "minio.internal:9000", Bucket: "vault", AccessKey: "envkey", SecretKey: "envsecret", TLS: true}},
		{"s3://127.0.0.1:9000/vault/st-mary/v1?tls=false&path-style=true&region=eu-west-1",
			Options{Endpoint: "127.0.0.1:9000", Bucket: "vault", Prefix: "st-mary/v1", AccessKey: "envkey", SecretKey: "envsecret", Region: "eu-west-1", PathStyle: true}},
		{"s3://ak:sk@s3.amazonaws.com/b/", Options{Endpoint: "s3.amazonaws.com", Bucket: "b", AccessKey: "ak", SecretKey: "sk", TLS: true}},
	} {
		got, err := parseLocator(c.loc, getenv)
		if err != nil || got != c.want {
			t.Errorf("parseLocator(%q) = %+v, %v; want %+v", c.loc, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "http://h/b", "s3:///b", "s3://h", "s3://h/", "s3://h/b?tls=maybe", "s3://h/b?colour=red", "s3://ak:topsecret@h/b?tls=maybe"} {
		_, err := parseLocator(bad, getenv)
		if err == nil {
			t.Errorf("parseLocator(%q) accepted", bad)
		} else if strings.Contains(err.Error(), "topsecret") {
			t.Errorf("parseLocator(%q) error shows the secret: %v", bad, err)
		}
	}
	o := Options{Endpoint: "h:9000", Bucket: "b", Prefix: "p", AccessKey: "ak", SecretKey: "sk", PathStyle: true}
	if got, want := o.Locator(), "s3://h:9000/b/p?path-style=true&tls=false"; got != want {
		t.Errorf("Locator() = %q, want %q (and no credentials)", got, want)
	}
}

const mib = 1 << 20

// BenchmarkPut1MiB and BenchmarkGet1MiB store and read 1 MiB chunks through
// the S3 store (loopback HTTP to the in-process server; Get includes the
// SHA-256 check) and, for comparison, through blob.Dir (Put fsyncs).
func BenchmarkPut1MiB(b *testing.B) {
	b.Run("s3", func(b *testing.B) { benchPut(b, newServer(b).open(b)) })
	b.Run("dir", func(b *testing.B) { benchPut(b, openDir(b)) })
}

func BenchmarkGet1MiB(b *testing.B) {
	b.Run("s3", func(b *testing.B) { benchGet(b, newServer(b).open(b)) })
	b.Run("dir", func(b *testing.B) { benchGet(b, openDir(b)) })
}

func openDir(b *testing.B) blob.Store {
	d, err := blob.OpenDir(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return d
}

func benchPut(b *testing.B, st blob.Store) {
	data := make([]byte, mib)
	rand.Read(data)
	b.SetBytes(mib)
	for i := 0; b.Loop(); i++ {
		data[0], data[1], data[2], data[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24) // a new blob each time
		if _, err := st.Put(data); err != nil {
			b.Fatal(err)
		}
	}
}

func benchGet(b *testing.B, st blob.Store) {
	data := make([]byte, mib)
	rand.Read(data)
	addr, err := st.Put(data)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(mib)
	for b.Loop() {
		if _, err := st.Get(addr); err != nil {
			b.Fatal(err)
		}
	}
}
