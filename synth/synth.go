// Package synth makes synthetic patient cohorts whose truth is known: each
// person's 10-year cardiovascular risk comes from the published Framingham
// general CVD model (D'Agostino 2008) applied to realistic risk factors,
// and their outcome is drawn from that risk. An analysis run on the cohort
// can therefore be checked against the truth: a logistic regression should
// recover the model's direction and size of effects, a risk model should be
// calibrated against Risk.
//
// Each person also carries the identifiers a hospital export has — names
// with the numeric suffixes Synthea uses (so a privacy test can search for
// them without false hits), addresses whose ZIPs include restricted 3-digit
// areas, phone, SSN in the never-issued 999 range, MRN, driver's licence,
// passport, exact birth and visit dates, a mother's maiden name, and a
// free-text note that repeats them — so that de-identification has
// something to remove.
//
// Cohorts are reproducible: person i depends only on the seed and i (two
// PCG streams seeded from them, one for the clinical values and one for
// the identifiers), not on N or on the order of generation.
//
// Config.Outcome can instead draw the outcome from a logistic model with
// known coefficients (OutcomeLogistic, DefaultLogistic), on the same risk
// factors, so that a logistic regression's estimates and confidence
// intervals can be checked against the generating values.
//
// The outcome (cvd_10y) and the true risk are the answer key. WriteTruth
// writes them to their own file; the data an institution ingests (WriteCSV,
// the FHIR writers) leaves them out unless WithOutcome asks for the outcome.
// The true risk is never in the ingested data.
package synth

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Config says what cohort to make.
type Config struct {
	N    int
	Seed int64
	// RefDate is the day ages are counted to and the 10-year horizon starts
	// from; measurements are dated in the year before it. Zero means
	// DefaultRefDate. Ingest with the same reference date, or the ages
	// the normaliser computes will differ from those the risk used.
	RefDate time.Time
	// Progress, if set, is called with the number of people made so far,
	// every 1024 people and at the end.
	Progress func(done int)
	// Outcome is the model cvd_10y is drawn from: OutcomeFramingham (the
	// default when empty) or OutcomeLogistic. Either way the risk factors
	// are the same for the same seed; Risk is the chosen model's
	// probability of an event.
	Outcome string
	// Logistic is the OutcomeLogistic model; nil means DefaultLogistic().
	// It is ignored for OutcomeFramingham.
	Logistic *Logistic
	// Hazard is the model of the event times (CVDTime, CVDEvent); nil
	// means DefaultHazard().
	Hazard *Hazard
}

// withDefaults fills in the defaults and checks the outcome model.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.RefDate.IsZero() {
		cfg.RefDate = DefaultRefDate
	}
	switch cfg.Outcome {
	case "", OutcomeFramingham:
		cfg.Outcome, cfg.Logistic = OutcomeFramingham, nil
	case OutcomeLogistic:
		if cfg.Logistic == nil {
			m := DefaultLogistic()
			cfg.Logistic = &m
		}
		if err := cfg.Logistic.Validate(); err != nil {
			return cfg, err
		}
	default:
		return cfg, fmt.Errorf("synth: outcome %q: want %q or %q", cfg.Outcome, OutcomeFramingham, OutcomeLogistic)
	}
	if cfg.Hazard == nil {
		h := DefaultHazard()
		cfg.Hazard = &h
	}
	if err := cfg.Hazard.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// DefaultRefDate is the reference date when Config.RefDate is zero.
var DefaultRefDate = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// MaxN bounds the cohort size (MRNs are 9-digit and unique).
const MaxN = 100_000_000

// Smoking statuses, after the NHIS categories of LOINC 72166-2.
const (
	SmokingCurrent = "current"
	SmokingFormer  = "former"
	SmokingNever   = "never"
)

// Person is one synthetic patient.
type Person struct {
	// Identifiers: everything de-identification must remove.
	ID                string // FHIR resource id (a UUID)
	MRN               string
	Prefix            string // Mr., Mrs., Ms.
	Given, Family     string
	MothersMaidenName string
	BirthDate         time.Time
	Street            string
	City, State, ZIP  string // ZIP is 5 digits or ZIP+4
	Phone             string
	SSN               string
	DriversLicence    string
	Passport          string
	VisitDate         time.Time // the exam the measurements come from
	Note              string    // a clinician's free text, repeating name, address and phone

	// Risk factors as measured, rounded as a lab reports them; Risk is
	// computed from these rounded values.
	Sex          string // "male" or "female"
	Age          int    // whole years at the reference date
	TotalChol    float64
	HDL          float64
	LDL          float64 // mg/dL
	SBP, DBP     float64 // mm[Hg]
	BPTreated    bool    // on an antihypertensive (hydrochlorothiazide)
	Hypertension bool    // diagnosed
	Smoking      string  // SmokingCurrent, SmokingFormer or SmokingNever
	Diabetes     bool
	BMI          float64 // kg/m2
	HbA1c        float64 // %
	Glucose      float64 // mg/dL
	HeartRate    float64 // /min

	// The truth.
	Risk   float64 // 10-year CVD risk under Config.Outcome's model (Framingham by default)
	CVD10y bool    // a CVD event within 10 years of the reference date, drawn from Risk
	// CVDTime and CVDEvent are the follow-up from the reference date, in
	// years, and whether it ended with a CVD event (else it was censored),
	// drawn from Config.Hazard's proportional-hazards model on their own
	// random stream (so the other fields are those of a cohort without
	// them).
	CVDTime  float64
	CVDEvent bool
}

// Name is the full name as a chart shows it.
func (p *Person) Name() string { return p.Given + " " + p.Family }

// Factors are the person's inputs to the risk model.
func (p *Person) Factors() Factors {
	return Factors{Male: p.Sex == "male", Age: float64(p.Age), TotalChol: p.TotalChol, HDL: p.HDL, SBP: p.SBP,
		Treated: p.BPTreated, Smoker: p.Smoking == SmokingCurrent, Diabetes: p.Diabetes}
}

// Generate makes cfg.N people.
func Generate(cfg Config) ([]Person, error) {
	if cfg.N < 0 || cfg.N > MaxN {
		return nil, fmt.Errorf("synth: N = %d, want 0…%d", cfg.N, MaxN)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.RefDate.Year() < 1900 || cfg.RefDate.Year() > 2200 {
		return nil, errors.New("synth: the reference date must be in 1900…2200")
	}
	g := newGenerator(cfg.Seed, cfg.RefDate)
	if cfg.Outcome == OutcomeLogistic {
		c := cfg.Logistic.compile()
		g.logit = &c
	}
	g.hazard = *cfg.Hazard
	people := make([]Person, cfg.N)
	for i := range people {
		g.person(i, &people[i])
		if cfg.Progress != nil && (i+1)%1024 == 0 {
			cfg.Progress(i + 1)
		}
	}
	if cfg.Progress != nil {
		cfg.Progress(cfg.N)
	}
	return people, nil
}

// generator holds the reusable state; person i is a function of the seed,
// the reference date and i only.
type generator struct {
	seed      uint64
	ref       time.Time
	mrnA      uint64 // MRN = (a·i + b) mod 10⁹: a permutation, so MRNs are unique
	mrnB      uint64
	pcg, pcg2 rand.PCG
	clin, ids *rand.Rand
	// logit is the logistic outcome model, nil for Framingham; its
	// outcomes come from their own stream, pcg3.
	logit *compiledLogistic
	pcg3  rand.PCG
	out   *rand.Rand
	// hazard draws the event times, from pcg4.
	hazard Hazard
	pcg4   rand.PCG
	surv   *rand.Rand
}

func newGenerator(seed int64, ref time.Time) *generator {
	g := &generator{seed: uint64(seed), ref: ref.UTC().Truncate(24 * time.Hour)}
	g.clin, g.ids, g.out, g.surv = rand.New(&g.pcg), rand.New(&g.pcg2), rand.New(&g.pcg3), rand.New(&g.pcg4)
	g.mrnA = splitmix(g.seed^0x6d726e)%1_000_000_000 | 1 // odd …
	if g.mrnA%5 == 0 {                                   // … and not a multiple of 5: coprime to 10⁹
		g.mrnA += 2
	}
	g.mrnB = splitmix(g.seed ^ 0x6d726e62)
	return g
}

// splitmix is SplitMix64's finaliser: it spreads nearby inputs (seed 1, 2;
// person 7, 8) over unrelated PCG states.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

func (g *generator) seedStreams(i int) {
	base := splitmix(g.seed ^ splitmix(uint64(i)))
	g.pcg.Seed(splitmix(base^1), splitmix(base^2))
	g.pcg2.Seed(splitmix(base^3), splitmix(base^4))
	if g.logit != nil {
		g.pcg3.Seed(splitmix(base^5), splitmix(base^6))
	}
	g.pcg4.Seed(splitmix(base^7), splitmix(base^8))
}

func (g *generator) person(i int, p *Person) {
	g.seedStreams(i)
	g.clinical(p)
	p.CVDTime, p.CVDEvent = g.hazard.Draw(p, g.surv)
	g.identify(i, p)
}

// clinical draws the risk factors, the risk and the outcome. The
// distributions follow US adults (NHANES-like): see the comments.
func (g *generator) clinical(p *Person) {
	r := g.clin
	male := r.Float64() < 0.49
	p.Sex = "female"
	if male {
		p.Sex = "male"
	}
	// Ages 30–79 cover the model's range; 2% are 85–104, tailing off, so
	// that the 90+ rule of Safe Harbor has people to act on.
	if r.Float64() < 0.02 {
		p.Age = min(104, 85+int(r.ExpFloat64()*5))
	} else {
		p.Age = 30 + r.IntN(50)
	}
	age := float64(p.Age)
	p.TotalChol = math.Round(clip(200+40*r.NormFloat64(), 100, 400))
	if male {
		p.HDL = math.Round(clip(46+12*r.NormFloat64(), 20, 110))
	} else {
		p.HDL = math.Round(clip(57+15*r.NormFloat64(), 20, 110))
	}
	p.BMI = round1(clip(28.5+5.5*r.NormFloat64(), 16, 60))
	// Systolic pressure rises with age and weight; diastolic follows it
	// and falls after 50, as arteries stiffen.
	base := 112.0
	if male {
		base = 118
	}
	p.SBP = math.Round(clip(base+0.55*(age-30)+0.5*(p.BMI-28.5)+16*r.NormFloat64(), 85, 220))
	p.DBP = math.Round(clip(0.4*p.SBP+26-0.15*max(0, age-50)+8*r.NormFloat64(), 45, min(130, p.SBP-20)))
	// Treatment is likelier the higher the pressure and the older the patient.
	p.BPTreated = r.Float64() < logistic((p.SBP-145)/8+(age-60)/20)
	p.Hypertension = p.BPTreated || ((p.SBP >= 140 || p.DBP >= 90) && r.Float64() < 0.6)
	// Current smoking falls with age: about 24% at 30, 12% at 79.
	switch {
	case r.Float64() < clip(0.24-0.0025*(age-30), 0.05, 0.30):
		p.Smoking = SmokingCurrent
	case r.Float64() < 0.25:
		p.Smoking = SmokingFormer
	default:
		p.Smoking = SmokingNever
	}
	// Diabetes about 10% overall, rising with age and BMI; HbA1c agrees
	// with it (≥ 6.5% is the diagnostic threshold).
	p.Diabetes = r.Float64() < logistic(-3.7+0.045*(age-30)+0.12*(p.BMI-28.5))
	if p.Diabetes {
		p.HbA1c = round1(clip(7.4+1.2*r.NormFloat64(), 6.5, 13))
	} else {
		p.HbA1c = round1(clip(5.4+0.35*r.NormFloat64(), 4.2, 6.4))
	}
	// Glucose from HbA1c by the ADAG estimated-average-glucose relation.
	p.Glucose = math.Round(clip(28.7*p.HbA1c-46.7+10*r.NormFloat64(), 60, 400))
	// LDL by Friedewald from a log-normal triglyceride level.
	tg := math.Exp(4.8 + 0.45*r.NormFloat64())
	p.LDL = math.Round(clip(p.TotalChol-p.HDL-tg/5, 20, 300))
	hr := 72 + 10*r.NormFloat64()
	if p.Smoking == SmokingCurrent {
		hr += 3
	}
	p.HeartRate = math.Round(clip(hr, 45, 130))

	if g.logit != nil {
		// The logistic outcome has its own stream, so the risk factors
		// above are those of the Framingham mode.
		p.Risk = logistic(g.logit.eta(p))
		p.CVD10y = g.out.Float64() < p.Risk
		return
	}
	p.Risk = Risk10y(p.Factors())
	p.CVD10y = r.Float64() < p.Risk
}

// identify draws the identifiers, from their own stream so that changing
// them never changes the clinical values.
func (g *generator) identify(i int, p *Person) {
	r := g.ids
	p.ID = uuid(r.Uint64(), r.Uint64())
	p.MRN = fmt.Sprintf("MRN%09d", (g.mrnA*uint64(i)+g.mrnB)%1_000_000_000)
	if p.Sex == "male" {
		p.Given = pick(r, givenMale)
		p.Prefix = "Mr."
	} else {
		p.Given = pick(r, givenFemale)
		p.Prefix = "Ms."
		if r.Float64() < 0.6 {
			p.Prefix = "Mrs."
		}
	}
	p.Given += suffix(r)
	p.Family = pick(r, families) + suffix(r)
	p.MothersMaidenName = pick(r, givenFemale) + suffix(r) + " " + pick(r, families) + suffix(r)
	// Born so that the age at the reference date is exactly Age; the
	// nudge covers a 29 February that AddDate rolled into March.
	p.BirthDate = g.ref.AddDate(-p.Age, 0, -r.IntN(365))
	for AgeAt(p.BirthDate, g.ref) < p.Age {
		p.BirthDate = p.BirthDate.AddDate(0, 0, -1)
	}
	p.VisitDate = g.ref.AddDate(0, 0, -1-r.IntN(365))
	p.Street = fmt.Sprintf("%d %s %s", 1+r.IntN(9999), pick(r, streets), pick(r, streetTypes))
	if r.Float64() < 0.2 {
		p.Street += fmt.Sprintf(" Apt %d", 1+r.IntN(40))
	}
	pl := pick(r, places)
	if r.Float64() < restrictedShare {
		pl = pick(r, restrictedPlaces)
	}
	p.City, p.State, p.ZIP = pl.city, pl.state, pl.zip
	if r.Float64() < 0.3 {
		p.ZIP += fmt.Sprintf("-%04d", r.IntN(10000))
	}
	p.Phone = fmt.Sprintf("555-%03d-%04d", r.IntN(1000), r.IntN(10000))
	p.SSN = fmt.Sprintf("999-%02d-%04d", 10+r.IntN(90), r.IntN(10000))
	p.DriversLicence = fmt.Sprintf("S99%07d", r.IntN(10_000_000))
	p.Passport = fmt.Sprintf("X%08dX", r.IntN(100_000_000))
	p.Note = g.note(p)
}

// restrictedShare of people live in a restricted 3-digit ZIP area.
const restrictedShare = 0.03

func (g *generator) note(p *Person) string {
	findings := ""
	if p.Smoking == SmokingCurrent {
		findings += " Current every-day smoker; counselled to quit."
	}
	if p.Hypertension {
		findings += " Known hypertension."
	}
	if p.Diabetes {
		findings += " Type 2 diabetes."
	}
	return fmt.Sprintf("%s %s %s (%s, born %s) is a %d-year-old %s seen on %s. Lives at %s, %s, %s %s; phone %s. BP %.0f/%.0f.%s",
		p.Prefix, p.Given, p.Family, p.MRN, p.BirthDate.Format(time.DateOnly), p.Age, p.Sex, p.VisitDate.Format(time.DateOnly),
		p.Street, p.City, p.State, p.ZIP, p.Phone, p.SBP, p.DBP, findings)
}

// AgeAt is the age in whole years on day ref of someone born on birth: a
// year is reached on the birthday itself.
func AgeAt(birth, ref time.Time) int {
	age := ref.Year() - birth.Year()
	if ref.Month() < birth.Month() || (ref.Month() == birth.Month() && ref.Day() < birth.Day()) {
		age--
	}
	return age
}

// suffix is the numeric suffix Synthea gives names, which makes each one a
// string that appears nowhere else.
func suffix(r *rand.Rand) string { return fmt.Sprint(10 + r.IntN(990)) }

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

func uuid(hi, lo uint64) string {
	hi = hi&^0xf000 | 0x4000     // version 4
	lo = lo&^(0xc<<60) | 0x8<<60 // RFC 4122 variant
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", hi>>32, hi>>16&0xffff, hi&0xffff, lo>>48, lo&0xffffffffffff)
}

func clip(x, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, x)) }
func round1(x float64) float64       { return math.Round(x*10) / 10 }
func logistic(x float64) float64     { return 1 / (1 + math.Exp(-x)) }
