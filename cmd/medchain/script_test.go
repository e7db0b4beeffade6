package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/node"
)

// The CLI is tested with testscript: each testdata/script/*.txtar runs
// `exec medchain …` (this test binary, re-executed as the medchain command)
// against one real node started in TestMain. Every script gets its own home
// holding copies of the node's settings, genesis and demo keys, so scripts
// run in parallel; each signs with demo keys no other script uses, so their
// nonces never race, or first takes `lock` on the ones it shares.

var tn *apitest.Node

// withNode runs the tests with the shared node up.
type withNode struct{ m *testing.M }

func (w withNode) Run() int {
	var err error
	// The node serves patients' records as Northside's admin (records.txtar).
	if tn, err = apitest.StartWith(node.Options{Records: &node.RecordOptions{Account: "northside-admin", MaxAttempts: 3}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := w.m.Run()
	if err := tn.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stop:", err)
	}
	return code
}

func TestMain(m *testing.M) {
	os.Exit(testscript.RunMain(withNode{m}, map[string]func() int{
		"medchain": func() int { return exitCode(newRoot().Execute()) },
	}))
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, "home")
			for _, f := range []string{"medchain.json", "config/genesis.json"} {
				if err := copyFile(filepath.Join(tn.Home, f), filepath.Join(home, f)); err != nil {
					return err
				}
			}
			keysDir := node.KeysDir(tn.Home)
			entries, err := os.ReadDir(keysDir)
			if err != nil {
				return err
			}
			for _, e := range entries {
				if err := copyFile(filepath.Join(keysDir, e.Name()), filepath.Join(node.KeysDir(home), e.Name())); err != nil {
					return err
				}
			}
			env.Setenv("MEDCHAIN_HOME", home)
			env.Setenv("NODE", tn.APIAddr())
			// The node's own vault, which serves records (records.txtar).
			env.Setenv("NODEVAULT", filepath.Join(tn.Home, "vault"))
			synthea, err := filepath.Abs("../../testdata/synthea")
			if err != nil {
				return err
			}
			env.Setenv("SYNTHEA", synthea)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"jsonvar":     jsonvar,
			"lock":        lock,
			"add":         add,
			"tamperproof": tamperproof,
			"perm":        perm,
		},
	})
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o700); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

// jsonvar NAME PATH sets $NAME to the value at PATH (dot-separated keys and
// indexes) in the JSON of the last command's stdout.
func jsonvar(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: jsonvar NAME PATH")
	}
	var v any
	ts.Check(json.Unmarshal([]byte(ts.ReadFile("stdout")), &v))
	for _, p := range strings.Split(args[1], ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i < 0 || i >= len(x) {
				ts.Fatalf("jsonvar: %q is not an index of a list of %d", p, len(x))
			}
			v = x[i]
		default:
			ts.Fatalf("jsonvar: no %q in %v", p, v)
		}
	}
	switch x := v.(type) {
	case nil:
		ts.Fatalf("jsonvar: %s is not set", args[1])
	case string:
		ts.Setenv(args[0], x)
	default:
		b, _ := json.Marshal(x)
		ts.Setenv(args[0], string(b))
	}
}

// add NAME A B sets $NAME to A+B (integers, either may be negative): to
// check a balance moved by an amount.
func add(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: add NAME A B")
	}
	a, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	b, err := strconv.ParseInt(args[2], 10, 64)
	ts.Check(err)
	ts.Setenv(args[0], strconv.FormatInt(a+b, 10))
}

// keyLocks holds a mutex per locked name.
var keyLocks sync.Map

// lock NAME... holds the named locks until the script ends. Scripts that sign
// with the same demo key lock its name, so they take turns instead of racing
// for its nonces. Call it once, first: the names are taken in sorted order,
// so two scripts can never wait for each other.
func lock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: lock NAME...")
	}
	for _, name := range slices.Compact(slices.Sorted(slices.Values(args))) {
		v, _ := keyLocks.LoadOrStore(name, new(sync.Mutex))
		mu := v.(*sync.Mutex)
		mu.Lock()
		ts.Defer(mu.Unlock)
	}
}

// run executes the CLI in-process, as main does, and returns its exit code.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot()
	root.SetArgs(append([]string{"--home", t.TempDir(), "--node", tn.APIAddr()}, args...))
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetContext(context.Background())
	err := root.Execute()
	return exitCode(err), out.String(), errb.String()
}

// TestExitCodes checks the exit code contract: 0 ok, 1 refused by the
// ledger or the API (including a committed transaction's non-zero code and
// a failed verification), 2 usage and local errors.
func TestExitCodes(t *testing.T) {
	if code, out, _ := run(t, "status"); code != 0 || !strings.Contains(out, apitest.ChainID) {
		t.Fatalf("status: %d %s", code, out)
	}
	if code, _, errs := run(t, "account", "show", strings.Repeat("0", 40)); code != 1 || !strings.Contains(errs, "not_found") {
		t.Fatalf("unknown account: %d %s", code, errs)
	}
	if code, _, _ := run(t, "transfer", "--from", "nobody", "--to", strings.Repeat("0", 40), "--amount", "1"); code != 2 {
		t.Fatalf("missing key: %d", code)
	}
	if code, _, _ := run(t, "status", "--bogus-flag"); code != 2 {
		t.Fatalf("bad flag: %d", code)
	}
	if code, _, _ := run(t, "audit", "verify"); code != 2 {
		t.Fatalf("audit verify without a target: %d", code)
	}
	if exitCode(fmt.Errorf("wrapped: %w", &client.Error{Name: "verification_failed"})) != 1 || exitCode(errors.New("x")) != 2 || exitCode(nil) != 0 {
		t.Fatal("exitCode mapping")
	}
	// A transaction committed with a non-zero code prints it and exits 1.
	home := t.TempDir()
	for _, f := range []string{"audrey-auditor.json", keys.DevMarker} {
		if err := copyFile(filepath.Join(node.KeysDir(tn.Home), f), filepath.Join(node.KeysDir(home), f)); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	root := newRoot()
	root.SetArgs([]string{"--home", home, "--node", tn.APIAddr(), "transfer", "--from", "audrey-auditor", "--to", "audrey-auditor", "--amount", "5"})
	root.SetOut(&out)
	root.SetErr(io.Discard)
	err := root.Execute()
	if exitCode(err) != 1 || !strings.Contains(out.String(), "code 9 (invalid_field): msg.to: cannot transfer to yourself") {
		t.Fatalf("failing tx: exit %d, %v, output %s", exitCode(err), err, out.String())
	}
}
