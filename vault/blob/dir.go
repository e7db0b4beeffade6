package blob

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Dir is a Store in a local directory: blob <hex> lives at
// <dir>/<hex[0:2]>/<hex>, so no directory grows beyond 256 entries plus
// its share of the blobs. Writes go to a temporary file that is synced and
// then renamed into place, so a crash never leaves a half-written blob
// under a valid address.
type Dir struct {
	dir string
}

var _ Store = (*Dir)(nil)

// OpenDir returns the store rooted at dir, creating dir (0700) if needed.
func OpenDir(dir string) (*Dir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blob store: %w", err)
	}
	return &Dir{dir: dir}, nil
}

// Path is where the blob at addr is kept (tests use it to tamper).
func (d *Dir) Path(addr Addr) string {
	h := addr.String()
	return filepath.Join(d.dir, h[:2], h)
}

// Put writes data under its SHA-256.
func (d *Dir) Put(data []byte) (Addr, error) {
	addr := AddrOf(data)
	path := d.Path(addr)
	if _, err := d.Get(addr); err == nil {
		return addr, nil // already stored, intact
	}
	sub := filepath.Dir(path)
	if err := os.MkdirAll(sub, 0o700); err != nil {
		return addr, fmt.Errorf("blob %s: %w", addr, err)
	}
	if err := writeAtomic(path, data); err != nil {
		return addr, fmt.Errorf("blob %s: %w", addr, err)
	}
	return addr, nil
}

// Get reads the blob and checks its hash.
func (d *Dir) Get(addr Addr) ([]byte, error) {
	data, err := os.ReadFile(d.Path(addr))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", addr, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", addr, err)
	}
	if got := AddrOf(data); got != addr {
		return nil, fmt.Errorf("blob %s: %w (its bytes hash to %s)", addr, ErrCorrupt, got)
	}
	return data, nil
}

// Delete removes a blob; a missing one is not an error.
func (d *Dir) Delete(addr Addr) error {
	err := os.Remove(d.Path(addr))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob %s: %w", addr, err)
	}
	return nil
}

// Walk calls fn with the address of every blob in the store, in no
// particular order.
func (d *Dir) Walk(fn func(Addr) error) error {
	return filepath.WalkDir(d.dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		a, perr := ParseAddr(e.Name())
		if perr != nil {
			return nil // a temporary file of an interrupted Put
		}
		return fn(a)
	})
}

// writeAtomic writes data to path through a synced temporary file in the
// same directory and a rename, then syncs the directory so the rename
// itself survives a crash.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return SyncDir(dir)
}

// WriteFileAtomic writes a small file (a manifest pointer, a secret) the
// same crash-safe way as a blob, with the given permissions.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := writeAtomic(path, data); err != nil {
		return err
	}
	return os.Chmod(path, perm)
}

// SyncDir fsyncs a directory, making renames and creations in it durable.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
