package vaultcfg_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/medchain/medchain/vault/vaultcfg"
)

// s3Server starts an S3 server (gofakes3, memory backend) on loopback with
// one bucket (bkt) and returns its host:port.
func s3Server(t *testing.T) string {
	t.Helper()
	ts := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(ts.Close)
	ep := strings.TrimPrefix(ts.URL, "http://")
	c, err := minio.New(ep, &minio.Options{Creds: credentials.NewStaticV4("k", "s", ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.MakeBucket(context.Background(), "bkt", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}
	return ep
}

// Without a configuration a vault keeps its blobs in its directories.
func TestDefaultIsTheDirectory(t *testing.T) {
	v, err := vaultcfg.Open(filepath.Join(t.TempDir(), "vault"))
	if err != nil {
		t.Fatal(err)
	}
	if v.BlobStoreName() != "" {
		t.Fatalf("blob store %q", v.BlobStoreName())
	}
}

// Credentials come from the environment when the configuration names no
// file.
func TestCredentialsFromEnvironment(t *testing.T) {
	ep := s3Server(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	root := filepath.Join(t.TempDir(), "vault")
	if err := vaultcfg.Save(root, vaultcfg.Config{S3: "s3://" + ep + "/bkt/p?tls=false&path-style=true"}); err != nil {
		t.Fatal(err)
	}
	v, err := vaultcfg.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v.BlobStoreName(), "/bkt/p") {
		t.Fatalf("blob store %q", v.BlobStoreName())
	}
}

// Bad configurations are refused naming the file and field, and never
// repeat a secret.
func TestBadConfigurations(t *testing.T) {
	ep := s3Server(t)
	dir := t.TempDir()
	write := func(name, body string, perm os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), perm); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, perm)
		return p
	}
	open := func(c vaultcfg.Config) error {
		root := filepath.Join(t.TempDir(), "vault")
		os.MkdirAll(root, 0o700)
		b := `{"s3":"` + c.S3 + `","credentials_file":"` + c.CredentialsFile + `"}`
		write("cfg", b, 0o600)
		os.Rename(filepath.Join(dir, "cfg"), filepath.Join(root, vaultcfg.FileName))
		_, err := vaultcfg.Open(root)
		return err
	}
	loc := "s3://" + ep + "/bkt?tls=false&path-style=true"
	for _, tc := range []struct {
		name string
		cfg  vaultcfg.Config
		want string
	}{
		{"credentials in the locator", vaultcfg.Config{S3: "s3://k:TOPSECRET@" + ep + "/bkt?tls=false"}, "s3: the locator carries credentials"},
		{"not a locator", vaultcfg.Config{S3: "https://" + ep + "/bkt"}, "s3: s3 locator"},
		{"credentials file readable by others", vaultcfg.Config{S3: loc, CredentialsFile: write("open", `{"access_key_id":"k","secret_access_key":"TOPSECRET"}`, 0o644)}, "chmod 600"},
		{"credentials file without a secret", vaultcfg.Config{S3: loc, CredentialsFile: write("nosecret", `{"access_key_id":"k"}`, 0o600)}, "secret_access_key: missing"},
		{"credentials file not JSON", vaultcfg.Config{S3: loc, CredentialsFile: write("garbled", `access_key_id=k secret=TOPSECRET`, 0o600)}, "not JSON"},
		{"credentials file without s3", vaultcfg.Config{CredentialsFile: write("alone", `{}`, 0o600)}, "credentials_file: set without s3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := open(tc.cfg)
			var ce *vaultcfg.Error
			if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &ce) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "TOPSECRET") {
				t.Fatalf("error repeats the secret: %v", err)
			}
		})
	}
}
