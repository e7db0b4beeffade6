// Package layering holds one test: medchain's import graph, written down as
// data and checked against the code, after the standard library's
// go/build dependency test. docs/architecture.md explains the layers; this
// file is where they are enforced.
//
// A change that adds a package, or an import between medchain packages,
// must fit the rules below or change them (in the same commit, with the
// reason). The test reads the graph with `go list -deps -json` over the
// module's non-test code; test files may import whatever they need.
package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// module is the module path; rules name packages relative to it.
const module = "github.com/medchain/medchain"

// rules is the allowed import graph among medchain packages.
//
// "a, b < c, d" says that c and d may import a and b, and whatever a and b
// may import (the relation is transitive). Rules chain: "a < b < c" is
// "a < b; b < c". NONE on the left means no medchain imports at all.
// Every package appears on the right of exactly one "<", and a name may be
// used on the left only after it is defined. Every package of the module
// with non-test code must be defined; a rule may be written before its
// package exists. Names are relative to the module path; "#" starts a
// comment.
const rules = `
# The leaves: the shared vocabulary, the storage interfaces, and pure
# computation. They import no medchain package.
NONE
< vocab, store, zk, analysis, synth, overlap, web,
  vault/blob, vault/internal/bech32, metrics, receipts, reqsig;

# The WebAssembly sandbox of custom analyses: wazero and the host API,
# knowing nothing of ledgers, vaults or releases.
NONE < sandbox;

# Hardware attestation evidence (SEV-SNP, TDX): a pure verdict on bytes,
# a policy and a block time; its test chain is for tests only; guest
# gathers evidence from a confidential VM's device, for workers only.
NONE < attest;
attest < attest/attesttest, attest/guest;

# The vault side of an institution: read sources, make research rows,
# de-identify, seal. It speaks the ledger's vocabulary, never the ledger.
vocab < record, keys;
record < fhir, csvsrc, normalize, deid, vault/column;
vault/blob, vault/column, vault/internal/bech32 < vault;
vault/blob < vault/blob/s3blob;
vault, vault/blob/s3blob < vault/vaultcfg;

# Medical devices: the signed reading and its checks (pure).
normalize < device;
device, vault/blob < vault/series;

# The pure parts of pooled studies and of releasing results; boosted
# trees grown from histograms that add across sites.
zk < federated;
analysis < gbt;
analysis, federated, gbt < outputctl;

# Reports of released results (tables and plots): pure rendering.
outputctl < report;

# The built-in analyses' parameter format, checked against a schema.
vocab, outputctl < jobparams;

# The state machine: storage interfaces, the state and audit trees, proof
# verification (zk, federated). No adapter, nothing of the vault.
store < smt, audit;
vocab, smt, audit, federated, attest < ledger;

# Patient rewards: the institution's sealed tally and its vouchers (the
# ledger's voucher format).
ledger < rewards;

# Adapters: the database, the ABCI application, the HTTP API and its
# client, the ingest pipeline and the compute worker.
store < store/pebble;
ledger < app;
ledger < recordshare;
ledger, jobparams, recordshare, reqsig, rewards < api;
api, keys < client;
client, vault, fhir, csvsrc, normalize, deid < ingest;
client, vault, normalize, outputctl, overlap, receipts, rewards, sandbox < compute;
client, ingest, synth < seed;
compute < zkmodel;
api, deid, vault < patientlink;
client, deid, vault < deal;
client, ingest, vault, vault/series < iomt;
recordshare, vault < recordserver;
client, recordshare, vault < recordclient;

# Putting it together: the node, the API's test node, the binary.
store/pebble, app, compute, deal, web, vault/vaultcfg, metrics, iomt, recordserver < node;
node < api/apitest;
node < devnet;
node, ingest, synth, seed, devnet, zkmodel, patientlink, recordclient, deal, attest/guest, report < cmd/medchain;
`

// In the tables below, pkgs and except name medchain packages relative to
// the module ("..." is all of them); forbid patterns are full import paths
// (mc+"/ledger" for a medchain one). "x/..." is x and everything under it;
// NONSTD is any package outside the standard library and the module.
const mc = module

// noLinks lists, for groups of packages, what they must not link at all,
// directly or through any dependency.
var noLinks = []struct {
	pkgs   []string
	forbid []string
	why    string
}{
	{
		pkgs:   []string{"vocab", "store"},
		forbid: []string{"NONSTD"},
		why:    "the vocabulary and the storage interfaces build on the standard library alone",
	},
	{
		pkgs: []string{"vocab", "record", "fhir", "csvsrc", "normalize", "deid", "synth", "analysis", "gbt", "device"},
		forbid: []string{
			"github.com/cockroachdb/pebble/...", "github.com/cometbft/...",
			mc + "/ledger/...", mc + "/store/...", mc + "/smt/...", mc + "/audit/...", mc + "/zk/...",
		},
		why: "reading, normalising, de-identifying and analysing data links no database, consensus, state machine or proof code",
	},
	{
		pkgs:   []string{"attest"},
		forbid: []string{"github.com/cockroachdb/pebble/...", "github.com/cometbft/...", mc + "/..."},
		why:    "the evidence verifier runs inside every validator's FinalizeBlock and links nothing of medchain, no database and no consensus",
	},
	{
		pkgs:   []string{"ledger", "app", "api", "jobparams", "outputctl", "analysis"},
		forbid: []string{"github.com/tetratelabs/wazero/...", mc + "/sandbox"},
		why:    "custom analysis code runs only in a worker: no validator, API or pure analysis package links the WebAssembly runtime",
	},
	{
		pkgs:   []string{"ledger", "app", "api", "node"},
		forbid: []string{mc + "/attest/guest", "github.com/google/go-configfs-tsm/...", "github.com/google/go-sev-guest/client/...", "github.com/google/go-tdx-guest/client/..."},
		why:    "validators verify evidence and never open a TEE device; only a worker's command gathers evidence",
	},
	{
		pkgs: []string{"keys", "vault/...", "overlap", "federated", "outputctl", "jobparams"},
		forbid: []string{
			"github.com/cockroachdb/pebble/...", "github.com/cometbft/...",
			mc + "/ledger/...", mc + "/store/...", mc + "/smt/...", mc + "/audit/...",
		},
		why: "keys, the vault and the release controls link no database, consensus or state machine",
	},
}

// noIO is what a package that does no I/O may not import.
var noIO = []string{
	"os/...", "net", "net/http/...", "net/rpc/...", "net/smtp", "syscall", "io/ioutil",
	"log/...", "path/filepath", "database/sql/...", "plugin",
}

// noImports lists direct imports that some packages must not have. With
// transitive set, the rule also holds for every medchain package they
// depend on.
var noImports = []struct {
	pkgs       []string
	except     []string
	forbid     []string
	transitive bool
	why        string
}{
	{
		pkgs:       []string{"analysis", "gbt", "outputctl", "jobparams", "federated", "zk", "smt", "store", "record", "vocab", "device", "report", "receipts"},
		forbid:     noIO,
		transitive: true,
		why:        "pure computation does no I/O: results, policy and randomness in, a result out",
	},
	{
		pkgs:   []string{"api"},
		forbid: []string{"github.com/cometbft/..."},
		why:    "the API reaches CometBFT only through api.Backend, which the node implements (and translates CometBFT's errors for)",
	},
	{
		pkgs:   []string{"..."},
		except: []string{"cmd/..."},
		forbid: []string{"github.com/spf13/cobra/..."},
		why:    "only commands parse command lines",
	},
}

// pkg is what the tests need of `go list -json`.
type pkg struct {
	ImportPath string
	Standard   bool
	GoFiles    []string
	CgoFiles   []string
	Imports    []string
	Error      *struct{ Err string }
}

func (p *pkg) local() bool {
	return p.ImportPath == module || strings.HasPrefix(p.ImportPath, module+"/")
}

func (p *pkg) hasCode() bool { return len(p.GoFiles)+len(p.CgoFiles) > 0 }

// short is a path relative to the module, or the path itself outside it.
func short(path string) string {
	if s, ok := strings.CutPrefix(path, module+"/"); ok {
		return s
	}
	return path
}

// full expands a package pattern relative to the module.
func full(pattern string) string {
	if pattern == "..." {
		return module + "/..."
	}
	return module + "/" + pattern
}

// graph is the module's packages and all their dependencies.
type graph map[string]*pkg

var loaded struct {
	g   graph
	err error
}

func load(t *testing.T) graph {
	t.Helper()
	if loaded.g == nil && loaded.err == nil {
		loaded.g, loaded.err = goList()
	}
	if loaded.err != nil {
		t.Fatal(loaded.err)
	}
	return loaded.g
}

// root is the module's directory, seen from this package's.
const root = ".."

// watchSources reads every directory of the module (and the environment
// variables that change what go list reports), so that go test's cache,
// which cannot see what the go list subprocess reads, keys this test's
// result on them: adding, removing or editing a source file reruns it.
func watchSources() error {
	for _, k := range []string{"GOFLAGS", "GOOS", "GOARCH", "CGO_ENABLED", "GOEXPERIMENT", "GOWORK"} {
		os.Getenv(k)
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if name := d.Name(); d.IsDir() && path != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		return nil
	})
}

func goList() (graph, error) {
	if err := watchSources(); err != nil {
		return nil, err
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("the go command is needed to read the import graph: %v", err)
	}
	cmd := exec.Command(goCmd, "list", "-e", "-deps", "-json=ImportPath,Standard,GoFiles,CgoFiles,Imports,Error", module+"/...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.Bytes())
	}
	g := graph{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %v", err)
		}
		g[p.ImportPath] = &p
	}
	return g, nil
}

// matches reports whether an import path matches a pattern (already
// expanded by full).
func (g graph) matches(path, pattern string) bool {
	if pattern == "NONSTD" {
		p := g[path]
		return p != nil && !p.Standard && !p.local()
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return path == base || strings.HasPrefix(path, base+"/")
	}
	return path == pattern
}

// matchesAny reports whether path matches one of patterns (full import
// paths).
func (g graph) matchesAny(path string, patterns []string) bool {
	return slices.ContainsFunc(patterns, func(pat string) bool { return g.matches(path, pat) })
}

// inGroup reports whether a medchain package matches one of patterns
// (relative to the module).
func (g graph) inGroup(path string, patterns []string) bool {
	return slices.ContainsFunc(patterns, func(pat string) bool { return g.matches(path, full(pat)) })
}

// localPackages are the module's packages with non-test code, sorted.
func (g graph) localPackages() []string {
	var out []string
	for path, p := range g {
		if p.local() && p.hasCode() {
			out = append(out, path)
		}
	}
	sort.Strings(out)
	return out
}

// pathTo finds the shortest import chain from a package to one matching
// pattern, or nil.
func (g graph) pathTo(from, pattern string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur != from && g.matches(cur, pattern) {
			var chain []string
			for at := cur; at != ""; at = prev[at] {
				chain = append(chain, short(at))
			}
			slices.Reverse(chain)
			return chain
		}
		p := g[cur]
		if p == nil {
			continue
		}
		for _, imp := range p.Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = cur
				queue = append(queue, imp)
			}
		}
	}
	return nil
}

// parseRules turns the rules into, for each package, the set of medchain
// packages it may import (relative names).
func parseRules(src string) (map[string]map[string]bool, error) {
	allowed := map[string]map[string]bool{}
	var lines []string
	for line := range strings.Lines(src) {
		line, _, _ = strings.Cut(line, "#")
		lines = append(lines, line)
	}
	text := strings.Join(lines, " ")
	stmts := strings.Split(text, ";")
	if last := strings.TrimSpace(stmts[len(stmts)-1]); last != "" {
		return nil, fmt.Errorf("rule %q does not end with ';'", last)
	}
	for _, stmt := range stmts[:len(stmts)-1] {
		parts := strings.Split(stmt, "<")
		if len(parts) < 2 {
			return nil, fmt.Errorf("rule %q has no '<'", strings.Join(strings.Fields(stmt), " "))
		}
		var below []string
		for i, part := range parts {
			var names []string
			for name := range strings.SplitSeq(part, ",") {
				name = strings.TrimSpace(name)
				if name == "" || strings.ContainsAny(name, " \t\n") {
					return nil, fmt.Errorf("rule %q: bad package list %q", strings.Join(strings.Fields(stmt), " "), strings.TrimSpace(part))
				}
				names = append(names, name)
			}
			if i == 0 {
				for _, name := range names {
					if name != "NONE" && allowed[name] == nil {
						return nil, fmt.Errorf("rule %q: %s is used before it is defined", strings.Join(strings.Fields(stmt), " "), name)
					}
				}
				below = names
				continue
			}
			set := map[string]bool{}
			for _, b := range below {
				if b == "NONE" {
					continue
				}
				set[b] = true
				for d := range allowed[b] {
					set[d] = true
				}
			}
			for _, name := range names {
				if name == "NONE" {
					return nil, fmt.Errorf("NONE cannot be defined")
				}
				if allowed[name] != nil {
					return nil, fmt.Errorf("%s is defined twice", name)
				}
				allowed[name] = set
			}
			below = names
		}
	}
	return allowed, nil
}

func TestRulesParse(t *testing.T) {
	good, err := parseRules("NONE < a, b; a < c < d; # comment\n b, c < e;")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "", "b": "", "c": "a", "d": "a c", "e": "a b c"}
	for name, w := range want {
		var got []string
		for d := range good[name] {
			got = append(got, d)
		}
		sort.Strings(got)
		if strings.Join(got, " ") != w {
			t.Errorf("%s may import %v, want [%s]", name, got, w)
		}
	}
	for _, bad := range []string{"NONE < a; a < a;", "b < a;", "NONE < a", "NONE a;", "NONE < a,, b;"} {
		if _, err := parseRules(bad); err == nil {
			t.Errorf("parseRules(%q) accepted it", bad)
		}
	}
}

// TestImportGraph checks every import between medchain packages against
// the rules.
func TestImportGraph(t *testing.T) {
	allowed, err := parseRules(rules)
	if err != nil {
		t.Fatal(err)
	}
	g := load(t)
	for _, path := range g.localPackages() {
		p, name := g[path], short(path)
		if p.Error != nil {
			t.Errorf("%s: %s", name, p.Error.Err)
			continue
		}
		may, ok := allowed[name]
		if !ok {
			t.Errorf("package %s is not in the layering rules: add it to the rules in layering/layering_test.go, above what may import it and below what it imports", name)
			continue
		}
		for _, imp := range p.Imports {
			if q := g[imp]; q == nil || !q.local() {
				continue
			}
			if dep := short(imp); !may[dep] {
				t.Errorf("forbidden import: %s imports %s (the layering rules let %s import only: %s)", name, dep, name, list(may))
			}
		}
	}
}

func list(set map[string]bool) string {
	if len(set) == 0 {
		return "no medchain package"
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// checkGroup fails when a table names a package that does not exist, so
// that a misspelt or renamed package cannot quietly escape its rule.
func (g graph) checkGroup(t *testing.T, patterns []string) {
	t.Helper()
	for _, pat := range patterns {
		if !slices.ContainsFunc(g.localPackages(), func(path string) bool { return g.matches(path, full(pat)) }) {
			t.Errorf("a rule names %s, which is no package of the module", pat)
		}
	}
}

// TestLinks checks what groups of packages link, through any dependency.
func TestLinks(t *testing.T) {
	g := load(t)
	for _, rule := range noLinks {
		g.checkGroup(t, rule.pkgs)
		for _, path := range g.localPackages() {
			if !g.inGroup(path, rule.pkgs) {
				continue
			}
			for _, pat := range rule.forbid {
				if chain := g.pathTo(path, pat); chain != nil {
					t.Errorf("forbidden link: %s links %s (%s): %s", short(path), chain[len(chain)-1], strings.Join(chain, " → "), rule.why)
				}
			}
		}
	}
}

// TestImports checks the direct imports some packages must not have.
func TestImports(t *testing.T) {
	g := load(t)
	for _, rule := range noImports {
		g.checkGroup(t, rule.pkgs)
		g.checkGroup(t, rule.except)
		for _, path := range g.localPackages() {
			if !g.inGroup(path, rule.pkgs) || g.inGroup(path, rule.except) {
				continue
			}
			check := []string{path}
			if rule.transitive {
				check = g.localDeps(path)
			}
			for _, c := range check {
				for _, imp := range g[c].Imports {
					if !g.matchesAny(imp, rule.forbid) {
						continue
					}
					via := ""
					if c != path {
						via = fmt.Sprintf(" (through %s)", strings.Join(g.pathTo(path, c), " → "))
					}
					t.Errorf("forbidden import: %s imports %s%s: %s", short(c), imp, via, rule.why)
				}
			}
		}
	}
}

// localDeps is a package and every medchain package it depends on.
func (g graph) localDeps(path string) []string {
	seen := map[string]bool{path: true}
	out := []string{path}
	for i := 0; i < len(out); i++ {
		for _, imp := range g[out[i]].Imports {
			if q := g[imp]; q != nil && q.local() && !seen[imp] {
				seen[imp] = true
				out = append(out, imp)
			}
		}
	}
	return out
}
