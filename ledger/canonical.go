package ledger

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Canonical transactions.
//
// A transaction has exactly one byte representation. DecodeTx accepts the
// bytes only if they are what encoding/json's Marshal produces for the
// values they decode to, level by level:
//
//	msg      = json.Marshal(decoded message)
//	payload  = json.Marshal(Payload{chain_id, type, signer, nonce, msg})
//	envelope = json.Marshal(envelope{payload, signature})
//
// which is what SignTx writes (DecodeTx builds the payload and envelope
// levels without reflection: appendPayload, appendEnvelope). That one
// comparison fixes key order (struct declaration order), key spelling
// (exact case), whitespace (none), number form (shortest integer, no
// "-0"), string escapes (encoding/json's: \" \\ \n \r \t \b \f, \u00XX
// for other control characters, \u003c \u003e \u0026 \u2028 \u2029,
// everything else literal UTF-8), byte strings (padded standard base64),
// and it refuses unknown fields, missing fields, and empty optional
// (omitempty) fields written out.
//
// Two rules come on top, checked over the whole transaction, because
// re-marshalling cannot see them inside the one opaque value a message may
// carry (submit_job's params, kept as raw JSON for the workers):
//
//   - the bytes are valid UTF-8;
//   - no object has two keys that are equal, or equal ignoring case (the
//     way encoding/json matches a key to a field: Unicode simple folding).
//
// Opaque JSON (params) is canonical when it is compact, as json.Marshal of
// a json.RawMessage writes it; its key order, number form and other string
// escapes are the signer's, and bound by the signature.
//
// The checks run after the structural decoding, so a transaction that is
// malformed in the old ways keeps its old error; they add no state reads,
// and cost one pass over the bytes and one re-encoding per level
// (BenchmarkDecodeAndVerify). docs/ledger.md ("Canonical transactions")
// has the rules and the vectors (testdata/vectors/tx.json).

// canonicalize re-encodes a decoded transaction's levels and compares them
// with the bytes it came from. data is the whole transaction, env and p
// its decoded envelope and payload, msg the decoded message.
func canonicalize(data []byte, env *envelope, p *Payload, msg Msg) error {
	body, err := json.Marshal(msg)
	if err != nil {
		return errf(CodeMalformed, "payload.msg (%s): re-encode: %v", p.Type, err)
	}
	if !bytes.Equal(body, p.Msg) {
		return notCanonical("payload.msg", p.Msg, body, reflect.TypeOf(msg))
	}
	var buf [512]byte
	want := appendPayload(buf[:0], p)
	if !bytes.Equal(want, env.Payload) {
		return notCanonical("payload", env.Payload, bytes.Clone(want), reflect.TypeFor[Payload]())
	}
	want = appendEnvelope(buf[:0], env.Payload, env.Signature)
	if !bytes.Equal(want, data) {
		return notCanonical("envelope", data, bytes.Clone(want), reflect.TypeFor[envelope]())
	}
	return nil
}

// appendPayload appends json.Marshal(p) for a payload whose msg is
// canonical, without encoding/json's reflection (CheckTx runs it on every
// transaction). The property and fuzz tests hold it to json.Marshal.
func appendPayload(b []byte, p *Payload) []byte {
	b = append(b, `{"chain_id":`...)
	b = appendJSONString(b, p.ChainID)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, string(p.Type))
	b = append(b, `,"signer":`...)
	b = appendJSONBytes(b, p.Signer)
	b = append(b, `,"nonce":`...)
	b = strconv.AppendUint(b, p.Nonce, 10)
	b = append(b, `,"msg":`...)
	b = append(b, p.Msg...)
	return append(b, '}')
}

// appendEnvelope appends json.Marshal(envelope{payload, sig}) for a
// canonical payload.
func appendEnvelope(b, payload, sig []byte) []byte {
	b = append(b, `{"payload":`...)
	b = append(b, payload...)
	b = append(b, `,"signature":`...)
	b = appendJSONBytes(b, sig)
	return append(b, '}')
}

// appendJSONString appends s as encoding/json writes it: plain printable
// ASCII as it is, anything else through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONBytes appends a byte string as encoding/json writes it:
// padded standard base64, or null.
func appendJSONBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

// canonicalMsg is json.Marshal(msg), refused if the ledger would refuse
// the result as not canonical (a string that is not valid UTF-8 encodes as
// \ufffd and decodes to another string). Bytes that do not decode at all
// are left for DecodeTx to refuse, as before.
func canonicalMsg(msg Msg) ([]byte, error) {
	body, err := json.Marshal(msg)
	if err != nil {
		return nil, err
	}
	again := newMsg(msg.Type())
	if err := checkKeys(body, "payload.msg"); err != nil {
		return nil, fmt.Errorf("%s", err.(*Error).Msg)
	}
	if again == nil || strictUnmarshal(body, again) != nil {
		return body, nil
	}
	if b, err := json.Marshal(again); err != nil || !bytes.Equal(b, body) {
		e := notCanonical("payload.msg", body, b, reflect.TypeOf(again))
		return nil, fmt.Errorf("message has no canonical encoding (is every string valid UTF-8?): %s", e.Msg)
	}
	return body, nil
}

// checkKeys enforces the two whole-transaction rules: valid UTF-8, and no
// object with two keys equal ignoring case, at any depth. data must be
// syntactically valid JSON (the envelope decoded); root names it in errors.
func checkKeys(data []byte, root string) error {
	if !utf8.Valid(data) {
		i := 0
		for i < len(data) {
			r, n := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return errf(CodeMalformed, "%s: invalid UTF-8 at byte %d", root, i)
	}
	s := scanners.Get().(*keyScanner)
	s.data, s.pos, s.root = data, 0, root
	err := s.value()
	// Drop the references into data before the scanner is reused.
	clear(s.path[:cap(s.path)])
	clear(s.keys[:cap(s.keys)])
	s.data, s.path, s.keys = nil, s.path[:0], s.keys[:0]
	scanners.Put(s)
	return err
}

// scanners keeps checkKeys's buffers between transactions (CheckTx runs it
// on every one); a scanner holds nothing from one call to the next.
var scanners = sync.Pool{New: func() any {
	return &keyScanner{path: make([]pathSeg, 0, 8), keys: make([][]byte, 0, 2*smallObject)}
}}

// keyScanner walks JSON checking object keys. It tracks the path for
// error messages without building strings unless it reports.
type keyScanner struct {
	data []byte
	pos  int
	path []pathSeg
	keys [][]byte // folded keys of the open objects, innermost last
	root string   // what data is, for messages
}

// pathSeg is an object key (raw bytes between the quotes) or, when key is
// nil, an array index.
type pathSeg struct {
	key   []byte
	index int
}

func (s *keyScanner) ws() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

func (s *keyScanner) syntax() error {
	return errf(CodeMalformed, "%s: invalid JSON at byte %d", s.where(), s.pos)
}

// value scans one JSON value.
func (s *keyScanner) value() error {
	s.ws()
	if s.pos >= len(s.data) {
		return s.syntax()
	}
	switch c := s.data[s.pos]; c {
	case '{':
		return s.object()
	case '[':
		s.pos++
		s.ws()
		if s.pos < len(s.data) && s.data[s.pos] == ']' {
			s.pos++
			return nil
		}
		for i := 0; ; i++ {
			s.path = append(s.path, pathSeg{index: i})
			if err := s.value(); err != nil {
				return err
			}
			s.path = s.path[:len(s.path)-1]
			s.ws()
			if s.pos >= len(s.data) {
				return s.syntax()
			}
			switch s.data[s.pos] {
			case ',':
				s.pos++
			case ']':
				s.pos++
				return nil
			default:
				return s.syntax()
			}
		}
	case '"':
		_, _, err := s.str()
		return err
	default:
		// A number or literal: up to the next delimiter.
		start := s.pos
		for s.pos < len(s.data) {
			switch s.data[s.pos] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				if s.pos == start {
					return s.syntax()
				}
				return nil
			}
			s.pos++
		}
		return nil
	}
}

// str scans a string at s.pos and returns its raw contents (between the
// quotes) and whether it has escapes.
func (s *keyScanner) str() ([]byte, bool, error) {
	start := s.pos + 1
	esc := false
	for i := start; i < len(s.data); i++ {
		switch s.data[i] {
		case '\\':
			esc = true
			i++
		case '"':
			s.pos = i + 1
			return s.data[start:i], esc, nil
		}
	}
	return nil, false, s.syntax()
}

// smallObject is the number of keys up to which an object's keys are
// compared pairwise; larger objects use a map.
const smallObject = 32

func (s *keyScanner) object() error {
	s.pos++ // {
	s.ws()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return nil
	}
	base := len(s.keys)
	defer func() { s.keys = s.keys[:base] }()
	var seen map[string]int
	for n := 0; ; n++ {
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return s.syntax()
		}
		raw, esc, err := s.str()
		if err != nil {
			return err
		}
		f := foldKey(raw, esc)
		dup := -1
		if seen == nil && n < smallObject {
			for i, g := range s.keys[base:] {
				if bytes.Equal(f, g) {
					dup = i
					break
				}
			}
			s.keys = append(s.keys, f)
		} else {
			if seen == nil {
				seen = make(map[string]int, 2*smallObject)
				for i, g := range s.keys[base:] {
					seen[string(g)] = i
				}
			}
			if i, ok := seen[string(f)]; ok {
				dup = i
			} else {
				seen[string(f)] = n
			}
		}
		if dup >= 0 {
			return s.duplicate(raw, esc, dup)
		}
		s.ws()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return s.syntax()
		}
		s.pos++
		s.path = append(s.path, pathSeg{key: raw})
		if err := s.value(); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
		s.ws()
		if s.pos >= len(s.data) {
			return s.syntax()
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return nil
		default:
			return s.syntax()
		}
	}
}

// duplicate reports key (raw, at s.pos) as a duplicate of the object's
// key number first. It rescans the object for that key's spelling.
func (s *keyScanner) duplicate(raw []byte, esc bool, first int) error {
	key := unquoteKey(raw, esc)
	// Find the object's start: the innermost unclosed '{' before the key.
	other := ""
	if o := s.objectStart(); o >= 0 {
		t := keyScanner{data: s.data, pos: o + 1}
		for n := 0; n <= first; n++ {
			t.ws()
			if t.pos >= len(t.data) || t.data[t.pos] != '"' {
				break
			}
			r, e, err := t.str()
			if err != nil {
				break
			}
			if n == first {
				other = unquoteKey(r, e)
				break
			}
			t.ws()
			t.pos++ // :
			if t.value() != nil {
				break
			}
			t.ws()
			t.pos++ // ,
		}
	}
	if other == key || other == "" {
		return errf(CodeMalformed, "%s: duplicate key %q", s.where(), key)
	}
	return errf(CodeMalformed, "%s: duplicate key %q (same as %q ignoring case)", s.where(), key, other)
}

// objectStart finds the '{' of the object whose key the scanner has just
// read, by scanning from the top again.
func (s *keyScanner) objectStart() int {
	end := s.pos
	var stack []int
	inStr := false
	for i := 0; i < end; i++ {
		c := s.data[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '{' || c == '[':
			stack = append(stack, i)
		case c == '}' || c == ']':
			stack = stack[:len(stack)-1]
		}
	}
	if len(stack) == 0 || s.data[stack[len(stack)-1]] != '{' {
		return -1
	}
	return stack[len(stack)-1]
}

// where names the current object: "envelope" at the top, then the keys
// down from it ("payload.msg.policy", "payload.msg.schema[2]").
func (s *keyScanner) where() string {
	segs := make([]seg, len(s.path))
	for i, ps := range s.path {
		if ps.key == nil {
			segs[i] = seg{index: ps.index, isIdx: true}
		} else {
			segs[i] = seg{key: unquoteKey(ps.key, bytes.IndexByte(ps.key, '\\') >= 0)}
		}
	}
	return formatPath(s.root, segs)
}

// seg is one step of a path: an object key or an array index.
type seg struct {
	key   string
	index int
	isIdx bool
}

// formatPath writes a path from root ("envelope", "payload",
// "payload.msg"; the envelope's own name is left out below it). A very
// deep path keeps its first and last steps.
func formatPath(root string, segs []seg) string {
	if len(segs) == 0 {
		return root
	}
	var b strings.Builder
	if root != "envelope" {
		b.WriteString(root)
	}
	const head, tail = 8, 4
	for i, sg := range segs {
		if len(segs) > head+tail+1 && i >= head && i < len(segs)-tail {
			if i == head {
				fmt.Fprintf(&b, "…(%d more)…", len(segs)-head-tail)
			}
			continue
		}
		if sg.isIdx {
			fmt.Fprintf(&b, "[%d]", sg.index)
		} else {
			b.WriteString(pathKey(b.Len() == 0, sg.key))
		}
	}
	return b.String()
}

// pathKey is how a key appears in a path: .name, or ["odd key"].
func pathKey(first bool, key string) string {
	plain := key != ""
	for _, r := range key {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return "[" + strconv.Quote(key) + "]"
	case first:
		return key
	}
	return "." + key
}

func unquoteKey(raw []byte, esc bool) string {
	if !esc {
		return string(raw)
	}
	var k string
	if err := json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &k); err != nil {
		return string(raw)
	}
	return k
}

// foldKey maps a key to a form equal for exactly the keys encoding/json
// would match to the same field: each rune replaced by the representative
// of its Unicode simple-folding orbit (foldRune). Plain lower-case ASCII keys (every
// canonical key of the ledger's own types) are returned as they are.
func foldKey(raw []byte, esc bool) []byte {
	plain := !esc
	for _, c := range raw {
		if c >= utf8.RuneSelf || c >= 'A' && c <= 'Z' {
			plain = false
			break
		}
	}
	if plain {
		return raw
	}
	key := unquoteKey(raw, esc)
	out := make([]byte, 0, len(key))
	for _, r := range key {
		out = utf8.AppendRune(out, foldRune(r))
	}
	return out
}

// foldRune is the representative of r's simple-folding orbit: its
// smallest rune, lower-cased if that is an ASCII capital (so that plain
// lower-case ASCII keys are their own representatives: k for K, k and the
// Kelvin sign K).
func foldRune(r rune) rune {
	min := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < min {
			min = f
		}
	}
	if 'A' <= min && min <= 'Z' {
		min += 'a' - 'A'
	}
	return min
}

// Diagnosis. The comparison above decides; what follows only explains a
// mismatch, naming the first difference. It runs on refusals only.

// notCanonical explains why got (bytes of the value at path) is not want,
// its canonical encoding. t is the Go type got decoded into.
func notCanonical(path string, got, want []byte, t reflect.Type) *Error {
	g, err1 := parseNode(got)
	w, err2 := parseNode(want)
	if err1 == nil && err2 == nil {
		if e := diffNode(&diffPath{root: path}, g, w, t); e != nil {
			return e
		}
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	if i < len(got) && isSpace(got[i]) {
		if i == 0 {
			return errf(CodeMalformed, "not canonical: %s: whitespace at byte 0", path)
		}
		from := max(0, i-16)
		for from > 0 && !utf8.RuneStart(got[from]) {
			from--
		}
		after := string(got[from:i])
		if from > 0 {
			after = "…" + after
		}
		return errf(CodeMalformed, "not canonical: %s: whitespace at byte %d, after %s", path, i, after)
	}
	if i == len(want) && i < len(got) {
		return errf(CodeMalformed, "not canonical: %s: extra bytes after the value at byte %d", path, i)
	}
	return errf(CodeMalformed, "not canonical: %s: differs from its canonical encoding at byte %d", path, i)
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// node is a parsed JSON value that keeps its raw bytes.
type node struct {
	kind byte // '{', '[', '"', or the first byte of a number or literal
	raw  []byte
	keys []string
	vals []*node
}

func parseNode(b []byte) (*node, error) {
	p := keyScanner{data: b}
	n, err := p.node()
	if err != nil {
		return nil, err
	}
	p.ws()
	if p.pos != len(b) {
		return nil, p.syntax()
	}
	return n, nil
}

func (s *keyScanner) node() (*node, error) {
	s.ws()
	if s.pos >= len(s.data) {
		return nil, s.syntax()
	}
	start := s.pos
	n := &node{kind: s.data[s.pos]}
	switch n.kind {
	case '{', '[':
		s.pos++
		for {
			s.ws()
			if s.pos >= len(s.data) {
				return nil, s.syntax()
			}
			if c := s.data[s.pos]; c == '}' || c == ']' {
				s.pos++
				break
			}
			if len(n.vals) > 0 {
				if s.data[s.pos] != ',' {
					return nil, s.syntax()
				}
				s.pos++
				s.ws()
			}
			if n.kind == '{' {
				if s.pos >= len(s.data) || s.data[s.pos] != '"' {
					return nil, s.syntax()
				}
				raw, esc, err := s.str()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, unquoteKey(raw, esc))
				s.ws()
				if s.pos >= len(s.data) || s.data[s.pos] != ':' {
					return nil, s.syntax()
				}
				s.pos++
			}
			v, err := s.node()
			if err != nil {
				return nil, err
			}
			n.vals = append(n.vals, v)
		}
	default:
		if err := s.value(); err != nil {
			return nil, err
		}
	}
	n.raw = s.data[start:s.pos]
	return n, nil
}

// diffPath is where diffNode is, formatted only for a message (a deep
// value must not cost a string per level).
type diffPath struct {
	up   *diffPath
	root string // at the top
	seg
}

func (p *diffPath) String() string {
	var segs []seg
	x := p
	for ; x.up != nil; x = x.up {
		segs = append(segs, x.seg)
	}
	slices.Reverse(segs)
	return formatPath(x.root, segs)
}

// diffNode returns the first difference between got and want at path, or
// nil if they differ only in whitespace.
func diffNode(path *diffPath, got, want *node, t reflect.Type) *Error {
	if got.kind != want.kind && !(isNumber(got.kind) && isNumber(want.kind)) {
		g, w := snippets(got.raw, want.raw)
		return errf(CodeMalformed, "not canonical: %s: %s must be written %s", path, g, w)
	}
	switch got.kind {
	case '{':
		fields, known := jsonFields(t)
		at := map[string]int{}
		for i, k := range want.keys {
			at[k] = i
		}
		for _, k := range got.keys {
			if _, ok := at[k]; ok {
				continue
			}
			if !known {
				return errf(CodeMalformed, "not canonical: %s: key %q does not belong here", path, k)
			}
			if _, ok := fields[k]; ok {
				return errf(CodeMalformed, "not canonical: %s: field %q is empty and must be left out", path, k)
			}
			for name := range fields {
				if bytes.Equal(foldKey([]byte(name), false), foldKey([]byte(k), false)) {
					return errf(CodeMalformed, "%s: key %q must be spelled %q", path, k, name)
				}
			}
			return errf(CodeMalformed, "%s: unknown field %q", path, k)
		}
		have := map[string]int{}
		for i, k := range got.keys {
			have[k] = i
		}
		for _, k := range want.keys {
			if _, ok := have[k]; !ok {
				return errf(CodeMalformed, "not canonical: %s: field %q is missing", path, k)
			}
		}
		for i, k := range got.keys {
			if want.keys[i] != k {
				return errf(CodeMalformed, "not canonical: %s: keys must be in the order %s", path, quoteList(want.keys))
			}
		}
		for i, k := range got.keys {
			if e := diffNode(&diffPath{up: path, seg: seg{key: k}}, got.vals[i], want.vals[i], fields[k]); e != nil {
				return e
			}
		}
	case '[':
		if len(got.vals) != len(want.vals) {
			return errf(CodeMalformed, "not canonical: %s: %d elements must be %d", path, len(got.vals), len(want.vals))
		}
		var elem reflect.Type
		if t != nil {
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
				elem = t.Elem()
			}
		}
		for i := range got.vals {
			if e := diffNode(&diffPath{up: path, seg: seg{index: i, isIdx: true}}, got.vals[i], want.vals[i], elem); e != nil {
				return e
			}
		}
	case '"':
		if bytes.Equal(got.raw, want.raw) {
			return nil
		}
		g, w := snippets(got.raw, want.raw)
		var gs, ws string
		if json.Unmarshal(got.raw, &gs) == nil && json.Unmarshal(want.raw, &ws) == nil && gs == ws {
			return errf(CodeMalformed, "not canonical: %s: string %s must be escaped as %s", path, g, w)
		}
		return errf(CodeMalformed, "not canonical: %s: %s must be written %s", path, g, w)
	default:
		if !bytes.Equal(got.raw, want.raw) {
			g, w := snippets(got.raw, want.raw)
			return errf(CodeMalformed, "not canonical: %s: %s must be written %s", path, g, w)
		}
	}
	return nil
}

func isNumber(c byte) bool { return c == '-' || c >= '0' && c <= '9' }

func quoteList(keys []string) string {
	q := make([]string, 0, len(keys))
	for i, k := range keys {
		if i == 8 {
			q = append(q, "…")
			break
		}
		q = append(q, strconv.Quote(k))
	}
	return strings.Join(q, ", ")
}

// snippets shows two encodings of a value for a message: whole if short,
// else from a little before their first difference, cut short.
func snippets(got, want []byte) (string, string) {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := 0
	if i > 16 {
		from = i - 8
		for from > 0 && !utf8.RuneStart(got[from]) {
			from--
		}
	}
	return snippet(got, from), snippet(want, from)
}

func snippet(b []byte, from int) string {
	const max = 32
	s := ""
	if from > 0 {
		s = "…"
	}
	b = b[from:]
	if len(b) <= max {
		return s + string(b)
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(b[cut]) {
		cut--
	}
	return s + string(b[:cut]) + "…"
}

var (
	rawMessageType      = reflect.TypeFor[json.RawMessage]()
	jsonMarshalerType   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
)

// jsonFields lists the JSON field names of a struct type as encoding/json
// sees them, with each field's type (nil where unknown). known is false
// for anything that is not an object of known fields (opaque raw JSON,
// nil t). A type with its own JSON methods is described by the keys of its
// encoded zero value.
func jsonFields(t reflect.Type) (fields map[string]reflect.Type, known bool) {
	if t == nil {
		return nil, false
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		return nil, false
	}
	pt := reflect.PointerTo(t)
	if t.Implements(jsonMarshalerType) || pt.Implements(jsonMarshalerType) || pt.Implements(jsonUnmarshalerType) {
		b, err := json.Marshal(reflect.New(t).Interface())
		if err != nil {
			return nil, false
		}
		n, err := parseNode(b)
		if err != nil || n.kind != '{' {
			return nil, false
		}
		fields = map[string]reflect.Type{}
		for _, k := range n.keys {
			fields[k] = nil
		}
		return fields, true
	}
	if t.Kind() != reflect.Struct || t.Implements(textMarshalerType) || pt.Implements(textMarshalerType) {
		return nil, false
	}
	fields = map[string]reflect.Type{}
	addFields(fields, t)
	return fields, true
}

func addFields(fields map[string]reflect.Type, t reflect.Type) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				addFields(fields, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, ok := fields[name]; !ok {
			fields[name] = f.Type
		}
	}
}
