package deid

import _ "embed"

//go:embed profiles/safe_harbor.json
var safeHarborJSON []byte

// SafeHarborJSON is the Safe Harbor profile as a file, the starting point
// for a data manager's own profile.
func SafeHarborJSON() []byte { return append([]byte(nil), safeHarborJSON...) }

// SafeHarbor returns the default profile, HIPAA Safe Harbor: every field of
// SafeHarborClasses is redacted or transformed as Safe Harbor allows, the
// research fields of the normalised record are kept, and anything else is
// dropped. Each call returns a fresh copy the caller may change.
func SafeHarbor() *Rules {
	r, err := Parse("safe_harbor.json", safeHarborJSON)
	if err != nil {
		panic("deid: the built-in Safe Harbor profile is invalid: " + err.Error())
	}
	return r
}

// IdentifierClass is one of the 18 classes of identifiers Safe Harbor
// removes (45 CFR 164.514(b)(2)(i)(A)–(R)), of the patient and of their
// relatives, employers and household members, with the record fields that
// carry it.
type IdentifierClass struct {
	Letter string
	Name   string
	Fields []string
}

// SafeHarborClasses maps each identifier class to record fields. Fields no
// source fills today are listed too, so that a source that starts filling
// them is already covered by an explicit rule, not only by the default.
var SafeHarborClasses = []IdentifierClass{
	{"A", "names", []string{"name", "mothers_maiden_name", "contact_name", "free_text"}},
	{"B", "geographic subdivisions smaller than a state (ZIP to 3 digits)", []string{"address", "city", "county", "district", "geolocation", "birth_place", "contact_address", "zip"}},
	{"C", "all elements of dates except the year; ages over 89", []string{"birth_date", "death_date", "admission_date", "discharge_date", "age"}},
	{"D", "telephone numbers", []string{"phone", "contact_phone"}},
	{"E", "fax numbers", []string{"fax"}},
	{"F", "email addresses", []string{"email"}},
	{"G", "social security numbers", []string{"ssn"}},
	{"H", "medical record numbers", []string{"mrn"}},
	{"I", "health plan beneficiary numbers", []string{"health_plan_id"}},
	{"J", "account numbers", []string{"account_number"}},
	{"K", "certificate and licence numbers", []string{"licence_number", "identifiers"}},
	{"L", "vehicle identifiers and serial numbers, including licence plates", []string{"vehicle_id"}},
	{"M", "device identifiers and serial numbers", []string{"device_id"}},
	{"N", "web URLs", []string{"url"}},
	{"O", "IP addresses", []string{"ip_address"}},
	{"P", "biometric identifiers, including finger and voice prints", []string{"biometric_id"}},
	{"Q", "full-face photographs and comparable images", []string{"photo"}},
	{"R", "any other unique identifying number, characteristic or code", []string{"patient_id", "identifiers", "free_text"}},
}
