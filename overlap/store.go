package overlap

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"unicode/utf8"
)

// ErrCorrupt is matched (errors.Is) by the error of a history file that
// cannot be read: truncated, modified, not a history file, written for
// another dataset, or written under another key. The error names the file.
// The store never treats such a file as an empty history — that would erase
// the protection — so CheckAndRecord fails until an operator restores it.
var ErrCorrupt = errors.New("overlap: history file unreadable")

// MaxLabel is the longest accepted release label, in bytes.
const MaxLabel = 1024

// File format, version 1. One file per dataset, named
// "ds-<hex SHA-256 of the dataset id>.overlap":
//
//	magic   8 bytes  "MCOVERLP"
//	version 1 byte   1
//	nonce  12 bytes  random
//	AES-256-GCM ciphertext of the entries, with its 16-byte tag
//
// The associated data is magic ‖ version ‖ uvarint(len(dataset)) ‖ dataset,
// so a file copied under another dataset's name fails authentication. The
// plaintext is the entries in release order, each
//
//	uvarint(len(label)) ‖ label ‖ uvarint(n) ‖ n × uint64 little-endian
//
// with the n keys strictly increasing. There is no count: entries run to the
// end, so recording a release appends to the plaintext.
const (
	magic       = "MCOVERLP"
	version1    = 1
	nonceSize   = 12
	headerSize  = len(magic) + 1 + nonceSize
	fileSuffix  = ".overlap"
	lockSuffix  = ".lock"
	infoFileKey = "medchain/overlap v1: history file encryption (AES-256-GCM)"
	infoSketch  = "medchain/overlap v1: pseudonym sketch (HMAC-SHA256)"
)

// Store keeps, per dataset, the sketches of the cohorts released so far and
// applies Check to every new release.
//
// Concurrency: CheckAndRecord calls on one dataset are serialised by a mutex
// within the process and, on Linux and the BSDs (macOS included), by an
// exclusive flock(2) on a lock file next to the history, so several processes
// may share a directory. Elsewhere only the in-process mutex applies and a
// directory must belong to one process.
type Store struct {
	dir       string
	aead      cipher.AEAD
	sketchKey []byte

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// Release summarises a recorded release for inspection: its label and the
// number of patients in its cohort.
type Release struct {
	Label string
	Size  int
}

// Open returns the store kept in dir, creating dir (mode 0700) if needed.
// key is the site's 32-byte secret; HKDF-SHA256 derives from it one subkey
// for file encryption and another for sketching, so the two uses never share
// a key. The same key must be given every time: a history written under
// another key is reported as corrupt. An all-zero key is refused.
func Open(dir string, key [32]byte) (*Store, error) {
	if key == [32]byte{} {
		return nil, errors.New("overlap: the key is all zeros")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("overlap: %w", err)
	}
	fileKey, err := hkdf.Key(sha256.New, key[:], nil, infoFileKey, 32)
	if err != nil {
		return nil, fmt.Errorf("overlap: derive file key: %w", err)
	}
	sketchKey, err := hkdf.Key(sha256.New, key[:], nil, infoSketch, 32)
	if err != nil {
		return nil, fmt.Errorf("overlap: derive sketch key: %w", err)
	}
	block, err := aes.NewCipher(fileKey)
	if err != nil {
		return nil, fmt.Errorf("overlap: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("overlap: %w", err)
	}
	return &Store{dir: dir, aead: aead, sketchKey: sketchKey, locks: map[string]*sync.Mutex{}}, nil
}

// Sketch is NewSketch under the store's sketch subkey. Sketches compared by
// the store must come from this method of a store opened with the same key.
func (s *Store) Sketch(pseudonyms iter.Seq[string]) Sketch {
	return NewSketch(s.sketchKey, pseudonyms)
}

// CheckAndRecord decides whether a release of cur from dataset may go out,
// and records it if so. It loads the dataset's history, applies Check, and
// if the release is allowed appends {label, cur} and replaces the file
// atomically (temporary file, fsync, rename, fsync of the directory). It is
// all or nothing: a refused release (a *Refusal, matching ErrOverlap, with
// Dataset set) or any failure records nothing.
//
// Retries are idempotent: when the history already holds label with the same
// cohort, an allowed call succeeds without appending. The same label with
// another cohort is an ordinary new release and is checked as such.
func (s *Store) CheckAndRecord(dataset, label string, cur Sketch, minCohort int) error {
	return s.CheckAndRecordWith(dataset, label, cur, minCohort, nil)
}

// CheckAndRecordWith is CheckAndRecord with a further rule of the caller's:
// rule sees the dataset's history under the store's lock, after Check
// passed and before anything is recorded, and refuses the release by
// returning an error. It lets a caller keep rules about how releases of one
// cohort may differ (compute refuses an exact study whose cohort was
// released in a study with other institutions) without a second history.
func (s *Store) CheckAndRecordWith(dataset, label string, cur Sketch, minCohort int, rule func(history []Entry) error) error {
	if err := validDataset(dataset); err != nil {
		return err
	}
	if label == "" || len(label) > MaxLabel || !utf8.ValidString(label) {
		return fmt.Errorf("overlap: release label must be 1 to %d bytes of UTF-8", MaxLabel)
	}
	unlock, err := s.lock(dataset)
	if err != nil {
		return err
	}
	defer unlock()

	history, plain, err := s.load(dataset, entrySize(label, cur)+s.aead.Overhead())
	if err != nil {
		return err
	}
	if err := Check(history, cur, minCohort); err != nil {
		var r *Refusal
		if errors.As(err, &r) {
			r.Dataset = dataset
		}
		return err
	}
	if rule != nil {
		if err := rule(history); err != nil {
			return err
		}
	}
	for _, e := range history {
		if e.Label == label && Equal(e.Sketch, cur) {
			return nil // a retry of a recorded release
		}
	}
	plain = slices.Grow(plain, entrySize(label, cur)+s.aead.Overhead()) // no-op after load
	return s.save(dataset, appendEntry(plain, label, cur))
}

// History lists the dataset's recorded releases in order, labels and sizes
// only. A dataset with no history has none (and no error).
func (s *Store) History(dataset string) ([]Release, error) {
	if err := validDataset(dataset); err != nil {
		return nil, err
	}
	unlock, err := s.lock(dataset)
	if err != nil {
		return nil, err
	}
	defer unlock()
	history, _, err := s.load(dataset, 0)
	if err != nil {
		return nil, err
	}
	out := make([]Release, len(history))
	for i, e := range history {
		out[i] = Release{Label: e.Label, Size: e.Sketch.Len()}
	}
	return out, nil
}

func validDataset(dataset string) error {
	if dataset == "" {
		return errors.New("overlap: empty dataset id")
	}
	return nil
}

// fileName is the history file's name: any dataset id, whatever its
// characters, maps to a safe, fixed-length name.
func fileName(dataset string) string {
	h := sha256.Sum256([]byte("medchain/overlap dataset\x00" + dataset))
	return "ds-" + hex.EncodeToString(h[:]) + fileSuffix
}

// Path is the history file of dataset (which need not exist yet).
func (s *Store) Path(dataset string) string {
	return filepath.Join(s.dir, fileName(dataset))
}

// lock takes the dataset's in-process mutex and then its file lock.
func (s *Store) lock(dataset string) (unlock func(), err error) {
	s.mu.Lock()
	m, ok := s.locks[dataset]
	if !ok {
		m = new(sync.Mutex)
		s.locks[dataset] = m
	}
	s.mu.Unlock()

	m.Lock()
	path := filepath.Join(s.dir, fileName(dataset)+lockSuffix)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		m.Unlock()
		return nil, fmt.Errorf("overlap: lock file: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		m.Unlock()
		return nil, fmt.Errorf("overlap: lock %s: %w", path, err)
	}
	return func() {
		unlockFile(f)
		f.Close()
		m.Unlock()
	}, nil
}

func additionalData(dataset string) []byte {
	ad := make([]byte, 0, len(magic)+1+binary.MaxVarintLen64+len(dataset))
	ad = append(ad, magic...)
	ad = append(ad, version1)
	ad = binary.AppendUvarint(ad, uint64(len(dataset)))
	return append(ad, dataset...)
}

// load reads and authenticates the dataset's history. It returns the entries
// and the plaintext they were decoded from, which has spare capacity for
// extra more bytes so that a new entry and the GCM tag fit without copying
// the history again. A missing file is an empty history.
func (s *Store) load(dataset string, extra int) ([]Entry, []byte, error) {
	path := s.Path(dataset)
	data, err := readFile(path, extra+1)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("overlap: read history: %w", err)
	}
	corrupt := func(why string) error {
		return fmt.Errorf("%w: %s (dataset %q): %s", ErrCorrupt, path, dataset, why)
	}
	if len(data) < len(magic)+1 || string(data[:len(magic)]) != magic {
		return nil, nil, corrupt("not an overlap history file")
	}
	if v := data[len(magic)]; v != version1 {
		return nil, nil, corrupt(fmt.Sprintf("format version %d is not supported (this program reads version %d)", v, version1))
	}
	if len(data) < headerSize+s.aead.Overhead() {
		return nil, nil, corrupt("truncated")
	}
	nonce, ct := data[len(magic)+1:headerSize], data[headerSize:]
	plain, err := s.aead.Open(ct[:0], nonce, ct, additionalData(dataset))
	if err != nil {
		return nil, nil, corrupt("authentication failed: the file was modified or truncated, belongs to another dataset, or was written under another key")
	}
	entries, err := decodeEntries(plain)
	if err != nil {
		return nil, nil, corrupt(err.Error())
	}
	return entries, plain, nil
}

// readFile is os.ReadFile leaving room for extra more bytes.
func readFile(path string, extra int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 0, int(fi.Size())+extra)
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 4096)
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

func decodeEntries(p []byte) ([]Entry, error) {
	var entries []Entry
	for len(p) > 0 {
		n, w := binary.Uvarint(p)
		if w <= 0 || n > uint64(len(p)-w) {
			return nil, fmt.Errorf("entry %d: bad label", len(entries))
		}
		p = p[w:]
		label := string(p[:n])
		p = p[n:]
		n, w = binary.Uvarint(p)
		if w <= 0 || n > uint64(len(p)-w)/8 {
			return nil, fmt.Errorf("entry %d (%q): bad key count", len(entries), label)
		}
		p = p[w:]
		keys := make([]uint64, n)
		for i := range keys {
			keys[i] = binary.LittleEndian.Uint64(p[8*i:])
			if i > 0 && keys[i] <= keys[i-1] {
				return nil, fmt.Errorf("entry %d (%q): keys out of order", len(entries), label)
			}
		}
		p = p[8*n:]
		entries = append(entries, Entry{Label: label, Sketch: Sketch{keys: keys}})
	}
	return entries, nil
}

// entrySize is the encoded size of an entry, at most.
func entrySize(label string, s Sketch) int {
	return 2*binary.MaxVarintLen64 + len(label) + 8*len(s.keys)
}

func appendEntry(p []byte, label string, s Sketch) []byte {
	p = slices.Grow(p, entrySize(label, s))
	p = binary.AppendUvarint(p, uint64(len(label)))
	p = append(p, label...)
	p = binary.AppendUvarint(p, uint64(len(s.keys)))
	for _, k := range s.keys {
		p = binary.LittleEndian.AppendUint64(p, k)
	}
	return p
}

// save encrypts plain and replaces the dataset's file atomically: a reader
// (or a crash) sees the old file or the new one, never a mixture. It
// encrypts in place: plain is destroyed.
func (s *Store) save(dataset string, plain []byte) (err error) {
	header := make([]byte, headerSize)
	copy(header, magic)
	header[len(magic)] = version1
	nonce := header[len(magic)+1:]
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("overlap: nonce: %w", err)
	}
	ct := s.aead.Seal(plain[:0], nonce, plain, additionalData(dataset))

	path := s.Path(dataset)
	tmp, err := os.CreateTemp(s.dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("overlap: write history: %w", err)
	}
	renamed := false
	defer func() {
		if err != nil && !renamed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(header); err != nil {
		return fmt.Errorf("overlap: write history: %w", err)
	}
	if _, err = tmp.Write(ct); err != nil {
		return fmt.Errorf("overlap: write history: %w", err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("overlap: write history: %w", err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("overlap: write history: %w", err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("overlap: write history: %w", err)
	}
	renamed = true
	if err = syncDir(s.dir); err != nil {
		// The rename happened; only its durability is in doubt. Report it:
		// the caller must not release what may not be recorded. The entry
		// stays (a stricter history, never a laxer one) and a retry with the
		// same label and cohort succeeds idempotently.
		return fmt.Errorf("overlap: sync %s: %w", s.dir, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
