// Package fhir reads FHIR R4 JSON — a transaction or collection Bundle per
// patient, as Synthea writes them, or a Bulk Data NDJSON export — into
// record.Patient values for the vault's ingest pipeline.
//
// It reads only what the pipeline uses: the Patient's identifiers, names,
// contact details, birth and death dates and gender; coded Observations
// (LOINC) with their quantities or coded values, one per component of a
// panel such as blood pressure; Conditions (SNOMED CT, ICD-10);
// MedicationRequests (RxNorm); and every piece of free text that may name
// the patient (narratives, notes, textual attachments), so that privacy
// tests can check none of it survives. Everything else, extensions
// included, is skipped.
//
// Input is decoded as a stream, one entry at a time. Every problem is a
// *record.InputError naming the file and a JSON path such as
// Bundle.entry[12].resource.valueQuantity.value (or an NDJSON line), and
// the reason — never the value, which may identify a patient.
package fhir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/medchain/medchain/record"
)

// ReasonNoPatient is the Reason of the error ReadBundle returns for a
// Bundle without a Patient, such as Synthea's hospitalInformation and
// practitionerInformation bundles; a caller walking a directory may skip
// those.
const ReasonNoPatient = "no Patient resource: not a patient's bundle"

// bundleTypes are the Bundle types that carry resources to read.
var bundleTypes = []string{"transaction", "batch", "collection", "searchset", "document"}

// ReadBundle reads a Bundle holding one patient's records. name is the
// file name, used in errors.
func ReadBundle(name string, r io.Reader) (*record.Patient, error) {
	b := bundleReader{name: name, tail: &tail{r: r}}
	b.dec = json.NewDecoder(b.tail)
	if err := b.read(); err != nil {
		return nil, err
	}
	return b.assemble()
}

// IsPatientBundle reports whether a Bundle holds a Patient. It decodes
// little more than each entry's resourceType.
func IsPatientBundle(r io.Reader) (bool, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return false, err
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return false, err
		}
		if key != "entry" {
			if err := dec.Decode(&skip{}); err != nil {
				return false, err
			}
			continue
		}
		if err := expectDelim(dec, '['); err != nil {
			return false, err
		}
		for dec.More() {
			var e struct {
				Resource struct {
					ResourceType string `json:"resourceType"`
				} `json:"resource"`
			}
			if err := dec.Decode(&e); err != nil {
				return false, err
			}
			if e.Resource.ResourceType == "Patient" {
				return true, nil
			}
		}
		return false, nil
	}
	return false, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("want %q", string(d))
	}
	return nil
}

type bundleReader struct {
	name     string
	dec      *json.Decoder
	tail     *tail
	typ      string // Bundle.type
	isBundle bool   // resourceType was "Bundle"
	parts    []*part
	urls     map[string]bool // the entries' fullUrls, to resolve urn:uuid references
}

func (b *bundleReader) fail(where, reason string) *record.InputError {
	return &record.InputError{Source: b.name, Where: where, Reason: reason}
}

// read walks the Bundle object key by key, so that the entries, which
// hold nearly all of the bytes, are decoded one at a time.
func (b *bundleReader) read() error {
	tok, err := b.dec.Token()
	if err != nil {
		return b.streamError("Bundle", err)
	}
	if tok != json.Delim('{') {
		return b.fail("Bundle", "not a JSON object")
	}
	for b.dec.More() {
		tok, err := b.dec.Token()
		if err != nil {
			return b.streamError("Bundle", err)
		}
		key, _ := tok.(string)
		switch key {
		case "resourceType", "type":
			var s string
			if err := b.dec.Decode(&s); err != nil {
				return b.streamError("Bundle."+key, err)
			}
			if key == "resourceType" {
				if s != "Bundle" {
					return b.fail("resourceType", "not a Bundle")
				}
				b.isBundle = true
			}
			if key == "type" {
				if !slices.Contains(bundleTypes, s) {
					return b.fail("Bundle.type", "unsupported Bundle type (want one of "+strings.Join(bundleTypes, ", ")+")")
				}
				b.typ = s
			}
		case "entry":
			if err := b.readEntries(); err != nil {
				return err
			}
		default:
			if err := b.dec.Decode(&skip{}); err != nil {
				return b.streamError("Bundle."+key, err)
			}
		}
	}
	if _, err := b.dec.Token(); err != nil {
		return b.streamError("Bundle", err)
	}
	if _, err := b.dec.Token(); err != io.EOF {
		return b.fail("Bundle", "data after the end of the Bundle")
	}
	if !b.isBundle {
		return b.fail("resourceType", "missing resourceType: not a FHIR resource")
	}
	if b.typ == "" {
		return b.fail("Bundle.type", "missing Bundle type")
	}
	return nil
}

func (b *bundleReader) readEntries() error {
	tok, err := b.dec.Token()
	if err != nil {
		return b.streamError("Bundle.entry", err)
	}
	if tok != json.Delim('[') {
		return b.fail("Bundle.entry", "not an array")
	}
	b.urls = make(map[string]bool)
	for i := 0; b.dec.More(); i++ {
		where := "Bundle.entry[" + strconv.Itoa(i) + "]"
		b.tail.keepFrom(b.dec.InputOffset())
		var e struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
		}
		if err := b.dec.Decode(&e); err != nil {
			return b.entryError(where, err)
		}
		if len(e.Resource) == 0 || string(e.Resource) == "null" {
			continue // a transaction's DELETE, say: nothing to read
		}
		if e.Resource[0] != '{' {
			return b.fail(where+".resource", "not a JSON object")
		}
		typ, lerr := resourceType(e.Resource)
		if lerr != nil {
			return b.fail(join(where+".resource", lerr.path), lerr.reason)
		}
		p, lerr := decodeResource(e.Resource, typ, where+".resource")
		if lerr != nil {
			return b.fail(join(where+".resource", lerr.path), lerr.reason)
		}
		if e.FullURL != "" {
			b.urls[e.FullURL] = true
			if p.patient != nil {
				p.ref = e.FullURL // the Patient's own address, matched against references
			}
		}
		b.parts = append(b.parts, p)
	}
	_, err = b.dec.Token() // ']'
	if err != nil {
		return b.streamError("Bundle.entry", err)
	}
	return nil
}

// entryError locates a decoding error inside an entry. The decoder reports
// an offset within the entry at best, so the entry's bytes, kept by tail,
// are re-read to find the path.
func (b *bundleReader) entryError(where string, err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) { // the entry or its fullUrl has the wrong type
		return b.fail(join(where, te.Field), "wrong JSON type")
	}
	if isIOError(err) {
		return fmt.Errorf("%s: reading: %w", b.name, err)
	}
	lerr := jsonError(b.tail.bytes(), err)
	return b.fail(join(where, lerr.path), lerr.reason)
}

// streamError reports an error outside any entry.
func (b *bundleReader) streamError(where string, err error) error {
	if isIOError(err) {
		return fmt.Errorf("%s: reading: %w", b.name, err)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return b.fail(where, "truncated JSON")
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return b.fail(where, "wrong JSON type: want "+jsonKind(te.Type))
	}
	return b.fail(where, "malformed JSON")
}

// isIOError tells a failing reader from bad JSON: the decoder passes the
// reader's errors through unchanged.
func isIOError(err error) bool {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	return !errors.As(err, &se) && !errors.As(err, &te) &&
		!errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF)
}

// assemble gives the Patient the parts that refer to it.
func (b *bundleReader) assemble() (*record.Patient, error) {
	var pp *part
	for _, p := range b.parts {
		if p.patient == nil {
			continue
		}
		if pp != nil {
			return nil, b.fail(p.where, "a second Patient: a bundle must hold one patient's records")
		}
		pp = p
	}
	if pp == nil {
		return nil, b.fail("Bundle", ReasonNoPatient)
	}
	pt := pp.patient
	pt.Source = b.name
	g := newGatherer(pt)
	g.add(pp)
	for _, p := range b.parts {
		if p == pp {
			continue
		}
		if p.ref == "" {
			if p.needRef {
				return nil, b.fail(join(p.where, p.refPath), "missing reference to the patient")
			}
			continue // Organization, Practitioner…: not the patient's data
		}
		switch b.resolve(p.ref, pp.ref, pt.ID) {
		case targetPatient:
			g.add(p)
		case targetUnknown:
			return nil, b.fail(join(p.where, p.refPath), "refers to a patient not in the bundle")
		}
	}
	return pt, nil
}

type target int

const (
	targetPatient target = iota // the bundle's Patient
	targetUnknown               // a patient, or an entry, not in the bundle
	targetOther                 // something else (a Group, a Location, a contained resource)
)

// resolve says what a reference in the bundle points at; ptURL and ptID
// are the Patient entry's fullUrl and id.
func (b *bundleReader) resolve(ref, ptURL, ptID string) target {
	if ref == ptURL {
		return targetPatient
	}
	if b.urls[ref] {
		return targetOther
	}
	if strings.HasPrefix(ref, "urn:") {
		return targetUnknown // a urn:uuid reference must name an entry
	}
	switch typ, id := splitRef(ref); {
	case typ != "Patient":
		return targetOther
	case id == ptID:
		return targetPatient
	default:
		return targetUnknown
	}
}

// splitRef splits a relative or absolute literal reference,
// "Patient/123" or "https://x/fhir/Patient/123/_history/2", into its type
// and id.
func splitRef(ref string) (typ, id string) {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	i := strings.LastIndexByte(ref, '/')
	if i < 0 {
		return "", ref
	}
	id, ref = ref[i+1:], ref[:i]
	return ref[strings.LastIndexByte(ref, '/')+1:], id
}

// gatherer adds parts to a patient, keeping each piece of text once: the
// same note is often both a DocumentReference and a DiagnosticReport.
type gatherer struct {
	pt   *record.Patient
	seen map[string]bool
}

func newGatherer(pt *record.Patient) *gatherer {
	return &gatherer{pt: pt, seen: make(map[string]bool)}
}

func (g *gatherer) add(p *part) {
	g.pt.Observations = append(g.pt.Observations, p.obs...)
	g.pt.Conditions = append(g.pt.Conditions, p.conds...)
	g.pt.Medications = append(g.pt.Medications, p.meds...)
	g.addText(p.text)
}

func (g *gatherer) addText(texts []string) {
	for _, t := range texts {
		if t = strings.TrimSpace(t); t != "" && !g.seen[t] {
			g.seen[t] = true
			g.pt.Text = append(g.pt.Text, t)
		}
	}
}

func join(where, path string) string {
	if path == "" {
		return where
	}
	return where + "." + path
}

// tail passes a reader through and keeps what was read since the start of
// the current entry, so that a syntax error can be located inside it: the
// decoder itself reports only an offset.
type tail struct {
	r     io.Reader
	buf   []byte
	start int64 // stream offset of buf[0]
}

func (t *tail) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// keepFrom drops what was read before stream offset off, which is at most
// what was read so far.
func (t *tail) keepFrom(off int64) {
	if k := off - t.start; k > 0 {
		t.buf = t.buf[:copy(t.buf, t.buf[k:])]
		t.start = off
	}
}

func (t *tail) bytes() []byte { return t.buf }
