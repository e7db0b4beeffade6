package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
)

// jsonError turns a decoding error into a path and a reason. encoding/json
// reports where a value went wrong only as a byte offset (and, for type
// errors, a field path without array indices), and its messages may quote
// the offending number; so the path is recomputed from the offset and the
// reason is written here, naming JSON kinds, never values.
func jsonError(raw []byte, err error) *locError {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		got, _, _ := strings.Cut(te.Value, " ") // "number 1e999" → "number"
		reason := "wrong JSON type: " + got + ", want " + jsonKind(te.Type)
		if got == "number" && jsonKind(te.Type) == "number" {
			reason = "number out of range"
		}
		path := pathAt(raw, te.Offset)
		if path == "" {
			path = te.Field
		}
		return &locError{path, reason}
	case errors.As(err, &se):
		// Re-reading stops where the decoder did, so the offset, which
		// counts from wherever that decoder started, is not needed.
		if se.Offset >= int64(len(raw)) {
			return &locError{pathAt(raw, -1), "truncated JSON"}
		}
		return &locError{pathAt(raw, -1), "malformed JSON"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &locError{pathAt(raw, -1), "truncated JSON"}
	default:
		return &locError{"", "invalid JSON"}
	}
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	default:
		return "object"
	}
}

// pathAt returns the path ("valueQuantity.value", "component[1].code") of
// the value in data that ends at byte offset off, or, if data is malformed
// or truncated before it (or off < 0), of the innermost element open where
// reading failed. It re-reads data token by token, so it is slow: it runs
// only when something is already wrong.
func pathAt(data []byte, off int64) string {
	// A slice of a stream may start at the comma between array elements.
	lead := len(data) - len(bytes.TrimLeft(data, " \t\r\n,"))
	data = data[lead:]
	off -= int64(lead)

	type frame struct {
		array   bool
		index   int
		key     string
		wantKey bool
	}
	var stack []frame
	path := func() string {
		var b strings.Builder
		for _, f := range stack {
			if f.array {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
			} else if f.key != "" && !f.wantKey { // between members, the last key is done with
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			}
		}
		return b.String()
	}
	done := func() { // a value ended: the next is the next key or element
		if n := len(stack); n > 0 {
			if stack[n-1].array {
				stack[n-1].index++
			} else {
				stack[n-1].wantKey = true
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // so a number too large for float64 is still a token
	// A number cut short or followed by junk ("12.7.5") reads as a good
	// number and then a failure: the fault is that number's, unless a
	// separator came between them.
	var lastPath string
	var lastEnd int64 = -1 // end of the scalar just read, if the last token was one
	var lastString bool
	for {
		tok, err := dec.Token()
		if err != nil {
			if lastEnd >= 0 {
				rest := bytes.TrimLeft(data[lastEnd:], " \t\r\n")
				cut := len(rest) == 0 && !lastString // a string, closed by its quote, cannot be cut short
				if cut || len(rest) > 0 && !bytes.ContainsAny(rest[:1], ",]}") {
					return lastPath
				}
			}
			return path()
		}
		lastEnd = -1
		if n := len(stack); n > 0 && !stack[n-1].array && stack[n-1].wantKey {
			if s, ok := tok.(string); ok {
				stack[n-1].key, stack[n-1].wantKey = s, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if off >= 0 && dec.InputOffset() >= off {
				return path()
			}
			stack = append(stack, frame{array: tok == json.Delim('['), wantKey: true})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			done()
		default:
			if off >= 0 && dec.InputOffset() >= off {
				return path()
			}
			_, lastString = tok.(string)
			lastPath, lastEnd = path(), dec.InputOffset()
			done()
		}
	}
}
