package ledger

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/medchain/medchain/store"
)

// The access-control matrix: every account kind × every action × the state
// that decides it, against the rules of docs/ledger.md. Each cell runs one
// transaction on a fresh copy of a committed world and compares the result
// code with the table; a refused cell must change nothing but the signer's
// nonce. On failure the whole matrix is printed, expected/got per cell.

// matrixSigners are the columns: one account of each kind and relation to
// the dataset "cardio", which belongs to hosp-a.
var matrixSigners = []struct {
	col, name string
	kind      AccountKind
	org       string
}{
	{"inst-own-admin", "alice", KindInstitution, "hosp-a"},
	{"inst-own", "bob", KindInstitution, "hosp-a"},
	{"inst-other", "carol", KindInstitution, "lab-b"},
	{"researcher", "rita", KindResearcher, "lab-b"},
	{"patient", "pat", KindPatient, ""},
	{"device", "dev", KindDevice, "hosp-a"},
	{"worker-own", "wanda", KindWorker, "hosp-a"},
	{"worker-other", "walt", KindWorker, "lab-b"},
	{"auditor", "audrey", KindAuditor, "consortium"},
	{"unregistered", "ghost", "", ""},
}

// World states. Every state starts from the base block (height 1):
// workers wanda (hosp-a) and walt (lab-b) registered; dataset cardio of
// hosp-a with an opt-in policy admitting researchers; pat's permit
// (consent 0, research + public_health); carol's pending access request 0
// for research; rita's job 0 on cardio (deadline height 4).
const (
	stBase     = "base"            // cell runs at height 3
	stRevoked  = "consent-revoked" // pat revoked consent 0
	stGranted  = "access-granted"  // alice granted request 0
	stDenied   = "access-denied"   // alice denied request 0
	stJobDone  = "job-failed"      // wanda failed job 0 (closed, refunded)
	stDeadline = "deadline-passed" // cell runs at height 6 > deadline 4
)

// Shorthands for the table.
const (
	mOK    = CodeOK
	mUnk   = CodeUnknownAccount
	mUnau  = CodeUnauthorized
	mState = CodeInvalidState
	mExpd  = CodeExpired
)

// row gives the expected code per column; cols not named get def.
func row(def Code, except map[string]Code) map[string]Code {
	out := map[string]Code{}
	for _, s := range matrixSigners {
		out[s.col] = def
		if c, ok := except[s.col]; ok {
			out[s.col] = c
		}
	}
	if _, named := except["unregistered"]; !named {
		out["unregistered"] = mUnk // every action needs a registered signer
	}
	return out
}

type matrixCase struct {
	action, state string
	msg           func() Msg
	want          map[string]Code
}

func matrixCases() []matrixCase {
	ds := func(version uint64) Msg {
		return &RegisterDataset{ID: "cardio", Version: version, Title: "Cardio", Schema: []Field{{Name: "age", Type: "integer"}},
			RecordBand: "1k-10k", ContentRoot: jobRoot("cardio-v2"), Locator: "vault://cardio/2"}
	}
	policy := func() Msg {
		p := matrixPolicy()
		p.Price = 12
		return &SetPolicy{Dataset: "cardio", Policy: p}
	}
	give := func() Msg {
		return &GiveConsent{Scope: Scope{Kind: ScopeDataset, ID: "cardio"}, Provision: Permit, Purposes: []string{"research"}}
	}
	narrow := func() Msg { return &NarrowConsent{Seq: 0, Purposes: []string{"research"}} }
	revoke := func() Msg { return &RevokeConsent{Seq: 0} }
	request := func() Msg { return &RequestAccess{Dataset: "cardio", Purpose: "research"} }
	decide := func() Msg { return &DecideAccess{Request: 0, Grant: true} }
	regWorker := func() Msg {
		return &RegisterWorker{Address: testAddr("wanda"), Attestation: AttestTypeSoftware, Measurement: genMeasurement}
	}
	submit := func() Msg {
		return &SubmitJob{Datasets: []string{"cardio"}, Analysis: "cohort_count", Params: []byte(`{}`), Purpose: "research",
			MaxPrice: 100, ResultKey: testEncKey("requester")}
	}
	post := func() Msg {
		return &PostResult{Job: 0, Dataset: "cardio", ContentRoot: jobRoot("cardio"), Measurement: genMeasurement,
			ResultHash: genMeasurement, Locator: "results://0"}
	}
	fail := func() Msg { return &FailJob{Job: 0, Dataset: "cardio", Reason: "analysis_error"} }
	expire := func() Msg { return &ExpireJob{Job: 0} }
	transfer := func() Msg { return &Transfer{To: testAddr("paula"), Amount: 1} }

	institutions := map[string]Code{"inst-own-admin": mOK, "inst-own": mOK}
	return []matrixCase{
		// A new version of an existing dataset: institution accounts of the owning org only.
		{"register_dataset v2", stBase, func() Msg { return ds(2) }, row(mUnau, institutions)},
		{"set_policy", stBase, policy, row(mUnau, institutions)},
		// Consents are the patient's alone.
		{"give_consent", stBase, give, row(mUnau, map[string]Code{"patient": mOK})},
		{"give_consent", stRevoked, give, row(mUnau, map[string]Code{"patient": mOK})},
		{"narrow_consent", stBase, narrow, row(mUnau, map[string]Code{"patient": mOK})},
		{"narrow_consent", stRevoked, narrow, row(mUnau, map[string]Code{"patient": mState})},
		{"revoke_consent", stBase, revoke, row(mUnau, map[string]Code{"patient": mOK})},
		{"revoke_consent", stRevoked, revoke, row(mUnau, map[string]Code{"patient": mState})},
		// Researchers and institutions (of any org) may ask.
		{"request_access", stBase, request, row(mUnau, map[string]Code{"inst-own-admin": mOK, "inst-own": mOK, "inst-other": mOK, "researcher": mOK})},
		// The owning org's institution accounts decide, once.
		{"decide_access", stBase, decide, row(mUnau, institutions)},
		{"decide_access", stGranted, decide, row(mUnau, map[string]Code{"inst-own-admin": mState, "inst-own": mState})},
		{"decide_access", stDenied, decide, row(mUnau, map[string]Code{"inst-own-admin": mState, "inst-own": mState})},
		// Only an admin of the worker's org registers it.
		{"register_worker", stBase, regWorker, row(mUnau, map[string]Code{"inst-own-admin": mOK})},
		// The policy admits researchers; carol (another org's institution)
		// only with a live grant; the owner's own accounts are not in the
		// requester clause either.
		{"submit_job", stBase, submit, row(mUnau, map[string]Code{"researcher": mOK})},
		{"submit_job", stGranted, submit, row(mUnau, map[string]Code{"researcher": mOK, "inst-other": mOK})},
		{"submit_job", stDenied, submit, row(mUnau, map[string]Code{"researcher": mOK})},
		{"submit_job", stRevoked, submit, row(mUnau, map[string]Code{"researcher": mOK})}, // consent is the worker's filter, not admission's
		// Only a registered worker of the site's org posts or fails, while the job is admitted.
		{"post_result", stBase, post, row(mUnau, map[string]Code{"worker-own": mOK})},
		{"post_result", stRevoked, post, row(mUnau, map[string]Code{"worker-own": mOK})},
		{"post_result", stJobDone, post, row(mState, nil)},
		{"post_result", stDeadline, post, row(mUnau, map[string]Code{"worker-own": mExpd})},
		{"fail_job", stBase, fail, row(mUnau, map[string]Code{"worker-own": mOK})},
		{"fail_job", stJobDone, fail, row(mState, nil)},
		{"fail_job", stDeadline, fail, row(mUnau, map[string]Code{"worker-own": mOK})},
		// Anyone registered may expire a job, but only after its deadline.
		{"expire_job", stBase, expire, row(mState, nil)},
		{"expire_job", stJobDone, expire, row(mState, nil)},
		{"expire_job", stDeadline, expire, row(mOK, nil)},
		// Every account may move its own tokens.
		{"transfer", stBase, transfer, row(mOK, nil)},
	}
}

func matrixPolicy() Policy {
	return Policy{Purposes: []string{"research", "public_health"}, Requesters: Requesters{Kinds: []AccountKind{KindResearcher}},
		Analyses: Analyses{Builtins: []string{"cohort_count"}}, MinCohort: MinCohortFloor,
		EpsilonPerJobMilli: 100, EpsilonTotalMilli: 1000, Price: 10,
		Split:       RewardSplit{InstitutionBps: 7000, PatientPoolBps: 2000, WorkerBps: 1000},
		Attestation: AttestSoftware, ConsentModel: ConsentOptIn}
}

func matrixGenesis() Genesis {
	g := Genesis{Authorities: []string{testAddr("root")}, Orgs: slices.Clone(worldOrgs), JobTimeoutBlocks: 3}
	g.Accounts = append(g.Accounts, genesisAccount("root", KindInstitution, "consortium", 1_000_000))
	for _, s := range matrixSigners {
		if s.kind != "" {
			g.Accounts = append(g.Accounts, genesisAccount(s.name, s.kind, s.org, 1_000))
		}
	}
	g.Accounts = append(g.Accounts, genesisAccount("paula", KindPatient, "", 0))
	return g
}

// matrixWorld is a committed world in one state and the height its cells run at.
type matrixWorld struct {
	db     *store.Mem
	height int64
}

const matrixT0 = int64(1_700_000_000)

func buildMatrixWorld(t *testing.T, st string) matrixWorld {
	t.Helper()
	db := store.NewMem()
	m, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.InitChain(testChain, matrixGenesis()); err != nil {
		t.Fatal(err)
	}
	nonces := map[string]uint64{}
	h := int64(0)
	block := func(txs ...func() []byte) {
		h++
		if err := m.BeginBlock(BlockInfo{Height: h, Time: matrixT0 + 10*h}); err != nil {
			t.Fatal(err)
		}
		for i, tx := range txs {
			if res, err := m.DeliverTx(tx()); err != nil || res.Code != CodeOK {
				t.Fatalf("%s: setup block %d tx %d: %s %s %v", st, h, i, res.Code, res.Log, err)
			}
		}
		commitBlock(t, m, db)
	}
	sign := func(who string, msg Msg) func() []byte {
		return func() []byte { n := nonces[who]; nonces[who]++; return mustSign(who, n, msg) }
	}
	block(
		sign("alice", &RegisterWorker{Address: testAddr("wanda"), Attestation: AttestTypeSoftware, Measurement: genMeasurement}),
		sign("carol", &RegisterWorker{Address: testAddr("walt"), Attestation: AttestTypeSoftware, Measurement: genMeasurement}),
		sign("alice", &RegisterDataset{ID: "cardio", Version: 1, Title: "Cardio", Schema: []Field{{Name: "age", Type: "integer"}},
			RecordBand: "1k-10k", ContentRoot: jobRoot("cardio"), Locator: "vault://cardio/1"}),
		sign("alice", &SetPolicy{Dataset: "cardio", Policy: matrixPolicy()}),
		sign("pat", &GiveConsent{Scope: Scope{Kind: ScopeDataset, ID: "cardio"}, Provision: Permit, Purposes: []string{"research", "public_health"}}),
		sign("carol", &RequestAccess{Dataset: "cardio", Purpose: "research"}),
		sign("rita", &SubmitJob{Datasets: []string{"cardio"}, Analysis: "cohort_count", Params: []byte(`{}`), Purpose: "research",
			MaxPrice: 100, ResultKey: testEncKey("rita")}),
	)
	switch st {
	case stBase:
		block()
	case stRevoked:
		block(sign("pat", &RevokeConsent{Seq: 0}))
	case stGranted:
		block(sign("alice", &DecideAccess{Request: 0, Grant: true}))
	case stDenied:
		block(sign("alice", &DecideAccess{Request: 0, Grant: false}))
	case stJobDone:
		block(sign("wanda", &FailJob{Job: 0, Dataset: "cardio", Reason: "data_unavailable"}))
	case stDeadline:
		for h < 5 {
			block()
		}
	default:
		t.Fatalf("unknown state %q", st)
	}
	return matrixWorld{db: db, height: h + 1}
}

func cloneMem(src *store.Mem) *store.Mem {
	dst := store.NewMem()
	for _, k := range src.Keys(nil) {
		v, _ := src.Get(k)
		dst.Set(k, v)
	}
	return dst
}

// runCell delivers one signed message on a copy of w and returns its code,
// checking a refused transaction left the state alone (but the nonce).
func runCell(t *testing.T, w matrixWorld, signer string, msg Msg) (Code, string) {
	t.Helper()
	db := cloneMem(w.db)
	m, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.BeginBlock(BlockInfo{Height: w.height, Time: matrixT0 + 10*w.height}); err != nil {
		t.Fatal(err)
	}
	var nonce uint64
	a, err := GetAccount(m.block, testAddr(signer))
	if err != nil {
		t.Fatal(err)
	}
	if a != nil {
		nonce = a.Nonce
	}
	before := stagedState(t, m, db)
	res, err := m.DeliverTx(mustSign(signer, nonce, msg))
	if err != nil {
		t.Fatalf("%s by %s: %v", msg.Type(), signer, err)
	}
	if res.Code != CodeOK {
		after := stagedState(t, m, db)
		acct := string(KeyAccount(testAddr(signer)))
		delete(before, acct)
		delete(after, acct)
		if !maps.Equal(before, after) {
			t.Errorf("%s by %s failed with %s but changed the state", msg.Type(), signer, res.Code)
		}
	}
	return res.Code, res.Log
}

// TestAccessMatrix checks who may do what, in which state.
func TestAccessMatrix(t *testing.T) {
	worlds := map[string]matrixWorld{}
	cases := matrixCases()
	got := make([]map[string]Code, len(cases))
	logs := map[string]string{}
	failed := false
	for i, c := range cases {
		w, built := worlds[c.state]
		if !built {
			w = buildMatrixWorld(t, c.state)
			worlds[c.state] = w
		}
		got[i] = map[string]Code{}
		for _, s := range matrixSigners {
			code, log := runCell(t, w, s.name, c.msg())
			got[i][s.col] = code
			if code != c.want[s.col] {
				failed = true
				logs[fmt.Sprintf("%s [%s] by %s", c.action, c.state, s.col)] = fmt.Sprintf("want %s, got %s: %s", c.want[s.col], code, log)
			}
		}
	}
	if failed || testing.Verbose() {
		var b strings.Builder
		fmt.Fprintf(&b, "%-34s", "action [state]")
		for _, s := range matrixSigners {
			fmt.Fprintf(&b, " %-14s", s.col)
		}
		b.WriteString("\n")
		for i, c := range cases {
			fmt.Fprintf(&b, "%-34s", c.action+" ["+c.state+"]")
			for _, s := range matrixSigners {
				cell := c.want[s.col].String()
				if got[i][s.col] != c.want[s.col] {
					cell = "!" + cell + "→" + got[i][s.col].String()
				}
				fmt.Fprintf(&b, " %-14s", cell)
			}
			b.WriteString("\n")
		}
		for _, k := range slices.Sorted(maps.Keys(logs)) {
			fmt.Fprintf(&b, "%s: %s\n", k, logs[k])
		}
		if failed {
			t.Errorf("access matrix (!want→got marks a wrong cell):\n%s", b.String())
		} else {
			t.Logf("access matrix:\n%s", b.String())
		}
	}
}
