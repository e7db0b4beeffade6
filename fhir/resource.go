package fhir

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"strconv"
	"strings"

	"github.com/medchain/medchain/record"
)

// The structs below hold only the FHIR R4 elements the vault uses; every
// other element (and every extension) is skipped by the decoder, because
// FHIR is extensible and a reader that insisted on knowing everything would
// reject valid data.

type coding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type codeableConcept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text"`
}

type reference struct {
	Reference string `json:"reference"`
	Display   string `json:"display"`
}

type quantity struct {
	Value *float64 `json:"value"` // a pointer, so a missing value is not a zero
	Unit  string   `json:"unit"`
	Code  string   `json:"code"`
}

type narrative struct {
	Div string `json:"div"`
}

type annotation struct {
	Text string `json:"text"`
}

type attachment struct {
	ContentType string `json:"contentType"`
	Data        string `json:"data"` // base64; decoded here so a bad one gets a path
}

type period struct {
	Start string `json:"start"`
}

// common is what every resource may carry that the vault reads: its
// narrative and its notes, both free text that may name the patient.
type common struct {
	ResourceType string       `json:"resourceType"`
	ID           string       `json:"id"`
	Text         *narrative   `json:"text"`
	Note         []annotation `json:"note"`
}

type patientResource struct {
	common
	Identifier []struct {
		Type   codeableConcept `json:"type"`
		System string          `json:"system"`
		Value  string          `json:"value"`
	} `json:"identifier"`
	Name []struct {
		Text   string   `json:"text"`
		Family string   `json:"family"`
		Given  []string `json:"given"`
	} `json:"name"`
	Telecom []struct {
		Value string `json:"value"`
	} `json:"telecom"`
	Gender           string `json:"gender"`
	BirthDate        string `json:"birthDate"`
	DeceasedDateTime string `json:"deceasedDateTime"`
	Address          []struct {
		Text       string   `json:"text"`
		Line       []string `json:"line"`
		City       string   `json:"city"`
		District   string   `json:"district"`
		State      string   `json:"state"`
		PostalCode string   `json:"postalCode"`
		Country    string   `json:"country"`
	} `json:"address"`
	MaritalStatus codeableConcept `json:"maritalStatus"`
}

// value is an Observation's (or a component's) value[x], as far as used.
type value struct {
	Code                 codeableConcept  `json:"code"`
	ValueQuantity        *quantity        `json:"valueQuantity"`
	ValueCodeableConcept *codeableConcept `json:"valueCodeableConcept"`
	ValueString          *string          `json:"valueString"`
}

type observationResource struct {
	common
	value
	Status            string     `json:"status"`
	Subject           *reference `json:"subject"`
	EffectiveDateTime string     `json:"effectiveDateTime"`
	EffectivePeriod   *period    `json:"effectivePeriod"`
	Component         []value    `json:"component"`
}

type conditionResource struct {
	common
	Code               codeableConcept `json:"code"`
	VerificationStatus codeableConcept `json:"verificationStatus"`
	Subject            *reference      `json:"subject"`
	OnsetDateTime      string          `json:"onsetDateTime"`
	OnsetPeriod        *period         `json:"onsetPeriod"`
	AbatementDateTime  string          `json:"abatementDateTime"`
	RecordedDate       string          `json:"recordedDate"`
}

type medicationRequestResource struct {
	common
	Status                    string          `json:"status"`
	MedicationCodeableConcept codeableConcept `json:"medicationCodeableConcept"`
	Subject                   *reference      `json:"subject"`
	AuthoredOn                string          `json:"authoredOn"`
	DosageInstruction         []struct {
		Text string `json:"text"`
	} `json:"dosageInstruction"`
}

// otherResource is any other resource: only its free text is kept, and
// only if it belongs to the patient. subject and patient stay raw because
// a few resource types give them another shape (Contract.subject is a list).
type otherResource struct {
	common
	Subject json.RawMessage `json:"subject"`
	Patient json.RawMessage `json:"patient"`
}

// Clinical notes travel as attachments of these two.
type documentReferenceResource struct {
	otherResource
	Content []struct {
		Attachment attachment `json:"attachment"`
	} `json:"content"`
}

type diagnosticReportResource struct {
	otherResource
	Conclusion    string       `json:"conclusion"`
	PresentedForm []attachment `json:"presentedForm"`
}

// locError is a problem inside one resource: a JSON path relative to the
// resource ("valueQuantity.value") and a reason that never quotes a value.
type locError struct {
	path, reason string
}

// part is what one resource contributes to its patient. The patient it
// belongs to is known only once the whole input is read, so parts wait.
type part struct {
	where   string // path or line of the resource, for errors
	ref     string // subject/patient reference; "" if none
	refPath string // where ref is, relative to the resource
	needRef bool   // the resource is unusable without a patient (clinical data)

	patient *record.Patient // set for a Patient resource
	obs     []record.Observation
	conds   []record.Condition
	meds    []record.Medication
	text    []string
}

// decodeResource decodes one resource of type typ and extracts its part.
// where is the path of the resource ("Bundle.entry[3].resource"), used to
// say where each observation came from.
func decodeResource(raw []byte, typ, where string) (*part, *locError) {
	p := &part{where: where}
	switch typ {
	case "Patient":
		var r patientResource
		if err := unmarshal(raw, &r); err != nil {
			return nil, err
		}
		return p, p.addPatient(&r)
	case "Observation":
		var r observationResource
		if err := unmarshal(raw, &r); err != nil {
			return nil, err
		}
		return p, p.addObservation(&r)
	case "Condition":
		var r conditionResource
		if err := unmarshal(raw, &r); err != nil {
			return nil, err
		}
		return p, p.addCondition(&r)
	case "MedicationRequest":
		var r medicationRequestResource
		if err := unmarshal(raw, &r); err != nil {
			return nil, err
		}
		return p, p.addMedication(&r)
	case "DocumentReference":
		var r documentReferenceResource
		if err := unmarshal(raw, &r); err != nil {
			return nil, err
		}
		p.addOther(&r.otherResource)
		for i, c := range r.Content {
			if err := p.addAttachment(c.Attachment, "content["+strconv.Itoa(i)+"].attachment.data"); err != nil {
				return nil, err
			}
		}
		return p, nil
	case "DiagnosticReport":
		var r diagnosticReportResource
		if err := unmarshal(raw, &r); err != nil {
			return nil, err
		}
		p.addOther(&r.otherResource)
		if r.Conclusion != "" {
			p.text = append(p.text, r.Conclusion)
		}
		for i, a := range r.PresentedForm {
			if err := p.addAttachment(a, "presentedForm["+strconv.Itoa(i)+"].data"); err != nil {
				return nil, err
			}
		}
		return p, nil
	default:
		var r otherResource
		if err := unmarshal(raw, &r); err != nil {
			return nil, err
		}
		p.addOther(&r)
		return p, nil
	}
}

// resourceType finds the resourceType, so that the resource can then be
// decoded once, into the struct for its type. It reads member by member and
// stops at resourceType, which writers put first.
func resourceType(raw []byte) (string, *locError) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", &locError{"", "not a JSON object"}
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return "", jsonError(raw, err)
		}
		if key != "resourceType" {
			if err := dec.Decode(&skip{}); err != nil {
				return "", jsonError(raw, err)
			}
			continue
		}
		var typ string
		if err := dec.Decode(&typ); err != nil {
			return "", &locError{"resourceType", "wrong JSON type: want string"}
		}
		if typ == "" {
			break
		}
		return typ, nil
	}
	return "", &locError{"resourceType", "missing resourceType"}
}

// skip decodes a value into nothing.
type skip struct{}

func (*skip) UnmarshalJSON([]byte) error { return nil }

func unmarshal(raw []byte, v any) *locError {
	if err := json.Unmarshal(raw, v); err != nil {
		return jsonError(raw, err)
	}
	return nil
}

var genders = map[string]bool{"male": true, "female": true, "other": true, "unknown": true}

func (p *part) addPatient(r *patientResource) *locError {
	if r.ID == "" {
		return &locError{"id", "Patient has no id"}
	}
	if r.Gender != "" && !genders[r.Gender] {
		return &locError{"gender", "not an administrative-gender code (male, female, other, unknown)"}
	}
	if err := checkDate(r.BirthDate, "birthDate"); err != nil {
		return err
	}
	if err := checkDate(r.DeceasedDateTime, "deceasedDateTime"); err != nil {
		return err
	}
	pt := &record.Patient{
		Where:         p.where,
		ID:            r.ID,
		BirthDate:     r.BirthDate,
		DeceasedDate:  r.DeceasedDateTime,
		Sex:           r.Gender,
		MaritalStatus: firstCode(r.MaritalStatus),
	}
	for _, id := range r.Identifier {
		pt.Identifiers = append(pt.Identifiers, record.Identifier{Type: firstCode(id.Type), System: id.System, Value: id.Value})
	}
	for _, n := range r.Name {
		s := n.Text
		if s == "" {
			s = strings.TrimSpace(strings.Join(n.Given, " ") + " " + n.Family)
		}
		if s != "" {
			pt.Names = append(pt.Names, s)
		}
	}
	for _, t := range r.Telecom {
		if t.Value != "" {
			pt.Telecom = append(pt.Telecom, t.Value)
		}
	}
	for _, a := range r.Address {
		lines := a.Line
		if len(lines) == 0 && a.Text != "" {
			lines = []string{a.Text}
		}
		pt.Addresses = append(pt.Addresses, record.Address{
			Lines: lines, City: a.City, District: a.District, State: a.State,
			PostalCode: a.PostalCode, Country: a.Country,
		})
	}
	p.patient = pt
	p.addText(&r.common)
	return nil
}

// Observations entered in error or cancelled never happened.
var voidObservation = map[string]bool{"entered-in-error": true, "cancelled": true}

func (p *part) addObservation(r *observationResource) *locError {
	p.setSubject(r.Subject)
	p.addText(&r.common)
	if voidObservation[r.Status] {
		return nil
	}
	date := r.EffectiveDateTime
	where := "effectiveDateTime"
	if date == "" && r.EffectivePeriod != nil {
		date, where = r.EffectivePeriod.Start, "effectivePeriod.start"
	}
	if err := checkDate(date, where); err != nil {
		return err
	}
	if err := p.addValue(&r.value, "", date); err != nil {
		return err
	}
	// A panel (blood pressure 85354-9) carries its measurements as
	// components, each with its own code: each becomes an observation.
	for i := range r.Component {
		if err := p.addValue(&r.Component[i], "component["+strconv.Itoa(i)+"].", date); err != nil {
			return err
		}
	}
	return nil
}

// addValue adds one coded value; prefix is the path of the value's element.
func (p *part) addValue(v *value, prefix, date string) *locError {
	system, code := preferred(v.Code, loinc)
	if code == "" {
		return nil // uncoded: nothing downstream could recognise it
	}
	o := record.Observation{System: system, Code: code, Date: date}
	switch {
	case v.ValueQuantity != nil:
		o.Where = p.where + "." + prefix + "valueQuantity"
		if v.ValueQuantity.Value == nil {
			return nil // a quantity with no value (dataAbsentReason): nothing measured
		}
		o.Value, o.HasValue = *v.ValueQuantity.Value, true
		// UCUM's machine-readable code is authoritative; unit is for display.
		o.Unit = v.ValueQuantity.Code
		if o.Unit == "" {
			o.Unit = v.ValueQuantity.Unit
		}
	case v.ValueCodeableConcept != nil:
		o.Where = p.where + "." + prefix + "valueCodeableConcept"
		_, o.ValueCode = preferred(*v.ValueCodeableConcept, snomed)
		if o.ValueCode == "" {
			// Only text: free text, like valueString.
			if t := v.ValueCodeableConcept.Text; t != "" {
				p.text = append(p.text, t)
			}
			return nil
		}
	case v.ValueString != nil:
		// Free text: it may say anything, including who the patient is.
		p.text = append(p.text, *v.ValueString)
		return nil
	default:
		return nil // a panel's parent, or a value type the vault does not use
	}
	p.obs = append(p.obs, o)
	return nil
}

// A refuted or mistaken diagnosis is not a diagnosis.
var voidCondition = map[string]bool{"refuted": true, "entered-in-error": true}

func (p *part) addCondition(r *conditionResource) *locError {
	p.setSubject(r.Subject)
	p.addText(&r.common)
	if voidCondition[firstCode(r.VerificationStatus)] {
		return nil
	}
	onset, where := r.OnsetDateTime, "onsetDateTime"
	if onset == "" && r.OnsetPeriod != nil {
		onset, where = r.OnsetPeriod.Start, "onsetPeriod.start"
	}
	if onset == "" {
		// Without an onset, the date it was recorded is the latest it began.
		onset, where = r.RecordedDate, "recordedDate"
	}
	if err := checkDate(onset, where); err != nil {
		return err
	}
	if err := checkDate(r.AbatementDateTime, "abatementDateTime"); err != nil {
		return err
	}
	// One condition per coding: a diagnosis coded in both SNOMED CT and
	// ICD-10 then matches a table in either.
	for i, c := range r.Code.Coding {
		if c.Code == "" {
			continue
		}
		p.conds = append(p.conds, record.Condition{
			Where:  p.where + ".code.coding[" + strconv.Itoa(i) + "]",
			System: c.System, Code: c.Code, Onset: onset, Abatement: r.AbatementDateTime,
		})
	}
	return nil
}

func (p *part) addMedication(r *medicationRequestResource) *locError {
	p.setSubject(r.Subject)
	p.addText(&r.common)
	for _, d := range r.DosageInstruction {
		if d.Text != "" {
			p.text = append(p.text, d.Text)
		}
	}
	if err := checkDate(r.AuthoredOn, "authoredOn"); err != nil {
		return err
	}
	for i, c := range r.MedicationCodeableConcept.Coding {
		if c.Code == "" {
			continue
		}
		p.meds = append(p.meds, record.Medication{
			Where:  p.where + ".medicationCodeableConcept.coding[" + strconv.Itoa(i) + "]",
			System: c.System, Code: c.Code, Date: r.AuthoredOn, Status: r.Status,
		})
	}
	return nil
}

func (p *part) addOther(r *otherResource) {
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"subject", r.Subject}, {"patient", r.Patient}} {
		var ref reference
		if len(f.raw) > 0 && f.raw[0] == '{' && json.Unmarshal(f.raw, &ref) == nil && ref.Reference != "" {
			p.ref, p.refPath = ref.Reference, f.name+".reference"
			p.addDisplay(ref.Display)
			break
		}
	}
	p.addText(&r.common)
}

// setSubject records the patient a clinical resource is about; such a
// resource is unusable without one. The display that may come with the
// reference is the patient's name as written there, so it is text too.
func (p *part) setSubject(r *reference) {
	p.needRef, p.refPath = true, "subject.reference"
	if r != nil {
		p.ref = r.Reference
		p.addDisplay(r.Display)
	}
}

func (p *part) addDisplay(s string) {
	if s != "" {
		p.text = append(p.text, s)
	}
}

func (p *part) addText(c *common) {
	if c.Text != nil && c.Text.Div != "" {
		p.text = append(p.text, plainText(c.Text.Div))
	}
	for _, n := range c.Note {
		if n.Text != "" {
			p.text = append(p.text, n.Text)
		}
	}
}

// addAttachment keeps a textual attachment (Synthea's clinical notes); other
// content (images, PDFs) is not text the vault could search or keep.
func (p *part) addAttachment(a attachment, path string) *locError {
	if a.Data == "" || !strings.HasPrefix(a.ContentType, "text/") {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(a.Data)
	if err != nil {
		return &locError{path, "not valid base64"}
	}
	p.text = append(p.text, string(b))
	return nil
}

// plainText turns XHTML narrative into its text: tags dropped, entities
// decoded, so that a search for "O'Reilly" finds "O&apos;Reilly".
func plainText(div string) string {
	var b strings.Builder
	in := false
	for _, r := range div {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return html.UnescapeString(b.String())
}

const (
	loinc  = "http://loinc.org"
	snomed = "http://snomed.info/sct"
)

// preferred picks the coding in the preferred system, or else the first
// coding with a code: labs often send a local code beside the LOINC one.
func preferred(cc codeableConcept, system string) (string, string) {
	var first *coding
	for i := range cc.Coding {
		c := &cc.Coding[i]
		if c.Code == "" {
			continue
		}
		if c.System == system {
			return c.System, c.Code
		}
		if first == nil {
			first = c
		}
	}
	if first == nil {
		return "", ""
	}
	return first.System, first.Code
}

func firstCode(cc codeableConcept) string {
	_, c := preferred(cc, "")
	return c
}

func checkDate(s, path string) *locError {
	if s == "" {
		return nil
	}
	if _, err := record.ParseDate(s); err != nil {
		return &locError{path, err.Error()}
	}
	return nil
}
