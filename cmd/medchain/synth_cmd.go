package main

import (
	"context"
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
  truth.csv                         always: patient_id, true_risk, cvd_10y — the answer key,
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

The outcome is in the ingested data only with --with-outcome (as the CSV column cvd_10y);
the true risk never is. The same --seed, --n and --ref-date give the same bytes. Each file
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
			s := synthRun{ctx: ctx, out: out, bar: bar, outcome: outcome}
			start := time.Now()
			sum, err := s.run(cfg, outputs)
			bar.finish()
			if err != nil {
				if ctx.Err() != nil {
					return fail("interrupted: the files already complete are in %s; no partial file was left", out)
				}
				return err
			}
			sum.Format, sum.Seconds = format, time.Since(start).Seconds()
			return (&env{g: g}).show(cmd, sum, func(w io.Writer) { sum.human(w) })
		},
	}
	f := cmd.Flags()
	f.IntVar(&n, "n", 1000, "number of patients")
	f.Int64Var(&seed, "seed", 1, "random seed: the same seed gives the same cohort")
	f.StringVar(&out, "out", "", "directory to write to (created if missing)")
	f.StringVar(&format, "format", "csv", "csv, fhir, ndjson or all")
	f.StringVar(&refDate, "ref-date", synth.DefaultRefDate.Format(time.DateOnly), "reference date: ages count to it, the 10-year horizon starts at it; ingest with the same")
	f.BoolVar(&outcome, "with-outcome", false, "put the cvd_10y outcome in cohort.csv too (it is always in truth.csv)")
	f.StringVar(&model, "outcome", synth.OutcomeFramingham, "outcome model: framingham or logistic (known coefficients; see --logistic-coefficients)")
	f.StringVar(&coefFile, "logistic-coefficients", "", "JSON file of the logistic model's intercept and coefficients (default: a CVD-like model)")
	f.BoolVar(&progress, "progress", isTerminal(os.Stderr), "show a progress bar on stderr (default: when stderr is a terminal)")
	return cmd
}

// synthSummary is what synth prints (as JSON with --json).
type synthSummary struct {
	N        int        `json:"n"`
	Seed     int64      `json:"seed"`
	RefDate  string     `json:"ref_date"`
	Outcome  string     `json:"outcome"` // the outcome model: framingham or logistic
	Format   string     `json:"format"`
	Out      string     `json:"out"`
	Files    []fileInfo `json:"files"`
	Events   int        `json:"events"`    // people with cvd_10y
	MeanRisk float64    `json:"mean_risk"` // mean true 10-year risk
	Seconds  float64    `json:"seconds"`
}

type fileInfo struct {
	Path  string `json:"path"` // relative to Out; fhir/ counts its bundles
	Files int    `json:"files,omitempty"`
	Bytes int64  `json:"bytes"`
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

type synthRun struct {
	ctx     context.Context
	out     string
	bar     *progressBar
	outcome bool
	sum     synthSummary
}

func (s *synthRun) run(cfg synth.Config, outputs []string) (*synthSummary, error) {
	if err := os.MkdirAll(s.out, 0o755); err != nil {
		return nil, err
	}
	s.bar.phase("generate")
	cfg.Progress = s.bar.within
	people, err := synth.Generate(cfg)
	if err != nil {
		return nil, err
	}
	s.bar.next()
	model, err := cfg.Model()
	if err != nil {
		return nil, err
	}
	s.sum = synthSummary{N: cfg.N, Seed: cfg.Seed, RefDate: model.RefDate, Outcome: model.Outcome, Out: s.out}
	for i := range people {
		s.sum.MeanRisk += people[i].Risk / float64(len(people))
		if people[i].CVD10y {
			s.sum.Events++
		}
	}
	opts := []synth.Option{synth.WithContext(s.ctx), synth.WithProgress(s.bar.within)}
	csvOpts := opts
	if s.outcome {
		csvOpts = append(csvOpts, synth.WithOutcome())
	}
	for _, o := range outputs {
		s.bar.phase(o)
		switch o {
		case "csv":
			err = s.write("cohort.csv", func(w io.Writer) error { return synth.WriteCSV(w, people, csvOpts...) })
			if err == nil {
				err = s.write("cohort.mapping.json", func(w io.Writer) error { return synth.WriteCSVMapping(w, csvOpts...) })
			}
		case "fhir":
			err = s.writeBundles(people)
		case "ndjson":
			err = s.writeNDJSON(people, opts)
		}
		if err != nil {
			return nil, err
		}
		s.bar.next()
	}
	s.bar.phase("truth")
	if err := s.write("truth.csv", func(w io.Writer) error { return synth.WriteTruth(w, people, opts...) }); err != nil {
		return nil, err
	}
	if model.Outcome == synth.OutcomeLogistic {
		if err := s.write("truth.model.json", func(w io.Writer) error { return synth.WriteTruthModel(w, cfg) }); err != nil {
			return nil, err
		}
	}
	s.bar.next()
	return &s.sum, nil
}

// write writes one file atomically and records its size.
func (s *synthRun) write(name string, fn func(io.Writer) error) error {
	path := filepath.Join(s.out, name)
	if err := synth.WriteFile(path, fn); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	s.sum.Files = append(s.sum.Files, fileInfo{Path: name, Bytes: st.Size()})
	return nil
}

// writeBundles writes one Bundle per patient, named by the patient's id
// rather than their name (as Synthea does) so that file names, which end up
// in error messages and logs, identify no one.
func (s *synthRun) writeBundles(people []synth.Person) error {
	dir := filepath.Join(s.out, "fhir")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	info := fileInfo{Path: "fhir" + string(filepath.Separator)}
	for i := range people {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		cw := &countingWriter{}
		path := filepath.Join(dir, people[i].ID+".json")
		err := synth.WriteFile(path, func(w io.Writer) error {
			cw.w = w
			return synth.WriteFHIRBundle(cw, people[i])
		})
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		info.Files++
		info.Bytes += cw.n
		if (i+1)%256 == 0 || i+1 == len(people) {
			s.bar.within(i + 1)
		}
	}
	s.sum.Files = append(s.sum.Files, info)
	return nil
}

func (s *synthRun) writeNDJSON(people []synth.Person, opts []synth.Option) error {
	dir := filepath.Join(s.out, "ndjson")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := synth.WriteFHIRNDJSON(dir, people, opts...); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	for _, name := range synth.NDJSONFiles {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		s.sum.Files = append(s.sum.Files, fileInfo{Path: filepath.Join("ndjson", name), Bytes: st.Size()})
	}
	return nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
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

func (b *progressBar) phase(label string) {
	b.label, b.weight = label, phaseWeight[label]
	b.draw(false)
}

// within sets how many people the current phase has done.
func (b *progressBar) within(people int) { b.done = b.base + people*b.weight; b.draw(false) }

// next closes the current phase.
func (b *progressBar) next() { b.base += b.people * b.weight; b.done = b.base; b.draw(false) }

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
