package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/medchain/medchain/csvsrc"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
)

// synthea is the repository's Synthea sample (see its README.md): six
// patients' Bundles plus an Organization and a Practitioner bundle.
const (
	synthea         = "../testdata/synthea"
	syntheaPatients = 6
)

var refDate = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeLedger records publications; its behaviour is set per test.
type fakeLedger struct {
	latest    uint64
	fail      error // returned by Publish
	published []*ledger.RegisterDataset
	workers   [][]byte // the institution's registered workers' keys
}

func (l *fakeLedger) WorkerKeys(context.Context) ([][]byte, error) { return l.workers, nil }

func (l *fakeLedger) LatestVersion(context.Context, string) (uint64, error) { return l.latest, nil }

func (l *fakeLedger) Publish(_ context.Context, m *ledger.RegisterDataset) (*ingest.Published, error) {
	if l.fail != nil {
		return nil, l.fail
	}
	l.published = append(l.published, m)
	l.latest = m.Version
	return &ingest.Published{TxHash: fmt.Sprintf("TX%d", m.Version), Height: int64(m.Version)}, nil
}

// env is a vault with the node's key, as a node has it.
type env struct {
	v      *vault.Vault
	node   *vault.Identity
	secret []byte
	ledger *fakeLedger
}

func newEnv(t testing.TB) *env {
	t.Helper()
	v, err := vault.Open(filepath.Join(t.TempDir(), "vault"))
	if err != nil {
		t.Fatal(err)
	}
	node, _ := vault.NodeIdentity(keys.FromSeed("st-mary-admin", [32]byte{1: 1}).Enc)
	secret, err := v.Secret()
	if err != nil {
		t.Fatal(err)
	}
	return &env{v: v, node: node, secret: secret, ledger: &fakeLedger{}}
}

func (e *env) run(o ingest.Options) (*ingest.Report, error) {
	if o.Dataset == "" {
		o.Dataset = "cohort"
	}
	if o.Title == "" {
		o.Title = "test cohort"
	}
	if o.Normalize.RefDate.IsZero() {
		o.Normalize = normalize.DefaultConfig()
		o.Normalize.RefDate = refDate
	}
	return ingest.Run(context.Background(), e.v, e.node, e.secret, e.ledger, o)
}

// rows reads a published version back, by pseudonym.
func (e *env) rows(t *testing.T, rep *ingest.Report) map[string]map[string]record.Value {
	t.Helper()
	r, err := e.v.Open(rep.Dataset, rep.Version, rep.Vault.ContentRoot, e.node)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]record.Value{}
	for row, err := range r.Rows() {
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]record.Value{}
		for i, f := range r.Schema() {
			m[f.Name] = row.Values[i]
		}
		out[row.Pseudonym] = m
	}
	return out
}

// bundle is a FHIR Bundle as generic JSON.
type bundle map[string]any

func readBundle(t testing.TB, path string) bundle {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v bundle
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// resources returns the bundle's resources of a type.
func (b bundle) resources(typ string) []map[string]any {
	var out []map[string]any
	for _, e := range b["entry"].([]any) {
		r := e.(map[string]any)["resource"].(map[string]any)
		if r["resourceType"] == typ {
			out = append(out, r)
		}
	}
	return out
}

// componentValues are the values of an Observation code, as a component
// of a panel (blood pressure) or as the observation itself.
func (b bundle) values(code string) []float64 {
	var out []float64
	has := func(cc any) bool {
		for _, c := range cc.(map[string]any)["coding"].([]any) {
			if c.(map[string]any)["code"] == code {
				return true
			}
		}
		return false
	}
	num := func(x map[string]any) {
		if q, ok := x["valueQuantity"].(map[string]any); ok {
			out = append(out, q["value"].(float64))
		}
	}
	for _, o := range b.resources("Observation") {
		if has(o["code"]) {
			num(o)
		}
		if comps, ok := o["component"].([]any); ok {
			for _, c := range comps {
				if has(c.(map[string]any)["code"]) {
					num(c.(map[string]any))
				}
			}
		}
	}
	return out
}

func (b bundle) patientID() string { return b.resources("Patient")[0]["id"].(string) }

func patientBundles(t testing.TB, dir string) []string {
	t.Helper()
	all, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var out []string
	for _, p := range all {
		if base := filepath.Base(p); !strings.HasPrefix(base, "hospitalInformation") && !strings.HasPrefix(base, "practitionerInformation") {
			out = append(out, p)
		}
	}
	if len(out) != syntheaPatients {
		t.Fatalf("%d patient bundles in %s, want %d", len(out), dir, syntheaPatients)
	}
	return out
}

// Every Synthea bundle ingests, and each row carries the measurements its
// bundle holds: blood pressure and lipids are among the bundle's values.
func TestSyntheaBundles(t *testing.T) {
	e := newEnv(t)
	rep, err := e.run(ingest.Options{Source: synthea, Format: ingest.FHIR})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsRead != syntheaPatients || rep.RowsKept != syntheaPatients || rep.RowsQuarantined != 0 || rep.Version != 1 {
		t.Fatalf("report: %+v", rep)
	}
	pub := e.ledger.published[0]
	if pub.ContentRoot != rep.Vault.ContentRoot || pub.RecordBand != "<100" || pub.Locator != "vault:cohort/1" || pub.DeidProfile != rep.DeidProfile {
		t.Fatalf("published %+v", pub)
	}
	if want, _ := deid.SafeHarbor().Hash(); rep.DeidProfile != want {
		t.Fatalf("profile hash %s, Safe Harbor's is %s", rep.DeidProfile, want)
	}
	// The schema says what each column measures.
	sbp := pub.Schema[slices.IndexFunc(pub.Schema, func(f ledger.Field) bool { return f.Name == "sbp" })]
	if sbp.Code != "8480-6" || sbp.Unit != "mm[Hg]" || sbp.Type != "number" {
		t.Fatalf("sbp column: %+v", sbp)
	}
	d, _ := deid.New(deid.SafeHarbor(), e.secret)
	rows := e.rows(t, rep)
	checked := map[string]int{}
	for _, path := range patientBundles(t, synthea) {
		b := readBundle(t, path)
		row, ok := rows[d.PatientPseudonym(b.patientID())]
		if !ok {
			t.Fatalf("%s: no row", filepath.Base(path))
		}
		for field, code := range map[string]string{"sbp": "8480-6", "dbp": "8462-4", "total_chol": "2093-3", "hdl": "2085-9", "ldl": "18262-6", "bmi": "39156-5"} {
			in := b.values(code)
			got := row[field]
			if len(in) == 0 {
				if got.Kind != record.KindNull {
					t.Errorf("%s: %s = %v, but the bundle has none", filepath.Base(path), field, got)
				}
				continue
			}
			if got.Kind != record.KindNumber || !slices.ContainsFunc(in, func(x float64) bool { return abs(x-got.Num) < 1e-6 }) {
				t.Errorf("%s: %s = %+v, not one of the bundle's %v", filepath.Base(path), field, got, in)
			}
			checked[field]++
		}
	}
	if checked["sbp"] == 0 || checked["total_chol"] == 0 {
		t.Fatalf("no blood pressure or lipids checked: %v", checked)
	}
	t.Logf("features checked against the bundles: %v", checked)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// badSource is the Synthea patients plus two bad ones: a bundle cut short
// (broken JSON) and a patient whose systolic pressure is 900.
func badSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, p := range patientBundles(t, synthea) {
		b, _ := os.ReadFile(p)
		os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o600)
	}
	carolee := filepath.Join(synthea, "Carolee951_Sanford861_d88f994a-5efa-421d-9c40-5f116d2114a6.json")
	raw, _ := os.ReadFile(carolee)
	os.WriteFile(filepath.Join(dir, "zz-broken.json"), raw[:len(raw)/3], 0o600)
	// A second Carolee, under a new id, with an implausible SBP.
	raw = bytes.ReplaceAll(raw, []byte("d88f994a-5efa-421d-9c40-5f116d2114a6"), []byte("00000000-0000-4000-8000-000000000900"))
	var b bundle
	json.Unmarshal(raw, &b)
	n := 0
	for _, o := range b.resources("Observation") {
		for _, c := range asSlice(o["component"]) {
			c := c.(map[string]any)
			if strings.Contains(fmt.Sprint(c["code"]), "8480-6") {
				c["valueQuantity"].(map[string]any)["value"] = 900.0
				n++
			}
		}
	}
	if n == 0 {
		t.Fatal("no systolic pressure to make implausible")
	}
	out, _ := json.Marshal(b)
	os.WriteFile(filepath.Join(dir, "zz-sbp900.json"), out, 0o600)
	return dir
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// With --bad-rows fail, one bad row means nothing is published and
// nothing of the version stays on disk; the error lists every problem
// with its file and JSON path.
func TestFailPublishesNothing(t *testing.T) {
	e := newEnv(t)
	dir := badSource(t)
	_, err := e.run(ingest.Options{Source: dir, Format: ingest.FHIR, BadRows: ingest.Fail})
	var rej *ingest.RejectedError
	if !errors.As(err, &rej) || rej.Rows != 2 {
		t.Fatalf("got %v, want a rejection of 2 rows", err)
	}
	msg := err.Error()
	src := dir
	for _, want := range []string{fileLabel(t, src, "zz-broken.json") + ": ", fileLabel(t, src, "zz-sbp900.json") + ": Bundle.entry[", "sbp", "nothing was published"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not mention %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "900") || strings.Contains(msg, ".json") {
		t.Errorf("the error repeats the bad value or a file name:\n%s", msg)
	}
	var ie *record.InputError
	if !errors.As(err, &ie) {
		t.Error("the problems are not reachable as *record.InputError")
	}
	if len(e.ledger.published) != 0 {
		t.Fatal("published despite bad rows")
	}
	if vs, _ := e.v.Versions("cohort"); len(vs) != 0 {
		t.Fatalf("versions on disk: %v", vs)
	}
	if files := listFiles(t, e.v.Root()); len(files) != 0 {
		t.Fatalf("files left in the vault: %v", files)
	}
}

// fileLabel is how reports call a file of a source directory: by its
// position in name order, never by its name.
func fileLabel(t *testing.T, dir, name string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	i := slices.Index(files, filepath.Join(dir, name))
	if i < 0 {
		t.Fatalf("%s not in %s", name, dir)
	}
	return fmt.Sprintf("file %d", i+1)
}

// listFiles lists the files under root other than the secret and locks.
func listFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() && filepath.Base(p) != "secret" && !strings.HasSuffix(p, ".lock") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// With --bad-rows quarantine the good rows are published, and the bad
// ones are reported — counts and places in the report, the details in a
// report sealed with the version — without their values.
func TestQuarantine(t *testing.T) {
	e := newEnv(t)
	dir := badSource(t)
	rep, err := e.run(ingest.Options{Source: dir, Format: ingest.FHIR, BadRows: ingest.Quarantine})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsRead != syntheaPatients+2 || rep.RowsKept != syntheaPatients || rep.RowsQuarantined != 2 || len(e.ledger.published) != 1 {
		t.Fatalf("report: read %d kept %d quarantined %d, published %d", rep.RowsRead, rep.RowsKept, rep.RowsQuarantined, len(e.ledger.published))
	}
	if len(rep.Quarantined) != 2 {
		t.Fatalf("quarantine reasons: %+v", rep.Quarantined)
	}
	if n := len(e.rows(t, rep)); n != syntheaPatients {
		t.Fatalf("%d rows stored, want %d", n, syntheaPatients)
	}
	r, _ := e.v.Open("cohort", 1, rep.Vault.ContentRoot, e.node)
	q, err := r.Quarantine()
	if err != nil || q == nil || q.Rows != 2 {
		t.Fatalf("sealed quarantine report: %+v, %v", q, err)
	}
	var sources []string
	for _, p := range q.Problems {
		sources = append(sources, p.Source)
		if p.Reason == "" || p.Where == "" {
			t.Errorf("problem without place or reason: %+v", p)
		}
	}
	if !slices.Contains(sources, fileLabel(t, dir, "zz-broken.json")) || !slices.Contains(sources, fileLabel(t, dir, "zz-sbp900.json")) {
		t.Fatalf("quarantined sources: %v", sources)
	}
	b, _ := json.Marshal(q)
	if bytes.Contains(b, []byte(`900"`)) || bytes.Contains(b, []byte(": 900")) {
		t.Fatalf("the quarantine report holds the bad value: %s", b)
	}
}

// A failed publication removes the sealed version; one whose outcome is
// unknown keeps it, and the next ingest replaces it if the ledger never
// got it.
func TestPublishFailure(t *testing.T) {
	e := newEnv(t)
	e.ledger.fail = errors.New("unauthorized: not an admin")
	_, err := e.run(ingest.Options{Source: synthea, Format: ingest.FHIR})
	if err == nil || !strings.Contains(err.Error(), "removed from the vault") {
		t.Fatalf("got %v", err)
	}
	if files := listFiles(t, e.v.Root()); len(files) != 0 {
		t.Fatalf("files left after a refused publication: %v", files)
	}

	e.ledger.fail = fmt.Errorf("%w: connection reset", ingest.ErrUncertain)
	_, err = e.run(ingest.Options{Source: synthea, Format: ingest.FHIR})
	if !errors.Is(err, ingest.ErrUncertain) || !e.v.Has("cohort", 1) {
		t.Fatalf("uncertain publication: %v, version kept: %v", err, e.v.Has("cohort", 1))
	}
	// It never committed: the ledger is still at 0, and the next ingest
	// writes version 1 afresh.
	e.ledger.fail = nil
	rep, err := e.run(ingest.Options{Source: synthea, Format: ingest.FHIR})
	if err != nil || rep.Version != 1 {
		t.Fatalf("ingest after the lost publication: %+v, %v", rep, err)
	}
	if _, err := e.v.Open("cohort", 1, rep.Vault.ContentRoot, e.node); err != nil {
		t.Fatalf("the new version 1: %v", err)
	}
	rep2, err := e.run(ingest.Options{Source: synthea, Format: ingest.FHIR})
	if err != nil || rep2.Version != 2 {
		t.Fatalf("next ingest: %+v, %v", rep2, err)
	}
}

// writeCohort writes a synthetic cohort as CSV with its mapping.
func writeCohort(t testing.TB, n int) (csvPath string, m *csvsrc.Mapping) {
	t.Helper()
	people, err := synth.Generate(synth.Config{N: n, Seed: 7, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	csvPath = filepath.Join(dir, "cohort.csv")
	var data, mapping bytes.Buffer
	if err := synth.WriteCSV(&data, people); err != nil {
		t.Fatal(err)
	}
	if err := synth.WriteCSVMapping(&mapping); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(csvPath, data.Bytes(), 0o600)
	mp, err := csvsrc.ParseMapping("cohort.mapping.json", &mapping)
	if err != nil {
		t.Fatal(err)
	}
	return csvPath, &mp
}

func TestCSV(t *testing.T) {
	e := newEnv(t)
	path, m := writeCohort(t, 500)
	rep, err := e.run(ingest.Options{Source: path, Format: ingest.CSV, Mapping: m, ChunkRows: 128})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsKept != 500 || rep.Vault.RecordBand != "100-999" || rep.Vault.Chunks != rep.Vault.Columns*4 {
		t.Fatalf("report: %+v", rep.Vault)
	}
	// A malformed row fails the ingest, named by its row; under quarantine
	// it is set aside and the rest is published.
	raw, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(raw), "\n")
	lines[10] = "not,enough,fields\n"
	os.WriteFile(path, []byte(strings.Join(lines, "")), 0o600)
	_, err = e.run(ingest.Options{Source: path, Format: ingest.CSV, Mapping: m})
	var ie *record.InputError
	if !errors.As(err, &ie) || ie.Source != "file 1" || ie.Where != "row 11" || e.ledger.latest != 1 {
		t.Fatalf("malformed row: %v", err)
	}
	rep, err = e.run(ingest.Options{Source: path, Format: ingest.CSV, Mapping: m, BadRows: ingest.Quarantine})
	if err != nil || rep.RowsKept != 499 || rep.RowsQuarantined != 1 || rep.Version != 2 {
		t.Fatalf("quarantined malformed row: %+v, %v", rep, err)
	}
}

func TestNDJSON(t *testing.T) {
	e := newEnv(t)
	people, _ := synth.Generate(synth.Config{N: 50, Seed: 3, RefDate: refDate})
	dir := t.TempDir()
	if err := synth.WriteFHIRNDJSON(dir, people); err != nil {
		t.Fatal(err)
	}
	rep, err := e.run(ingest.Options{Source: dir, Format: ingest.NDJSON})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsKept != 50 {
		t.Fatalf("kept %d of 50", rep.RowsKept)
	}
}

// The same patient twice is a bad row, not a second row.
func TestDuplicatePatient(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	p := patientBundles(t, synthea)[0]
	b, _ := os.ReadFile(p)
	os.WriteFile(filepath.Join(dir, "a.json"), b, 0o600)
	os.WriteFile(filepath.Join(dir, "b.json"), b, 0o600)
	_, err := e.run(ingest.Options{Source: dir, Format: ingest.FHIR})
	if !errors.As(err, new(*ingest.RejectedError)) || !strings.Contains(err.Error(), "file 2: ") || !strings.Contains(err.Error(), "one row per patient") {
		t.Fatalf("got %v", err)
	}
}

func TestOptionsChecked(t *testing.T) {
	e := newEnv(t)
	for name, o := range map[string]ingest.Options{
		"no title":       {Source: synthea, Format: ingest.FHIR, Title: " "},
		"bad policy":     {Source: synthea, Format: ingest.FHIR, BadRows: "skip"},
		"bad format":     {Source: synthea, Format: "xml"},
		"csv no mapping": {Source: synthea, Format: ingest.CSV},
		"no source":      {Source: filepath.Join(t.TempDir(), "none"), Format: ingest.FHIR},
		"bad id":         {Source: synthea, Format: ingest.FHIR, Dataset: "../x"},
	} {
		if o.Title == " " {
			o.Title = ""
			if _, err := ingest.Run(context.Background(), e.v, e.node, e.secret, e.ledger, withRef(o)); err == nil {
				t.Errorf("%s: accepted", name)
			}
			continue
		}
		if _, err := e.run(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func withRef(o ingest.Options) ingest.Options {
	o.Dataset = "cohort"
	o.Normalize = normalize.DefaultConfig()
	o.Normalize.RefDate = refDate
	return o
}

// Without recipients, the data key is wrapped to the node's key and to
// the workers the ledger has registered for the institution, so its own
// worker opens the version with no rewrap; given recipients replace the
// registered workers.
func TestRecipientsDefaultToRegisteredWorkers(t *testing.T) {
	e := newEnv(t)
	worker := keys.FromSeed("st-mary-worker", [32]byte{2: 2})
	other := keys.FromSeed("other-worker", [32]byte{3: 3})
	e.ledger.workers = [][]byte{worker.EncPub()}
	workerID, err := vault.NewIdentity(worker.Enc)
	if err != nil {
		t.Fatal(err)
	}
	otherID, err := vault.NewIdentity(other.Enc)
	if err != nil {
		t.Fatal(err)
	}

	rep, err := e.run(ingest.Options{Source: synthea, Format: ingest.FHIR})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.RegisteredWorkers || len(rep.Recipients) != 2 || rep.Recipients[0] != e.node.Recipient().String() ||
		rep.Recipients[1] != workerID.Recipient().String() {
		t.Fatalf("report: registered %v, recipients %v", rep.RegisteredWorkers, rep.Recipients)
	}
	if _, err := e.v.Open(rep.Dataset, rep.Version, rep.Vault.ContentRoot, workerID); err != nil {
		t.Fatalf("the registered worker cannot open the version: %v", err)
	}

	given, err := vault.NewRecipient(other.EncPub())
	if err != nil {
		t.Fatal(err)
	}
	rep, err = e.run(ingest.Options{Source: synthea, Format: ingest.FHIR, Recipients: []vault.Recipient{given}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RegisteredWorkers || len(rep.Recipients) != 2 || rep.Recipients[1] != given.String() {
		t.Fatalf("report with a given recipient: registered %v, recipients %v", rep.RegisteredWorkers, rep.Recipients)
	}
	if _, err := e.v.Open(rep.Dataset, rep.Version, rep.Vault.ContentRoot, otherID); err != nil {
		t.Fatalf("the given recipient cannot open the version: %v", err)
	}
	if _, err := e.v.Open(rep.Dataset, rep.Version, rep.Vault.ContentRoot, workerID); err == nil {
		t.Fatal("a given recipient list still included the registered worker")
	}

	// A worker whose registered key is not an X25519 key fails the ingest
	// before anything is sealed.
	e.ledger.workers = [][]byte{{1, 2, 3}}
	if _, err := e.run(ingest.Options{Source: synthea, Format: ingest.FHIR}); err == nil || !strings.Contains(err.Error(), "registered worker 0") {
		t.Fatalf("a bad registered key: %v", err)
	}
}

// Verify checks a stored version against what the ledger published: it
// passes on what ingest stored, and names what differs — a record band
// the ledger does not have, or a chunk whose bytes changed on disk.
func TestVerifyAgainstLedger(t *testing.T) {
	e := newEnv(t)
	rep, err := e.run(ingest.Options{Source: synthea, Format: ingest.FHIR})
	if err != nil {
		t.Fatal(err)
	}
	pub := e.ledger.published[0]
	dv := &ledger.DatasetVersion{Dataset: pub.ID, Version: pub.Version, Title: pub.Title, Schema: pub.Schema,
		RecordBand: pub.RecordBand, ContentRoot: pub.ContentRoot, Locator: pub.Locator, DeidProfile: pub.DeidProfile}
	got, err := ingest.Verify(e.v, e.node, dv)
	if err != nil {
		t.Fatal(err)
	}
	if got.ContentRoot != rep.Vault.ContentRoot || got.Chunks != rep.Vault.Chunks || got.Rows != uint64(rep.RowsKept) ||
		len(got.Recipients) != 1 || got.Recipients[0] != e.node.Recipient().String() {
		t.Fatalf("verified %+v, ingested %+v", got, rep.Vault)
	}

	other := *dv
	other.RecordBand = "1k-10k"
	if _, err := ingest.Verify(e.v, e.node, &other); err == nil || !strings.Contains(err.Error(), "record") {
		t.Fatalf("a record band the ledger does not have: %v", err)
	}

	sealed, _, err := e.v.ReadChunk(pub.ID, pub.Version, "sbp", 0)
	if err != nil {
		t.Fatal(err)
	}
	var hit string
	root := filepath.Join(e.v.Root(), "datasets", pub.ID, "1", "blobs")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.Equal(b, sealed) {
				hit = p
			}
		}
		return nil
	})
	if hit == "" {
		t.Fatal("the sbp chunk is not among the stored blobs")
	}
	sealed[len(sealed)/2] ^= 1
	if err := os.WriteFile(hit, sealed, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.Verify(e.v, e.node, dv); err == nil || !strings.Contains(err.Error(), "column sbp chunk 0") {
		t.Fatalf("a flipped bit in a stored chunk: %v", err)
	}
}
