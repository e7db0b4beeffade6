package series

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/medchain/medchain/device"
)

// Column is one column of the readings; a Columns set says which a reader
// wants opened.
type Column uint8

// The columns, in the order they are written.
const (
	ColTime      Column = 1 // measured, Unix milliseconds (delta varints)
	ColPseudonym Column = 2 // patient pseudonym (dictionary)
	ColDevice    Column = 3 // device id (dictionary)
	ColSeq       Column = 4 // device sequence number (varints)
	ColCode      Column = 5 // LOINC code (dictionary)
	ColValue     Column = 6 // value as signed, in Unit (IEEE 754 bits)
	ColUnit      Column = 7 // UCUM unit (dictionary)
	ColSig       Column = 8 // the device's signature (64 bytes)
	colAnchor    Column = 9 // an anchor marker's one column
)

var readingCols = []Column{ColTime, ColPseudonym, ColDevice, ColSeq, ColCode, ColValue, ColUnit, ColSig}

// Columns is a set of columns.
type Columns uint16

// Has reports whether the set holds c.
func (s Columns) Has(c Column) bool { return s&(1<<c) != 0 }

// Cols makes a set.
func Cols(cs ...Column) Columns {
	var s Columns
	for _, c := range cs {
		s |= 1 << c
	}
	return s
}

// All is every column: what a proof needs (the whole signed reading).
var All = Cols(readingCols...)

// Record is one stored reading: the device's signed reading and the
// pseudonym of the patient the device was linked to when it arrived.
type Record struct {
	Pseudonym string
	device.Signed
}

// encodeColumn is the plaintext of one column of a batch.
func encodeColumn(c Column, rs []Record) []byte {
	var b []byte
	switch c {
	case ColTime:
		var prev int64
		for i := range rs {
			b = binary.AppendVarint(b, rs[i].Time-prev)
			prev = rs[i].Time
		}
	case ColPseudonym:
		b = dict(rs, func(r *Record) string { return r.Pseudonym })
	case ColDevice:
		b = dict(rs, func(r *Record) string { return r.Device })
	case ColSeq:
		for i := range rs {
			b = binary.AppendUvarint(b, rs[i].Seq)
		}
	case ColCode:
		b = dict(rs, func(r *Record) string { return r.Code })
	case ColValue:
		for i := range rs {
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(rs[i].Value))
		}
	case ColUnit:
		b = dict(rs, func(r *Record) string { return r.Unit })
	case ColSig:
		for i := range rs {
			b = append(b, rs[i].Sig...)
		}
	}
	return b
}

// dict encodes a string column as its distinct values (in order of first
// appearance) and one index per row: a batch holds few devices, codes and
// units, many readings.
func dict(rs []Record, get func(*Record) string) []byte {
	idx := make(map[string]uint64)
	var vals []string
	var ix []byte
	for i := range rs {
		s := get(&rs[i])
		j, ok := idx[s]
		if !ok {
			j = uint64(len(vals))
			idx[s] = j
			vals = append(vals, s)
		}
		ix = binary.AppendUvarint(ix, j)
	}
	b := binary.AppendUvarint(nil, uint64(len(vals)))
	for _, s := range vals {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return append(b, ix...)
}

var errColumn = errors.New("column does not decode")

// decodeColumn fills column c of rs (len(rs) readings) from its plaintext.
func decodeColumn(c Column, b []byte, rs []Record) error {
	n := len(rs)
	switch c {
	case ColTime:
		var prev int64
		for i := range n {
			d, k := binary.Varint(b)
			if k <= 0 {
				return errColumn
			}
			prev += d
			rs[i].Time, b = prev, b[k:]
		}
	case ColSeq:
		for i := range n {
			v, k := binary.Uvarint(b)
			if k <= 0 {
				return errColumn
			}
			rs[i].Seq, b = v, b[k:]
		}
	case ColValue:
		if len(b) != 8*n {
			return errColumn
		}
		for i := range n {
			rs[i].Value = math.Float64frombits(binary.BigEndian.Uint64(b[8*i:]))
		}
		b = nil
	case ColSig:
		if len(b) != 64*n {
			return errColumn
		}
		for i := range n {
			rs[i].Sig = b[64*i : 64*i+64 : 64*i+64]
		}
		b = nil
	case ColPseudonym, ColDevice, ColCode, ColUnit:
		var err error
		if b, err = undict(b, rs, c); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown column %d", c)
	}
	if len(b) != 0 {
		return errColumn
	}
	return nil
}

func undict(b []byte, rs []Record, c Column) ([]byte, error) {
	nv, k := binary.Uvarint(b)
	if k <= 0 || nv > uint64(len(b)) {
		return nil, errColumn
	}
	b = b[k:]
	vals := make([]string, nv)
	for i := range vals {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errColumn
		}
		vals[i], b = string(b[k:k+int(l)]), b[k+int(l):]
	}
	for i := range rs {
		j, k := binary.Uvarint(b)
		if k <= 0 || j >= nv {
			return nil, errColumn
		}
		s := vals[j]
		switch c {
		case ColPseudonym:
			rs[i].Pseudonym = s
		case ColDevice:
			rs[i].Device = s
		case ColCode:
			rs[i].Code = s
		case ColUnit:
			rs[i].Unit = s
		}
		b = b[k:]
	}
	return b, nil
}

// Anchor is an anchor marker: the readings stored since the previous
// marker are the leaves of anchor number Seq, whose Merkle root is Root.
// The marker is written (and synced) before the anchor is submitted to
// the ledger, so that after a crash the node knows which readings an
// anchor covers and can submit it again.
type Anchor struct {
	Seq   uint64
	Count uint64 // readings covered (exact: it stays in the vault)
	Root  [32]byte
}

func (a *Anchor) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, a.Seq)
	b = binary.BigEndian.AppendUint64(b, a.Count)
	return append(b, a.Root[:]...)
}

func decodeAnchor(b []byte) (*Anchor, error) {
	if len(b) != 48 {
		return nil, errColumn
	}
	a := &Anchor{Seq: binary.BigEndian.Uint64(b), Count: binary.BigEndian.Uint64(b[8:])}
	copy(a.Root[:], b[16:])
	return a, nil
}
