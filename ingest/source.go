package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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
	sums     []SourceFile // one per file, filled as it is read
}

// SourceFile identifies one file of a source without its name: its
// position in the read order (what errors and reports call "file N") and
// the SHA-256 and size of its bytes, so the operator can tell which file
// it is (sha256sum) while a report never carries a file name, which may
// be an identifier (exports named by patient id).
type SourceFile struct {
	File   int    `json:"file"`
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// noPath is an I/O error without the path it names: source paths may
// carry identifiers too.
func noPath(what string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %s: %w", what, pe.Op, pe.Err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// openSource lists the files of a source.
func openSource(path string, format Format, mapping *csvsrc.Mapping) (*source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, noPath("source", err)
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
			return nil, noPath("source directory", err)
		}
		slices.Sort(s.files)
		if len(s.files) == 0 {
			return nil, fmt.Errorf("source directory: no *%s files", ext)
		}
	} else {
		s.files = []string{path}
	}
	for i, f := range s.files {
		if st, err := os.Stat(f); err == nil {
			s.total += st.Size()
		}
		s.sums = append(s.sums, SourceFile{File: i + 1})
	}
	return s, nil
}

// label is how errors and reports call file i (0-based): "file 3", its
// position in the (sorted) read order. Not its name, which may carry a
// patient id; not its path, which says where the institution keeps its
// exports.
func label(i int) string { return "file " + strconv.Itoa(i+1) }

// counter counts the bytes read through it, for progress, and hashes them
// for the file's SourceFile.
type counter struct {
	r   io.Reader
	s   *source
	i   int // file index
	h   hash.Hash
	raw *bytes.Buffer // the file's bytes, when a FHIR bundle's original is kept
}

func (s *source) counter(i int, r io.Reader) *counter {
	return &counter{r: r, s: s, i: i, h: sha256.New()}
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.s.done += int64(n)
	c.h.Write(p[:n])
	if c.raw != nil {
		c.raw.Write(p[:n])
	}
	c.s.sums[c.i].Bytes += int64(n)
	if c.s.progress != nil && n > 0 {
		c.s.progress(c.s.done, c.s.total)
	}
	return n, err
}

// finish reads what the parser left (after a problem, or trailing bytes)
// so the file's hash covers all of it, and records the hash.
func (c *counter) finish() error {
	if _, err := io.Copy(io.Discard, c); err != nil {
		return noPath("source "+label(c.i), err)
	}
	c.s.sums[c.i].SHA256 = hex.EncodeToString(c.h.Sum(nil))
	return nil
}

func (s *source) read(fn func(item) error) error {
	switch s.format {
	case CSV:
		for i, path := range s.files {
			if err := s.withFile(i, path, func(r io.Reader) error {
				return csvsrc.ReadRows(label(i), r, *s.mapping, func(p *record.Patient, problem *record.InputError) error {
					return fn(item{patient: p, problem: problem})
				})
			}); err != nil {
				return err
			}
		}
		return nil
	case FHIR:
		for i, path := range s.files {
			var p *record.Patient
			var raw bytes.Buffer
			err := s.withFile(i, path, func(r io.Reader) error {
				r.(*counter).raw = &raw
				var err error
				p, err = fhir.ReadBundle(label(i), r)
				return err
			})
			if p != nil {
				// finish has read the whole file through the counter.
				p.Original = &record.Original{MediaType: "application/fhir+json", Data: raw.Bytes()}
			}
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
		var cs []*counter
		for i, path := range s.files {
			f, err := os.Open(path)
			if err != nil {
				return noPath("source "+label(i), err)
			}
			defer f.Close()
			c := s.counter(i, f)
			files[label(i)] = c
			cs = append(cs, c)
		}
		if err := fhir.ReadNDJSON(files, func(p *record.Patient) error { return fn(item{patient: p}) }); err != nil {
			return err
		}
		for _, c := range cs {
			if err := c.finish(); err != nil {
				return err
			}
		}
		return nil
	}
}

// withFile opens file i and runs fn on it; a problem fn reports with the
// file (a record.InputError) comes back as it is, after the rest of the
// file is read for its hash.
func (s *source) withFile(i int, path string, fn func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return noPath("source "+label(i), err)
	}
	defer f.Close()
	c := s.counter(i, f)
	err = fn(c)
	var ie *record.InputError
	if err != nil && !errors.As(err, &ie) {
		return err
	}
	if ferr := c.finish(); ferr != nil {
		return ferr
	}
	return err
}
