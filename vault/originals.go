package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/medchain/medchain/vault/blob"
	"github.com/medchain/medchain/vocab"
)

// Original records. A patient may ask the institution for their own
// record, the original as it was ingested (a FHIR Bundle, a CSV row with
// its header) — identifiable: it is theirs. Ingest keeps each patient's
// original, sealed, beside the de-identified version:
//
//	<root>/originals.recipients                  who may open originals: age recipients (public keys)
//	<root>/originals/<dataset>/<version>/KEY     the version's originals key, wrapped with age to them
//	<root>/originals/<dataset>/<version>/<name>  one patient's original, AES-256-GCM, 0600
//
// The recipients are OriginalsIdentity keys — X25519 keys derived from an
// institution account's key under a label of their own — chosen at the
// first ingest that keeps originals (the ingesting institution account's),
// and nothing else: not the node's vault key (NodeIdentity), which opens
// research data, and never a compute worker's key. So no code path that
// runs analyses holds a key that opens an original, and the research store
// (datasets/) holds none: originals are not chunks, in no manifest, not
// under the content root. Ingest needs only the public recipients to file
// originals, so any institution account may ingest; opening them takes
// the private key of a recipient (the node that serves patients' records).
// <name> is an HMAC of the row's pseudonym under a key derived from the
// vault secret: a file name says nothing of whose record it is.

const (
	originalsKeyInfo  = "medchain/vault/originals-key/v1"
	originalsNameInfo = "medchain/vault/original-name/v1"
	originalsAD       = "medchain/vault/original/v1"
)

// OriginalsIdentity is an institution's key for its patients' original
// records, derived (HKDF-SHA256) from the institution account's X25519 key
// under a label of its own: a different key from NodeIdentity, so that
// what opens research data does not open originals.
func OriginalsIdentity(institution *ecdh.PrivateKey) (*Identity, error) {
	seed, err := hkdf.Key(sha256.New, institution.Bytes(), nil, originalsKeyInfo, 32)
	if err != nil {
		return nil, err
	}
	k, err := ecdh.X25519().NewPrivateKey(seed)
	if err != nil {
		return nil, err
	}
	return NewIdentity(k)
}

// OriginalsRecipients are the keys an organisation's originals are filed
// to: those recorded in the vault for org, or, at its first use, first
// (recorded then). A vault is normally one institution's; a dev network's
// vault holds several, and each keeps its own (org "" is the vault's one
// record, for callers that do not say).
func (v *Vault) OriginalsRecipients(org string, first Recipient) ([]Recipient, error) {
	name := "originals.recipients"
	if org != "" {
		if !vocab.IsID(org) {
			return nil, fmt.Errorf("vault: originals recipients: %q is not an organisation id", org)
		}
		name = "originals." + org + ".recipients"
	}
	path := filepath.Join(v.root, name)
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("vault: originals recipients: %w", err)
	}
	defer f.Close()
	for try := 0; ; try++ { // a concurrent first use holds it for milliseconds
		err := flock(f)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLocked) || try == 500 {
			return nil, fmt.Errorf("vault: originals recipients: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if first.r == nil {
			return nil, errors.New("vault: originals recipients: none recorded and none given")
		}
		b, err := json.Marshal([]string{first.String()})
		if err != nil {
			return nil, err
		}
		if err := blob.WriteFileAtomic(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("vault: originals recipients: %w", err)
		}
		return []Recipient{first}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: originals recipients: %w", err)
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil || len(ss) == 0 {
		return nil, fmt.Errorf("vault: originals recipients: %w: originals.recipients does not parse", ErrCorrupt)
	}
	out := make([]Recipient, 0, len(ss))
	for _, x := range ss {
		r, err := ParseRecipient(x)
		if err != nil {
			return nil, fmt.Errorf("vault: originals recipients: %w: %v", ErrCorrupt, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Original is one patient's record as ingested.
type Original struct {
	Dataset   string `json:"dataset"`
	Version   uint64 `json:"version"`
	MediaType string `json:"media_type"` // application/fhir+json, text/csv
	Data      []byte `json:"data"`
}

// nameKey is the key of originals' file names, derived from the vault
// secret.
func (v *Vault) nameKey() ([]byte, error) {
	secret, err := v.Secret()
	if err != nil {
		return nil, err
	}
	return hkdf.Key(sha256.New, secret, nil, originalsNameInfo, 32)
}

// originalName is where a pseudonym's original is filed.
func originalName(nameKey []byte, pseudonym string) string {
	m := hmac.New(sha256.New, nameKey)
	m.Write([]byte(pseudonym))
	return hex.EncodeToString(m.Sum(nil)[:20])
}

func originalsAEAD(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // a 32-byte key always makes a cipher
	}
	a, err := cipher.NewGCMWithRandomNonce(b)
	if err != nil {
		panic(err)
	}
	return a
}

func originalAD(dataset string, version uint64, name string) []byte {
	ad := []byte(originalsAD + "\x00" + dataset + "\x00")
	ad = binary.BigEndian.AppendUint64(ad, version)
	return append(ad, "\x00"+name...)
}

func (v *Vault) originalsDir(dataset string) string {
	return filepath.Join(v.root, "originals", dataset)
}

// OriginalsWriter files the originals of one dataset version being
// ingested. Nothing is visible until Commit; Abort removes what it wrote,
// committed or not (an ingest whose publication failed).
type OriginalsWriter struct {
	key, nameKey []byte
	aead         cipher.AEAD
	dataset      string
	version      uint64
	staging      string
	final        string
	done         bool
}

// CreateOriginals starts filing the originals of a dataset version to the
// recipients (OriginalsRecipients).
func (v *Vault) CreateOriginals(dataset string, version uint64, to []Recipient) (*OriginalsWriter, error) {
	if !vocab.IsID(dataset) {
		return nil, fmt.Errorf("vault: originals: %q is not a dataset id", dataset)
	}
	nk, err := v.nameKey()
	if err != nil {
		return nil, err
	}
	key := newDataKey()
	ws, err := wrapKey(key, to)
	if err != nil {
		return nil, fmt.Errorf("vault: originals: %w", err)
	}
	wb, err := json.Marshal(ws)
	if err != nil {
		return nil, err
	}
	dir := v.originalsDir(dataset)
	final := filepath.Join(dir, strconv.FormatUint(version, 10))
	// A leftover of this version (an ingest that crashed after filing
	// them) is not referenced by the ledger: replace it.
	if err := os.RemoveAll(final); err != nil {
		return nil, fmt.Errorf("vault: originals: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("vault: originals: %w", err)
	}
	staging, err := os.MkdirTemp(dir, ".staging-")
	if err != nil {
		return nil, fmt.Errorf("vault: originals: %w", err)
	}
	if err := blob.WriteFileAtomic(filepath.Join(staging, "KEY"), wb, 0o600); err != nil {
		os.RemoveAll(staging)
		return nil, fmt.Errorf("vault: originals: %w", err)
	}
	return &OriginalsWriter{key: key, nameKey: nk, aead: originalsAEAD(key), dataset: dataset, version: version,
		staging: staging, final: final}, nil
}

// Put files one patient's original under the row's pseudonym.
func (w *OriginalsWriter) Put(pseudonym, mediaType string, data []byte) error {
	name := originalName(w.nameKey, pseudonym)
	plain, err := json.Marshal(Original{Dataset: w.dataset, Version: w.version, MediaType: mediaType, Data: data})
	if err != nil {
		return err
	}
	sealed := w.aead.Seal(nil, nil, plain, originalAD(w.dataset, w.version, name))
	if err := blob.WriteFileAtomic(filepath.Join(w.staging, name), sealed, 0o600); err != nil {
		return fmt.Errorf("vault: originals of %s version %d: %w", w.dataset, w.version, pathless(err))
	}
	return nil
}

// Commit makes the version's originals visible.
func (w *OriginalsWriter) Commit() error {
	if err := os.Rename(w.staging, w.final); err != nil {
		return fmt.Errorf("vault: originals of %s version %d: %w", w.dataset, w.version, err)
	}
	w.done = true
	return nil
}

// Abort removes the version's originals, staged or committed.
func (w *OriginalsWriter) Abort() {
	os.RemoveAll(w.staging)
	if w.done {
		os.RemoveAll(w.final)
	}
}

// Originals returns the originals filed under any of the pseudonyms, from
// the latest version of each dataset that has originals, in dataset order.
// id must be one of the originals recipients: any other key (the node's
// vault key, a worker's) is refused with ErrNotRecipient.
func (v *Vault) Originals(id *Identity, pseudonyms []string) ([]Original, error) {
	root := filepath.Join(v.root, "originals")
	ds, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: originals: %w", err)
	}
	nk, err := v.nameKey()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(pseudonyms))
	for _, p := range pseudonyms {
		names = append(names, originalName(nk, p))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var out []Original
	var notMine error
	for _, d := range ds {
		if !d.IsDir() || !vocab.IsID(d.Name()) {
			continue
		}
		vs, err := os.ReadDir(filepath.Join(root, d.Name()))
		if err != nil {
			return nil, fmt.Errorf("vault: originals of %s: %w", d.Name(), err)
		}
		var latest uint64
		for _, ve := range vs {
			if n, err := strconv.ParseUint(ve.Name(), 10, 64); err == nil && ve.IsDir() && n > latest {
				latest = n
			}
		}
		if latest == 0 {
			continue
		}
		where := fmt.Sprintf("vault: originals of %s version %d", d.Name(), latest)
		dir := filepath.Join(root, d.Name(), strconv.FormatUint(latest, 10))
		wb, err := os.ReadFile(filepath.Join(dir, "KEY"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		var ws []WrappedKey
		if err := json.Unmarshal(wb, &ws); err != nil {
			return nil, fmt.Errorf("%s: %w: KEY does not parse", where, ErrCorrupt)
		}
		held := slices.ContainsFunc(names, func(name string) bool {
			_, err := os.Stat(filepath.Join(dir, name))
			return err == nil
		})
		if !held {
			continue
		}
		key, err := unwrapKey(ws, id)
		if errors.Is(err, ErrNotRecipient) {
			// Another institution's originals in a vault several share
			// (the dev network's), or a key that opens none: said only
			// if nothing opens.
			notMine = fmt.Errorf("%s: %w", where, err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		aead := originalsAEAD(key)
		for _, name := range names {
			sealed, err := os.ReadFile(filepath.Join(dir, name))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, pathless(err))
			}
			plain, err := aead.Open(nil, nil, sealed, originalAD(d.Name(), latest, name))
			if err != nil {
				return nil, fmt.Errorf("%s: %w: an original does not open", where, ErrCorrupt)
			}
			var o Original
			if err := json.Unmarshal(plain, &o); err != nil || o.Dataset != d.Name() || o.Version != latest {
				return nil, fmt.Errorf("%s: %w: an original does not parse", where, ErrCorrupt)
			}
			out = append(out, o)
		}
	}
	if len(out) == 0 && notMine != nil {
		return nil, notMine
	}
	return out, nil
}

// pathless drops the path from a file error: an original's file name is
// derived from a pseudonym, and errors travel further than the vault.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s an original: %w", pe.Op, pe.Err)
	}
	return err
}
