package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/medchain/medchain/audit"
	"github.com/medchain/medchain/store"
)

// TestScripts runs the scripts in testdata/scripts. Each script is a story
// told to one chain: a genesis, then blocks of transactions, with queries of
// the state in between. Every transaction prints its result code and log, so
// a script shows exactly what the ledger accepts and what it refuses, and why.
// After changing the ledger, regenerate the expected output with
//
//	go test ./ledger -run TestScripts -rewrite
//
// and read the diff: it is the change in behaviour.
//
// The language:
//
//	genesis [chain=ID]              start a new chain; input lines are
//	  org ID KIND admins=(NAME, …) [name=(TEXT)]
//	  account NAME KIND [org=ID] [balance=N]
//	  authority NAME
//
//	block [time=T | advance=SECONDS]   one block (height +1, time +10s by
//	                                   default); input lines are
//	  tx SIGNER TYPE [ARG=VAL …] [nonce=N] [chain=ID] [tamper=HOW]
//	  again                        deliver the previous transaction's bytes again
//	  raw TEXT                     deliver TEXT verbatim
//
//	query                            input lines are
//	  account NAME …  |  org ID …  |  dataset ID  |  policy ID  |  consents NAME
//	  access [ID]  |  supply  |  audit [last=N]
//	  allows NAME dataset=ID purpose=P [height=H] [time=T] [model=opt_in|opt_out]
//	  job ID …  |  budget ID …  |  model ID …  |  predictions ID …
//
// Model transactions get real commitments and proofs from the test models
// in models_helpers_test.go (see buildModelMsg for their arguments).
//
// Names stand for keys derived from the name (testKey), and addresses in the
// output are printed back as names. A value "raw:X" is used literally (an
// address, or hex key bytes) instead of being derived from a name. Times
// written +N or -N are relative to the block time. The nonce defaults to the
// signer's next nonce. tamper= is one of sig (flip a signature bit),
// short_sig, trailing (bytes after the JSON), unknown_field (an extra field
// in msg, properly signed), envelope_field (an extra field beside the
// payload and signature), spaces (whitespace around the envelope), pad
// (whitespace past MaxTxBytes) or forge:NAME (the payload names NAME as the
// signer but SIGNER's key signs it). A TYPE the ledger does not know is sent
// with an empty msg.
func TestScripts(t *testing.T) {
	seen := map[string]bool{}
	datadriven.Walk(t, "testdata/scripts", func(t *testing.T, path string) {
		r := &scriptRunner{}
		datadriven.RunTest(t, path, r.run)
		if r.db != nil {
			maps.Copy(seen, checkStoredRecords(t, r.db))
		}
	})
	// Every kind of stored record was read back by checkStoredRecords here,
	// but the study records, which TestStudy* leave and check.
	for _, st := range storedTypes {
		if c := collection(st.example); !seen[c] && c != collection(KeyStudyContribution(0, 0, 0, "")) && c != collection(KeyStudySum(0, 0)) {
			t.Errorf("no script stores a %s record", c)
		}
	}
}

// TestScriptsCoverEveryCode fails if some result code the ledger can produce
// appears in no script's output. Only internal (a store failure, never the
// sender's fault) cannot be produced by a script; TestStoreFailureIsInternal
// covers it.
func TestScriptsCoverEveryCode(t *testing.T) {
	files, err := filepath.Glob("testdata/scripts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	seen := map[string]bool{}
	re := regexp.MustCompile(`-> ([a-z_]+)`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]] = true
		}
	}
	for _, c := range Codes() {
		// internal is a store failure; wrong_passcode is the serving
		// node's answer (the ledger never sees a passcode).
		if c == CodeInternal || c == CodeWrongPasscode {
			continue
		}
		if c == CodeUnauthenticated || c == CodeReplayed {
			continue // the API's answers to requests, never a transaction's (api/consents_test.go)
		}
		if !seen[c.String()] {
			t.Errorf("no script produces result code %s (%d)", c, c)
		}
	}
}

// scriptRunner holds one script's chain.
type scriptRunner struct {
	chainID string
	db      *store.Mem
	m       *Machine
	height  int64
	now     int64
	times   map[int64]int64 // block time of each height, for "allows"
	names   map[string]string
	repl    *strings.Replacer
	last    []byte // the previous transaction, for "again"
	lastDsc string
	models  map[string]string // model id → the test model whose opening proves for it
}

func (r *scriptRunner) run(t *testing.T, d *datadriven.TestData) string {
	switch d.Cmd {
	case "genesis":
		return r.genesis(t, d)
	case "block":
		return r.block(t, d)
	case "query":
		return r.query(t, d)
	}
	d.Fatalf(t, "unknown command %q", d.Cmd)
	return ""
}

// name records that addr belongs to name, for readable output.
func (r *scriptRunner) name(name string) string {
	addr := testAddr(name)
	if r.names == nil {
		r.names = map[string]string{}
	}
	if _, ok := r.names[addr]; !ok {
		r.names[addr] = name
		r.repl = nil
	}
	return addr
}

// addr resolves an address argument: a name, or raw:LITERAL.
func (r *scriptRunner) addr(v string) string {
	if lit, ok := strings.CutPrefix(v, "raw:"); ok {
		return lit
	}
	return r.name(v)
}

// key resolves a key argument: a name's signing (or encryption) key, or
// raw:HEX bytes.
func (r *scriptRunner) key(t testing.TB, v string, enc bool) []byte {
	if lit, ok := strings.CutPrefix(v, "raw:"); ok {
		b, err := hex.DecodeString(lit)
		if err != nil {
			t.Fatalf("raw key %q: %v", v, err)
		}
		return b
	}
	r.name(v)
	if enc {
		return testEncKey(v)
	}
	return testPub(v)
}

// possession is the proof of possession of the named key for its
// registration into org: by default made by that key; possession=none
// leaves it out, possession=NAME has another key make it, possession_org
// and possession_chain bind it to another organisation or chain.
func (r *scriptRunner) possession(a *args, keyName, org string) []byte {
	by := a.str("possession", keyName)
	org = a.str("possession_org", org)
	chain := a.str("possession_chain", r.chainID)
	if by == "none" || strings.HasPrefix(keyName, "raw:") {
		return nil
	}
	return ed25519.Sign(testKey(by), PossessionBytes(chain, org, testAddr(keyName)))
}

// readable replaces every known address with its name.
func (r *scriptRunner) readable(s string) string {
	if r.repl == nil {
		var pairs []string
		for a, n := range r.names {
			pairs = append(pairs, a, n)
		}
		r.repl = strings.NewReplacer(pairs...)
	}
	return r.repl.Replace(s)
}

// args is a line's NAME=VALUE arguments; every one must be used.
type args struct {
	t    testing.TB
	vals map[string][]string
	used map[string]bool
}

func newArgs(t testing.TB, cas []datadriven.CmdArg) *args {
	a := &args{t: t, vals: map[string][]string{}, used: map[string]bool{}}
	for _, ca := range cas {
		if ca.Vals == nil {
			t.Fatalf("argument %q needs a value", ca.Key)
		}
		a.vals[ca.Key] = ca.Vals
	}
	return a
}

func (a *args) has(k string) bool { _, ok := a.vals[k]; return ok }

// list is a value list; "k=" gives an empty list, a missing k the default.
func (a *args) list(k string, def ...string) []string {
	a.used[k] = true
	if v, ok := a.vals[k]; ok {
		if len(v) == 1 && v[0] == "" {
			return nil
		}
		return v
	}
	return def
}

// str is a single value; "k=" gives "".
func (a *args) str(k, def string) string {
	if v, ok := a.vals[k]; ok && len(v) == 1 && v[0] == "" {
		a.used[k] = true
		return ""
	}
	v := a.list(k, def)
	if len(v) != 1 {
		a.t.Fatalf("argument %s: want one value, got %v", k, v)
	}
	return v[0]
}

func (a *args) u64(k string, def uint64) uint64 {
	s := a.str(k, fmt.Sprint(def))
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		a.t.Fatalf("argument %s: %v", k, err)
	}
	return n
}

func (a *args) boolean(k string, def bool) bool {
	b, err := strconv.ParseBool(a.str(k, strconv.FormatBool(def)))
	if err != nil {
		a.t.Fatalf("argument %s: %v", k, err)
	}
	return b
}

// time parses an absolute unix time, or +N / -N seconds from now; 0 is "none".
func (a *args) time(k string, now int64) int64 {
	s := a.str(k, "0")
	if s == "" {
		a.t.Fatalf("argument %s: empty time", k)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		a.t.Fatalf("argument %s: %v", k, err)
	}
	if s[0] == '+' || s[0] == '-' {
		return now + n
	}
	return n
}

func (a *args) done() {
	for k := range a.vals {
		if !a.used[k] {
			a.t.Fatalf("unknown argument %s", k)
		}
	}
}

// positional splits "cmd p1 p2 k=v …" into n leading bare words and the rest.
func positional(t testing.TB, line string, n int) (string, []string, *args) {
	cmd, cas, err := datadriven.ParseLine(line)
	if err != nil {
		t.Fatal(err)
	}
	var pos []string
	for len(pos) < n && len(cas) > 0 && cas[0].Vals == nil {
		pos = append(pos, cas[0].Key)
		cas = cas[1:]
	}
	if len(pos) < n {
		t.Fatalf("%q: want %d words after %s", line, n, cmd)
	}
	return cmd, pos, newArgs(t, cas)
}

// inputLines are the non-blank, non-comment lines of a directive's input.
func inputLines(d *datadriven.TestData) []string {
	var out []string
	for _, l := range strings.Split(d.Input, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

func (r *scriptRunner) genesis(t *testing.T, d *datadriven.TestData) string {
	r.chainID = testChain
	d.MaybeScanArgs(t, "chain", &r.chainID)
	g := Genesis{}
	d.MaybeScanArgs(t, "job_timeout", &g.JobTimeoutBlocks)
	d.MaybeScanArgs(t, "per_account", &g.MaxTxsPerAccountPerBlock)
	d.MaybeScanArgs(t, "self_registrations", &g.MaxSelfRegistrationsPerBlock)
	var supply uint64
	for _, line := range inputLines(d) {
		cmd, _, err := datadriven.ParseLine(line)
		if err != nil {
			t.Fatal(err)
		}
		switch cmd {
		case "org":
			_, pos, a := positional(t, line, 2)
			o := GenesisOrg{ID: pos[0], Kind: OrgKind(pos[1]), Name: a.str("name", "Org "+pos[0])}
			for _, n := range a.list("admins") {
				o.Admins = append(o.Admins, r.addr(n))
			}
			a.done()
			g.Orgs = append(g.Orgs, o)
		case "account":
			_, pos, a := positional(t, line, 2)
			acct := GenesisAccount{PubKey: r.key(t, pos[0], false), EncKey: r.key(t, a.str("enc", pos[0]), true),
				Kind: AccountKind(pos[1]), Org: a.str("org", ""), Balance: a.u64("balance", 0)}
			a.done()
			supply += acct.Balance
			g.Accounts = append(g.Accounts, acct)
		case "authority":
			_, pos, a := positional(t, line, 1)
			a.done()
			g.Authorities = append(g.Authorities, r.addr(pos[0]))
		default:
			t.Fatalf("genesis: unknown line %q", line)
		}
	}
	r.db = store.NewMem()
	m, err := New(r.db)
	if err != nil {
		t.Fatal(err)
	}
	r.m, r.height, r.now, r.times, r.last = m, 0, 1_700_000_000, map[int64]int64{0: 1_700_000_000}, nil
	if _, err := m.InitChain(r.chainID, g); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("InitChain: %v", err)
		}
		r.m = nil
		return r.readable(fmt.Sprintf("genesis -> %s: %s", e.Code, e.Msg))
	}
	return fmt.Sprintf("genesis -> ok: chain %s, %d orgs, %d accounts, supply %d", r.chainID, len(g.Orgs), len(g.Accounts), supply)
}

func (r *scriptRunner) block(t *testing.T, d *datadriven.TestData) string {
	if r.m == nil {
		t.Fatal("block before a successful genesis")
	}
	a := newArgs(t, d.CmdArgs)
	r.height++
	if a.has("time") {
		r.now = a.time("time", r.now)
	} else {
		r.now += int64(a.u64("advance", 10))
	}
	a.done()
	r.times[r.height] = r.now
	if err := r.m.BeginBlock(BlockInfo{Height: r.height, Time: r.now}); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	fmt.Fprintf(&out, "block %d time=%d\n", r.height, r.now)
	for _, line := range inputLines(d) {
		raw, desc := r.txLine(t, line)
		res, err := r.m.DeliverTx(raw)
		if err != nil {
			t.Fatalf("DeliverTx(%s) returned an error: %v", line, err)
		}
		r.last, r.lastDsc = raw, desc
		fmt.Fprintf(&out, "%s -> %s\n", desc, r.readable(formatResult(res)))
	}
	c, err := r.m.EndBlock()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Verify(); err != nil {
		t.Fatal(err)
	}
	if err := r.m.Commit(r.db); err != nil {
		t.Fatal(err)
	}
	r.m.Committed()
	return out.String()
}

func formatResult(res Result) string {
	if res.Code != CodeOK {
		return res.Code.String() + ": " + res.Log
	}
	s := "ok"
	for _, e := range res.Events {
		if e.Type == "medchain" {
			continue
		}
		var kv []string
		for _, at := range e.Attrs {
			if at.Value != "" {
				kv = append(kv, at.Key+"="+at.Value)
			}
		}
		s += " (" + strings.Join(kv, " ") + ")"
	}
	return s
}

// txLine turns one block input line into transaction bytes and a
// description for the output.
func (r *scriptRunner) txLine(t *testing.T, line string) ([]byte, string) {
	if line == "again" {
		if r.last == nil {
			t.Fatal("again: no previous transaction")
		}
		return r.last, "again: " + r.lastDsc
	}
	if text, ok := strings.CutPrefix(line, "raw "); ok {
		desc := text
		if len(desc) > 56 {
			desc = desc[:56] + "…"
		}
		return []byte(text), "raw " + desc
	}
	cmd, pos, a := positional(t, line, 2)
	if cmd != "tx" {
		t.Fatalf("block: unknown line %q", line)
	}
	signer, typ := pos[0], TxType(pos[1])
	r.name(signer)
	chain := a.str("chain", r.chainID)
	tamper := a.str("tamper", "")
	claimed := signer
	if victim, ok := strings.CutPrefix(tamper, "forge:"); ok {
		claimed = victim
		r.name(victim)
	}
	nonce := r.nextNonce(t, claimed)
	if a.has("nonce") {
		nonce = a.u64("nonce", 0)
	}
	msgJSON, err := json.Marshal(r.buildMsg(t, signer, typ, a))
	if err != nil {
		t.Fatal(err)
	}
	a.done()
	desc := fmt.Sprintf("%s %s nonce=%d", signer, typ, nonce)
	if chain != r.chainID {
		desc += " chain=" + chain
	}
	if tamper != "" {
		desc += " tamper=" + tamper
	}
	if tamper == "unknown_field" {
		msgJSON = append([]byte(`{"extra":1,`), msgJSON[1:]...)
	}
	p := Payload{ChainID: chain, Type: typ, Signer: testPub(claimed), Nonce: nonce, Msg: msgJSON}
	raw := signPayload(testKey(signer), p)
	switch tamper {
	case "", "unknown_field":
	case "sig", "short_sig":
		var env envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatal(err)
		}
		if tamper == "sig" {
			env.Signature[10] ^= 1
		} else {
			env.Signature = env.Signature[:ed25519.SignatureSize-1]
		}
		var err error
		if raw, err = json.Marshal(env); err != nil {
			t.Fatal(err)
		}
	case "trailing":
		raw = append(raw, "{}"...)
	case "envelope_field":
		raw = append([]byte(`{"extra":1,`), raw[1:]...)
	case "spaces":
		raw = append(append([]byte(" \n\t"), raw...), "  \n"...)
	case "pad":
		raw = append(raw, bytes.Repeat([]byte(" "), MaxTxBytes+1-len(raw))...)
	default:
		if !strings.HasPrefix(tamper, "forge:") {
			t.Fatalf("unknown tamper %q", tamper)
		}
	}
	return raw, desc
}

// nextNonce is the nonce name must sign with next (0 if not registered).
func (r *scriptRunner) nextNonce(t testing.TB, name string) uint64 {
	acct, err := getAccount(r.m.block, testAddr(name))
	if err != nil {
		t.Fatal(err)
	}
	if acct == nil {
		return 0
	}
	return acct.Nonce
}

// buildMsg builds the message of a known type from its arguments, with
// defaults that make a valid transaction. For a type the ledger does not
// know, the arguments become the message's string fields.
func (r *scriptRunner) buildMsg(t *testing.T, signer string, typ TxType, a *args) any {
	switch typ {
	case TxCreateOrg:
		admin := a.str("admin", "")
		id := a.str("id", "")
		return &CreateOrg{ID: id, Name: a.str("name", "Org "+id), Kind: OrgKind(a.str("kind", "hospital")),
			Admin: r.key(t, a.str("pub", admin), false), EncKey: r.key(t, a.str("enc", admin), true),
			AdminPossession: r.possession(a, a.str("pub", admin), id)}
	case TxSetOrgAdmin:
		return &SetOrgAdmin{Org: a.str("org", ""), Address: r.addr(a.str("address", "")), Admin: a.boolean("admin", true)}
	case TxRegisterAccount:
		who := a.str("key", signer) // by default, register your own key
		m := &RegisterAccount{PubKey: r.key(t, a.str("pub", who), false), EncKey: r.key(t, a.str("enc", who), true),
			Kind: AccountKind(a.str("kind", "")), Org: a.str("org", "")}
		if who != signer || a.str("possession", "") != "" {
			m.Possession = r.possession(a, a.str("pub", who), m.Org)
		}
		return m
	case TxTransfer:
		return &Transfer{To: r.addr(a.str("to", "")), Amount: a.u64("amount", 0)}
	case TxSetAccountStatus:
		return &SetAccountStatus{Address: r.addr(a.str("address", "")), Status: a.str("status", "")}
	case TxRegisterDataset:
		id, v := a.str("id", ""), a.u64("version", 1)
		root := sha256.Sum256(fmt.Appendf(nil, "content of %s v%d", id, v))
		m := &RegisterDataset{ID: id, Version: v, Title: a.str("title", "Dataset "+id),
			Description: a.str("description", ""), RecordBand: a.str("band", "1k-10k"),
			ContentRoot: a.str("root", hex.EncodeToString(root[:])),
			Locator:     a.str("locator", fmt.Sprintf("vault://%s/v%d", id, v)), DeidProfile: a.str("deid", "")}
		for _, f := range a.list("schema", "age:integer", "sbp:number:mm[Hg]:loinc:8480-6") {
			parts := strings.Split(f, ":")
			fld := Field{Name: parts[0]}
			for i, p := range []*string{&fld.Type, &fld.Unit, &fld.System, &fld.Code} {
				if i+1 < len(parts) {
					*p = parts[i+1]
				}
			}
			m.Schema = append(m.Schema, fld)
		}
		return m
	case TxSetPolicy:
		p := Policy{
			Purposes:           a.list("purposes", "research"),
			Requesters:         Requesters{Anyone: a.boolean("anyone", false), Orgs: a.list("orgs")},
			Analyses:           Analyses{Builtins: a.list("builtins", "cohort_count", "descriptive"), CodeHashes: a.list("code_hashes")},
			MinCohort:          a.u64("min_cohort", MinCohortFloor),
			EpsilonPerJobMilli: a.u64("eps_job", 100),
			EpsilonTotalMilli:  a.u64("eps_total", 1000),
			Price:              a.u64("price", 10),
			Attestation:        a.str("attestation", AttestSoftware),
			ConsentModel:       a.str("model", ConsentOptIn),
			Expiry:             a.time("expiry", r.now),
			SetHeight:          int64(a.u64("set_height", 0)),
		}
		kinds := a.list("kinds")
		if !p.Requesters.Anyone && len(p.Requesters.Orgs) == 0 && !a.has("kinds") {
			kinds = []string{string(KindResearcher)}
		}
		for _, k := range kinds {
			p.Requesters.Kinds = append(p.Requesters.Kinds, AccountKind(k))
		}
		split := a.list("split", "7000", "2000", "1000")
		if len(split) != 3 {
			t.Fatalf("split: want institution, patient pool and worker shares")
		}
		for i, dst := range []*uint32{&p.Split.InstitutionBps, &p.Split.PatientPoolBps, &p.Split.WorkerBps} {
			n, err := strconv.ParseUint(split[i], 10, 32)
			if err != nil {
				t.Fatal(err)
			}
			*dst = uint32(n)
		}
		return &SetPolicy{Dataset: a.str("dataset", ""), Policy: p}
	case TxGiveConsent:
		kind, id, _ := strings.Cut(a.str("scope", "all"), ":")
		return &GiveConsent{Scope: Scope{Kind: kind, ID: id}, Provision: a.str("provision", Permit),
			Purposes: a.list("purposes", "research"), Expiry: a.time("expiry", r.now)}
	case TxNarrowConsent:
		return &NarrowConsent{Seq: a.u64("seq", 0), Purposes: a.list("purposes"), Expiry: a.time("expiry", r.now)}
	case TxRevokeConsent:
		return &RevokeConsent{Seq: a.u64("seq", 0)}
	case TxRequestAccess:
		return &RequestAccess{Dataset: a.str("dataset", ""), Purpose: a.str("purpose", "research")}
	case TxDecideAccess:
		return &DecideAccess{Request: a.u64("request", 0), Grant: a.boolean("grant", true), Expiry: a.time("expiry", r.now)}
	case TxRegisterWorker:
		worker, code := a.str("worker", ""), a.str("measurement", scriptHash("worker v1"))
		return &RegisterWorker{Address: r.addr(worker), Attestation: a.str("attestation", AttestTypeSoftware),
			Measurement: code, Evidence: r.buildEvidence(t, a, worker, code)}
	case TxSetAttestationPolicy:
		return r.buildAttestationPolicy(t, a)
	case TxSubmitJob:
		return &SubmitJob{Datasets: a.list("datasets"), Analysis: a.str("analysis", "cohort_count"),
			Params: json.RawMessage(a.str("params", "{}")), Purpose: a.str("purpose", "research"),
			MaxPrice: a.u64("max_price", 1000), ResultKey: r.key(t, a.str("result_key", signer), true),
			EpsilonMilli: a.u64("eps", 0)}
	case TxPostResult:
		ds := a.str("dataset", "")
		root := sha256.Sum256(fmt.Appendf(nil, "content of %s v%d", ds, a.u64("version", 1)))
		return &PostResult{Job: a.u64("job", 0), Dataset: ds, ContentRoot: a.str("root", hex.EncodeToString(root[:])),
			Measurement: a.str("measurement", scriptHash("worker v1")), ResultHash: a.str("result", scriptHash("result")),
			Locator: a.str("locator", "vault://results/job")}
	case TxFailJob:
		m := &FailJob{Job: a.u64("job", 0), Dataset: a.str("dataset", ""), Reason: a.str("reason", "data_unavailable")}
		if code := a.str("refusal", ""); code != "" {
			m.Refusal = &Refusal{Code: code, Param: a.str("param", ""), Column: a.str("column", "")}
		}
		return m
	case TxExpireJob:
		return &ExpireJob{Job: a.u64("job", 0)}
	case TxAdvanceStudy:
		return &AdvanceStudy{Job: a.u64("job", 0)}
	case TxRegisterModel, TxRecordPrediction, TxAttestPrediction:
		return r.buildModelMsg(t, typ, a)
	case TxRegisterDevice, TxSetDeviceStatus, TxAnchorReadings:
		return r.buildDeviceMsg(t, typ, a)
	case TxShareRecord, TxRevokeShare, TxCloseShare:
		return r.buildShareMsg(t, typ, a)
	case TxPostReceipts, TxClaimReward:
		return r.buildRewardsMsg(t, typ, signer, a)
	case TxPostDeal, TxAcceptDeal, TxWithdrawAcceptance, TxDeliverDealRows, TxCloseDeal, TxDeclineAcceptances:
		return r.buildDealMsg(t, signer, typ, a)
	}
	fields := map[string]string{}
	for k := range a.vals {
		if !a.used[k] {
			fields[k] = a.str(k, "")
		}
	}
	return fields
}

func (r *scriptRunner) query(t *testing.T, d *datadriven.TestData) string {
	if r.m == nil {
		t.Fatal("query before a successful genesis")
	}
	var out strings.Builder
	st := r.m.block // committed state plus anything staged (only genesis, before block 1)
	for _, line := range inputLines(d) {
		cmd, cas, err := datadriven.ParseLine(line)
		if err != nil {
			t.Fatal(err)
		}
		var words []string
		for len(cas) > 0 && cas[0].Vals == nil {
			words = append(words, cas[0].Key)
			cas = cas[1:]
		}
		a := newArgs(t, cas)
		switch cmd {
		case "account":
			for _, n := range words {
				acct, err := GetAccount(st, r.addr(n))
				if err != nil {
					t.Fatal(err)
				}
				if acct == nil {
					fmt.Fprintf(&out, "account %s: not registered\n", n)
					continue
				}
				org := ""
				if acct.Org != "" {
					org = " org=" + acct.Org
				}
				sus, err := GetSuspension(st, acct.Address)
				if err != nil {
					t.Fatal(err)
				}
				if sus != nil {
					org += fmt.Sprintf(" suspended=%d by=%s", sus.Height, r.readable(sus.By))
				}
				fmt.Fprintf(&out, "account %s: %s%s balance=%d nonce=%d registered=%d\n", n, acct.Kind, org, acct.Balance, acct.Nonce, acct.Registered)
			}
		case "org":
			for _, id := range words {
				o, err := GetOrg(st, id)
				if err != nil {
					t.Fatal(err)
				}
				if o == nil {
					fmt.Fprintf(&out, "org %s: none\n", id)
					continue
				}
				fmt.Fprintf(&out, "org %s: %s name=(%s) admins=(%s) created=%d\n", id, o.Kind, o.Name, strings.Join(o.Admins, ", "), o.Created)
			}
		case "dataset":
			for _, id := range words {
				r.printDataset(t, &out, st, id)
			}
		case "policy":
			for _, id := range words {
				r.printPolicy(t, &out, st, id)
			}
		case "consents":
			for _, n := range words {
				cs, err := GetConsents(st, r.addr(n))
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&out, "consents %s: %d\n", n, len(cs))
				for _, c := range cs {
					fmt.Fprintf(&out, "  #%d %s\n", c.Seq, formatConsent(c))
				}
			}
		case "access":
			r.printAccess(t, &out, st, words)
		case "supply":
			supply, err := GetSupply(st)
			if err != nil {
				t.Fatal(err)
			}
			accts := accounts(t, r.m, r.db)
			sum, ok := balanceSum(accts)
			held := heldSum(t, r.m, r.db)
			rel := "="
			if !ok || sum+held != supply {
				rel = "!="
			}
			if held == 0 {
				fmt.Fprintf(&out, "supply %d %s sum of %d balances (%d)\n", supply, rel, len(accts), sum)
			} else {
				fmt.Fprintf(&out, "supply %d %s sum of %d balances (%d) + escrows and pools (%d)\n", supply, rel, len(accts), sum, held)
			}
		case "job":
			for _, n := range words {
				id, err := strconv.ParseUint(n, 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				j, err := GetJob(st, id)
				if err != nil {
					t.Fatal(err)
				}
				if j == nil {
					fmt.Fprintf(&out, "job %d: none\n", id)
					continue
				}
				fmt.Fprintf(&out, "job %d: %s by %s analysis=%s purpose=%s escrow=%d admitted=%d deadline=%d", j.ID, j.Status,
					r.readable(j.Requester), j.Analysis, j.Purpose, j.Escrow, j.Admitted, j.Deadline)
				if j.Reason != "" {
					fmt.Fprintf(&out, " reason=(%s)", j.Reason)
				}
				fmt.Fprintln(&out)
				for _, s := range j.Sites {
					fmt.Fprintf(&out, "  site %s v%d org=%s price=%d eps=%d", s.Dataset, s.Version, s.Org, s.Price, s.EpsilonMilli)
					if s.Result != nil {
						fmt.Fprintf(&out, " result by %s at %d", r.readable(s.Result.Worker), s.Result.Posted)
					}
					if f := s.Refusal; f != nil {
						fmt.Fprintf(&out, " refusal=%s param=%s column=%s", f.Code, f.Param, f.Column)
					}
					fmt.Fprintln(&out)
				}
			}
		case "budget":
			for _, id := range words {
				b, err := GetBudget(st, id)
				if err != nil {
					t.Fatal(err)
				}
				p, err := GetPool(st, id)
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&out, "budget %s: spent %d milli-epsilon; patient pool %d\n", id, b.SpentMilli, p)
			}
		case "audit":
			r.printAudit(t, &out, st, int(a.u64("last", 1<<20)))
		case "model", "predictions":
			r.printModels(t, &out, st, cmd, words)
		case "device", "anchors":
			r.printDevices(t, &out, st, cmd, words)
		case "shares":
			r.printShares(t, &out, st, words)
		case "receipts", "orgpool":
			r.printRewards(t, &out, st, cmd, words)
		case "deal":
			r.printDeals(t, &out, st, words)
		case "allows":
			if len(words) != 1 {
				t.Fatalf("allows: want one patient")
			}
			q := ConsentQuery{Dataset: a.str("dataset", ""), Purpose: a.str("purpose", "research"),
				Height: int64(a.u64("height", uint64(r.height))), Model: a.str("model", ConsentOptIn)}
			var known bool
			q.Time, known = r.times[q.Height]
			if a.has("time") {
				q.Time, known = a.time("time", q.Time), true
			}
			if !known {
				t.Fatalf("allows: no block at height %d yet; give time=", q.Height)
			}
			ds, err := GetDataset(st, q.Dataset)
			if err != nil || ds == nil {
				t.Fatalf("allows: dataset %q: %v", q.Dataset, err)
			}
			q.Org = ds.Org
			cs, err := GetConsents(st, r.addr(words[0]))
			if err != nil {
				t.Fatal(err)
			}
			verdict := "refused"
			if ConsentAllows(cs, q) {
				verdict = "allowed"
			}
			fmt.Fprintf(&out, "%s's record in %s for %s at height %d (%s): %s\n", words[0], q.Dataset, q.Purpose, q.Height, q.Model, verdict)
		default:
			t.Fatalf("query: unknown %q", line)
		}
		a.done()
	}
	return r.readable(out.String())
}

func orNone(t int64) string {
	if t == 0 {
		return "none"
	}
	return fmt.Sprint(t)
}

func formatConsent(c Consent) string {
	scope := c.Scope.Kind
	if c.Scope.ID != "" {
		scope += ":" + c.Scope.ID
	}
	s := fmt.Sprintf("%s %s purposes=(%s) expiry=%s created=%d", c.Provision, scope, strings.Join(c.Purposes, ", "), orNone(c.Expiry), c.Created)
	if c.Narrowed != 0 {
		s += fmt.Sprintf(" narrowed=%d", c.Narrowed)
	}
	if c.Revoked != 0 {
		s += fmt.Sprintf(" revoked=%d", c.Revoked)
	}
	return s
}

func (r *scriptRunner) printDataset(t *testing.T, out *strings.Builder, st store.Reader, id string) {
	ds, err := GetDataset(st, id)
	if err != nil {
		t.Fatal(err)
	}
	if ds == nil {
		fmt.Fprintf(out, "dataset %s: none\n", id)
		return
	}
	fmt.Fprintf(out, "dataset %s: org=%s latest=v%d policy=%t created=%d\n", id, ds.Org, ds.LatestVersion, ds.HasPolicy, ds.Created)
	for v := uint64(1); v <= ds.LatestVersion; v++ {
		dv, err := GetDatasetVersion(st, id, v)
		if err != nil || dv == nil {
			t.Fatalf("dataset %s v%d: %v", id, v, err)
		}
		var schema []string
		for _, f := range dv.Schema {
			s := f.Name + ":" + f.Type
			if f.Unit != "" {
				s += ":" + f.Unit
			}
			if f.Code != "" {
				s += ":" + f.System + ":" + f.Code
			}
			schema = append(schema, s)
		}
		fmt.Fprintf(out, "  v%d title=(%s) band=%s schema=(%s) root=%.8s… locator=%s by=%s at=%d\n",
			v, dv.Title, dv.RecordBand, strings.Join(schema, ", "), dv.ContentRoot, dv.Locator, dv.PublishedBy, dv.Published)
	}
}

func (r *scriptRunner) printPolicy(t *testing.T, out *strings.Builder, st store.Reader, id string) {
	p, err := GetPolicy(st, id)
	if err != nil {
		t.Fatal(err)
	}
	if p == nil {
		fmt.Fprintf(out, "policy %s: none\n", id)
		return
	}
	var who []string
	if p.Requesters.Anyone {
		who = append(who, "anyone")
	}
	for _, o := range p.Requesters.Orgs {
		who = append(who, "org:"+o)
	}
	for _, k := range p.Requesters.Kinds {
		who = append(who, "kind:"+string(k))
	}
	analyses := slices.Concat(p.Analyses.Builtins, p.Analyses.CodeHashes)
	fmt.Fprintf(out, "policy %s: set=%d consent=%s expiry=%s\n", id, p.SetHeight, p.ConsentModel, orNone(p.Expiry))
	fmt.Fprintf(out, "  purposes=(%s) requesters=(%s) analyses=(%s)\n", strings.Join(p.Purposes, ", "), strings.Join(who, ", "), strings.Join(analyses, ", "))
	fmt.Fprintf(out, "  min_cohort=%d epsilon=%d/%d milli price=%d split=%d/%d/%d attestation=%s\n", p.MinCohort,
		p.EpsilonPerJobMilli, p.EpsilonTotalMilli, p.Price, p.Split.InstitutionBps, p.Split.PatientPoolBps, p.Split.WorkerBps, p.Attestation)
}

func (r *scriptRunner) printAccess(t *testing.T, out *strings.Builder, st store.Reader, ids []string) {
	if len(ids) == 0 {
		var n uint64
		if _, err := getState(st, KeyAccessCount(), &n); err != nil {
			t.Fatal(err)
		}
		for i := uint64(0); i < n; i++ {
			ids = append(ids, fmt.Sprint(i))
		}
		if n == 0 {
			fmt.Fprintf(out, "access: no requests\n")
		}
	}
	for _, s := range ids {
		id, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		req, err := GetAccessRequest(st, id)
		if err != nil {
			t.Fatal(err)
		}
		if req == nil {
			fmt.Fprintf(out, "access #%d: none\n", id)
			continue
		}
		fmt.Fprintf(out, "access #%d: %s asks %s for %s: %s created=%d", id, req.Requester, req.Dataset, req.Purpose, req.Status, req.Created)
		if req.Status != AccessPending {
			fmt.Fprintf(out, " decided=%d by=%s expiry=%s", req.Decided, req.DecidedBy, orNone(req.Expiry))
		}
		out.WriteString("\n")
	}
}

func (r *scriptRunner) printAudit(t *testing.T, out *strings.Builder, st *store.Overlay, last int) {
	log, err := audit.Open(st, AuditPrefix)
	if err != nil {
		t.Fatal(err)
	}
	from := uint64(0)
	if log.Size() > uint64(last) {
		from = log.Size() - uint64(last)
	}
	fmt.Fprintf(out, "audit log: %d entries\n", log.Size())
	for i := from; i < log.Size(); i++ {
		b, err := log.Entry(i)
		if err != nil {
			t.Fatal(err)
		}
		var e AuditEntry
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		what := "(no verified signer)"
		if e.Type != "" {
			what = fmt.Sprintf("%s %s nonce=%d", e.Signer, e.Type, e.Nonce)
		}
		var changed []string
		for _, c := range e.Changes {
			changed = append(changed, strings.TrimPrefix(c.Key, string(StatePrefix)))
		}
		fmt.Fprintf(out, "  #%d height=%d tx=%d %s -> %s changed=(%s)\n", i, e.Height, e.Index, what, e.Code, strings.Join(changed, ", "))
	}
}

// scriptHash is a readable stand-in for a SHA-256 in scripts.
func scriptHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
