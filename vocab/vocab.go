package vocab

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
)

// Address is the account address of an ed25519 public key: the hex of the
// first 20 bytes of its SHA-256, 40 lower-case hex digits.
func Address(pub []byte) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:20])
}

// AddressLen is the length of an address in characters.
const AddressLen = 40

// IsAddress reports whether s is an address in its text form: exactly 40
// lower-case hex digits.
func IsAddress(s string) bool {
	if len(s) != AddressLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// IDSyntax describes the id syntax, for error messages.
const IDSyntax = "2-64 chars of a-z 0-9 . _ -, starting with a letter or digit"

// IsID reports whether s is a valid id of an organisation, a dataset or a
// model: 2 to 64 characters of a-z 0-9 . _ -, the first a letter or digit.
// An id never holds '/', so it can be part of a state key or a directory
// name without ambiguity.
func IsID(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}

// Field is one column of a dataset schema: what it measures, coded.
type Field struct {
	Name   string `json:"name"`
	System string `json:"system,omitempty"` // code system URI or short name: loinc, snomed, icd10, rxnorm, local
	Code   string `json:"code,omitempty"`
	Unit   string `json:"unit,omitempty"` // UCUM unit
	Type   string `json:"type"`           // one of FieldTypes
}

// FieldTypes are the schema column types.
var FieldTypes = []string{"number", "integer", "boolean", "code", "year", "string"}

// RecordBands are the allowed record-count bands, smallest first. A dataset
// never publishes an exact count, so a small cohort cannot be singled out.
var RecordBands = []string{"<100", "100-999", "1k-10k", "10k-100k", "100k-1M", ">1M"}

// RecordBand is the record-count band of n records.
func RecordBand(n uint64) string {
	switch {
	case n < 100:
		return RecordBands[0]
	case n < 1_000:
		return RecordBands[1]
	case n < 10_000:
		return RecordBands[2]
	case n < 100_000:
		return RecordBands[3]
	case n < 1_000_000:
		return RecordBands[4]
	}
	return RecordBands[5]
}

// BandTop is the largest record count the ledger assumes for a record
// band: the bound on what a site may contribute to a pooled study. The
// values are part of the ledger's rules, so changing one is a consensus
// change; ">1M" and unknown bands give 2^40.
func BandTop(band string) uint64 {
	switch band {
	case "<100":
		return 99
	case "100-999":
		return 999
	case "1k-10k":
		return 10_000
	case "10k-100k":
		return 100_000
	case "100k-1M":
		return 1_000_000
	}
	return 1 << 40
}

// Purposes is the purpose-of-use vocabulary (after HL7 PurposeOfUse).
// "clinical" is direct care (HL7 TREAT): following a patient's device
// readings live; a patient's deny for it stops their institution's
// clinicians from following.
var Purposes = []string{"research", "public_health", "clinical_trial", "commercial_research", "model_training", "quality_improvement", "education", "clinical"}

// DirectIdentifiers are field names that hold, or conventionally hold, a
// direct identifier of a patient or of someone close to them (the HIPAA
// Safe Harbor classes, and the names de-identification profiles give the
// patient id). A de-identified dataset should have no such column; a data
// deal may never ask for one even if a dataset has it, since a value
// under one of these names is either an identifier or a pseudonym that
// links the buyer's rows across deals. (A ZIP is not listed: Safe Harbor
// keeps its first three digits, under the name "zip".)
var DirectIdentifiers = []string{
	"patient_id", "pseudonym", "id", "name", "given_name", "family_name", "mothers_maiden_name", "contact_name",
	"free_text", "note", "notes", "address", "street", "city", "county", "district", "geolocation",
	"latitude", "longitude", "birth_place", "contact_address", "birth_date",
	"phone", "contact_phone", "fax", "email", "ssn", "mrn", "health_plan_id", "account_number",
	"licence_number", "license_number", "identifiers", "vehicle_id", "device_id", "url", "ip_address",
	"biometric_id", "photo", "wallet",
}

// identifierWords are words that make a field name an identifier's
// wherever they appear in it (contact_email, first_name, home_phone).
var identifierWords = []string{"name", "phone", "email", "address", "street", "ssn", "mrn", "fax", "url", "ip",
	"passport", "licence", "license", "photo", "pseudonym"}

// IsDirectIdentifier reports whether a field name is one of
// DirectIdentifiers, or holds one of the words of an identifier's name as
// a part (separated by '_', '-', '.' or a space), in any case.
func IsDirectIdentifier(field string) bool {
	f := strings.ToLower(field)
	if slices.Contains(DirectIdentifiers, f) {
		return true
	}
	for _, w := range strings.FieldsFunc(f, func(r rune) bool { return r == '_' || r == '-' || r == '.' || r == ' ' }) {
		if slices.Contains(identifierWords, w) {
			return true
		}
	}
	return false
}
