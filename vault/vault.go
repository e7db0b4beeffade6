// Package vault is an institution's encrypted store of de-identified
// research rows. A dataset version is stored column by column in chunks,
// each sealed with AES-256-GCM under a fresh data key per version, bound by
// its associated data to its dataset, version, column and chunk index; the
// data key is wrapped with age to the node's own key and to the worker keys
// a policy allows; every blob is addressed by the SHA-256 of its bytes and
// re-hashed on every read; and an RFC 6962 Merkle tree over the chunk
// hashes gives the content root the ledger publishes. An analysis reads
// only the columns it needs.
//
// On disk (the root is <home>/vault by default):
//
//	secret                          the institution's pseudonym secret (32 bytes, 0600)
//	datasets/<id>/<version>/MANIFEST address of the version's manifest blob
//	datasets/<id>/<version>/blobs/   the version's sealed chunks and manifest (package blob)
//	datasets/<id>.lock              held while a version of <id> is written
//	staging/                        versions being written; renamed into datasets/ once sealed
//	BLOBSTORE                       only in a vault opened with OpenWith: where its blobs are
//
// A version becomes visible in one step, the rename of its fully written
// staging directory, and a crashed or failed write leaves only a staging
// directory behind, which the next Open of the vault removes.
//
// The sealed blobs (chunks, quarantine reports, manifests) may instead be
// kept in one shared BlobStore, such as an S3 bucket (OpenWith); the
// version directories then hold only their MANIFEST pointer, and the
// rename of the staging directory holding it is still the one step that
// makes a version visible.
package vault

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/medchain/medchain/vault/blob"
	"github.com/medchain/medchain/vocab"
)

// Vault is a vault directory.
type Vault struct {
	root string
	// blobs, when set, keeps every version's sealed blobs; otherwise each
	// version has its own blob.Dir under its directory.
	blobs     BlobStore
	blobsName string
}

// BlobStore is what the vault needs of a store of sealed blobs: the
// content-addressed Put and re-hashing Get of blob.Store, and Delete to
// take back what a failed write stored. blob.Dir and s3blob.Store are
// ones.
type BlobStore interface {
	blob.Store
	// Delete removes a blob; a missing one is not an error.
	Delete(addr blob.Addr) error
}

// blobStoreFile records, in a vault opened with OpenWith, which store
// holds its blobs, so the vault is never read through another one.
const blobStoreFile = "BLOBSTORE"

// Open opens (creating if needed) the vault at root, each version keeping
// its blobs in its own directory, and clears what interrupted writes left
// in its staging area. A vault whose blobs are kept elsewhere (OpenWith)
// is refused, naming the store.
func Open(root string) (*Vault, error) {
	if b, err := os.ReadFile(filepath.Join(root, blobStoreFile)); err == nil {
		return nil, fmt.Errorf("vault at %s keeps its blobs in %s: open it with that blob store (see vault/README.md, \"Blobs in S3\")", root, strings.TrimSpace(string(b)))
	}
	return open(root, nil, "")
}

// OpenWith opens (creating if needed) the vault at root with every
// version's sealed blobs in st; name says where st is (an s3:// locator
// without credentials) and is recorded in <root>/BLOBSTORE. A vault's blob
// store is chosen once: opening it with another name, or opening with a
// store a vault that already keeps versions in its directories, is an
// error.
func OpenWith(root string, st BlobStore, name string) (*Vault, error) {
	if st == nil || name == "" || strings.ContainsAny(name, "\n\r") {
		return nil, errors.New("vault: OpenWith needs a blob store and its one-line name")
	}
	path := filepath.Join(root, blobStoreFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if got := strings.TrimSpace(string(b)); got != name {
			return nil, fmt.Errorf("vault at %s keeps its blobs in %s, not %s (%s): a vault's blob store cannot change", root, got, name, path)
		}
	case errors.Is(err, fs.ErrNotExist):
		if n, err := countVersions(root); err != nil {
			return nil, err
		} else if n > 0 {
			return nil, fmt.Errorf("vault at %s already holds %d version(s) in its own directories: it cannot move to %s", root, n, name)
		}
		if err := os.MkdirAll(root, 0o700); err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
		if err := blob.WriteFileAtomic(path, []byte(name+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
	default:
		return nil, fmt.Errorf("vault: %w", err)
	}
	return open(root, st, name)
}

func open(root string, st BlobStore, name string) (*Vault, error) {
	for _, d := range []string{root, filepath.Join(root, "datasets"), filepath.Join(root, "staging")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("vault: %w", err)
		}
	}
	v := &Vault{root: root, blobs: st, blobsName: name}
	if err := v.clearStaging(); err != nil {
		return nil, err
	}
	return v, nil
}

// countVersions counts the version directories under <root>/datasets.
func countVersions(root string) (int, error) {
	sets, err := os.ReadDir(filepath.Join(root, "datasets"))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("vault: %w", err)
	}
	n := 0
	for _, s := range sets {
		if !s.IsDir() {
			continue
		}
		vs, err := os.ReadDir(filepath.Join(root, "datasets", s.Name()))
		if err != nil {
			return 0, fmt.Errorf("vault: %w", err)
		}
		n += len(vs)
	}
	return n, nil
}

// BlobStoreName says where the vault keeps its blobs: "" for its own
// directories, else the name OpenWith was given.
func (v *Vault) BlobStoreName() string { return v.blobsName }

// Root is the vault's directory.
func (v *Vault) Root() string { return v.root }

// clearStaging removes staging directories nobody is writing: those whose
// dataset lock is free.
func (v *Vault) clearStaging() error {
	entries, err := os.ReadDir(filepath.Join(v.root, "staging"))
	if err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	for _, e := range entries {
		ds, _, ok := strings.Cut(e.Name(), "@")
		if !ok || !vocab.IsID(ds) {
			continue
		}
		lk, err := v.Lock(ds)
		if err != nil {
			continue // being written right now
		}
		err = os.RemoveAll(filepath.Join(v.root, "staging", e.Name()))
		lk.Unlock()
		if err != nil {
			return fmt.Errorf("vault: clear staging: %w", err)
		}
	}
	return nil
}

func checkID(dataset string) error {
	if !vocab.IsID(dataset) { // the ledger's id syntax; ids become directory names
		return fmt.Errorf("vault: %q is not a dataset id (%s)", dataset, vocab.IDSyntax)
	}
	return nil
}

func (v *Vault) versionDir(id versionID) string {
	return filepath.Join(v.root, "datasets", id.dataset, strconv.FormatUint(id.version, 10))
}

// Locator is what the ledger records as where a version is kept.
func Locator(dataset string, version uint64) string {
	return fmt.Sprintf("vault:%s/%d", dataset, version)
}

// RecordBand is the ledger's record-count band of n rows (vocab.RecordBand).
// The ledger never gets the exact count, so a small cohort cannot be
// singled out.
func RecordBand(n uint64) string { return vocab.RecordBand(n) }

// Has reports whether the vault holds a version.
func (v *Vault) Has(dataset string, version uint64) bool {
	if checkID(dataset) != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(v.versionDir(versionID{dataset, version}), manifestRef))
	return err == nil
}

// Versions lists the versions of a dataset the vault holds, ascending.
func (v *Vault) Versions(dataset string) ([]uint64, error) {
	if err := checkID(dataset); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(v.root, "datasets", dataset))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	var out []uint64
	for _, e := range entries {
		if n, err := strconv.ParseUint(e.Name(), 10, 64); err == nil && e.IsDir() {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// manifestRef is the file naming a version's current manifest blob.
const manifestRef = "MANIFEST"

// store opens the blob store of the version whose directory is dir: the
// vault's shared store, or the directory's own.
func (v *Vault) store(dir string) (BlobStore, error) {
	if v.blobs != nil {
		return v.blobs, nil
	}
	return blob.OpenDir(filepath.Join(dir, "blobs"))
}

// Manifest reads a version's manifest, checking its hash and structure but
// not its MAC (which needs the data key): enough to list its chunks and
// prove them.
func (v *Vault) Manifest(dataset string, version uint64) (*Manifest, error) {
	m, _, _, err := v.readManifest(versionID{dataset, version})
	return m, err
}

func (v *Vault) readManifest(id versionID) (*Manifest, blob.Addr, BlobStore, error) {
	var addr blob.Addr
	if err := checkID(id.dataset); err != nil {
		return nil, addr, nil, err
	}
	ref, err := os.ReadFile(filepath.Join(v.versionDir(id), manifestRef))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, addr, nil, id.err("", fmt.Errorf("%w in the vault at %s", ErrNotFound, v.root))
	}
	if err != nil {
		return nil, addr, nil, id.err(partManifest, err)
	}
	if addr, err = blob.ParseAddr(strings.TrimSpace(string(ref))); err != nil {
		return nil, addr, nil, id.err(partManifest, fmt.Errorf("%w: %s: %v", ErrCorrupt, manifestRef, err))
	}
	st, err := v.store(v.versionDir(id))
	if err != nil {
		return nil, addr, nil, id.err(partManifest, err)
	}
	b, err := st.Get(addr)
	if err != nil {
		return nil, addr, nil, id.err(partManifest, blobErr(err))
	}
	m, err := decodeManifest(b)
	if err != nil {
		return nil, addr, nil, id.err(partManifest, err)
	}
	if err := m.check(id); err != nil {
		return nil, addr, nil, id.err(partManifest, err)
	}
	return m, addr, st, nil
}

// blobErr adds the vault's kind to a blob store error.
func blobErr(err error) error {
	switch {
	case errors.Is(err, blob.ErrCorrupt):
		return fmt.Errorf("%w: %v", ErrCorrupt, err)
	case errors.Is(err, blob.ErrNotFound):
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}

// Rewrap re-wraps a version's data key to a new set of recipients, for a
// key rotation or a policy change, without re-encrypting any data. id must
// be able to open the version now. The old manifest blob is deleted, so
// the old wrapping is gone from the vault; a former recipient that kept
// the data key itself is only shut out by a new version (new data key).
func (v *Vault) Rewrap(dataset string, version uint64, id *Identity, recipients []Recipient) error {
	vid := versionID{dataset, version}
	lk, err := v.Lock(dataset)
	if err != nil {
		return err
	}
	defer lk.Unlock()
	m, old, st, err := v.readManifest(vid)
	if err != nil {
		return err
	}
	key, err := unwrapKey(m.Keys, id)
	if err != nil {
		return vid.err(partDataKey, err)
	}
	if err := m.authenticate(key); err != nil {
		return vid.err(partManifest, err)
	}
	if m.Keys, err = wrapKey(key, recipients); err != nil {
		return vid.err(partDataKey, err)
	}
	addr, err := putManifest(st, m)
	if err != nil {
		return vid.err(partManifest, err)
	}
	if err := writeRef(v.versionDir(vid), addr); err != nil {
		return vid.err(partManifest, err)
	}
	if addr != old {
		return st.Delete(old)
	}
	return nil
}

func putManifest(st blob.Store, m *Manifest) (blob.Addr, error) {
	b, err := jsonMarshal(m)
	if err != nil {
		return blob.Addr{}, err
	}
	return st.Put(b)
}

func writeRef(dir string, addr blob.Addr) error {
	return blob.WriteFileAtomic(filepath.Join(dir, manifestRef), []byte(addr.String()+"\n"), 0o600)
}

// SecretSize is the size of the institution's pseudonym secret.
const SecretSize = 32

// Secret returns the institution's pseudonym secret (<root>/secret),
// creating it (32 random bytes, owner-only) on first use. Pseudonyms are
// keyed hashes under it, so the same patient gets the same pseudonym in
// every dataset of this institution and no one without the secret can
// recompute one from a patient id.
func (v *Vault) Secret() ([]byte, error) {
	path := filepath.Join(v.root, "secret")
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != SecretSize {
			return nil, fmt.Errorf("vault secret %s: %d bytes, want %d", path, len(b), SecretSize)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("vault secret: %w", err)
	}
	b = make([]byte, SecretSize)
	rand.Read(b)
	// Write it whole under a temporary name, then link it into place: the
	// link fails if another process created the secret meanwhile, and
	// nobody ever reads a half-written secret.
	f, err := os.CreateTemp(v.root, ".secret-*")
	if err != nil {
		return nil, fmt.Errorf("vault secret: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("vault secret: %w", err)
	}
	if err := os.Link(tmp, path); errors.Is(err, fs.ErrExist) {
		return v.Secret()
	} else if err != nil {
		return nil, fmt.Errorf("vault secret: %w", err)
	}
	return b, blob.SyncDir(v.root)
}
