package column

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/medchain/medchain/record"
)

// values returns n values of the encoding with a null every third row, so
// nulls fall on every bit position and at both ends of bitmap bytes.
func values(enc Encoding, n int) []record.Value {
	out := make([]record.Value, n)
	for i := range out {
		switch {
		case i%3 == 1:
			out[i] = record.Null()
		case enc == Float64:
			out[i] = record.Num(float64(i)*1.5 - 7)
		case enc == Bool:
			out[i] = record.Bool(i%2 == 0)
		default:
			out[i] = record.Str(string(rune('a' + i%26)))
		}
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	for _, enc := range []Encoding{Float64, Bool, String} {
		for _, n := range []int{0, 1, 7, 8, 9, 1000, 65535, 65536} {
			vals := values(enc, n)
			c := NewChunk(enc, n)
			for _, v := range vals {
				if err := c.Append(v); err != nil {
					t.Fatal(err)
				}
			}
			b := c.AppendEncoded(nil)
			if len(b) != c.EncodedSize() {
				t.Fatalf("%s/%d: EncodedSize %d, encoded %d bytes", enc, n, c.EncodedSize(), len(b))
			}
			var d Chunk
			if err := Decode(b, &d); err != nil {
				t.Fatalf("%s/%d: %v", enc, n, err)
			}
			if d.Rows != n || d.Encoding != enc {
				t.Fatalf("%s/%d: decoded %s with %d rows", enc, n, d.Encoding, d.Rows)
			}
			for i, want := range vals {
				if got := d.Value(i); got != want {
					t.Fatalf("%s/%d: row %d = %+v, want %+v", enc, n, i, got, want)
				}
			}
			if want := (n + 1) / 3; d.Nulls() != want && n > 0 {
				t.Fatalf("%s/%d: %d nulls, want %d", enc, n, d.Nulls(), want)
			}
		}
	}
}

// Null and the zero value are different things: a null is not 0, false
// or the empty string.
func TestNullIsNotZero(t *testing.T) {
	for enc, zero := range map[Encoding]record.Value{Float64: record.Num(0), Bool: record.Bool(false), String: record.Str("")} {
		c := NewChunk(enc, 2)
		c.Append(zero)
		c.Append(record.Null())
		var d Chunk
		if err := Decode(c.AppendEncoded(nil), &d); err != nil {
			t.Fatal(err)
		}
		if d.Value(0) != zero || d.Value(1) != record.Null() {
			t.Fatalf("%s: got %+v, %+v", enc, d.Value(0), d.Value(1))
		}
	}
}

func TestSpecialFloats(t *testing.T) {
	c := NewChunk(Float64, 4)
	for _, f := range []float64{math.Inf(1), math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64} {
		c.Append(record.Num(f))
	}
	var d Chunk
	if err := Decode(c.AppendEncoded(nil), &d); err != nil {
		t.Fatal(err)
	}
	for i, f := range c.Nums {
		if math.Float64bits(d.Nums[i]) != math.Float64bits(f) {
			t.Fatalf("row %d: %v, want %v", i, d.Nums[i], f)
		}
	}
}

func TestAppendRejectsWrongKind(t *testing.T) {
	c := NewChunk(Float64, 1)
	if err := c.Append(record.Str("120")); !errors.Is(err, ErrKind) {
		t.Fatalf("text into a float column: %v", err)
	}
	if c.Rows != 0 {
		t.Fatal("a rejected value was appended")
	}
}

func TestForType(t *testing.T) {
	for typ, want := range map[string]Encoding{"number": Float64, "integer": Float64, "year": Float64, "boolean": Bool, "code": String, "string": String} {
		if got, err := ForType(typ); err != nil || got != want {
			t.Errorf("ForType(%q) = %s, %v", typ, got, err)
		}
	}
	if _, err := ForType("date"); err == nil {
		t.Error("ForType accepted an unknown type")
	}
}

func TestDecodeRejectsNonCanonical(t *testing.T) {
	enc := func(e Encoding, vals ...record.Value) []byte {
		c := NewChunk(e, len(vals))
		for _, v := range vals {
			c.Append(v)
		}
		return c.AppendEncoded(nil)
	}
	floatNull := enc(Float64, record.Num(1), record.Null())
	floatNull[len(floatNull)-1] = 0x3f // a value hidden in the null row
	boolPad := enc(Bool, record.Bool(true))
	boolPad[len(boolPad)-1] |= 0x80 // a bit beyond the last row
	strTrail := append(enc(String, record.Str("x")), 0)
	for name, b := range map[string][]byte{
		"short":            {1, 1, 0},
		"unknown format":   {9, 1, 0, 0, 0, 0},
		"unknown encoding": {1, 9, 0, 0, 0, 0},
		"truncated floats": enc(Float64, record.Num(1))[:10],
		"null with value":  floatNull,
		"bitmap padding":   boolPad,
		"trailing bytes":   strTrail,
		"huge row count":   {1, 3, 0xff, 0xff, 0xff, 0xff},
	} {
		var d Chunk
		if err := Decode(b, &d); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Decode accepts exactly the encodings AppendEncoded produces: whatever it
// accepts re-encodes to the same bytes, and it never panics.
func FuzzDecode(f *testing.F) {
	for _, e := range []Encoding{Float64, Bool, String} {
		c := NewChunk(e, 10)
		for _, v := range values(e, 10) {
			c.Append(v)
		}
		f.Add(c.AppendEncoded(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Chunk
		if Decode(b, &d) != nil {
			return
		}
		if again := d.AppendEncoded(nil); !bytes.Equal(again, b) {
			t.Fatalf("decoded chunk re-encodes differently:\n%x\n%x", b, again)
		}
	})
}
