package vault

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/medchain/medchain/vault/blob"
)

// ErrLocked: another writer holds the dataset.
var ErrLocked = errors.New("another write of this dataset is in progress")

// Lock is exclusive write access to one dataset of a vault, across
// processes (an advisory file lock the system drops if the holder dies).
// Whoever publishes a new version holds it from choosing the version
// number (latest on the ledger + 1) until the ledger has it, so that two
// ingests never write the same version and a leftover of a failed
// publication can be removed without racing a live one.
type Lock struct {
	v       *Vault
	dataset string
	f       *os.File
}

// Lock takes the dataset's lock, or fails at once with ErrLocked.
func (v *Vault) Lock(dataset string) (*Lock, error) {
	if err := checkID(dataset); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(v.root, "datasets", dataset+".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("vault: lock dataset %s: %w", dataset, err)
	}
	if err := flock(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("vault: lock dataset %s: %w", dataset, err)
	}
	return &Lock{v: v, dataset: dataset, f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close() // closing drops the lock
	l.f = nil
	return err
}

// Remove deletes a version the ledger does not reference: the undo of a
// write whose publication failed, or its leftover after a crash.
func (l *Lock) Remove(version uint64) error {
	if l.f == nil {
		return errors.New("vault: Remove after Unlock")
	}
	id := versionID{l.dataset, version}
	dir := l.v.versionDir(id)
	// In a shared store, the version's blobs are those its manifest lists;
	// read it before the pointer to it goes. (An unreadable manifest
	// leaves its blobs behind: unreadable ciphertext nothing refers to.)
	var blobs []blob.Addr
	if l.v.blobs != nil {
		if m, addr, _, err := l.v.readManifest(id); err == nil {
			blobs = append(m.blobs(), addr)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("vault: remove dataset %s version %d: %w", l.dataset, version, err)
	}
	if err := blob.SyncDir(filepath.Dir(dir)); err != nil {
		return err
	}
	for _, a := range blobs {
		if err := l.v.blobs.Delete(a); err != nil {
			return fmt.Errorf("vault: remove dataset %s version %d: %w", l.dataset, version, err)
		}
	}
	return nil
}
