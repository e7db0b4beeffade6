// Package column is the vault's column encoding: how one chunk of one
// column's values becomes bytes before it is sealed, and back. It is pure
// (no I/O, no crypto), so the format can be tested and fuzzed on its own.
//
// An encoded chunk is
//
//	format (1 byte, = 1) | encoding (1 byte) | rows (uint32 LE)
//	validity bitmap: ceil(rows/8) bytes, bit i (LSB first) set when row i is not null
//	values:
//	  Float64: rows × 8 bytes, IEEE 754 little-endian (0 in null rows)
//	  Bool:    ceil(rows/8) bytes, bit i set when row i is true
//	  String:  per row, uvarint length then the bytes (length 0 in null rows)
//
// Null rows hold 0, false or the empty string, unused bits of the last
// bitmap byte are zero, lengths are minimal uvarints and nothing follows the
// values: Decode accepts exactly one encoding of each chunk.
package column

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/medchain/medchain/record"
)

// Encoding is how a column's values are laid out.
type Encoding uint8

// Encodings.
const (
	Float64 Encoding = 1 // schema types number, integer, year
	Bool    Encoding = 2 // boolean
	String  Encoding = 3 // code, string, and the pseudonym column
)

func (e Encoding) String() string {
	switch e {
	case Float64:
		return "float64"
	case Bool:
		return "bool"
	case String:
		return "string"
	}
	return fmt.Sprintf("encoding(%d)", uint8(e))
}

// Kind is the record value kind a column of this encoding holds.
func (e Encoding) Kind() record.Kind {
	switch e {
	case Float64:
		return record.KindNumber
	case Bool:
		return record.KindBool
	case String:
		return record.KindText
	}
	return record.KindNull
}

// ForType is the encoding of a ledger schema field type.
func ForType(fieldType string) (Encoding, error) {
	switch fieldType {
	case "number", "integer", "year":
		return Float64, nil
	case "boolean":
		return Bool, nil
	case "code", "string":
		return String, nil
	}
	return 0, fmt.Errorf("unknown field type %q", fieldType)
}

const (
	formatVersion = 1
	headerSize    = 6
)

// Chunk is up to a chunk's worth of one column's values, in memory. Only
// the slice of its encoding is used; the others stay empty.
type Chunk struct {
	Encoding Encoding
	Rows     int
	Nums     []float64 // Float64: one per row, 0 where null
	Bools    []bool    // Bool: one per row, false where null
	Strs     []string  // String: one per row, "" where null
	valid    []byte    // bitmap, bit i set when row i is not null
}

// NewChunk returns an empty chunk with room for capacity rows.
func NewChunk(enc Encoding, capacity int) *Chunk {
	c := &Chunk{Encoding: enc, valid: make([]byte, 0, (capacity+7)/8)}
	switch enc {
	case Float64:
		c.Nums = make([]float64, 0, capacity)
	case Bool:
		c.Bools = make([]bool, 0, capacity)
	case String:
		c.Strs = make([]string, 0, capacity)
	}
	return c
}

// Reset empties the chunk, keeping its memory.
func (c *Chunk) Reset() {
	c.Rows = 0
	c.Nums, c.Bools, c.Strs, c.valid = c.Nums[:0], c.Bools[:0], c.Strs[:0], c.valid[:0]
}

// Valid reports whether row i holds a value (is not null).
func (c *Chunk) Valid(i int) bool { return c.valid[i>>3]&(1<<(i&7)) != 0 }

// Nulls counts the null rows.
func (c *Chunk) Nulls() int {
	n := 0
	for i := 0; i < c.Rows; i++ {
		if !c.Valid(i) {
			n++
		}
	}
	return n
}

// ErrKind is returned by Append for a value of the wrong kind.
var ErrKind = errors.New("value kind does not match the column")

// Append adds one value: null, or a value of the column's kind.
func (c *Chunk) Append(v record.Value) error {
	if v.Kind != record.KindNull && v.Kind != c.Encoding.Kind() {
		return ErrKind
	}
	i := c.Rows
	if i&7 == 0 {
		c.valid = append(c.valid, 0)
	}
	if v.Kind != record.KindNull {
		c.valid[i>>3] |= 1 << (i & 7)
	}
	if v.Kind == record.KindNull {
		v = record.Value{} // null rows hold the zero value, whatever v carried
	}
	switch c.Encoding {
	case Float64:
		c.Nums = append(c.Nums, v.Num)
	case Bool:
		c.Bools = append(c.Bools, v.B)
	case String:
		c.Strs = append(c.Strs, v.Str)
	}
	c.Rows++
	return nil
}

// Value returns row i as a record value.
func (c *Chunk) Value(i int) record.Value {
	if !c.Valid(i) {
		return record.Null()
	}
	switch c.Encoding {
	case Float64:
		return record.Num(c.Nums[i])
	case Bool:
		return record.Bool(c.Bools[i])
	default:
		return record.Str(c.Strs[i])
	}
}

// EncodedSize is the exact length of the chunk's encoding.
func (c *Chunk) EncodedSize() int {
	n := headerSize + len(c.valid)
	switch c.Encoding {
	case Float64:
		n += 8 * c.Rows
	case Bool:
		n += len(c.valid)
	case String:
		for _, s := range c.Strs {
			n += uvarintLen(uint64(len(s))) + len(s)
		}
	}
	return n
}

// AppendEncoded appends the chunk's encoding to dst.
func (c *Chunk) AppendEncoded(dst []byte) []byte {
	dst = append(dst, formatVersion, byte(c.Encoding))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(c.Rows))
	dst = append(dst, c.valid...)
	switch c.Encoding {
	case Float64:
		// Append keeps null rows at 0, so the values go out as they are.
		start := len(dst)
		dst = append(dst, make([]byte, 8*len(c.Nums))...)
		out := dst[start:]
		for i, f := range c.Nums {
			binary.LittleEndian.PutUint64(out[8*i:8*i+8], math.Float64bits(f))
		}
	case Bool:
		start := len(dst)
		dst = append(dst, make([]byte, len(c.valid))...)
		for i, b := range c.Bools {
			if b {
				dst[start+(i>>3)] |= 1 << (i & 7)
			}
		}
	case String:
		for _, s := range c.Strs {
			dst = binary.AppendUvarint(dst, uint64(len(s)))
			dst = append(dst, s...)
		}
	}
	return dst
}

// Decode parses an encoded chunk into c, reusing c's memory. The strings of
// a String chunk share one allocation.
func Decode(b []byte, c *Chunk) error {
	if len(b) < headerSize {
		return fmt.Errorf("column chunk: %d bytes, shorter than its header", len(b))
	}
	if b[0] != formatVersion {
		return fmt.Errorf("column chunk: unknown format %d", b[0])
	}
	enc := Encoding(b[1])
	if enc != Float64 && enc != Bool && enc != String {
		return fmt.Errorf("column chunk: unknown encoding %d", b[1])
	}
	rows64 := uint64(binary.LittleEndian.Uint32(b[2:]))
	bitmap := (rows64 + 7) / 8
	rest := b[headerSize:]
	if uint64(len(rest)) < bitmap {
		return fmt.Errorf("column chunk: %d rows need a %d-byte bitmap, %d bytes left", rows64, bitmap, len(rest))
	}
	rows := int(rows64)
	c.Encoding, c.Rows = enc, rows
	c.valid = append(c.valid[:0], rest[:bitmap]...)
	if err := checkPadding(c.valid, rows); err != nil {
		return fmt.Errorf("column chunk: validity bitmap: %w", err)
	}
	rest = rest[bitmap:]
	c.Nums, c.Bools, c.Strs = c.Nums[:0], c.Bools[:0], c.Strs[:0]
	switch enc {
	case Float64:
		if uint64(len(rest)) != 8*rows64 {
			return fmt.Errorf("column chunk: %d float64 rows need %d bytes, got %d", rows, 8*rows64, len(rest))
		}
		c.Nums = grow(c.Nums, rows)
		for i := range c.Nums {
			c.Nums[i] = math.Float64frombits(binary.LittleEndian.Uint64(rest[8*i : 8*i+8]))
		}
		if i := c.firstNonZeroNull(); i >= 0 {
			return fmt.Errorf("column chunk: null row %d holds a value", i)
		}
	case Bool:
		if uint64(len(rest)) != bitmap {
			return fmt.Errorf("column chunk: %d bool rows need %d bytes, got %d", rows, bitmap, len(rest))
		}
		if err := checkPadding(rest, rows); err != nil {
			return fmt.Errorf("column chunk: value bitmap: %w", err)
		}
		c.Bools = grow(c.Bools, rows)
		for i := range c.Bools {
			c.Bools[i] = rest[i>>3]&(1<<(i&7)) != 0
			if c.Bools[i] && !c.Valid(i) {
				return fmt.Errorf("column chunk: null row %d holds a value", i)
			}
		}
	case String:
		all := string(rest) // one copy; every value is a substring of it
		c.Strs = grow(c.Strs, rows)
		off := 0
		for i := range c.Strs {
			n, k := binary.Uvarint(rest[off:])
			if k <= 0 || k != uvarintLen(n) || n > uint64(len(rest)-off-k) || n != 0 && !c.Valid(i) {
				return fmt.Errorf("column chunk: string row %d: bad length", i)
			}
			off += k
			c.Strs[i] = all[off : off+int(n)]
			off += int(n)
		}
		if off != len(rest) {
			return fmt.Errorf("column chunk: %d bytes after the last string", len(rest)-off)
		}
	}
	return nil
}

// firstNonZeroNull is the first null row of a Float64 chunk whose stored
// bits are not zero, or -1. It skips bitmap bytes without nulls, so chunks
// without nulls cost one pass over the bitmap.
func (c *Chunk) firstNonZeroNull() int {
	for j, m := range c.valid {
		if m == 0xff {
			continue
		}
		for i := 8 * j; i < 8*j+8 && i < c.Rows; i++ {
			if m&(1<<(i&7)) == 0 && math.Float64bits(c.Nums[i]) != 0 {
				return i
			}
		}
	}
	return -1
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// checkPadding rejects set bits beyond the last row, so that every chunk
// has exactly one encoding.
func checkPadding(bitmap []byte, rows int) error {
	if rows&7 != 0 && bitmap[len(bitmap)-1]>>(rows&7) != 0 {
		return errors.New("bits set beyond the last row")
	}
	return nil
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}
