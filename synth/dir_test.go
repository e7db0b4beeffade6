package synth_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/synth"
)

// tree reads every file under dir, by relative path.
func tree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(dir, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type phases struct{ seen []string }

func (p *phases) Phase(name string) { p.seen = append(p.seen, name) }
func (p *phases) Within(int)        {}
func (p *phases) Next()             {}

// A cohort directory holds each format asked for and the answer key; the
// summary lists what was written with its size; the same config gives the
// same bytes; the phases are reported in order.
func TestWriteDir(t *testing.T) {
	cfg := synth.Config{N: 25, Seed: 5}
	a, b := t.TempDir(), t.TempDir()
	ph := &phases{}
	sum, err := synth.WriteDir(context.Background(), a, cfg, synth.Formats, synth.DirOptions{WithOutcome: true, Phases: ph})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"generate", "csv", "fhir", "ndjson", "truth"}; !slices.Equal(ph.seen, want) {
		t.Errorf("phases %v, want %v", ph.seen, want)
	}
	files := tree(t, a)
	if _, ok := files["cohort.csv"]; !ok || len(files) != 2+25+len(synth.NDJSONFiles)+1 {
		t.Fatalf("wrote %d files", len(files))
	}
	if !strings.Contains(string(files["cohort.csv"]), "cvd_10y") {
		t.Error("WithOutcome: cohort.csv has no cvd_10y column")
	}
	if sum.N != 25 || sum.Out != a || sum.Events < 0 || sum.MeanRisk <= 0 || sum.MeanRisk >= 1 {
		t.Fatalf("summary %+v", sum)
	}
	for _, f := range sum.Files {
		if f.Files == 0 && int64(len(files[f.Path])) != f.Bytes {
			t.Errorf("%s: summary says %d bytes, file has %d", f.Path, f.Bytes, len(files[f.Path]))
		}
		if f.Path == "fhir"+string(filepath.Separator) && f.Files != 25 {
			t.Errorf("fhir/: %d bundles, want 25", f.Files)
		}
	}
	if _, err := synth.WriteDir(context.Background(), b, cfg, synth.Formats, synth.DirOptions{WithOutcome: true}); err != nil {
		t.Fatal(err)
	}
	again := tree(t, b)
	for name, body := range files {
		if !bytes.Equal(again[name], body) {
			t.Errorf("%s differs between two runs of the same config", name)
		}
	}
	if _, err := synth.WriteDir(context.Background(), t.TempDir(), cfg, []string{"xml"}, synth.DirOptions{}); err == nil {
		t.Error("an unknown format was accepted")
	}
}

// A cancelled write leaves no partial file.
func TestWriteDirCancelled(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := synth.WriteDir(ctx, dir, synth.Config{N: 300, Seed: 1}, synth.Formats, synth.DirOptions{}); err == nil {
		t.Fatal("a cancelled write succeeded")
	}
	for name := range tree(t, dir) {
		if strings.HasPrefix(filepath.Base(name), ".") {
			t.Errorf("a temporary file was left: %s", name)
		}
	}
}
