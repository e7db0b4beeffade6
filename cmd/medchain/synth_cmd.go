package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/synth"
)

func synthCmd(g *globals) *cobra.Command {
	var (
		n        int
		seed     int64
		out      string
		format   string
		refDate  string
		outcome  bool
		progress bool
		model    string
		coefFile string
	)
	cmd := &cobra.Command{
		Use:   "synth --out DIR",
		Short: "Write a synthetic cohort with known 10-year CVD risk (Framingham), as CSV and/or FHIR",
		Long: `Write a synthetic cohort of patients whose 10-year cardiovascular risk is known: the
Framingham general CVD model (D'Agostino 2008) applied to realistic risk factors, with each
outcome drawn from that risk. Every patient carries the identifiers a hospital export has
(names, addresses, phone, SSN, MRN, licence, passport, exact dates, a free-text note), for
de-identification to remove.

In DIR:
  cohort.csv, cohort.mapping.json   --format csv (the default) or all
  fhir/<patient id>.json            --format fhir or all: one transaction Bundle per patient
  ndjson/<Type>.ndjson              --format ndjson or all: a FHIR Bulk Data export
  truth.csv                         always: patient_id, true_risk, cvd_10y, cvd_time, cvd_event — the answer key,
                                    not for ingest
  truth.model.json                  --outcome logistic: the model and coefficients the outcome
                                    was drawn from

--outcome logistic draws the outcome instead from a logistic model with known coefficients,
cvd_10y ~ Bernoulli(1/(1+exp(−η))), η = intercept + Σ coefficient·factor, on the same risk
factors (the same --seed gives the same patients, only the outcome and true_risk differ).
The coefficients are a CVD-like default unless --logistic-coefficients names a JSON file
{"intercept": -8.9, "coefficients": {"age": 0.07, "smoker": 0.6, ...}}, over the factors
(raw units; the indicators 0/1): male, age (years), total_chol, hdl, ldl, glucose (mg/dL),
sbp, dbp (mm[Hg]), bmi (kg/m2), hba1c (%), heart_rate (/min), smoker (current),
former_smoker, diabetes, hypertension, bp_treated. A factor not named has coefficient 0.

Every patient also has a follow-up, drawn from a Weibull proportional-hazards model with
known coefficients (synth.DefaultHazard: log hazard ratios age 0.06/year, sbp 0.012,
total_chol 0.004, hdl −0.02, smoker 0.55, diabetes 0.6, male 0.4; shape 1.2; 3% a year
lost to follow-up; 15 years at most; tenths of a year): cvd_time (years) and cvd_event
(whether it ended with a CVD event), for survival analyses.

The outcomes are in the ingested data only with --with-outcome (as the CSV columns cvd_10y,
cvd_event and cvd_time); the true risk never is. The same --seed, --n and --ref-date give the same bytes. Each file
is written under a temporary name and renamed when complete, so an interrupted run leaves
no partial file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			formats := map[string][]string{"csv": {"csv"}, "fhir": {"fhir"}, "ndjson": {"ndjson"}, "all": {"csv", "fhir", "ndjson"}}
			outputs, ok := formats[format]
			switch {
			case !ok:
				return fail("--format %q: want csv, fhir, ndjson or all", format)
			case out == "":
				return fail("--out is required: the directory to write the cohort to")
			case n < 1 || n > synth.MaxN:
				return fail("--n %d: want 1…%d", n, synth.MaxN)
			}
			ref, err := time.Parse(time.DateOnly, refDate)
			if err != nil {
				return fail("--ref-date %q: want YYYY-MM-DD", refDate)
			}
			cfg := synth.Config{N: n, Seed: seed, RefDate: ref, Outcome: model}
			switch {
			case model != synth.OutcomeFramingham && model != synth.OutcomeLogistic:
				return fail("--outcome %q: want %s or %s", model, synth.OutcomeFramingham, synth.OutcomeLogistic)
			case coefFile != "" && model != synth.OutcomeLogistic:
				return fail("--logistic-coefficients needs --outcome logistic")
			case coefFile != "":
				fh, err := os.Open(coefFile)
				if err != nil {
					return fail("--logistic-coefficients: %v", err)
				}
				m, err := synth.ReadLogistic(fh)
				fh.Close()
				if err != nil {
					return fail("--logistic-coefficients %s: %v", coefFile, err)
				}
				cfg.Logistic = &m
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			total := phaseWeight["generate"] + phaseWeight["truth"]
			for _, o := range outputs {
				total += phaseWeight[o]
			}
			bar := &progressBar{w: cmd.ErrOrStderr(), on: progress, people: n, total: n * total}
			start := time.Now()
			ds, err := synth.WriteDir(ctx, out, cfg, outputs, synth.DirOptions{WithOutcome: outcome, Phases: bar})
			bar.finish()
			if err != nil {
				if ctx.Err() != nil {
					return fail("interrupted: the files already complete are in %s; no partial file was left", out)
				}
				return err
			}
			sum := &synthSummary{DirSummary: *ds, Format: format, Seconds: time.Since(start).Seconds()}
			return (&env{g: g}).show(cmd, sum, func(w io.Writer) { sum.human(w) })
		},
	}
	f := cmd.Flags()
	f.IntVar(&n, "n", 1000, "number of patients")
	f.Int64Var(&seed, "seed", 1, "random seed: the same seed gives the same cohort")
	f.StringVar(&out, "out", "", "directory to write to (created if missing)")
	f.StringVar(&format, "format", "csv", "csv, fhir, ndjson or all")
	f.StringVar(&refDate, "ref-date", synth.DefaultRefDate.Format(time.DateOnly), "reference date: ages count to it, the 10-year horizon starts at it; ingest with the same")
	f.BoolVar(&outcome, "with-outcome", false, "put the outcomes (cvd_10y, cvd_event, cvd_time) in cohort.csv too (they are always in truth.csv)")
	f.StringVar(&model, "outcome", synth.OutcomeFramingham, "outcome model: framingham or logistic (known coefficients; see --logistic-coefficients)")
	f.StringVar(&coefFile, "logistic-coefficients", "", "JSON file of the logistic model's intercept and coefficients (default: a CVD-like model)")
	f.BoolVar(&progress, "progress", isTerminal(os.Stderr), "show a progress bar on stderr (default: when stderr is a terminal)")
	return cmd
}

// synthSummary is what synth prints (as JSON with --json).
type synthSummary struct {
	synth.DirSummary
	Format  string  `json:"format"`
	Seconds float64 `json:"seconds"`
}

func (s *synthSummary) human(w io.Writer) {
	fmt.Fprintf(w, "cohort:\t%d patients, seed %d, reference date %s\n", s.N, s.Seed, s.RefDate)
	if s.Outcome == synth.OutcomeLogistic {
		fmt.Fprintf(w, "outcome:\tlogistic model with known coefficients (truth.model.json)\n")
	}
	fmt.Fprintf(w, "truth:\t%d CVD events in 10 years (%.1f%%); mean true risk %.1f%%\n",
		s.Events, 100*float64(s.Events)/float64(s.N), 100*s.MeanRisk)
	for _, f := range s.Files {
		what := humanBytes(f.Bytes)
		if f.Files > 0 {
			what = fmt.Sprintf("%d files, %s", f.Files, what)
		}
		fmt.Fprintf(w, "wrote:\t%s\t%s\n", filepath.Join(s.Out, f.Path), what)
	}
	fmt.Fprintf(w, "took:\t%.1fs\n", s.Seconds)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// isTerminal reports whether f is a terminal (a character device), which
// is all the progress bar needs to know.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// phaseWeight is roughly what one person costs in each phase, relative to
// generating them (measured: a FHIR bundle file costs about twenty times
// as much), so that the bar moves at a steady pace.
var phaseWeight = map[string]int{"generate": 1, "csv": 1, "fhir": 20, "ndjson": 5, "truth": 1}

// progressBar draws one line on stderr, redrawn in place with a carriage
// return at most ten times a second. The total is in weighted
// people-steps: each phase moves every person once, at its weight.
type progressBar struct {
	w      io.Writer
	on     bool
	people int
	total  int
	base   int // steps of the phases already finished
	done   int
	label  string
	weight int
	last   time.Time
}

var _ synth.Phases = (*progressBar)(nil)

// Phase begins a phase.
func (b *progressBar) Phase(label string) {
	b.label, b.weight = label, phaseWeight[label]
	b.draw(false)
}

// Within sets how many people the current phase has done.
func (b *progressBar) Within(people int) { b.done = b.base + people*b.weight; b.draw(false) }

// Next closes the current phase.
func (b *progressBar) Next() { b.base += b.people * b.weight; b.done = b.base; b.draw(false) }

func (b *progressBar) draw(force bool) {
	if !b.on || (!force && time.Since(b.last) < 100*time.Millisecond) {
		return
	}
	b.last = time.Now()
	const width = 30
	frac := float64(b.done) / float64(max(1, b.total))
	full := int(frac * width)
	fmt.Fprintf(b.w, "\rsynth %-9s [%s%s] %3.0f%%", b.label, strings.Repeat("#", full), strings.Repeat(".", width-full), 100*frac)
}

func (b *progressBar) finish() {
	if b.on {
		b.draw(true)
		fmt.Fprintln(b.w)
	}
}
