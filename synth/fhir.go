package synth

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// hctzCode is RxNorm 310798, hydrochlorothiazide 25 MG oral tablet: the
// antihypertensive the treated are on.
const hctzCode = "310798"

// FHIR R4 resources, reduced to what the cohort fills. Field order is the
// order Synthea writes.

type coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

type concept struct {
	Coding []coding `json:"coding"`
	Text   string   `json:"text,omitempty"`
}

type reference struct {
	Reference string `json:"reference"`
}

type quantity struct {
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	System string  `json:"system"`
	Code   string  `json:"code"`
}

type narrative struct {
	Status string `json:"status"`
	Div    string `json:"div"`
}

type identifier struct {
	Type   *concept `json:"type,omitempty"`
	System string   `json:"system"`
	Value  string   `json:"value"`
}

type humanName struct {
	Use    string   `json:"use"`
	Family string   `json:"family"`
	Given  []string `json:"given"`
	Prefix []string `json:"prefix,omitempty"`
}

type contactPoint struct {
	System string `json:"system"`
	Value  string `json:"value"`
	Use    string `json:"use"`
}

type address struct {
	Line       []string `json:"line"`
	City       string   `json:"city"`
	State      string   `json:"state"`
	PostalCode string   `json:"postalCode"`
	Country    string   `json:"country"`
}

type extension struct {
	URL         string `json:"url"`
	ValueString string `json:"valueString"`
}

type patientResource struct {
	ResourceType string         `json:"resourceType"`
	ID           string         `json:"id"`
	Text         narrative      `json:"text"`
	Extension    []extension    `json:"extension"`
	Identifier   []identifier   `json:"identifier"`
	Name         []humanName    `json:"name"`
	Telecom      []contactPoint `json:"telecom"`
	Gender       string         `json:"gender"`
	BirthDate    string         `json:"birthDate"`
	Address      []address      `json:"address"`
}

type component struct {
	Code          concept  `json:"code"`
	ValueQuantity quantity `json:"valueQuantity"`
}

type observationResource struct {
	ResourceType         string      `json:"resourceType"`
	ID                   string      `json:"id"`
	Status               string      `json:"status"`
	Category             []concept   `json:"category"`
	Code                 concept     `json:"code"`
	Subject              reference   `json:"subject"`
	EffectiveDateTime    string      `json:"effectiveDateTime"`
	ValueQuantity        *quantity   `json:"valueQuantity,omitempty"`
	ValueCodeableConcept *concept    `json:"valueCodeableConcept,omitempty"`
	Component            []component `json:"component,omitempty"`
}

type conditionResource struct {
	ResourceType       string    `json:"resourceType"`
	ID                 string    `json:"id"`
	ClinicalStatus     concept   `json:"clinicalStatus"`
	VerificationStatus concept   `json:"verificationStatus"`
	Code               concept   `json:"code"`
	Subject            reference `json:"subject"`
	OnsetDateTime      string    `json:"onsetDateTime"`
	RecordedDate       string    `json:"recordedDate"`
}

type medicationRequestResource struct {
	ResourceType              string    `json:"resourceType"`
	ID                        string    `json:"id"`
	Status                    string    `json:"status"`
	Intent                    string    `json:"intent"`
	MedicationCodeableConcept concept   `json:"medicationCodeableConcept"`
	Subject                   reference `json:"subject"`
	AuthoredOn                string    `json:"authoredOn"`
}

type bundleEntry struct {
	FullURL  string `json:"fullUrl"`
	Resource any    `json:"resource"`
	Request  struct {
		Method string `json:"method"`
		URL    string `json:"url"`
	} `json:"request"`
}

type bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Entry        []bundleEntry `json:"entry"`
}

func code(system, c, display string) concept {
	return concept{Coding: []coding{{System: system, Code: c, Display: display}}, Text: display}
}

func v20203(c, display string) *concept {
	cc := code("http://terminology.hl7.org/CodeSystem/v2-0203", c, display)
	return &cc
}

func category(c string) []concept {
	return []concept{{Coding: []coding{{System: "http://terminology.hl7.org/CodeSystem/observation-category", Code: c, Display: c}}}}
}

// resourceID derives a stable UUID for the person's n-th resource.
func resourceID(p *Person, n int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", p.ID, n))
	return uuid(binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16]))
}

type typedResource struct {
	typ, id string
	r       any
}

// resources are the person's FHIR resources, the Patient first; subject is
// how the others refer to the Patient.
func resources(p *Person, subject string) []typedResource {
	when := p.VisitDate.Format(time.DateOnly) + "T09:30:00Z"
	sub := reference{Reference: subject}
	out := []typedResource{{"Patient", p.ID, patient(p)}}
	n := 0
	add := func(typ string, mk func(id string) any) {
		n++
		id := resourceID(p, n)
		out = append(out, typedResource{typ, id, mk(id)})
	}
	observation := func(loinc, display, cat string) observationResource {
		return observationResource{ResourceType: "Observation", Status: "final", Category: category(cat),
			Code: code(LOINC, loinc, display), Subject: sub, EffectiveDateTime: when}
	}
	mmHg := func(v float64) quantity { return quantity{v, "mm[Hg]", UCUM, "mm[Hg]"} }
	add("Observation", func(id string) any {
		o := observation("85354-9", "Blood Pressure", "vital-signs")
		o.ID = id
		o.Component = []component{
			{code(LOINC, "8462-4", "Diastolic Blood Pressure"), mmHg(p.DBP)},
			{code(LOINC, "8480-6", "Systolic Blood Pressure"), mmHg(p.SBP)},
		}
		return o
	})
	for _, q := range []struct {
		loinc, display, cat, unit string
		v                         float64
	}{
		{"2093-3", "Total Cholesterol", "laboratory", "mg/dL", p.TotalChol},
		{"2085-9", "High Density Lipoprotein Cholesterol", "laboratory", "mg/dL", p.HDL},
		{"18262-6", "Low Density Lipoprotein Cholesterol", "laboratory", "mg/dL", p.LDL},
		{"39156-5", "Body Mass Index", "vital-signs", "kg/m2", p.BMI},
		{"4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "laboratory", "%", p.HbA1c},
		{"2339-0", "Glucose", "laboratory", "mg/dL", p.Glucose},
		{"8867-4", "Heart rate", "vital-signs", "/min", p.HeartRate},
	} {
		add("Observation", func(id string) any {
			o := observation(q.loinc, q.display, q.cat)
			o.ID = id
			o.ValueQuantity = &quantity{q.v, q.unit, UCUM, q.unit}
			return o
		})
	}
	add("Observation", func(id string) any {
		o := observation("72166-2", "Tobacco smoking status NHIS", "survey")
		o.ID = id
		v := code(SNOMED, smokingCodes[p.Smoking], smokingDisplay[p.Smoking])
		o.ValueCodeableConcept = &v
		return o
	})
	condition := func(snomed, display string) func(id string) any {
		return func(id string) any {
			return conditionResource{ResourceType: "Condition", ID: id,
				ClinicalStatus:     code("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", ""),
				VerificationStatus: code("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", ""),
				Code:               code(SNOMED, snomed, display), Subject: sub, OnsetDateTime: when, RecordedDate: when}
		}
	}
	if p.Hypertension {
		add("Condition", condition("59621000", "Hypertension"))
	}
	if p.Diabetes {
		add("Condition", condition("44054006", "Diabetes"))
	}
	if p.BPTreated {
		add("MedicationRequest", func(id string) any {
			return medicationRequestResource{ResourceType: "MedicationRequest", ID: id, Status: "active", Intent: "order",
				MedicationCodeableConcept: code(RxNorm, hctzCode, "Hydrochlorothiazide 25 MG Oral Tablet"), Subject: sub, AuthoredOn: when}
		})
	}
	return out
}

var smokingDisplay = map[string]string{
	SmokingCurrent: "Current every day smoker",
	SmokingFormer:  "Former smoker",
	SmokingNever:   "Never smoker",
}

func patient(p *Person) patientResource {
	return patientResource{
		ResourceType: "Patient",
		ID:           p.ID,
		Text:         narrative{"generated", `<div xmlns="http://www.w3.org/1999/xhtml">` + html.EscapeString(p.Note) + `</div>`},
		Extension:    []extension{{"http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName", p.MothersMaidenName}},
		Identifier: []identifier{
			{System: "https://github.com/synthetichealth/synthea", Value: p.ID},
			{Type: v20203("MR", "Medical Record Number"), System: "http://hospital.smarthealthit.org", Value: p.MRN},
			{Type: v20203("SS", "Social Security Number"), System: "http://hl7.org/fhir/sid/us-ssn", Value: p.SSN},
			{Type: v20203("DL", "Driver's License"), System: "urn:oid:2.16.840.1.113883.4.3.25", Value: p.DriversLicence},
			{Type: v20203("PPN", "Passport Number"), System: "http://standardhealthrecord.org/fhir/StructureDefinition/passportNumber", Value: p.Passport},
		},
		Name:      []humanName{{Use: "official", Family: p.Family, Given: []string{p.Given}, Prefix: []string{p.Prefix}}},
		Telecom:   []contactPoint{{"phone", p.Phone, "home"}},
		Gender:    p.Sex,
		BirthDate: p.BirthDate.Format(time.DateOnly),
		Address:   []address{{Line: []string{p.Street}, City: p.City, State: p.State, PostalCode: p.ZIP, Country: "US"}},
	}
}

// WriteFHIRBundle writes the person as a FHIR R4 transaction Bundle, as
// Synthea does: the Patient (identifiers, name, address, phone, birth
// date, gender, a narrative repeating them), Observations for the blood
// pressure panel (85354-9 with 8480-6 and 8462-4), cholesterol (2093-3,
// 2085-9, 18262-6), BMI (39156-5), HbA1c (4548-4), glucose (2339-0), heart
// rate (8867-4) and smoking status (72166-2, SNOMED value), Conditions for
// hypertension (59621000) and diabetes (44054006), and a MedicationRequest
// for hydrochlorothiazide (RxNorm 310798) when treated. Resources refer to
// one another by urn:uuid.
func WriteFHIRBundle(w io.Writer, p Person) error {
	rs := resources(&p, "urn:uuid:"+p.ID)
	b := bundle{ResourceType: "Bundle", Type: "transaction", Entry: make([]bundleEntry, len(rs))}
	for i, r := range rs {
		e := &b.Entry[i]
		e.FullURL, e.Resource = "urn:uuid:"+r.id, r.r
		e.Request.Method, e.Request.URL = "POST", r.typ
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(b)
}

// NDJSONFiles are the files WriteFHIRNDJSON writes, one per resource type.
var NDJSONFiles = []string{"Patient.ndjson", "Observation.ndjson", "Condition.ndjson", "MedicationRequest.ndjson"}

// WriteFHIRNDJSON writes the cohort as a FHIR Bulk Data export into dir:
// one file per resource type (NDJSONFiles), one resource per line,
// referring to patients as Patient/<id>. Each file is written atomically.
func WriteFHIRNDJSON(dir string, people []Person, opts ...Option) error {
	o := collect(opts)
	encoders := map[string]*json.Encoder{}
	commits := make([]func() error, 0, len(NDJSONFiles))
	var aborts []func()
	defer func() {
		for _, a := range aborts {
			a()
		}
	}()
	for _, name := range NDJSONFiles {
		f, err := createAtomic(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		aborts = append(aborts, f.abort)
		commits = append(commits, f.commit)
		enc := json.NewEncoder(f.w) // one value per line, as NDJSON wants
		enc.SetEscapeHTML(false)
		encoders[strings.TrimSuffix(name, ".ndjson")] = enc
	}
	for i := range people {
		p := &people[i]
		for _, r := range resources(p, "Patient/"+p.ID) {
			if err := encoders[r.typ].Encode(r.r); err != nil {
				return err
			}
		}
		if err := o.step(i, len(people)); err != nil {
			return err
		}
	}
	for _, c := range commits {
		if err := c(); err != nil {
			return err
		}
	}
	aborts = nil
	return nil
}
