package synth

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
)

// Formats are the source formats a cohort directory can hold: csv
// (cohort.csv and cohort.mapping.json), fhir (fhir/<patient id>.json, one
// transaction Bundle per patient) and ndjson (ndjson/<Type>.ndjson, a FHIR
// Bulk Data export).
var Formats = []string{"csv", "fhir", "ndjson"}

// Phases is what writing a cohort directory goes through, in order:
// "generate", then each format written, then "truth".
type Phases interface {
	Phase(name string) // a phase begins
	Within(people int) // the current phase has done this many people
	Next()             // the current phase is done
}

// DirSummary is what WriteDir wrote.
type DirSummary struct {
	N        int       `json:"n"`
	Seed     int64     `json:"seed"`
	RefDate  string    `json:"ref_date"`
	Outcome  string    `json:"outcome"` // the outcome model: framingham or logistic
	Out      string    `json:"out"`
	Files    []DirFile `json:"files"`
	Events   int       `json:"events"`    // people with cvd_10y
	MeanRisk float64   `json:"mean_risk"` // mean true 10-year risk
}

// DirFile is one file (or, for fhir/, the directory of bundles) written.
type DirFile struct {
	Path  string `json:"path"` // relative to Out; fhir/ counts its bundles
	Files int    `json:"files,omitempty"`
	Bytes int64  `json:"bytes"`
}

// DirOptions adjust WriteDir.
type DirOptions struct {
	// WithOutcome puts the cvd_10y outcome in cohort.csv too (it is always
	// in truth.csv).
	WithOutcome bool
	// Phases, if set, is told how far the writing has got.
	Phases Phases
}

type noPhases struct{}

func (noPhases) Phase(string) {}
func (noPhases) Within(int)   {}
func (noPhases) Next()        {}

// WriteDir generates the cohort cfg describes and writes it into dir in
// the formats named (from Formats), with the answer key: truth.csv
// (patient_id, true_risk, cvd_10y) and, for a logistic outcome,
// truth.model.json. Each file is written under a temporary name and
// renamed when complete, so a cancelled ctx leaves no partial file. The
// same cfg gives the same bytes.
func WriteDir(ctx context.Context, dir string, cfg Config, formats []string, o DirOptions) (*DirSummary, error) {
	for _, f := range formats {
		if !slices.Contains(Formats, f) {
			return nil, fmt.Errorf("format %q: want one of %v", f, Formats)
		}
	}
	ph := o.Phases
	if ph == nil {
		ph = noPhases{}
	}
	w := dirWriter{ctx: ctx, out: dir, ph: ph}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ph.Phase("generate")
	cfg.Progress = ph.Within
	people, err := Generate(cfg)
	if err != nil {
		return nil, err
	}
	ph.Next()
	model, err := cfg.Model()
	if err != nil {
		return nil, err
	}
	w.sum = DirSummary{N: cfg.N, Seed: cfg.Seed, RefDate: model.RefDate, Outcome: model.Outcome, Out: dir}
	for i := range people {
		w.sum.MeanRisk += people[i].Risk / float64(len(people))
		if people[i].CVD10y {
			w.sum.Events++
		}
	}
	opts := []Option{WithContext(ctx), WithProgress(ph.Within)}
	csvOpts := opts
	if o.WithOutcome {
		csvOpts = append(csvOpts, WithOutcome())
	}
	for _, f := range formats {
		ph.Phase(f)
		switch f {
		case "csv":
			err = w.write("cohort.csv", func(out io.Writer) error { return WriteCSV(out, people, csvOpts...) })
			if err == nil {
				err = w.write("cohort.mapping.json", func(out io.Writer) error { return WriteCSVMapping(out, csvOpts...) })
			}
		case "fhir":
			err = w.writeBundles(people)
		case "ndjson":
			err = w.writeNDJSON(people, opts)
		}
		if err != nil {
			return nil, err
		}
		ph.Next()
	}
	ph.Phase("truth")
	if err := w.write("truth.csv", func(out io.Writer) error { return WriteTruth(out, people, opts...) }); err != nil {
		return nil, err
	}
	if model.Outcome == OutcomeLogistic {
		if err := w.write("truth.model.json", func(out io.Writer) error { return WriteTruthModel(out, cfg) }); err != nil {
			return nil, err
		}
	}
	ph.Next()
	return &w.sum, nil
}

type dirWriter struct {
	ctx context.Context
	out string
	ph  Phases
	sum DirSummary
}

// write writes one file atomically and records its size.
func (d *dirWriter) write(name string, fn func(io.Writer) error) error {
	path := filepath.Join(d.out, name)
	if err := WriteFile(path, fn); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	d.sum.Files = append(d.sum.Files, DirFile{Path: name, Bytes: st.Size()})
	return nil
}

// writeBundles writes one Bundle per patient, named by the patient's id
// rather than their name (as Synthea does) so that file names, which end up
// in error messages and logs, identify no one.
func (d *dirWriter) writeBundles(people []Person) error {
	dir := filepath.Join(d.out, "fhir")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	info := DirFile{Path: "fhir" + string(filepath.Separator)}
	for i := range people {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		cw := &countingWriter{}
		path := filepath.Join(dir, people[i].ID+".json")
		err := WriteFile(path, func(w io.Writer) error {
			cw.w = w
			return WriteFHIRBundle(cw, people[i])
		})
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		info.Files++
		info.Bytes += cw.n
		if (i+1)%256 == 0 || i+1 == len(people) {
			d.ph.Within(i + 1)
		}
	}
	d.sum.Files = append(d.sum.Files, info)
	return nil
}

func (d *dirWriter) writeNDJSON(people []Person, opts []Option) error {
	dir := filepath.Join(d.out, "ndjson")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := WriteFHIRNDJSON(dir, people, opts...); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	for _, name := range NDJSONFiles {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		d.sum.Files = append(d.sum.Files, DirFile{Path: filepath.Join("ndjson", name), Bytes: st.Size()})
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
