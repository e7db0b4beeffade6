package vault

import (
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"iter"

	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vault/blob"
	"github.com/medchain/medchain/vault/column"
)

// Version is an opened dataset version: its manifest checked, its data key
// unwrapped, its chunks readable column by column.
type Version struct {
	id   versionID
	m    *Manifest
	st   blob.Store
	aead cipher.AEAD
}

// Open opens a version for reading with id, which must be among the
// recipients of its data key. contentRoot is the root the ledger publishes
// for the version (hex): the manifest must authenticate under the data key
// and its chunks must have exactly that root, so what is read is what was
// published.
func (v *Vault) Open(dataset string, version uint64, contentRoot string, id *Identity) (*Version, error) {
	vid := versionID{dataset, version}
	m, _, st, err := v.readManifest(vid)
	if err != nil {
		return nil, err
	}
	key, err := unwrapKey(m.Keys, id)
	if err != nil {
		return nil, vid.err(partDataKey, err)
	}
	defer clear(key)
	if err := m.authenticate(key); err != nil {
		return nil, vid.err(partManifest, err)
	}
	if m.ContentRoot != contentRoot {
		return nil, vid.err(partRoot, fmt.Errorf("%w: the stored chunks have root %s, the expected root is %q", ErrRootMismatch, m.ContentRoot, contentRoot))
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &Version{id: vid, m: m, st: st, aead: aead}, nil
}

// Manifest is the version's manifest.
func (r *Version) Manifest() *Manifest { return r.m }

// Schema is the version's schema (without the pseudonym column).
func (r *Version) Schema() record.Schema { return r.m.Schema }

// NumRows is the number of rows.
func (r *Version) NumRows() uint64 { return r.m.Rows }

// Column streams one column, chunk by chunk, reading and decrypting only
// that column's chunks. The chunk yielded is reused by the next iteration
// (copy what must outlive it). A chunk that fails its checks ends the
// iteration with an *Error naming it.
func (r *Version) Column(name string) iter.Seq2[*column.Chunk, error] {
	return func(yield func(*column.Chunk, error) bool) {
		pos, _, ok := r.m.column(name)
		if !ok {
			yield(nil, r.id.err("", fmt.Errorf("%w: no column %q", ErrNotFound, name)))
			return
		}
		var c column.Chunk
		var buf []byte
		for i := 0; i < r.m.NumChunks(); i++ {
			var err error
			if buf, err = r.readChunk(pos, i, &c, buf); err != nil {
				yield(nil, err)
				return
			}
			if !yield(&c, nil) {
				return
			}
		}
	}
}

// Pseudonyms streams the pseudonym column.
func (r *Version) Pseudonyms() iter.Seq2[*column.Chunk, error] { return r.Column(PseudonymColumn) }

// Rows streams whole rows, reading every column. Analyses that need a few
// columns should use Column instead.
func (r *Version) Rows() iter.Seq2[record.Row, error] {
	return func(yield func(record.Row, error) bool) {
		chunks := make([]column.Chunk, len(r.m.Columns))
		var buf []byte
		for i := 0; i < r.m.NumChunks(); i++ {
			for pos := range chunks {
				var err error
				if buf, err = r.readChunk(pos, i, &chunks[pos], buf); err != nil {
					yield(record.Row{}, err)
					return
				}
			}
			for row := 0; row < chunks[0].Rows; row++ {
				out := record.Row{Pseudonym: chunks[0].Strs[row], Values: make([]record.Value, len(chunks)-1)}
				for pos := 1; pos < len(chunks); pos++ {
					out.Values[pos-1] = chunks[pos].Value(row)
				}
				if !yield(out, nil) {
					return
				}
			}
		}
	}
}

// readChunk fetches (re-hashing), opens and decodes chunk i of the column
// at pos into c, using buf for the plaintext; it returns buf for reuse.
func (r *Version) readChunk(pos, i int, c *column.Chunk, buf []byte) ([]byte, error) {
	info := r.m.Columns[pos]
	sealed, err := r.st.Get(info.Chunks[i].Addr)
	if err != nil {
		return buf, r.id.chunkErr(info.Name, i, blobErr(err))
	}
	ad := chunkAD(nil, r.id, info.Name, i)
	buf, err = r.aead.Open(buf[:0], nil, sealed, ad)
	if err != nil {
		return buf, r.id.chunkErr(info.Name, i, fmt.Errorf("%w: %w", ErrCorrupt, errAuth))
	}
	body, err := unpad(buf)
	if err != nil {
		return buf, r.id.chunkErr(info.Name, i, fmt.Errorf("%w: %v", ErrCorrupt, err))
	}
	if err := column.Decode(body, c); err != nil {
		return buf, r.id.chunkErr(info.Name, i, fmt.Errorf("%w: %v", ErrCorrupt, err))
	}
	if c.Encoding.String() != info.Encoding || c.Rows != r.m.chunkRows(i) {
		return buf, r.id.chunkErr(info.Name, i, fmt.Errorf("%w: holds %d %s rows, the manifest says %d %s", ErrCorrupt, c.Rows, c.Encoding, r.m.chunkRows(i), info.Encoding))
	}
	return buf, nil
}

// Quarantine reads the report of the rows set aside at ingest; nil if the
// ingest set none aside.
func (r *Version) Quarantine() (*Quarantine, error) {
	if r.m.Quarantine == nil {
		return nil, nil
	}
	sealed, err := r.st.Get(r.m.Quarantine.Addr)
	if err != nil {
		return nil, r.id.err(partQuarantine, blobErr(err))
	}
	plain, err := r.aead.Open(nil, nil, sealed, quarantineAD(r.id))
	if err != nil {
		return nil, r.id.err(partQuarantine, fmt.Errorf("%w: %w", ErrCorrupt, errAuth))
	}
	if plain, err = unpad(plain); err != nil {
		return nil, r.id.err(partQuarantine, fmt.Errorf("%w: %v", ErrCorrupt, err))
	}
	var q Quarantine
	if err := json.Unmarshal(plain, &q); err != nil {
		return nil, r.id.err(partQuarantine, fmt.Errorf("%w: %v", ErrCorrupt, err))
	}
	return &q, nil
}

// IngestReport reads the sealed report of the ingest that wrote the version
// (the bytes given to Writer.SetIngestReport); nil if none was kept.
func (r *Version) IngestReport() ([]byte, error) {
	if r.m.IngestReport == nil {
		return nil, nil
	}
	sealed, err := r.st.Get(r.m.IngestReport.Addr)
	if err != nil {
		return nil, r.id.err(partReport, blobErr(err))
	}
	plain, err := r.aead.Open(nil, nil, sealed, reportAD(r.id))
	if err != nil {
		return nil, r.id.err(partReport, fmt.Errorf("%w: %w", ErrCorrupt, errAuth))
	}
	if plain, err = unpad(plain); err != nil {
		return nil, r.id.err(partReport, fmt.Errorf("%w: %v", ErrCorrupt, err))
	}
	return plain, nil
}

// VerifyReport is what Verify checked.
type VerifyReport struct {
	Chunks      int    `json:"chunks"`
	Bytes       int64  `json:"bytes"`
	ContentRoot string `json:"content_root"`
}

// Verify reads every chunk of every column: each must hash to its address
// (the blob store re-hashes what it reads, so the leaves below are the
// hashes of the bytes actually stored), open under the data key as exactly
// the chunk it is listed as, and decode; and the Merkle root over those
// hashes must be the content root the version was opened with.
func (r *Version) Verify() (*VerifyReport, error) {
	rep := &VerifyReport{}
	var leaves [][]byte
	var c column.Chunk
	var buf []byte
	for pos, info := range r.m.Columns {
		for i, ch := range info.Chunks {
			var err error
			if buf, err = r.readChunk(pos, i, &c, buf); err != nil {
				return rep, err
			}
			leaves = append(leaves, ch.Addr[:])
			rep.Chunks++
			rep.Bytes += int64(ch.Size)
		}
	}
	t, err := buildTree(leaves)
	if err != nil {
		return rep, err
	}
	rep.ContentRoot = hex.EncodeToString(t.root)
	if rep.ContentRoot != r.m.ContentRoot {
		return rep, r.id.err(partRoot, fmt.Errorf("%w: the stored chunks hash to root %s, published %s", ErrRootMismatch, rep.ContentRoot, r.m.ContentRoot))
	}
	return rep, nil
}

// ReadChunk returns the stored (sealed) bytes of one chunk, re-hashed, with
// its inclusion proof: what a third party needs to check, without any key,
// that the chunk belongs to the published version (VerifyChunk).
func (v *Vault) ReadChunk(dataset string, version uint64, col string, chunk int) ([]byte, *Proof, error) {
	vid := versionID{dataset, version}
	m, _, st, err := v.readManifest(vid)
	if err != nil {
		return nil, nil, err
	}
	p, err := m.Prove(col, chunk)
	if err != nil {
		return nil, nil, err
	}
	_, info, _ := m.column(col)
	sealed, err := st.Get(info.Chunks[chunk].Addr)
	if err != nil {
		return nil, nil, vid.chunkErr(col, chunk, blobErr(err))
	}
	return sealed, p, nil
}
