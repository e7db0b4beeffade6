// Package s3blob keeps the vault's blobs in a bucket of an S3-compatible
// object store (AWS S3, MinIO, Ceph RGW, …), through minio-go. *Store
// implements blob.Store with the guarantees of the directory store
// (blob.Dir): a blob's key is the SHA-256 of its bytes, storing the same
// bytes twice is not an error, and every read re-hashes what the server
// returned, so a modified object is an error (blob.ErrCorrupt), never data.
//
// Objects are laid out like blob.Dir's files — <prefix><hex[0:2]>/<hex> —
// so a directory store can be copied into a bucket (or back) with any S3
// sync tool and read through the other store.
//
// The package is separate from vault/blob so that only a program that
// stores blobs in S3 links the S3 client.
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/medchain/medchain/vault/blob"
)

// ErrNoBucket is wrapped by every error caused by the configured bucket not
// existing (or not being visible to the credentials). It is deliberately
// not blob.ErrNotFound: a missing bucket is a configuration error, not a
// missing blob.
var ErrNoBucket = errors.New("bucket does not exist")

// DefaultTimeout bounds one store operation (with minio-go's retries).
const DefaultTimeout = 2 * time.Minute

// Options configure a Store.
type Options struct {
	// Endpoint is the server's host[:port], without scheme
	// ("s3.eu-west-1.amazonaws.com", "minio.internal:9000").
	Endpoint string
	// Bucket must exist; Open does not create it.
	Bucket string
	// Prefix is prepended to every key, e.g. "st-mary/vault/"; "" is the
	// bucket's root. A non-empty prefix without a trailing "/" gets one.
	Prefix string
	// AccessKey and SecretKey are the static credentials (SessionToken for
	// temporary ones). All empty means anonymous requests.
	AccessKey    string
	SecretKey    string
	SessionToken string
	// Region is the bucket's region ("" lets the client discover it).
	Region string
	// TLS selects HTTPS (true) or plain HTTP (false, for a server on a
	// trusted local network or loopback).
	TLS bool
	// PathStyle forces path-style requests (http://host/bucket/key), which
	// most on-premises servers expect; false lets minio-go choose
	// (virtual-host style for AWS, path style for IP addresses).
	PathStyle bool
	// Timeout bounds one operation; 0 means DefaultTimeout.
	Timeout time.Duration
}

// ParseLocator reads options from a locator of the form
//
//	s3://[ACCESS_KEY:SECRET_KEY@]HOST[:PORT]/BUCKET[/PREFIX][?tls=false&region=R&path-style=true]
//
// TLS is on unless tls=false (or tls=off). Credentials missing from the
// locator are taken from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN; keeping them out of the locator keeps them out of
// command lines, shell histories and logs.
func ParseLocator(loc string) (Options, error) {
	return parseLocator(loc, os.Getenv)
}

func parseLocator(loc string, getenv func(string) string) (Options, error) {
	var o Options
	bad := func(why string) (Options, error) {
		return Options{}, fmt.Errorf("s3 locator %q: %s (want s3://host[:port]/bucket[/prefix][?tls=false])", redact(loc), why)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return bad("not a URL")
	}
	if u.Scheme != "s3" {
		return bad("scheme is not s3")
	}
	if u.Host == "" {
		return bad("no endpoint host")
	}
	o.Endpoint = u.Host
	path := strings.TrimPrefix(u.Path, "/")
	o.Bucket, o.Prefix, _ = strings.Cut(path, "/")
	if o.Bucket == "" {
		return bad("no bucket")
	}
	if u.User != nil {
		o.AccessKey = u.User.Username()
		o.SecretKey, _ = u.User.Password()
	} else {
		o.AccessKey = getenv("AWS_ACCESS_KEY_ID")
		o.SecretKey = getenv("AWS_SECRET_ACCESS_KEY")
		o.SessionToken = getenv("AWS_SESSION_TOKEN")
	}
	o.TLS = true
	for k, vs := range u.Query() {
		v := vs[len(vs)-1]
		switch k {
		case "tls":
			switch strings.ToLower(v) {
			case "true", "on", "1":
				o.TLS = true
			case "false", "off", "0":
				o.TLS = false
			default:
				return bad("tls must be true or false")
			}
		case "region":
			o.Region = v
		case "path-style":
			switch strings.ToLower(v) {
			case "true", "on", "1":
				o.PathStyle = true
			case "false", "off", "0":
				o.PathStyle = false
			default:
				return bad("path-style must be true or false")
			}
		default:
			return bad(fmt.Sprintf("unknown parameter %q", k))
		}
	}
	return o, nil
}

// redact hides the secret of a locator that carries credentials.
func redact(loc string) string {
	u, err := url.Parse(loc)
	if err != nil || u.User == nil {
		return loc
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	return u.String()
}

// Locator is the options as a locator, without credentials.
func (o Options) Locator() string {
	u := url.URL{Scheme: "s3", Host: o.Endpoint, Path: "/" + o.Bucket + "/" + o.prefix()}
	u.Path = strings.TrimSuffix(u.Path, "/")
	q := url.Values{}
	if !o.TLS {
		q.Set("tls", "false")
	}
	if o.Region != "" {
		q.Set("region", o.Region)
	}
	if o.PathStyle {
		q.Set("path-style", "true")
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (o Options) prefix() string {
	p := strings.TrimPrefix(o.Prefix, "/")
	if p != "" && !strings.HasSuffix(p, "/") {
		p += "/"
	}
	return p
}

// Store is a blob.Store in an S3 bucket.
type Store struct {
	c       *minio.Client
	bucket  string
	prefix  string
	where   string // "bucket %q at endpoint", for errors
	timeout time.Duration
}

var _ blob.Store = (*Store)(nil)

// Open connects to the server and checks that the bucket exists and is
// reachable with the credentials, so that a wrong endpoint, bucket or key
// is reported now, by name, rather than at the first chunk.
func Open(o Options) (*Store, error) {
	s, err := New(o)
	if err != nil {
		return nil, err
	}
	ctx, cancel := s.ctx()
	defer cancel()
	ok, err := s.c.BucketExists(ctx, s.bucket)
	if err != nil {
		return nil, fmt.Errorf("s3 blob store: %s: %w", s.where, s.classify(err))
	}
	if !ok {
		return nil, fmt.Errorf("s3 blob store: %s: %w", s.where, ErrNoBucket)
	}
	return s, nil
}

// New makes a store without contacting the server (Open checks the bucket).
func New(o Options) (*Store, error) {
	if o.Endpoint == "" || o.Bucket == "" {
		return nil, errors.New("s3 blob store: endpoint and bucket are required")
	}
	var creds *credentials.Credentials
	if o.AccessKey != "" || o.SecretKey != "" {
		creds = credentials.NewStaticV4(o.AccessKey, o.SecretKey, o.SessionToken)
	} else {
		creds = credentials.New(&credentials.Static{}) // anonymous
	}
	mo := &minio.Options{Creds: creds, Secure: o.TLS, Region: o.Region}
	if o.PathStyle {
		mo.BucketLookup = minio.BucketLookupPath
	}
	c, err := minio.New(o.Endpoint, mo)
	if err != nil {
		return nil, fmt.Errorf("s3 blob store %s: %w", o.Endpoint, err)
	}
	t := o.Timeout
	if t <= 0 {
		t = DefaultTimeout
	}
	return &Store{c: c, bucket: o.Bucket, prefix: o.prefix(), timeout: t,
		where: fmt.Sprintf("bucket %q at %s", o.Bucket, c.EndpointURL().Host)}, nil
}

// Bucket is the store's bucket.
func (s *Store) Bucket() string { return s.bucket }

// Key is the object key of the blob at addr: <prefix><hex[0:2]>/<hex>.
func (s *Store) Key(addr blob.Addr) string {
	h := addr.String()
	return s.prefix + h[:2] + "/" + h
}

func (s *Store) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.timeout)
}

// blobErr names the blob, the bucket and the key.
func (s *Store) blobErr(addr blob.Addr, err error) error {
	return fmt.Errorf("blob %s (s3 %s, key %q): %w", addr, s.where, s.Key(addr), err)
}

// classify turns the server's answer into the store's errors.
func (s *Store) classify(err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case minio.NoSuchKey:
			return fmt.Errorf("%w (%s)", blob.ErrNotFound, er.Code)
		case minio.NoSuchBucket:
			return ErrNoBucket
		}
	}
	return err
}

// Put stores data under its SHA-256. It always uploads: the key names the
// bytes, so writing it again is harmless, and it repairs an object that was
// modified in the bucket (as blob.Dir.Put does a damaged file).
func (s *Store) Put(data []byte) (blob.Addr, error) {
	addr := blob.AddrOf(data)
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.c.PutObject(ctx, s.bucket, s.Key(addr), bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/octet-stream", SendContentMd5: true})
	if err != nil {
		return addr, s.blobErr(addr, s.classify(err))
	}
	return addr, nil
}

// Get reads the blob and checks that its bytes hash to addr. A missing
// object wraps blob.ErrNotFound, a modified one blob.ErrCorrupt.
func (s *Store) Get(addr blob.Addr) ([]byte, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	obj, err := s.c.GetObject(ctx, s.bucket, s.Key(addr), minio.GetObjectOptions{})
	if err != nil {
		return nil, s.blobErr(addr, s.classify(err))
	}
	defer obj.Close()
	// Read with GET alone: a HEAD (obj.Stat) has no error body, so a
	// missing bucket would look like a missing key.
	data, err := io.ReadAll(obj)
	if err != nil {
		return nil, s.blobErr(addr, s.classify(err))
	}
	if got := blob.AddrOf(data); got != addr {
		return nil, s.blobErr(addr, fmt.Errorf("%w (its bytes hash to %s)", blob.ErrCorrupt, got))
	}
	return data, nil
}

// Has reports whether an object exists under addr's key, without reading
// or checking it.
func (s *Store) Has(addr blob.Addr) (bool, error) {
	ctx, cancel := s.ctx()
	defer cancel()
	_, err := s.c.StatObject(ctx, s.bucket, s.Key(addr), minio.StatObjectOptions{})
	if err == nil {
		return true, nil
	}
	if err = s.classify(err); !errors.Is(err, blob.ErrNotFound) {
		return false, s.blobErr(addr, err)
	}
	// A HEAD answer has no error body: a 404 is "no such key" to the
	// client even when the bucket is what is missing.
	if ok, err := s.c.BucketExists(ctx, s.bucket); err != nil || !ok {
		if err == nil {
			err = ErrNoBucket
		}
		return false, s.blobErr(addr, s.classify(err))
	}
	return false, nil
}

// Delete removes a blob; a missing one is not an error.
func (s *Store) Delete(addr blob.Addr) error {
	ctx, cancel := s.ctx()
	defer cancel()
	if err := s.c.RemoveObject(ctx, s.bucket, s.Key(addr), minio.RemoveObjectOptions{}); err != nil {
		if err = s.classify(err); !errors.Is(err, blob.ErrNotFound) {
			return s.blobErr(addr, err)
		}
	}
	return nil
}

// Walk calls fn with the address of every blob under the prefix, in key
// order. Objects whose names are not blob keys are skipped.
func (s *Store) Walk(fn func(blob.Addr) error) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for o := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("list blobs (s3 %s, prefix %q): %w", s.where, s.prefix, s.classify(o.Err))
		}
		rest := strings.TrimPrefix(o.Key, s.prefix)
		fan, name, ok := strings.Cut(rest, "/")
		if !ok {
			continue
		}
		a, err := blob.ParseAddr(name)
		if err != nil || fan != name[:2] {
			continue
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}
