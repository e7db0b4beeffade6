package normalize

import (
	"strings"

	"github.com/medchain/medchain/vocab"
)

// Code systems, as written in FHIR and in CSV mappings. Matching ignores
// case.
var (
	loincSystems  = set("http://loinc.org", "loinc", "ln")
	snomedSystems = set("http://snomed.info/sct", "snomed", "snomedct", "snomed ct", "sct")
	icd10Systems  = set("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm", "icd10", "icd-10", "icd10cm", "icd-10-cm")
	rxnormSystems = set("http://www.nlm.nih.gov/research/umls/rxnorm", "rxnorm")
)

func set(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, x := range s {
		m[x] = true
	}
	return m
}

func inSystem(systems map[string]bool, s string) bool {
	return systems[s] || systems[strings.ToLower(s)]
}

// convert maps a source unit to the function that converts its values to
// the measure's unit.
type convert map[string]func(float64) float64

func same(x float64) float64 { return x }

func times(k float64) func(float64) float64 { return func(x float64) float64 { return x * k } }

// Units accepted per quantity. UCUM is case-sensitive, but exports write
// mg/dl and mmHg often enough that the common spellings are listed too.
var (
	pressure = convert{"mm[Hg]": same, "mmHg": same, "mm Hg": same, "kPa": times(7.50062)}
	// Cholesterol: 1 mmol/L = 38.67 mg/dL (molar mass 386.65 g/mol).
	cholesterol = convert{"mg/dL": same, "mg/dl": same, "mmol/L": times(38.67), "mmol/l": times(38.67)}
	// Glucose: 1 mmol/L = 18.016 mg/dL (molar mass 180.16 g/mol).
	glucose = convert{"mg/dL": same, "mg/dl": same, "mmol/L": times(18.016), "mmol/l": times(18.016)}
	// HbA1c: IFCC mmol/mol to NGSP % by the IFCC–NGSP master equation.
	hba1c  = convert{"%": same, "mmol/mol": func(x float64) float64 { return 0.09148*x + 2.152 }}
	bmi    = convert{"kg/m2": same, "kg/m^2": same}
	perMin = convert{"/min": same, "{beats}/min": same, "beats/min": same, "bpm": same}
)

// measure is a numeric research field taken from observations.
type measure struct {
	field vocab.Field
	codes []string // LOINC codes that measure it; the first is the schema's
	units convert
	min   float64 // default plausible range, in field.Unit
	max   float64
}

// measures are the numeric research fields, in schema order.
var measures = []measure{
	{vocab.Field{Name: "sbp", Unit: "mm[Hg]"}, []string{"8480-6"}, pressure, 50, 300},
	{vocab.Field{Name: "dbp", Unit: "mm[Hg]"}, []string{"8462-4"}, pressure, 20, 200},
	{vocab.Field{Name: "total_chol", Unit: "mg/dL"}, []string{"2093-3"}, cholesterol, 50, 1000},
	{vocab.Field{Name: "hdl", Unit: "mg/dL"}, []string{"2085-9"}, cholesterol, 5, 300},
	// 18262-6 is LDL measured directly, 13457-7 calculated (Friedewald).
	{vocab.Field{Name: "ldl", Unit: "mg/dL"}, []string{"18262-6", "13457-7"}, cholesterol, 5, 1000},
	{vocab.Field{Name: "bmi", Unit: "kg/m2"}, []string{"39156-5"}, bmi, 8, 100},
	{vocab.Field{Name: "hba1c", Unit: "%"}, []string{"4548-4"}, hba1c, 2, 25},
	// 2339-0 is blood glucose, 2345-7 serum or plasma glucose.
	{vocab.Field{Name: "glucose", Unit: "mg/dL"}, []string{"2339-0", "2345-7"}, glucose, 10, 2000},
	{vocab.Field{Name: "heart_rate", Unit: "/min"}, []string{"8867-4"}, perMin, 20, 300},
}

// ageRange is the default plausible range of "age", in years.
var ageRange = Range{0, 130}

// smokingCode is the LOINC code of tobacco smoking status, whose value is
// a SNOMED CT code.
const smokingCode = "72166-2"

// smokers maps smoking-status codes (the US Core value set) to whether the
// patient currently smokes. "Unknown if ever smoked" is listed as unknown,
// so that it gives a null rather than an error; any other code is an error.
var smokers = map[string]*bool{
	"449868002":       ptr(true),  // current every day smoker
	"428041000124106": ptr(true),  // current some day smoker
	"77176002":        ptr(true),  // smoker, current status unknown
	"428071000124103": ptr(true),  // current heavy tobacco smoker
	"428061000124105": ptr(true),  // current light tobacco smoker
	"65568007":        ptr(true),  // cigarette smoker
	"8517006":         ptr(false), // former smoker
	"266919005":       ptr(false), // never smoker
	"266927001":       nil,        // unknown if ever smoked
}

func ptr(b bool) *bool { return &b }

// diagnosis is a condition flag: true if any matching diagnosis began on
// or before the reference date.
type diagnosis struct {
	field  vocab.Field
	snomed []string // concepts; the first is the schema's
	icd10  []string // three-character categories, matched as prefixes (I10 matches I10, I11.9)
}

var diagnoses = []diagnosis{
	{vocab.Field{Name: "hypertension"},
		[]string{"38341003", "59621000"}, // hypertensive disorder; essential hypertension
		[]string{"I10", "I11", "I12", "I13", "I14", "I15"}},
	{vocab.Field{Name: "diabetes"},
		[]string{"73211009", "44054006", "46635009"}, // diabetes mellitus; type 2; type 1 (prediabetes 15777000 is not diabetes)
		[]string{"E10", "E11", "E12", "E13", "E14"}},
	{vocab.Field{Name: "mi"},
		// myocardial infarction; acute STEMI; acute NSTEMI; history of MI (Synthea records it so)
		[]string{"22298006", "401303003", "401314000", "399211009"},
		[]string{"I21", "I22"}},
	{vocab.Field{Name: "stroke"},
		[]string{"230690007", "422504002"}, // cerebrovascular accident; ischemic stroke
		[]string{"I63", "I64"}},
	{vocab.Field{Name: "heart_failure"},
		[]string{"84114007", "42343007", "88805009"}, // heart failure; congestive; chronic congestive (Synthea)
		[]string{"I50"}},
}

// antihypertensives are the RxNorm concepts that make bp_treated true:
// ingredients, for sources that code the substance, and the products that
// Synthea prescribes. A drug of an antihypertensive class counts whatever
// it was prescribed for (a beta blocker for heart failure lowers the
// measured pressure just the same); injections for acute care do not.
var antihypertensives = map[string]string{
	// Ingredients.
	"5487": "hydrochlorothiazide", "2409": "chlorthalidone", "5764": "indapamide",
	"17767": "amlodipine", "7417": "nifedipine", "3443": "diltiazem", "11170": "verapamil",
	"29046": "lisinopril", "3827": "enalapril", "35296": "ramipril", "18867": "benazepril", "35208": "quinapril",
	"52175": "losartan", "69749": "valsartan", "83818": "irbesartan", "321064": "olmesartan",
	"214354": "candesartan", "73494": "telmisartan", "1091643": "azilsartan",
	"6918": "metoprolol", "1202": "atenolol", "20352": "carvedilol", "19484": "bisoprolol",
	"6185": "labetalol", "8787": "propranolol", "31555": "nebivolol",
	"9997": "spironolactone", "4603": "furosemide", "49276": "doxazosin", "5470": "hydralazine", "2599": "clonidine",
	// Products in Synthea data.
	"310798":  "hydrochlorothiazide 25 MG Oral Tablet",
	"429503":  "hydrochlorothiazide 12.5 MG",
	"197361":  "amlodipine 5 MG Oral Tablet",
	"308136":  "amlodipine 2.5 MG Oral Tablet",
	"314076":  "lisinopril 10 MG Oral Tablet",
	"314077":  "lisinopril 20 MG Oral Tablet",
	"979485":  "losartan potassium 25 MG Oral Tablet",
	"979492":  "losartan potassium 50 MG Oral Tablet",
	"979480":  "losartan potassium 100 MG Oral Tablet",
	"866924":  "metoprolol tartrate 25 MG Oral Tablet",
	"866412":  "24 HR metoprolol succinate 100 MG Extended Release Oral Tablet",
	"866414":  "24 HR metoprolol succinate 100 MG Extended Release Oral Tablet [Toprol]",
	"200033":  "carvedilol 25 MG Oral Tablet",
	"746030":  "atenolol 50 MG / chlorthalidone 25 MG Oral Tablet",
	"999967":  "amlodipine 5 MG / hydrochlorothiazide 12.5 MG / olmesartan medoxomil 20 MG Oral Tablet",
	"897685":  "verapamil hydrochloride 80 MG Oral Tablet [Calan]",
	"313988":  "furosemide 40 MG Oral Tablet",
	"1656356": "sacubitril 97 MG / valsartan 103 MG Oral Tablet [Entresto]",
}

// renewalDays is how long after a stopped or completed prescription a
// new one may follow and still count as the same treatment going on.
// FHIR gives a prescription a start but rarely an end, and Synthea marks
// every prescription it renews (yearly) as stopped.
const renewalDays = 400
