package vault

import (
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vault/blob"
	"github.com/medchain/medchain/vault/column"
)

// Meta describes a version to write.
type Meta struct {
	Version     uint64
	Schema      record.Schema
	DeidProfile string      // hex hash of the de-identification rules, as published
	Recipients  []Recipient // who may open it: the node's key and the allowed workers' keys
	ChunkRows   int         // rows per chunk; 0 means DefaultChunkRows
}

// Quarantine is the report of the rows an ingest set aside instead of
// publishing: how many, and for each what was wrong and where (file, row or
// JSON path, field) — never a value. It is sealed with the version, since
// file names and positions may still say something about a patient.
type Quarantine struct {
	Rows     int                 `json:"rows"`
	Problems []record.InputError `json:"problems"`
}

// Summary describes a written version.
type Summary struct {
	Dataset     string `json:"dataset"`
	Version     uint64 `json:"version"`
	Rows        uint64 `json:"rows"`
	Columns     int    `json:"columns"`      // schema fields plus the pseudonym column
	Chunks      int    `json:"chunks"`       // sealed chunks over all columns
	Bytes       int64  `json:"bytes"`        // sealed bytes over all chunks
	ContentRoot string `json:"content_root"` // hex Merkle root, for the ledger
	RecordBand  string `json:"record_band"`
	Locator     string `json:"locator"`
	Manifest    string `json:"manifest"` // manifest blob address
}

// Writer writes one version: rows go in, chunks are sealed as they fill,
// and Commit makes the version visible in one rename. Nothing a Writer
// writes is visible before Commit, and Abort removes all of it.
type Writer struct {
	lk         *Lock
	id         versionID
	m          *Manifest
	recipients []Recipient
	staging    string
	st         BlobStore
	shared     bool        // st is the vault's shared store: Abort deletes what was put
	put        []blob.Addr // what was put in a shared store
	key        []byte
	aead       cipher.AEAD
	cols       []*column.Chunk // [0] pseudonyms, then the schema's fields
	quarantine *Quarantine
	report     []byte
	bytes      int64
	plain, ad  []byte
	padded     []byte
	sealed     []byte
	state      int
}

const (
	writing = iota
	committed
	aborted
)

// Create starts writing a new version of the locked dataset. The version
// must not exist in the vault (remove a leftover of a failed publication
// first, see Lock.Remove).
func (l *Lock) Create(meta Meta) (*Writer, error) {
	if l.f == nil {
		return nil, errors.New("vault: Create after Unlock")
	}
	id := versionID{l.dataset, meta.Version}
	if meta.Version == 0 {
		return nil, errors.New("vault: versions start at 1")
	}
	if err := checkSchema(meta.Schema); err != nil {
		return nil, fmt.Errorf("vault: dataset %s version %d: %w", id.dataset, id.version, err)
	}
	if len(meta.Recipients) == 0 {
		return nil, fmt.Errorf("vault: dataset %s version %d: no recipients: nobody could open it", id.dataset, id.version)
	}
	if _, err := os.Stat(l.v.versionDir(id)); err == nil {
		return nil, id.err("", ErrExists)
	}
	rows := meta.ChunkRows
	if rows == 0 {
		rows = DefaultChunkRows
	}
	if rows < 0 || rows > math.MaxUint32 {
		return nil, fmt.Errorf("vault: chunk rows %d out of range", rows)
	}
	staging, err := os.MkdirTemp(filepath.Join(l.v.root, "staging"), id.dataset+"@"+strconv.FormatUint(id.version, 10)+"-")
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	st, err := l.v.store(staging)
	if err != nil {
		os.RemoveAll(staging)
		return nil, err
	}
	key := newDataKey()
	aead, err := newAEAD(key)
	if err != nil {
		os.RemoveAll(staging)
		return nil, err
	}
	w := &Writer{
		lk: l, id: id, staging: staging, st: st, shared: l.v.blobs != nil, key: key, aead: aead,
		recipients: meta.Recipients,
		m: &Manifest{Format: manifestFormat, Dataset: id.dataset, Version: id.version, Schema: meta.Schema,
			ChunkRows: rows, DeidProfile: meta.DeidProfile},
	}
	w.addColumn(PseudonymColumn, column.String)
	for _, f := range meta.Schema {
		enc, _ := column.ForType(f.Type) // checked by checkSchema
		w.addColumn(f.Name, enc)
	}
	return w, nil
}

func (w *Writer) addColumn(name string, enc column.Encoding) {
	w.m.Columns = append(w.m.Columns, ColumnInfo{Name: name, Encoding: enc.String(), Chunks: []BlobInfo{}})
	w.cols = append(w.cols, column.NewChunk(enc, w.m.ChunkRows))
}

// CheckRow checks a row against a schema: it has a pseudonym and one value
// per field, each null or of the field's kind, numbers finite, integers and
// years whole. A problem comes back as a *record.InputError naming the
// field; the caller fills in the source and position.
func CheckRow(schema record.Schema, r *record.Row) error {
	if r.Pseudonym == "" {
		return &record.InputError{Field: PseudonymColumn, Reason: "row has no pseudonym"}
	}
	if len(r.Values) != len(schema) {
		return &record.InputError{Reason: fmt.Sprintf("row has %d values, the schema %d fields", len(r.Values), len(schema))}
	}
	for i, f := range schema {
		v := r.Values[i]
		if v.Kind == record.KindNull {
			continue
		}
		enc, err := column.ForType(f.Type)
		if err != nil {
			return &record.InputError{Field: f.Name, Reason: err.Error()}
		}
		if v.Kind != enc.Kind() {
			return &record.InputError{Field: f.Name, Reason: fmt.Sprintf("a %s field holds a %s value", f.Type, kindName(v.Kind))}
		}
		if enc == column.Float64 {
			if math.IsNaN(v.Num) || math.IsInf(v.Num, 0) {
				return &record.InputError{Field: f.Name, Reason: "not a finite number"}
			}
			if (f.Type == "integer" || f.Type == "year") && v.Num != math.Trunc(v.Num) {
				return &record.InputError{Field: f.Name, Reason: fmt.Sprintf("a %s field holds a fraction", f.Type)}
			}
		}
	}
	return nil
}

func kindName(k record.Kind) string {
	switch k {
	case record.KindNumber:
		return "number"
	case record.KindText:
		return "text"
	case record.KindBool:
		return "boolean"
	}
	return "null"
}

// Append adds a row; a full chunk is sealed and stored at once.
func (w *Writer) Append(r record.Row) error {
	if w.state != writing {
		return errors.New("vault: Append to a finished writer")
	}
	if err := CheckRow(w.m.Schema, &r); err != nil {
		return err
	}
	w.cols[0].Append(record.Str(r.Pseudonym))
	for i, v := range r.Values {
		w.cols[i+1].Append(v) // kinds checked above
	}
	w.m.Rows++
	if w.cols[0].Rows == w.m.ChunkRows {
		return w.flush()
	}
	return nil
}

// flush seals the buffered rows of every column as the next chunk.
func (w *Writer) flush() error {
	chunk := len(w.m.Columns[0].Chunks)
	for i, c := range w.cols {
		name := w.m.Columns[i].Name
		w.plain = c.AppendEncoded(w.plain[:0])
		w.padded = pad(w.padded, w.plain)
		w.ad = chunkAD(w.ad, w.id, name, chunk)
		w.sealed = w.aead.Seal(w.sealed[:0], nil, w.padded, w.ad)
		addr, err := w.putBlob(w.sealed)
		if err != nil {
			return w.id.chunkErr(name, chunk, err)
		}
		w.m.Columns[i].Chunks = append(w.m.Columns[i].Chunks, BlobInfo{Addr: addr, Size: len(w.sealed)})
		w.bytes += int64(len(w.sealed))
		c.Reset()
	}
	return nil
}

// SetQuarantine attaches the report of the rows set aside; it is sealed
// with the version at Commit.
func (w *Writer) SetQuarantine(q *Quarantine) { w.quarantine = q }

// SetIngestReport attaches the report of the ingest writing the version
// (JSON, opaque to the vault); it is sealed with the version at Commit, like
// the quarantine report, since its exact counts are the institution's alone.
func (w *Writer) SetIngestReport(report []byte) { w.report = report }

// Commit seals what is buffered, writes the manifest and moves the version
// into place. On error nothing of the version remains.
func (w *Writer) Commit() (*Summary, error) {
	if w.state != writing {
		return nil, errors.New("vault: Commit of a finished writer")
	}
	s, err := w.commit()
	if err != nil {
		w.Abort()
		return nil, err
	}
	w.state = committed
	return s, nil
}

func (w *Writer) commit() (*Summary, error) {
	if w.cols[0].Rows > 0 {
		if err := w.flush(); err != nil {
			return nil, err
		}
	}
	if q := w.quarantine; q != nil {
		plain, err := json.Marshal(q)
		if err != nil {
			return nil, err
		}
		sealed := w.aead.Seal(nil, nil, pad(nil, plain), quarantineAD(w.id))
		addr, err := w.putBlob(sealed)
		if err != nil {
			return nil, w.id.err(partQuarantine, err)
		}
		w.m.Quarantine = &BlobInfo{Addr: addr, Size: len(sealed)}
	}
	if w.report != nil {
		sealed := w.aead.Seal(nil, nil, pad(nil, w.report), reportAD(w.id))
		addr, err := w.putBlob(sealed)
		if err != nil {
			return nil, w.id.err(partReport, err)
		}
		w.m.IngestReport = &BlobInfo{Addr: addr, Size: len(sealed)}
	}
	w.m.RecordBand = RecordBand(w.m.Rows)
	w.m.SealedRows = sealRows(w.aead, w.id, w.m.Rows)
	root, err := w.m.Root()
	if err != nil {
		return nil, err
	}
	w.m.ContentRoot = root
	body, err := w.m.macBody()
	if err != nil {
		return nil, err
	}
	if w.m.MAC, err = manifestMAC(w.key, body); err != nil {
		return nil, err
	}
	if w.m.Keys, err = wrapKey(w.key, w.recipients); err != nil {
		return nil, w.id.err(partDataKey, err)
	}
	body, err = jsonMarshal(w.m)
	if err != nil {
		return nil, err
	}
	addr, err := w.putBlob(body)
	if err != nil {
		return nil, w.id.err(partManifest, err)
	}
	if err := writeRef(w.staging, addr); err != nil {
		return nil, w.id.err(partManifest, err)
	}
	if err := blob.SyncDir(w.staging); err != nil {
		return nil, err
	}
	target := w.lk.v.versionDir(w.id)
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return nil, err
	}
	if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
		return nil, w.id.err("", ErrExists)
	}
	if err := os.Rename(w.staging, target); err != nil {
		return nil, fmt.Errorf("vault: install dataset %s version %d: %w", w.id.dataset, w.id.version, err)
	}
	w.staging = target // from here on, Abort removes the installed version
	if err := blob.SyncDir(filepath.Dir(target)); err != nil {
		return nil, err
	}
	chunks := 0
	for _, c := range w.m.Columns {
		chunks += len(c.Chunks)
	}
	clear(w.key)
	return &Summary{
		Dataset: w.id.dataset, Version: w.id.version, Rows: w.m.Rows, Columns: len(w.m.Columns),
		Chunks: chunks, Bytes: w.bytes, ContentRoot: root, RecordBand: RecordBand(w.m.Rows),
		Locator: Locator(w.id.dataset, w.id.version), Manifest: addr.String(),
	}, nil
}

// putBlob stores a sealed blob, remembering it if the store is shared.
func (w *Writer) putBlob(b []byte) (blob.Addr, error) {
	addr, err := w.st.Put(b)
	if w.shared {
		// Remembered even when Put failed: the object may have been
		// written before the error (a lost answer), and Delete of a
		// missing blob is harmless.
		w.put = append(w.put, addr)
	}
	return addr, err
}

// Abort removes everything the writer wrote: the staging directory, or the
// committed version (when its publication failed), and the blobs it put in
// a shared store. The directory goes first, so the version is invisible
// before any of its blobs is deleted. It is safe to call more than once.
func (w *Writer) Abort() error {
	if w.state == aborted {
		return nil
	}
	w.state = aborted
	clear(w.key)
	if err := os.RemoveAll(w.staging); err != nil {
		return fmt.Errorf("vault: abort dataset %s version %d: %w", w.id.dataset, w.id.version, err)
	}
	err := blob.SyncDir(filepath.Dir(w.staging))
	for _, a := range w.put {
		// A blob left behind (the store unreachable now) is ciphertext
		// under a key that no longer exists anywhere, which no manifest
		// names: unreadable and invisible, only space.
		if derr := w.st.Delete(a); derr != nil && err == nil {
			err = fmt.Errorf("vault: abort dataset %s version %d: %w", w.id.dataset, w.id.version, derr)
		}
	}
	w.put = nil
	return err
}

func jsonMarshal(v any) ([]byte, error) { return json.MarshalIndent(v, "", " ") }
