package vault

import (
	"bytes"
	"crypto/cipher"
	"crypto/hmac"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vault/blob"
	"github.com/medchain/medchain/vault/column"
	"github.com/medchain/medchain/vocab"
)

// PseudonymColumn is the name of the column holding the rows' pseudonyms.
// It comes first in every version and no schema field may use the name.
const PseudonymColumn = "@pseudonym"

// DefaultChunkRows is how many rows a chunk holds: 512 KiB of float64s, big
// enough that sealing and hashing run at full speed, small enough that an
// analysis streams a column in bounded memory.
const DefaultChunkRows = 65536

// manifestFormat 2: the row count is sealed (format 1 had it in the clear).
const manifestFormat = 2

// Manifest describes one stored version: its schema, its chunks and the
// wrapped data keys. It is kept as a blob beside the chunks. Everything but
// Keys is authenticated by MAC (HMAC-SHA256 under a key derived from the
// data key), so nobody without the data key can alter it; Keys change when
// the data key is re-wrapped, without touching anything else.
//
// The manifest is readable without the data key (to list and prove
// chunks), so it carries the version's record band, as the ledger does,
// and the exact row count only sealed under the data key: a small cohort's
// size is not on disk for anyone who can list the vault.
type Manifest struct {
	Format     int           `json:"format"`
	Dataset    string        `json:"dataset"`
	Version    uint64        `json:"version"`
	Schema     record.Schema `json:"schema"`
	RecordBand string        `json:"record_band"`
	SealedRows []byte        `json:"sealed_rows"` // the exact row count, AES-256-GCM under the data key
	// Rows is the exact row count: set by the writer, and by Open once the
	// data key has unsealed it; zero in a manifest read without the key.
	Rows        uint64 `json:"-"`
	ChunkRows   int    `json:"chunk_rows"`
	DeidProfile string `json:"deid_profile,omitempty"`
	// Columns are the pseudonym column, then the schema's fields in order.
	Columns    []ColumnInfo `json:"columns"`
	Quarantine *BlobInfo    `json:"quarantine,omitempty"` // sealed report of rows set aside at ingest
	// IngestReport is the sealed report of the ingest that wrote the
	// version (counts, rules applied: package ingest's Report), for the
	// institution's console; absent from versions written before it was
	// kept.
	IngestReport *BlobInfo    `json:"ingest_report,omitempty"`
	ContentRoot  string       `json:"content_root"`
	MAC          []byte       `json:"mac"`
	Keys         []WrappedKey `json:"keys"`
}

// ColumnInfo lists one column's chunks.
type ColumnInfo struct {
	Name     string     `json:"name"`
	Encoding string     `json:"encoding"` // float64, bool, string
	Chunks   []BlobInfo `json:"chunks"`
}

// BlobInfo is one sealed blob. Its address is the SHA-256 of its bytes —
// the ciphertext hash the Merkle tree is built over.
type BlobInfo struct {
	Addr blob.Addr `json:"sha256"`
	Size int       `json:"size"`
}

// chunks is how many chunks each column has, as listed (the count the
// keyless checks use; NumChunks needs the exact row count).
func (m *Manifest) chunks() int {
	if len(m.Columns) == 0 {
		return 0
	}
	return len(m.Columns[0].Chunks)
}

// NumChunks is how many chunks each column has, from the exact row count
// (known to the writer, and after Open).
func (m *Manifest) NumChunks() int {
	return int((m.Rows + uint64(m.ChunkRows) - 1) / uint64(m.ChunkRows))
}

// chunkRows is the number of rows in chunk i.
func (m *Manifest) chunkRows(i int) int {
	return int(min(uint64(m.ChunkRows), m.Rows-uint64(i)*uint64(m.ChunkRows)))
}

// Recipients lists who the data key is wrapped to ("age1…").
func (m *Manifest) Recipients() []string {
	var out []string
	for _, k := range m.Keys {
		out = append(out, k.Recipient)
	}
	return out
}

func (m *Manifest) id() versionID { return versionID{m.Dataset, m.Version} }

// macBody is what the MAC covers: the manifest without MAC and Keys.
func (m *Manifest) macBody() ([]byte, error) {
	c := *m
	c.MAC, c.Keys = nil, nil
	return json.Marshal(&c)
}

// column returns the position and info of a column.
func (m *Manifest) column(name string) (int, *ColumnInfo, bool) {
	for i := range m.Columns {
		if m.Columns[i].Name == name {
			return i, &m.Columns[i], true
		}
	}
	return 0, nil, false
}

// leaves are the chunk hashes in canonical order.
func (m *Manifest) leaves() [][]byte {
	var out [][]byte
	for _, c := range m.Columns {
		for _, ch := range c.Chunks {
			out = append(out, bytes.Clone(ch.Addr[:]))
		}
	}
	return out
}

// blobs lists the sealed blobs the manifest names: chunks and quarantine
// report.
func (m *Manifest) blobs() []blob.Addr {
	var out []blob.Addr
	for _, c := range m.Columns {
		for _, ch := range c.Chunks {
			out = append(out, ch.Addr)
		}
	}
	if m.Quarantine != nil {
		out = append(out, m.Quarantine.Addr)
	}
	if m.IngestReport != nil {
		out = append(out, m.IngestReport.Addr)
	}
	return out
}

// Root recomputes the content root from the chunk list.
func (m *Manifest) Root() (string, error) {
	t, err := buildTree(m.leaves())
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(t.root), nil
}

// Prove returns the inclusion proof of one chunk in the content root.
func (m *Manifest) Prove(col string, chunk int) (*Proof, error) {
	pos, c, ok := m.column(col)
	if !ok {
		return nil, m.id().err(partChunk, fmt.Errorf("%w: no column %q", ErrNotFound, col))
	}
	if chunk < 0 || chunk >= len(c.Chunks) {
		return nil, m.id().chunkErr(col, chunk, fmt.Errorf("%w: the column has %d chunks", ErrNotFound, len(c.Chunks)))
	}
	t, err := buildTree(m.leaves())
	if err != nil {
		return nil, err
	}
	index := uint64(pos*m.chunks() + chunk)
	hashes, err := t.prove(index)
	if err != nil {
		return nil, m.id().chunkErr(col, chunk, err)
	}
	return &Proof{Column: col, Chunk: chunk, Index: index, Size: t.size, Hashes: hashes}, nil
}

// check validates the manifest's structure: it belongs to the version it
// was found under, its columns are the pseudonyms plus the schema with the
// right encodings, each with exactly the chunks the row count needs, and
// its recorded root is the root of its chunks.
func (m *Manifest) check(want versionID) error {
	if m.Format != manifestFormat {
		return fmt.Errorf("%w: unknown manifest format %d", ErrCorrupt, m.Format)
	}
	if m.Dataset != want.dataset || m.Version != want.version {
		return fmt.Errorf("%w: the manifest is that of dataset %s version %d", ErrCorrupt, m.Dataset, m.Version)
	}
	if m.ChunkRows <= 0 {
		return fmt.Errorf("%w: chunk_rows %d", ErrCorrupt, m.ChunkRows)
	}
	if len(m.Columns) != len(m.Schema)+1 {
		return fmt.Errorf("%w: %d columns for a schema of %d fields", ErrCorrupt, len(m.Columns), len(m.Schema))
	}
	if !slices.Contains(vocab.RecordBands, m.RecordBand) {
		return fmt.Errorf("%w: record band %q", ErrCorrupt, m.RecordBand)
	}
	n := m.chunks()
	for i, c := range m.Columns {
		name, enc := PseudonymColumn, column.String
		if i > 0 {
			f := m.Schema[i-1]
			var err error
			if enc, err = column.ForType(f.Type); err != nil {
				return fmt.Errorf("%w: field %s: %v", ErrCorrupt, f.Name, err)
			}
			name = f.Name
		}
		if c.Name != name || c.Encoding != enc.String() {
			return fmt.Errorf("%w: column %d is %s (%s), the schema says %s (%s)", ErrCorrupt, i, c.Name, c.Encoding, name, enc)
		}
		if len(c.Chunks) != n {
			return fmt.Errorf("%w: column %s has %d chunks, column %s %d", ErrCorrupt, c.Name, len(c.Chunks), m.Columns[0].Name, n)
		}
	}
	root, err := m.Root()
	if err != nil {
		return err
	}
	if root != m.ContentRoot {
		return fmt.Errorf("%w: the chunks' root is %s, the manifest records %s", ErrCorrupt, root, m.ContentRoot)
	}
	return nil
}

// authenticate checks the MAC under the data key, then unseals the exact
// row count and checks it against the band and the chunks.
func (m *Manifest) authenticate(dataKey []byte) error {
	body, err := m.macBody()
	if err != nil {
		return err
	}
	mac, err := manifestMAC(dataKey, body)
	if err != nil {
		return err
	}
	if !hmac.Equal(mac, m.MAC) {
		return fmt.Errorf("%w: the manifest does not authenticate under the data key (it was modified)", ErrCorrupt)
	}
	aead, err := newAEAD(dataKey)
	if err != nil {
		return err
	}
	plain, err := aead.Open(nil, nil, m.SealedRows, rowsAD(m.id()))
	if err != nil || len(plain) != 8 {
		return fmt.Errorf("%w: the sealed row count does not open", ErrCorrupt)
	}
	rows := binary.BigEndian.Uint64(plain)
	c := *m
	c.Rows = rows
	if c.NumChunks() != m.chunks() || RecordBand(rows) != m.RecordBand {
		return fmt.Errorf("%w: the sealed row count disagrees with the chunks or the band", ErrCorrupt)
	}
	m.Rows = rows
	return nil
}

// sealRows seals the exact row count under the data key.
func sealRows(aead cipher.AEAD, id versionID, rows uint64) []byte {
	return aead.Seal(nil, nil, binary.BigEndian.AppendUint64(nil, rows), rowsAD(id))
}

// checkSchema rejects schemas the vault cannot store.
func checkSchema(s record.Schema) error {
	for i, f := range s {
		if f.Name == PseudonymColumn {
			return fmt.Errorf("schema field %d: the name %s is reserved for the pseudonym column", i, PseudonymColumn)
		}
		if slices.ContainsFunc(s[:i], func(g vocab.Field) bool { return g.Name == f.Name }) {
			return fmt.Errorf("schema field %d: duplicate name %q", i, f.Name)
		}
		if _, err := column.ForType(f.Type); err != nil {
			return fmt.Errorf("schema field %s: %v", f.Name, err)
		}
	}
	return nil
}

func decodeManifest(b []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: manifest does not parse: %v", ErrCorrupt, err)
	}
	return &m, nil
}

// Published is what the ledger publishes about a dataset version, as far
// as the vault can check it against what it stores: the fields of the same
// names in the ledger's DatasetVersion record.
type Published struct {
	Dataset     string
	Version     uint64
	Schema      record.Schema
	RecordBand  string
	ContentRoot string
	DeidProfile string
	Locator     string
}

// CheckPublished compares the manifest with what the ledger published for
// the version: content root, schema, record band, de-identification
// profile and locator must all agree.
func (m *Manifest) CheckPublished(dv Published) error {
	id := m.id()
	mismatch := func(what, stored, published string) error {
		return id.err(partManifest, fmt.Errorf("%w: %s: stored %q, published %q", ErrLedgerMismatch, what, stored, published))
	}
	switch {
	case dv.Dataset != m.Dataset || dv.Version != m.Version:
		return mismatch("version", fmt.Sprintf("%s/%d", m.Dataset, m.Version), fmt.Sprintf("%s/%d", dv.Dataset, dv.Version))
	case dv.ContentRoot != m.ContentRoot:
		return id.err(partRoot, fmt.Errorf("%w: stored chunks have root %s, the ledger publishes %s", ErrRootMismatch, m.ContentRoot, dv.ContentRoot))
	case !slices.Equal(dv.Schema, m.Schema):
		return mismatch("schema", fmt.Sprint(m.Schema), fmt.Sprint(dv.Schema))
	case dv.RecordBand != m.RecordBand:
		return mismatch("record band", m.RecordBand, dv.RecordBand)
	case dv.DeidProfile != m.DeidProfile:
		return mismatch("de-identification profile", m.DeidProfile, dv.DeidProfile)
	case dv.Locator != Locator(m.Dataset, m.Version):
		return mismatch("locator", Locator(m.Dataset, m.Version), dv.Locator)
	}
	return nil
}
