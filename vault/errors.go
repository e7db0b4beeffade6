package vault

import (
	"errors"
	"fmt"
)

// Error is a failure to read, open or trust one part of a dataset version.
// It names the part exactly — dataset, version, and where it applies the
// column and chunk — and wraps one of the sentinel errors below (or an
// I/O error), so callers can match the kind with errors.Is.
type Error struct {
	Dataset string
	Version uint64
	Part    string // "manifest", "data key", "content root", "chunk", "quarantine report", …
	Column  string // for chunks; PseudonymColumn for the pseudonyms
	Chunk   int    // chunk index, for chunks
	Err     error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("vault: dataset %s version %d: ", e.Dataset, e.Version)
	if e.Part == partChunk {
		s += fmt.Sprintf("column %s chunk %d: ", e.Column, e.Chunk)
	} else if e.Part != "" {
		s += e.Part + ": "
	}
	return s + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Kinds of failure, wrapped by *Error.
var (
	// ErrNotFound: the version, or a column of it, is not in the vault.
	ErrNotFound = errors.New("not found")
	// ErrExists: the version is already in the vault.
	ErrExists = errors.New("already in the vault")
	// ErrCorrupt: stored bytes were modified, moved or swapped — a blob
	// does not hash to its address, a chunk does not authenticate under
	// the data key as the part it is listed as, or the manifest does not
	// authenticate.
	ErrCorrupt = errors.New("integrity check failed")
	// ErrNotRecipient: the key used is not among the keys the version's
	// data key is wrapped to.
	ErrNotRecipient = errors.New("key is not allowed to open this version")
	// ErrRootMismatch: the chunks do not have the published content root.
	ErrRootMismatch = errors.New("content root does not match")
	// ErrLedgerMismatch: the stored version differs from what the ledger
	// publishes for it (schema, record band, profile).
	ErrLedgerMismatch = errors.New("does not match the ledger")
)

const (
	partManifest   = "manifest"
	partDataKey    = "data key"
	partRoot       = "content root"
	partChunk      = "chunk"
	partQuarantine = "quarantine report"
	partReport     = "ingest report"
)

func (v versionID) err(part string, err error) error {
	return &Error{Dataset: v.dataset, Version: v.version, Part: part, Chunk: -1, Err: err}
}

func (v versionID) chunkErr(col string, chunk int, err error) error {
	return &Error{Dataset: v.dataset, Version: v.version, Part: partChunk, Column: col, Chunk: chunk, Err: err}
}

// versionID names a dataset version inside the package.
type versionID struct {
	dataset string
	version uint64
}
