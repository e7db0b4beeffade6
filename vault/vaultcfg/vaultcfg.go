// Package vaultcfg opens a node's vault as its configuration says: sealed
// blobs in the vault's own directories (the default), or in a bucket of an
// S3-compatible object store. Every program that opens a vault the node
// uses — the node's compute workers, `medchain dataset …`, `medchain
// patient link` — opens it here, so they all read the same store.
//
// The configuration is <vault>/blobstore.json, written by the operator (or
// by Save) before the vault holds any version:
//
//	{"s3": "s3://minio.internal:9000/vault-st-mary/v1?tls=false&path-style=true",
//	 "credentials_file": "/etc/medchain/s3-credentials.json"}
//
// The locator names endpoint, bucket and prefix and must not carry
// credentials: they come from credentials_file (JSON access_key_id,
// secret_access_key and optionally session_token; owner-only permissions
// are required), or, without one, from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. Neither a locator nor a
// secret ever goes on a command line.
//
// The package is apart from vault so that only programs that may store in
// S3 link the S3 client.
package vaultcfg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"

	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/blob"
	"github.com/medchain/medchain/vault/blob/s3blob"
)

// FileName is the configuration's name inside the vault directory.
const FileName = "blobstore.json"

// Config says where a vault keeps its sealed blobs.
type Config struct {
	// S3 is an s3blob locator without credentials; "" keeps blobs in the
	// vault's directories.
	S3 string `json:"s3,omitempty"`
	// CredentialsFile holds the S3 credentials; "" takes them from the
	// environment.
	CredentialsFile string `json:"credentials_file,omitempty"`
}

// Credentials is the content of a credentials file.
type Credentials struct {
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	SessionToken    string `json:"session_token,omitempty"`
}

// Error is a configuration that cannot be used; it names the file and the
// field, never a secret.
type Error struct {
	File  string
	Field string
	Err   error
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("vault blob store configuration %s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("vault blob store configuration %s: %s: %v", e.File, e.Field, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads <root>/blobstore.json; a missing file is the default Config.
func Load(root string) (Config, error) {
	var c Config
	path := filepath.Join(root, FileName)
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, &Error{File: path, Err: err}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, &Error{File: path, Err: fmt.Errorf("does not parse: %v", err)}
	}
	return c, c.check(path)
}

func (c Config) check(path string) error {
	if c.S3 == "" {
		if c.CredentialsFile != "" {
			return &Error{File: path, Field: "credentials_file", Err: errors.New("set without s3")}
		}
		return nil
	}
	if _, err := s3blob.ParseLocator(c.S3); err != nil {
		return &Error{File: path, Field: "s3", Err: err}
	}
	if u, err := url.Parse(c.S3); err == nil && u.User != nil {
		return &Error{File: path, Field: "s3", Err: errors.New("the locator carries credentials: put them in credentials_file or the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")}
	}
	return nil
}

// Save writes c as <root>/blobstore.json (owner-only), for a vault that
// holds no version yet.
func Save(root string, c Config) error {
	path := filepath.Join(root, FileName)
	if err := c.check(path); err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return blob.WriteFileAtomic(path, append(b, '\n'), 0o600)
}

// Open opens the vault at root with the blob store its configuration
// names.
func Open(root string) (*vault.Vault, error) {
	c, err := Load(root)
	if err != nil {
		return nil, err
	}
	if c.S3 == "" {
		return vault.Open(root)
	}
	path := filepath.Join(root, FileName)
	o, err := s3blob.ParseLocator(c.S3) // credentials from the environment, if any
	if err != nil {
		return nil, &Error{File: path, Field: "s3", Err: err}
	}
	if c.CredentialsFile != "" {
		cr, err := ReadCredentials(c.CredentialsFile)
		if err != nil {
			return nil, err
		}
		o.AccessKey, o.SecretKey, o.SessionToken = cr.AccessKeyID, cr.SecretAccessKey, cr.SessionToken
	}
	st, err := s3blob.Open(o)
	if err != nil {
		return nil, fmt.Errorf("vault at %s: %w", root, err)
	}
	return vault.OpenWith(root, st, o.Locator())
}

// ReadCredentials reads a credentials file, which must be readable by its
// owner only.
func ReadCredentials(path string) (Credentials, error) {
	var c Credentials
	st, err := os.Stat(path)
	if err != nil {
		return c, &Error{File: path, Err: err}
	}
	if st.Mode().Perm()&0o077 != 0 {
		return c, &Error{File: path, Err: fmt.Errorf("permissions %v: a credentials file must be readable by its owner only (chmod 600)", st.Mode().Perm())}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return c, &Error{File: path, Err: err}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		// The decoder's message may quote the file's text: say only where.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return c, &Error{File: path, Err: fmt.Errorf("not JSON (at byte %d)", se.Offset)}
		}
		return c, &Error{File: path, Err: errors.New("want a JSON object with access_key_id, secret_access_key and optionally session_token")}
	}
	switch {
	case c.AccessKeyID == "":
		return c, &Error{File: path, Field: "access_key_id", Err: errors.New("missing")}
	case c.SecretAccessKey == "":
		return c, &Error{File: path, Field: "secret_access_key", Err: errors.New("missing")}
	}
	return c, nil
}
