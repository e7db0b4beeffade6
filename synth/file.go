package synth

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// WriteFile writes a file atomically: into a hidden temporary file in the
// same directory, then renamed over path. An interrupted or failed write
// leaves no partial file under path (at worst a hidden .tmp file after a
// kill -9). It does not fsync: a cohort is reproducible from its seed, and
// syncing each of 100,000 FHIR bundles more than doubles the time, so a
// power cut is answered by running synth again rather than by a sync.
// The file is private to its owner (mode 0600): it looks identifiable.
func WriteFile(path string, write func(w io.Writer) error) error {
	f, err := createAtomic(path)
	if err != nil {
		return err
	}
	if err := write(f.w); err != nil {
		f.abort()
		return err
	}
	return f.commit()
}

type atomicFile struct {
	path string
	f    *os.File
	w    *bufio.Writer
	done bool
}

func createAtomic(path string) (*atomicFile, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return nil, err
	}
	return &atomicFile{path: path, f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

func (a *atomicFile) commit() error {
	if a.done {
		return nil
	}
	a.done = true
	err := a.w.Flush()
	if cerr := a.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(a.f.Name(), a.path)
	}
	if err != nil {
		os.Remove(a.f.Name())
	}
	return err
}

// abort removes the temporary file; after commit it does nothing.
func (a *atomicFile) abort() {
	if a.done {
		return
	}
	a.done = true
	a.f.Close()
	os.Remove(a.f.Name())
}
