package ingest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	dbm "github.com/cometbft/cometbft-db"

	"github.com/medchain/medchain/csvsrc"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/reqsig"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
)

// TestPrivacy is the vault's acceptance test: no identifier of any source
// record survives anywhere medchain writes.
//
// It collects every identifier of the source records — names, maiden
// names, addresses, cities, full ZIPs, phones, SSNs, MRNs, driver's licence
// and passport numbers, FHIR ids, exact birth and death dates (in several
// formats), visit dates, and narrative text — from the Synthea sample's
// patient and practitioner bundles, a bundle with planted identifiers, and a synthetic CSV export;
// ingests all of it through a real node; and searches every byte medchain
// wrote: every file of the vault and of the node's home (CometBFT's stores
// and WAL, the app's Pebble store, node.log, config), every key and value
// of every store read through the database (Pebble compresses its files,
// so a raw search alone could miss a leak), every API response of every
// GET endpoint the OpenAPI document lists, and the ingest reports.
//
// Canary identifiers are leaked on purpose, through the ledger and into
// files, and each channel's search must find them: a search that cannot
// find anything would pass vacuously.
func TestPrivacy(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	rn := newRealNode(t)
	ctx := context.Background()
	v, err := vault.Open(filepath.Join(rn.home, "vault"))
	if err != nil {
		t.Fatal(err)
	}
	secret, _ := v.Secret()
	inst := rn.key(t, "st-mary-admin")
	nodeID, _ := vault.NodeIdentity(inst.Enc)
	l := ingest.ClientLedger{Client: rn.c, Key: inst}
	cfg := normalize.DefaultConfig()
	cfg.RefDate = refDate

	// The sources and their identifiers.
	src := t.TempDir()
	for _, p := range append(patientBundles(t, synthea), filepath.Join(synthea, "practitionerInformation1583281853074.json")) {
		b, _ := os.ReadFile(p)
		os.WriteFile(filepath.Join(src, filepath.Base(p)), b, 0o600)
	}
	os.WriteFile(filepath.Join(src, "planted.json"), plantedBundle(t), 0o600)
	ids := &identifiers{}
	for _, p := range mustGlob(t, filepath.Join(src, "*.json")) {
		ids.fromBundle(t, p)
	}
	people, err := synth.Generate(synth.Config{N: 200, Seed: 11, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	for i := range people {
		ids.fromPerson(&people[i])
	}
	csvPath, mapping := writePeople(t, people)
	t.Logf("%d identifiers collected (%d planted)", len(ids.list), len(planted))
	for _, p := range planted {
		if !ids.has(p) {
			t.Fatalf("planted identifier %q was not collected", p)
		}
	}

	// Ingest everything through the node.
	var reports [][]byte
	for _, o := range []ingest.Options{
		{Source: src, Format: ingest.FHIR, Dataset: "synthea", Title: "Synthea sample"},
		{Source: csvPath, Format: ingest.CSV, Mapping: mapping, Dataset: "synth-csv", Title: "Synthetic cohort"},
		{Source: src, Format: ingest.FHIR, Dataset: "synthea", Title: "Synthea sample, again", BadRows: ingest.Quarantine},
	} {
		o.Normalize = cfg
		rep, err := ingest.Run(ctx, v, nodeID, secret, l, o)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(rep)
		reports = append(reports, b)
	}

	// The canary: identifiers leaked on purpose, through the ledger (a
	// dataset description) and into files, which every channel's search
	// must find. They are not among the sources' identifiers, so they do
	// not disturb the real search.
	canary := &identifiers{}
	canary.add("name", "Canarytest7777 Leakington7777")
	canary.add("identifier ssn", "999-77-7777")
	canary.addDate("birth date", "1944-04-04")
	res, err := rn.c.SignAndSubmit(ctx, inst, &ledger.RegisterDataset{ID: "canary", Version: 1, Title: "canary",
		Description: "patient Canarytest7777 Leakington7777, SSN 999-77-7777, born 1944-04-04",
		Schema:      []ledger.Field{{Name: "x", Type: "number"}}, RecordBand: "<100",
		ContentRoot: strings.Repeat("0", 64), Locator: "vault:canary/1"}, true)
	if err != nil || res.Result == nil || res.Result.Code != 0 {
		t.Fatalf("canary transaction: %+v, %v", res, err)
	}

	real, canaries := newFinder(ids.list), newFinder(canary.list)
	var leaks, caught []hit
	search := func(where string, data []byte) {
		leaks = append(leaks, real.find(where, data)...)
		caught = append(caught, canaries.find(where, data)...)
	}
	crawlAPI(t, rn, search)
	for i, r := range reports {
		search(fmt.Sprintf("ingest report %d", i), r)
	}
	rn.stop(t)
	os.WriteFile(filepath.Join(rn.home, "vault", "canary"), []byte("note: Canarytest7777 Leakington7777"), 0o600)
	lf, _ := os.OpenFile(node.LogPath(rn.home), os.O_APPEND|os.O_WRONLY, 0o600)
	fmt.Fprintln(lf, "canary: patient born 04/04/1944")
	lf.Close()
	searchFiles(t, rn.home, "file", search) // the vault is <home>/vault
	searchStores(t, rn.home, search)

	for _, h := range leaks {
		t.Errorf("LEAK: %s %q found in %s", h.what, h.needle, h.where)
	}
	for _, channel := range []string{"api GET /v1/datasets", "store blockstore", "store medchain", "file home/vault/canary", "file home/node.log"} {
		if !slices.ContainsFunc(caught, func(h hit) bool { return strings.HasPrefix(h.where, channel) }) {
			t.Errorf("the search did not find the leak planted in %s: it would miss a real one", channel)
		}
	}
	for _, what := range []string{"name", "identifier ssn", "birth date"} {
		if !slices.ContainsFunc(caught, func(h hit) bool { return h.what == what }) {
			t.Errorf("the search did not find the planted %s", what)
		}
	}
	t.Logf("%d planted leaks found, in %d places", len(caught), len(where(caught)))
}

func where(hs []hit) map[string]bool {
	m := map[string]bool{}
	for _, h := range hs {
		m[h.where] = true
	}
	return m
}

// planted are identifiers that exist only in planted.json.
var planted = []string{"Quenby4242", "Planterson4242", "Maidenplant4242", "999-42-4242", "S42424242", "X42424242X",
	"MRN-4242-PLANT", "555-424-2424", "4242 Plantation Row", "Plantville", "98042", "1957-03-14", "19570314", "03/14/1957",
	"Quenby4242 Planterson4242 lives at 4242 Plantation Row"}

// plantedBundle is Carolee's bundle made into another patient, whose
// Patient resource carries the planted identifiers.
func plantedBundle(t *testing.T) []byte {
	raw, _ := os.ReadFile(filepath.Join(synthea, "Carolee951_Sanford861_d88f994a-5efa-421d-9c40-5f116d2114a6.json"))
	raw = bytes.ReplaceAll(raw, []byte("d88f994a-5efa-421d-9c40-5f116d2114a6"), []byte("42424242-4242-4242-8242-424242424242"))
	var b bundle
	if err := json.Unmarshal(raw, &b); err != nil {
		t.Fatal(err)
	}
	p := b.resources("Patient")[0]
	p["name"] = []any{map[string]any{"use": "official", "family": "Planterson4242", "given": []any{"Quenby4242"}}}
	p["telecom"] = []any{map[string]any{"system": "phone", "value": "555-424-2424"}}
	p["address"] = []any{map[string]any{"line": []any{"4242 Plantation Row"}, "city": "Plantville", "state": "WA", "postalCode": "98042"}}
	p["birthDate"] = "1957-03-14"
	p["text"] = map[string]any{"status": "generated", "div": `<div xmlns="http://www.w3.org/1999/xhtml">Quenby4242 Planterson4242 lives at 4242 Plantation Row.</div>`}
	for _, id := range p["identifier"].([]any) {
		id := id.(map[string]any)
		if v, ok := map[string]string{"Social Security Number": "999-42-4242", "Driver's License": "S42424242",
			"Passport Number": "X42424242X", "Medical Record Number": "MRN-4242-PLANT"}[identifierType(id)]; ok {
			id["value"] = v
		}
	}
	for _, x := range p["extension"].([]any) {
		x := x.(map[string]any)
		if strings.HasSuffix(x["url"].(string), "mothersMaidenName") {
			x["valueString"] = "Maidenplant4242"
		}
	}
	out, _ := json.Marshal(b)
	return out
}

func writePeople(t *testing.T, people []synth.Person) (string, *csvsrc.Mapping) {
	t.Helper()
	var data, mapping bytes.Buffer
	if err := synth.WriteCSV(&data, people); err != nil {
		t.Fatal(err)
	}
	synth.WriteCSVMapping(&mapping)
	path := filepath.Join(t.TempDir(), "export.csv")
	os.WriteFile(path, data.Bytes(), 0o600)
	m, err := csvsrc.ParseMapping("mapping.json", &mapping)
	if err != nil {
		t.Fatal(err)
	}
	return path, &m
}

func mustGlob(t *testing.T, pattern string) []string {
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("glob %s: %v", pattern, err)
	}
	return m
}

// identifier is one string that must not appear, and what it is.
type identifier struct{ s, what string }

type identifiers struct {
	list []identifier
	seen map[string]bool
}

func (ids *identifiers) add(what, s string) {
	s = strings.TrimSpace(s)
	if len(s) < 4 || ids.seen[s] {
		return // too short to search without false hits; none of the sources' identifiers are
	}
	if ids.seen == nil {
		ids.seen = map[string]bool{}
	}
	ids.seen[s] = true
	ids.list = append(ids.list, identifier{s, what})
}

func (ids *identifiers) has(s string) bool { return ids.seen[s] }

// addDate adds a date in the forms it may be written in.
func (ids *identifiers) addDate(what, s string) {
	if len(s) < 10 {
		return
	}
	d, err := time.Parse(time.DateOnly, s[:10])
	if err != nil {
		return
	}
	for _, layout := range []string{"2006-01-02", "20060102", "01/02/2006", "02/01/2006", "2006/01/02", "02.01.2006", "1/2/2006", "January 2, 2006", "2 Jan 2006", "Jan 2, 2006"} {
		ids.add(what, d.Format(layout))
	}
}

var tags = regexp.MustCompile(`<[^>]*>`)

// addText adds free text, a fragment per sentence or line.
func (ids *identifiers) addText(what, s string) {
	s = tags.ReplaceAllString(s, "\n")
	for _, frag := range regexp.MustCompile(`[\n.;]\s*|\s{2,}`).Split(s, -1) {
		if frag = strings.TrimSpace(frag); len(frag) >= 12 && strings.ContainsFunc(frag, func(r rune) bool { return r >= 'A' && r <= 'z' }) {
			ids.add(what, frag)
		}
	}
}

// fromBundle collects the identifiers of a bundle's patients and
// practitioners, and the narrative of every resource.
func (ids *identifiers) fromBundle(t *testing.T, path string) {
	b := readBundle(t, path)
	for _, r := range append(b.resources("Patient"), b.resources("Practitioner")...) {
		ids.add("fhir id", str(r["id"]))
		for _, n := range asSlice(r["name"]) {
			n := n.(map[string]any)
			var given []string
			for _, g := range asSlice(n["given"]) {
				given = append(given, str(g))
				ids.add("name", str(g))
			}
			ids.add("name", str(n["family"]))
			ids.add("name", strings.Join(append(given, str(n["family"])), " "))
		}
		for _, tc := range asSlice(r["telecom"]) {
			ids.add("telecom", str(tc.(map[string]any)["value"]))
		}
		for _, a := range asSlice(r["address"]) {
			a := a.(map[string]any)
			for _, line := range asSlice(a["line"]) {
				ids.add("address", str(line))
			}
			ids.add("city", str(a["city"]))
			ids.add("zip", str(a["postalCode"]))
		}
		for _, id := range asSlice(r["identifier"]) {
			ids.add("identifier "+identifierType(id.(map[string]any)), str(id.(map[string]any)["value"]))
		}
		for _, x := range asSlice(r["extension"]) {
			x := x.(map[string]any)
			switch u := str(x["url"]); {
			case strings.HasSuffix(u, "mothersMaidenName"):
				ids.add("name (maiden)", str(x["valueString"]))
			case strings.HasSuffix(u, "birthPlace"):
				ids.add("city (birth place)", str(x["valueAddress"].(map[string]any)["city"]))
			}
		}
		ids.addDate("birth date", str(r["birthDate"]))
		ids.addDate("death date", str(r["deceasedDateTime"]))
	}
	for _, e := range b["entry"].([]any) {
		r := e.(map[string]any)["resource"].(map[string]any)
		if text, ok := r["text"].(map[string]any); ok {
			ids.addText("narrative", str(text["div"]))
		}
		if r["resourceType"] == "Encounter" {
			if p, ok := r["period"].(map[string]any); ok {
				ids.add("visit date", str(p["start"])[:min(10, len(str(p["start"])))])
			}
		}
		for _, c := range asSlice(r["content"]) {
			if att, ok := c.(map[string]any)["attachment"].(map[string]any); ok {
				if raw, err := base64.StdEncoding.DecodeString(str(att["data"])); err == nil {
					ids.addText("clinical note", string(raw))
				}
			}
		}
	}
}

func identifierType(id map[string]any) string {
	if ty, ok := id["type"].(map[string]any); ok {
		return str(ty["text"])
	}
	return "id"
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func (ids *identifiers) fromPerson(p *synth.Person) {
	ids.add("fhir id", p.ID)
	ids.add("identifier MRN", p.MRN)
	ids.add("name", p.Given)
	ids.add("name", p.Family)
	ids.add("name", p.Name())
	ids.add("name (maiden)", p.MothersMaidenName)
	ids.add("address", p.Street)
	ids.add("city", p.City)
	ids.add("zip", p.ZIP)
	ids.add("telecom", p.Phone)
	ids.add("identifier ssn", p.SSN)
	ids.add("identifier driver's licence", p.DriversLicence)
	ids.add("identifier passport", p.Passport)
	ids.addDate("birth date", p.BirthDate.Format(time.DateOnly))
	ids.add("visit date", p.VisitDate.Format(time.DateOnly))
	ids.addText("clinical note", p.Note)
}

// finder searches bytes for many identifiers at once: candidates are
// looked up by their first four bytes, so a search costs one map lookup
// per byte whatever the number of identifiers.
type finder struct {
	ids   []identifier
	index map[uint32][]int
}

type hit struct{ where, what, needle string }

func newFinder(ids []identifier) *finder {
	f := &finder{ids: ids, index: map[uint32][]int{}}
	for i, id := range ids {
		k := key4([]byte(id.s))
		f.index[k] = append(f.index[k], i)
	}
	return f
}

func key4(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// find reports every identifier in data. An identifier counts only as a
// whole token: the bytes around it must not continue it (no letter or
// digit next to an alphanumeric end), so "98042" is not found inside a
// hex hash but is found in `"zip":"98042"`.
func (f *finder) find(where string, data []byte) []hit {
	var out []hit
	for i := 0; i+4 <= len(data); i++ {
		cands, ok := f.index[key4(data[i:])]
		if !ok {
			continue
		}
		for _, c := range cands {
			s := f.ids[c].s
			if !bytes.HasPrefix(data[i:], []byte(s)) {
				continue
			}
			if isAlnum(s[0]) && i > 0 && isAlnum(data[i-1]) {
				continue
			}
			if end := i + len(s); isAlnum(s[len(s)-1]) && end < len(data) && isAlnum(data[end]) {
				continue
			}
			out = append(out, hit{where, f.ids[c].what, s})
		}
	}
	return out
}

// searchFiles searches every file under root.
func searchFiles(t *testing.T, root, label string, search func(string, []byte)) {
	t.Helper()
	n := 0
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || !info.Mode().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(root), p)
		search(label+" "+rel, b)
		n++
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("search %s: %d files, %v", root, n, err)
	}
}

// searchStores reads every key and value of every database in the node's
// data directory: CometBFT's block, state, transaction-index and evidence
// stores and the app's store. Each is read from a copy, because CometBFT
// does not close its transaction index when the node stops.
func searchStores(t *testing.T, home string, search func(string, []byte)) {
	t.Helper()
	var names []string
	for _, dir := range mustGlob(t, filepath.Join(home, "data", "*.db")) {
		name := strings.TrimSuffix(filepath.Base(dir), ".db")
		names = append(names, name)
		tmp := t.TempDir()
		copyDir(t, dir, filepath.Join(tmp, name+".db"))
		db, err := dbm.NewPebbleDB(name, tmp)
		if err != nil {
			t.Fatalf("open %s: %v", name, err)
		}
		it, err := db.Iterator(nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for ; it.Valid(); it.Next() {
			search("store "+name+" key", it.Key())
			search(fmt.Sprintf("store %s value of %q", name, it.Key()), it.Value())
			n++
		}
		it.Close()
		db.Close()
		if name == "medchain" && n == 0 {
			t.Fatal("the app store is empty: wrong directory?")
		}
	}
	// Every store present is searched; CometBFT's tx_index exists only
	// when its indexer is switched on (medchain indexes transactions itself).
	for _, want := range []string{"blockstore", "state", "medchain"} {
		if !slices.Contains(names, want) {
			t.Fatalf("no %s store among %v", want, names)
		}
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	os.MkdirAll(to, 0o700)
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Name() == "LOCK" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, e.Name()), b, 0o600)
	}
}

// crawlAPI fetches every GET endpoint of the OpenAPI document, with every
// value of each parameter the test knows: every transaction, account,
// organisation, dataset and version, height and audit entry.
func crawlAPI(t *testing.T, rn *realNode, search func(string, []byte)) {
	t.Helper()
	ctx := context.Background()
	base := rn.c.BaseURL()
	// Consents answer only signed requests: those are also asked signed by
	// every local key, so whatever a key holder is shown is searched too.
	var signers []*keys.Key
	fetch := func(path string, as *keys.Key) []byte {
		// The event stream (GET /v1/events) never ends by itself: what it
		// sends in its first two seconds (the opening block and job
		// events) is read and searched like any answer.
		rctx := ctx
		if strings.HasPrefix(path, "/v1/events") {
			var cancel context.CancelFunc
			rctx, cancel = context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
		}
		req, err := http.NewRequestWithContext(rctx, "GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		what := "api GET " + path
		if as != nil {
			if err := reqsig.SignHTTP(as.Sign, rn.n.ChainID(), req, nil, time.Now()); err != nil {
				t.Fatal(err)
			}
			what += " (signed by " + as.Name + ")"
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		search(what, b)
		return b
	}
	get := func(path string) []byte {
		b := fetch(path, nil)
		if strings.Contains(path, "consent") || strings.Contains(path, "ccount") {
			for _, k := range signers {
				fetch(path, k)
			}
		}
		return b
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name     string `json:"name"`
				In       string `json:"in"`
				Required bool   `json:"required"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(get("/v1/openapi.json"), &doc); err != nil {
		t.Fatal(err)
	}
	st, err := rn.c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	names, _ := keys.List(node.KeysDir(rn.home))
	for _, n := range names {
		k := rn.key(t, n)
		addrs = append(addrs, k.Address())
		signers = append(signers, k)
	}
	orgs, _ := rn.c.Orgs(ctx)
	var orgIDs []string
	for _, o := range orgs {
		orgIDs = append(orgIDs, o.ID)
	}
	datasets, _ := rn.c.Datasets(ctx)
	var dsIDs, stateKeys, txHashes []string
	versions := map[string]uint64{}
	for _, d := range datasets {
		dsIDs = append(dsIDs, d.ID)
		versions[d.ID] = d.LatestVersion
		stateKeys = append(stateKeys, string(ledger.KeyDataset(d.ID)))
		for v := uint64(1); v <= d.LatestVersion; v++ {
			stateKeys = append(stateKeys, string(ledger.KeyDatasetVersion(d.ID, v)))
		}
	}
	for _, a := range addrs {
		stateKeys = append(stateKeys, string(ledger.KeyAccount(a)), string(ledger.KeyConsent(a, 0)), string(ledger.KeyConsentCount(a)))
	}
	var heights, indexes []string
	for h := int64(1); h <= st.Height; h++ {
		heights = append(heights, strconv.FormatInt(h, 10))
	}
	for i := uint64(0); i < st.Commitment.AuditSize; i++ {
		indexes = append(indexes, strconv.FormatUint(i, 10))
		var e struct {
			Entry struct {
				TxHash string `json:"tx_hash"`
			} `json:"entry"`
			TxHash string `json:"tx_hash"`
		}
		json.Unmarshal(get("/v1/audit/entries/"+indexes[i]), &e)
		for _, h := range []string{e.Entry.TxHash, e.TxHash} {
			if h != "" {
				txHashes = append(txHashes, h)
			}
		}
	}
	if len(txHashes) == 0 {
		t.Fatal("no transactions found through the audit log")
	}
	values := func(path, name string) []string {
		switch name {
		case "hash":
			return txHashes
		case "address", "requester", "owner", "buyer":
			return addrs
		case "job":
			return []string{"0", "1", "2"}
		case "org":
			return orgIDs
		case "id":
			switch {
			case strings.HasPrefix(path, "/v1/orgs/"):
				return orgIDs
			case strings.HasPrefix(path, "/v1/datasets/"):
				return dsIDs
			case strings.HasPrefix(path, "/v1/deals/"):
				return []string{"0", "1"}
			}
			return []string{"1", "2"}
		case "dataset":
			return dsIDs
		case "height":
			return heights
		case "index":
			return indexes
		case "key":
			if strings.HasPrefix(path, "/v1/devices/") { // a follower's account key
				var pubs []string
				for _, n := range names {
					pubs = append(pubs, hex.EncodeToString(rn.key(t, n).PubKey()))
				}
				return pubs
			}
			return stateKeys
		case "ts":
			return []string{strconv.FormatInt(time.Now().UnixMilli(), 10)}
		case "sig":
			return []string{strings.Repeat("0", 128)}
		case "status":
			return []string{"pending", "granted", "running", "done", "open", "closed", "withdrawn", "delivered"}
		case "from":
			return []string{"1"}
		case "to":
			return []string{strconv.FormatInt(st.Height, 10)}
		case "type":
			return []string{"sev-snp", "tdx"}
		case "name":
			return []string{"cohort_count", "crosstab", "descriptive", "logistic_regression", "linear_regression", "survival"}
		case "wait":
			return nil
		case "limit":
			return []string{"1", "100000"}
		case "after":
			var ks []string
			for _, a := range addrs {
				ks = append(ks, string(ledger.KeyConsent(a, 0)))
			}
			return ks
		}
		t.Errorf("the privacy test does not know how to fill parameter %q of %s: teach it, so the endpoint is searched", name, path)
		return nil
	}
	n := 0
	for path, ops := range doc.Paths {
		op, ok := ops["get"]
		if !ok {
			continue
		}
		// Fill path parameters and required query parameters with every
		// value (the version of a dataset path follows its id); optional
		// query parameters are tried one at a time.
		urls := []string{path}
		var required []string
		for _, p := range op.Parameters {
			if p.In == "path" && p.Name != "version" {
				var next []string
				for _, u := range urls {
					for _, v := range values(path, p.Name) {
						next = append(next, strings.Replace(u, "{"+p.Name+"}", url.PathEscape(v), 1))
					}
				}
				urls = next
			}
			if p.In == "query" && p.Required {
				required = append(required, p.Name)
			}
		}
		if strings.Contains(path, "{version}") {
			var next []string
			for _, u := range urls {
				id := strings.Split(u, "/")[3]
				for v := uint64(1); v <= versions[id]; v++ {
					next = append(next, strings.Replace(u, "{version}", strconv.FormatUint(v, 10), 1))
				}
			}
			urls = next
		}
		for _, u := range urls {
			qs := []url.Values{{}}
			for _, name := range required {
				var next []url.Values
				for _, q := range qs {
					for _, v := range values(path, name) {
						q2 := url.Values{}
						for k, vs := range q {
							q2[k] = vs
						}
						q2.Set(name, v)
						next = append(next, q2)
					}
				}
				qs = next
			}
			for _, p := range op.Parameters {
				if p.In == "query" && !p.Required {
					for _, v := range values(path, p.Name) {
						q := url.Values{}
						for k, vs := range qs[0] {
							q[k] = vs
						}
						q.Set(p.Name, v)
						qs = append(qs, q)
					}
				}
			}
			for _, q := range qs {
				target := u
				if len(q) > 0 {
					target += "?" + q.Encode()
				}
				get(target)
				n++
			}
		}
	}
	t.Logf("searched %d API responses", n)
}
