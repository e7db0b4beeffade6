package fhir

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/medchain/medchain/record"
)

// maxLine bounds one NDJSON line: a resource with its attachments.
const maxLine = 256 << 20

// ReadNDJSON reads a FHIR Bulk Data export — NDJSON files, one resource
// per line, typically one file per resource type (Patient.ndjson,
// Observation.ndjson, …) — and calls fn with each patient and the
// resources that refer to it ("Patient/<id>"), in the order the Patients
// appear (files in name order). files maps file names, used in errors, to
// their contents. A patient's resources may be anywhere in the export, so
// every patient is held in memory until all files are read. Errors name
// the file and the line.
func ReadNDJSON(files map[string]io.Reader, fn func(*record.Patient) error) error {
	x := export{byID: make(map[string]*gatherer)}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if err := x.readFile(name, files[name]); err != nil {
			return err
		}
	}
	for _, w := range x.waiting {
		if err := x.attach(w.file, w.part); err != nil {
			return err
		}
	}
	for _, g := range x.order {
		if err := fn(g.pt); err != nil {
			return err
		}
	}
	return nil
}

// ReadNDJSONDir reads the *.ndjson files of a directory with ReadNDJSON.
func ReadNDJSONDir(dir string, fn func(*record.Patient) error) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	if err != nil {
		return err
	}
	files := make(map[string]io.Reader, len(paths))
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		files[p] = f
	}
	return ReadNDJSON(files, fn)
}

type export struct {
	byID    map[string]*gatherer
	order   []*gatherer
	waiting []waiting
}

type waiting struct {
	file string
	part *part
}

func (x *export) readFile(name string, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		at := "line " + strconv.Itoa(n)
		typ, lerr := resourceType(line)
		if lerr != nil {
			if lerr.path != "" {
				at += ": " + lerr.path
			}
			return &record.InputError{Source: name, Where: at, Reason: lerr.reason}
		}
		// Paths start at the resource type, as in FHIRPath: "Observation.valueQuantity.value".
		where := at + ": " + typ
		p, lerr := decodeResource(line, typ, where)
		if lerr != nil {
			return &record.InputError{Source: name, Where: join(where, lerr.path), Reason: lerr.reason}
		}
		if p.patient == nil {
			x.waiting = append(x.waiting, waiting{name, p})
			continue
		}
		if x.byID[p.patient.ID] != nil {
			return &record.InputError{Source: name, Where: where + ".id", Reason: "a second Patient with the same id"}
		}
		p.patient.Source = name
		g := newGatherer(p.patient)
		g.add(p)
		x.byID[p.patient.ID] = g
		x.order = append(x.order, g)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &record.InputError{Source: name, Where: "line " + strconv.Itoa(n+1), Reason: "line longer than " + strconv.Itoa(maxLine>>20) + " MiB"}
		}
		return fmt.Errorf("%s: reading: %w", name, err)
	}
	return nil
}

func (x *export) attach(file string, p *part) error {
	if p.ref == "" {
		if p.needRef {
			return &record.InputError{Source: file, Where: join(p.where, p.refPath), Reason: "missing reference to the patient"}
		}
		return nil // not a patient's resource
	}
	missing := &record.InputError{Source: file, Where: join(p.where, p.refPath), Reason: "refers to a patient not in the export"}
	if strings.HasPrefix(p.ref, "urn:") {
		return missing // an export has no fullUrls to resolve it against
	}
	typ, id := splitRef(p.ref)
	if typ != "Patient" {
		return nil // about a Group, a Location…: not one patient's data
	}
	g := x.byID[id]
	if g == nil {
		return missing
	}
	g.add(p)
	return nil
}
