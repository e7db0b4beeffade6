package ingest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/medchain/medchain/csvsrc"
	"github.com/medchain/medchain/fhir"
	"github.com/medchain/medchain/record"
)

// Format is a source format.
type Format string

// Source formats.
const (
	CSV    Format = "csv"    // one row per patient, with a column mapping
	FHIR   Format = "fhir"   // a Bundle per patient (a file, or every *.json of a directory)
	NDJSON Format = "ndjson" // a FHIR Bulk Data export (a *.ndjson file or a directory of them)
)

// Formats lists the source formats.
var Formats = []Format{CSV, FHIR, NDJSON}

// item is what a source yields: a patient, or the problem that kept one
// patient from being read (a malformed CSV row, a FHIR bundle that does
// not parse), which the bad-rows policy then handles like any other bad
// row.
type item struct {
	patient *record.Patient
	problem *record.InputError
}

// source reads one source and calls fn for each item. An error it returns
// is one the reader could not continue past (a CSV header that does not
// fit the mapping, a broken NDJSON export), or fn's own.
type source struct {
	files    []string // in read order
	format   Format
	mapping  *csvsrc.Mapping
	progress func(done, total int64)
	done     int64
	total    int64
}

// openSource lists the files of a source.
func openSource(path string, format Format, mapping *csvsrc.Mapping) (*source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	s := &source{format: format, mapping: mapping}
	ext := map[Format]string{CSV: ".csv", FHIR: ".json", NDJSON: ".ndjson"}[format]
	if ext == "" {
		return nil, fmt.Errorf("source format %q: want one of %v", format, Formats)
	}
	if format == CSV && mapping == nil {
		return nil, errors.New("a CSV source needs a column mapping")
	}
	if st.IsDir() {
		err := filepath.WalkDir(path, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() && p != path {
				return filepath.SkipDir // a source is one directory, not a tree
			}
			if !e.IsDir() && strings.EqualFold(filepath.Ext(p), ext) {
				s.files = append(s.files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		slices.Sort(s.files)
		if len(s.files) == 0 {
			return nil, fmt.Errorf("source %s: no *%s files", path, ext)
		}
	} else {
		s.files = []string{path}
	}
	for _, f := range s.files {
		if st, err := os.Stat(f); err == nil {
			s.total += st.Size()
		}
	}
	return s, nil
}

// name is how errors and reports call a file: its base name. Full paths
// would say where the institution keeps its exports, and nothing needs them.
func name(path string) string { return filepath.Base(path) }

// counter counts the bytes read through it, for progress.
type counter struct {
	r io.Reader
	s *source
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.s.done += int64(n)
	if c.s.progress != nil && n > 0 {
		c.s.progress(c.s.done, c.s.total)
	}
	return n, err
}

func (s *source) read(fn func(item) error) error {
	switch s.format {
	case CSV:
		for _, path := range s.files {
			if err := s.withFile(path, func(r io.Reader) error {
				return csvsrc.ReadRows(name(path), r, *s.mapping, func(p *record.Patient, problem *record.InputError) error {
					return fn(item{patient: p, problem: problem})
				})
			}); err != nil {
				return err
			}
		}
		return nil
	case FHIR:
		for _, path := range s.files {
			var p *record.Patient
			err := s.withFile(path, func(r io.Reader) error {
				var err error
				p, err = fhir.ReadBundle(name(path), r)
				return err
			})
			var ie *record.InputError
			switch {
			case errors.As(err, &ie) && ie.Reason == fhir.ReasonNoPatient:
				continue // an Organization or Practitioner bundle: nobody's record
			case errors.As(err, &ie):
				err = fn(item{problem: ie})
			case err != nil:
				return err
			default:
				err = fn(item{patient: p})
			}
			if err != nil {
				return err
			}
		}
		return nil
	default: // NDJSON: resources of one patient may be in any file, so all are read together
		files := make(map[string]io.Reader, len(s.files))
		for _, path := range s.files {
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("source: %w", err)
			}
			defer f.Close()
			files[name(path)] = &counter{r: f, s: s}
		}
		return fhir.ReadNDJSON(files, func(p *record.Patient) error { return fn(item{patient: p}) })
	}
}

func (s *source) withFile(path string, fn func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	defer f.Close()
	return fn(&counter{r: f, s: s})
}
