// Package series is the vault's sealed, append-only time-series store of
// medical-device readings.
//
// Readings arrive in batches; each batch is one frame appended to the
// current segment file and synced before Append returns, so a reading
// acknowledged after Append is on disk. A frame stores its readings column
// by column, each column sealed on its own with AES-256-GCM (random
// nonces, as the vault's chunks), its associated data binding it to the
// segment, the frame's offset, the frame's kind and size, and the column:
// a column moved, swapped or cut out fails to open. A reader names the
// columns it needs and only those are decrypted and decoded.
//
// On disk, under the vault (<vault>/series by default):
//
//	00000001.seg, 00000002.seg, …   segments; a new one once the current passes its size limit
//
// Segment keys are derived from the store's key (HKDF-SHA256,
// "medchain/vault/series/v1", the segment number as salt): the vault's
// series key (vault.SeriesKey), random and stored only wrapped with age to
// the institution's node key, so a copy of the vault's files opens no
// reading. Random 96-bit nonces allow 2^32 seals per key; a 64 MiB
// segment holds at most a few million sealed columns. Readings leave this
// store for research only through the
// ingest pipeline into a dataset version, which is sealed under its own
// age-wrapped data key like any other.
//
// A crash can leave the last frame of the last segment partly written: it
// was never acknowledged, and Open cuts it off. Any other frame that does
// not open is corruption and is reported, never skipped.
package series

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/medchain/medchain/vault/blob"
)

const (
	keyInfo = "medchain/vault/series/v1"
	adFrame = "medchain/vault/series/frame/v1"

	kindReadings = 1
	kindAnchor   = 2

	// DefaultSegmentSize is when a segment is closed and a new one begun.
	DefaultSegmentSize = 64 << 20
	// MaxBatch bounds the readings in one frame.
	MaxBatch = 1 << 16

	headerFixed = 4 + 1 + 4 + 1 // length, kind, n, column count
	maxFrame    = 64 << 20
)

// ErrCorrupt is a stored frame that does not open or decode: modified,
// moved, or cut short other than at the very end.
var ErrCorrupt = errors.New("integrity check failed")

// Error names the segment and frame offset a failure is about.
type Error struct {
	Segment uint64
	Offset  int64
	Err     error
}

func (e *Error) Error() string {
	return fmt.Sprintf("series: segment %d offset %d: %v", e.Segment, e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Store is an open series directory. Append, Mark and Scan may be called
// from several goroutines.
type Store struct {
	dir      string
	key      []byte
	segSize  int64
	readOnly bool

	mu   sync.Mutex
	f    *os.File // current segment, opened for append
	seg  uint64   // its number
	off  int64    // its length: where the next frame goes
	aead cipher.AEAD
}

// Options tune a store; the zero value is the default.
type Options struct {
	SegmentSize int64 // 0: DefaultSegmentSize
	// ReadOnly opens the store to read while another process (the node)
	// writes it: nothing is cut off or created, Append and Mark fail, and
	// an incomplete frame at the end of the last segment (being written,
	// or torn) ends a scan quietly.
	ReadOnly bool
}

// Open opens (creating if needed) the series directory dir, sealed under
// keys derived from key (vault.SeriesKey), and cuts off a torn last frame.
func Open(dir string, key []byte, o Options) (*Store, error) {
	if len(key) < 32 {
		return nil, errors.New("series: the store key is shorter than 32 bytes")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	s := &Store{dir: dir, key: slices.Clone(key), segSize: o.SegmentSize, readOnly: o.ReadOnly}
	if s.segSize <= 0 {
		s.segSize = DefaultSegmentSize
	}
	if o.ReadOnly {
		return s, nil
	}
	segs, err := s.segments()
	if err != nil {
		return nil, err
	}
	if len(segs) == 0 {
		return s, s.startSegment(1)
	}
	last := segs[len(segs)-1]
	good, err := s.recover(last)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(s.segPath(last), os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	if err := f.Truncate(good); err == nil {
		err = f.Sync()
	}
	if err == nil {
		_, err = f.Seek(good, io.SeekStart)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("series: segment %d: %w", last, err)
	}
	s.f, s.seg, s.off = f, last, good
	s.aead, err = s.segAEAD(last)
	if err != nil {
		f.Close()
		return nil, err
	}
	return s, nil
}

// recover reads the last segment and returns the length of its frames that
// open: a frame cut short or not opening at the very end is torn and cut
// off; one that does not open with more after it is corruption.
func (s *Store) recover(seg uint64) (int64, error) {
	var good int64
	err := s.scanSegment(seg, All, func(f *Frame) error {
		good = f.Offset + f.size
		return nil
	})
	var e *Error
	if errors.As(err, &e) && errors.Is(err, errTorn) {
		return good, nil
	}
	return good, err
}

// errTorn: the frame at the end of a segment is incomplete or does not
// open, and nothing follows it.
var errTorn = errors.New("torn frame at the end of the segment")

func (s *Store) segPath(n uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%08d.seg", n))
}

// segments lists the segment numbers, ascending.
func (s *Store) segments() ([]uint64, error) {
	es, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	var out []uint64
	for _, e := range es {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok {
			continue
		}
		n, err := strconv.ParseUint(name, 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("series: %s: not a segment name", e.Name())
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (s *Store) segAEAD(n uint64) (cipher.AEAD, error) {
	salt := binary.BigEndian.AppendUint64(nil, n)
	key, err := hkdf.Key(sha256.New, s.key, salt, keyInfo, 32)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(b)
}

// startSegment creates segment n and makes it current.
func (s *Store) startSegment(n uint64) error {
	f, err := os.OpenFile(s.segPath(n), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("series: %w", err)
	}
	if err := blob.SyncDir(s.dir); err != nil {
		f.Close()
		return fmt.Errorf("series: %w", err)
	}
	aead, err := s.segAEAD(n)
	if err != nil {
		f.Close()
		return err
	}
	if s.f != nil {
		s.f.Close()
	}
	s.f, s.seg, s.off, s.aead = f, n, 0, aead
	return nil
}

// Pos is where a frame is: segment and offset.
type Pos struct {
	Segment uint64
	Offset  int64
}

// Append stores a batch of readings as one frame, synced to disk before it
// returns. On error nothing of the batch counts: the frame is cut off
// again (or, if even that fails, Open will cut it as torn).
func (s *Store) Append(rs []Record) (Pos, error) {
	if len(rs) == 0 || len(rs) > MaxBatch {
		return Pos{}, fmt.Errorf("series: a batch holds 1 to %d readings, not %d", MaxBatch, len(rs))
	}
	for i := range rs {
		if len(rs[i].Sig) != 64 {
			return Pos{}, fmt.Errorf("series: reading %d of the batch: signature is not 64 bytes", i)
		}
	}
	cols := make([][]byte, len(readingCols))
	for i, c := range readingCols {
		cols[i] = encodeColumn(c, rs)
	}
	return s.write(kindReadings, uint32(len(rs)), readingCols, cols)
}

// Mark stores an anchor marker after the readings it covers, synced.
func (s *Store) Mark(a Anchor) (Pos, error) {
	return s.write(kindAnchor, 1, []Column{colAnchor}, [][]byte{a.encode()})
}

func (s *Store) write(kind byte, n uint32, cs []Column, plains [][]byte) (Pos, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return Pos{}, errors.New("series: store is closed or read-only")
	}
	if s.off >= s.segSize {
		if err := s.startSegment(s.seg + 1); err != nil {
			return Pos{}, err
		}
	}
	pos := Pos{s.seg, s.off}
	hdr := make([]byte, headerFixed, headerFixed+5*len(cs))
	hdr[4] = kind
	binary.BigEndian.PutUint32(hdr[5:], n)
	hdr[9] = byte(len(cs))
	sealed := make([][]byte, len(cs))
	for i, c := range cs {
		sealed[i] = s.aead.Seal(nil, nil, plains[i], frameAD(pos, kind, n, c))
		hdr = append(hdr, byte(c))
		hdr = binary.BigEndian.AppendUint32(hdr, uint32(len(sealed[i])))
	}
	total := len(hdr)
	for _, b := range sealed {
		total += len(b)
	}
	if total > maxFrame {
		return Pos{}, fmt.Errorf("series: frame of %d bytes is over the %d limit", total, maxFrame)
	}
	binary.BigEndian.PutUint32(hdr, uint32(total-4))
	buf := slices.Concat(append([][]byte{hdr}, sealed...)...)
	_, err := s.f.Write(buf)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		// Cut the frame off, so that a later frame does not follow a
		// broken one; the caller acknowledges nothing.
		if s.f.Truncate(s.off) == nil {
			s.f.Seek(s.off, io.SeekStart)
		}
		return Pos{}, &Error{Segment: pos.Segment, Offset: pos.Offset, Err: err}
	}
	s.off += int64(len(buf))
	return pos, nil
}

func frameAD(p Pos, kind byte, n uint32, c Column) []byte {
	b := make([]byte, 0, len(adFrame)+2+8+8+1+4+1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(adFrame)))
	b = append(b, adFrame...)
	b = binary.BigEndian.AppendUint64(b, p.Segment)
	b = binary.BigEndian.AppendUint64(b, uint64(p.Offset))
	b = append(b, kind)
	b = binary.BigEndian.AppendUint32(b, n)
	return append(b, byte(c))
}

// Close closes the current segment.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}

// Frame is one frame as Scan returns it: a batch of readings (with the
// requested columns filled) or an anchor marker.
type Frame struct {
	Pos
	Readings []Record // nil for a marker
	Anchor   *Anchor  // nil for readings
	size     int64
}

// Scan calls fn for every frame in order, oldest first, decrypting only
// the columns in cols. It sees the frames stored when it reaches each
// segment. An error from fn stops the scan and is returned.
func (s *Store) Scan(cols Columns, fn func(*Frame) error) error {
	segs, err := s.segments()
	if err != nil {
		return err
	}
	for i, n := range segs {
		err := s.scanSegment(n, cols, fn)
		if s.readOnly && i == len(segs)-1 && errors.Is(err, errTorn) {
			return nil // the frame being written now
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// scanSegment reads one segment up to its length when it is reached (the
// current segment's appended length, read under the lock).
func (s *Store) scanSegment(n uint64, cols Columns, fn func(*Frame) error) error {
	f, err := os.Open(s.segPath(n))
	if err != nil {
		return fmt.Errorf("series: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("series: %w", err)
	}
	end := st.Size()
	s.mu.Lock()
	if s.f != nil && n == s.seg {
		end = s.off
	}
	s.mu.Unlock()
	aead, err := s.segAEAD(n)
	if err != nil {
		return err
	}
	r := bufio.NewReaderSize(io.LimitReader(f, end), 1<<20)
	var off int64
	for off < end {
		fr, err := readFrame(r, aead, Pos{n, off}, end-off, cols)
		if err != nil {
			if errors.Is(err, errTorn) && off+fr.size < end {
				err = ErrCorrupt // something follows: not a torn tail
			}
			return &Error{Segment: n, Offset: off, Err: err}
		}
		if err := fn(fr); err != nil {
			return err
		}
		off += fr.size
	}
	return nil
}

// readFrame reads the frame at p, with left bytes left in the segment.
// A frame that is cut short or does not open is errTorn with its size as
// far as it could be read; the caller decides whether that is a torn tail.
func readFrame(r *bufio.Reader, aead cipher.AEAD, p Pos, left int64, cols Columns) (*Frame, error) {
	fr := &Frame{Pos: p, size: left}
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return fr, errTorn
	}
	l := int64(binary.BigEndian.Uint32(lb[:]))
	if l+4 > left || l < headerFixed-4 {
		return fr, errTorn
	}
	fr.size = l + 4
	body := make([]byte, l)
	if _, err := io.ReadFull(r, body); err != nil {
		return fr, errTorn
	}
	kind, n, k := body[0], binary.BigEndian.Uint32(body[1:]), int(body[5])
	body = body[6:]
	want := readingCols
	if kind == kindAnchor {
		want = []Column{colAnchor}
	}
	if len(body) < 5*k || n == 0 || n > MaxBatch || (kind != kindReadings && kind != kindAnchor) || k != len(want) {
		return fr, errTorn
	}
	dir, body := body[:5*k], body[5*k:]
	if kind == kindReadings {
		fr.Readings = make([]Record, n)
	}
	for i := range k {
		c := Column(dir[5*i])
		cl := int(binary.BigEndian.Uint32(dir[5*i+1:]))
		if c != want[i] || cl > len(body) {
			return fr, errTorn
		}
		sealed := body[:cl]
		body = body[cl:]
		if kind == kindReadings && !cols.Has(c) {
			continue
		}
		plain, err := aead.Open(nil, nil, sealed, frameAD(p, kind, n, c))
		if err != nil {
			return fr, errTorn
		}
		if kind == kindAnchor {
			if c != colAnchor {
				return fr, ErrCorrupt
			}
			if fr.Anchor, err = decodeAnchor(plain); err != nil {
				return fr, ErrCorrupt
			}
			continue
		}
		if err := decodeColumn(c, plain, fr.Readings); err != nil {
			return fr, fmt.Errorf("%w: column %d: %w", ErrCorrupt, c, err)
		}
	}
	if len(body) != 0 || (kind == kindAnchor && fr.Anchor == nil) {
		return fr, ErrCorrupt
	}
	return fr, nil
}
