package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strings"
	"sync"

	"github.com/medchain/medchain/store"
)

// Helpers shared by the script, property, fuzz and benchmark tests.

// tb is what the helpers need of a *testing.T, *testing.B or *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

const testChain = "medchain-test"

var testKeys sync.Map // name → ed25519.PrivateKey

// testKey derives a key from a name, so tests say "alice" instead of key
// bytes: the same name always gives the same key, on every run.
func testKey(name string) ed25519.PrivateKey {
	if k, ok := testKeys.Load(name); ok {
		return k.(ed25519.PrivateKey)
	}
	seed := sha256.Sum256([]byte("medchain/test-key/" + name))
	k := ed25519.NewKeyFromSeed(seed[:])
	testKeys.Store(name, k)
	return k
}

func testPub(name string) []byte { return testKey(name).Public().(ed25519.PublicKey) }

// testEncKey stands in for the name's X25519 key; the ledger only checks
// that it is 32 bytes.
func testEncKey(name string) []byte {
	h := sha256.Sum256([]byte("medchain/test-enc-key/" + name))
	return h[:]
}

func testAddr(name string) string { return Address(testPub(name)) }

// signPayload signs any payload the way SignTx does. Tests use it to build
// transactions SignTx cannot: unknown types, extra fields, or a payload that
// names one signer and is signed by another key.
func signPayload(key ed25519.PrivateKey, p Payload) []byte {
	payload, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	sig := ed25519.Sign(key, SignBytes(p.ChainID, p.Type, payload))
	env, err := json.Marshal(envelope{Payload: payload, Signature: sig})
	if err != nil {
		panic(err)
	}
	return env
}

// mustSign is SignTx for messages that always encode.
func mustSign(name string, nonce uint64, msg Msg) []byte {
	b, err := SignTx(testKey(name), testChain, nonce, msg)
	if err != nil {
		panic(err)
	}
	return b
}

// worldAccount is a genesis account of the standard test world.
type worldAccount struct {
	name    string
	kind    AccountKind
	org     string
	balance uint64
}

// The standard world used by the property, determinism, fuzz and benchmark
// tests: a consortium authority, a hospital with an admin and a plain
// member, a lab with an admin and a researcher, and two patients.
var worldOrgs = []GenesisOrg{
	{ID: "consortium", Name: "Consortium", Kind: OrgRegulator, Admins: []string{testAddr("root")}},
	{ID: "hosp-a", Name: "Hospital A", Kind: OrgHospital, Admins: []string{testAddr("alice")}},
	{ID: "lab-b", Name: "Lab B", Kind: OrgLab, Admins: []string{testAddr("carol")}},
}

var worldAccounts = []worldAccount{
	{"root", KindInstitution, "consortium", 1_000_000},
	{"alice", KindInstitution, "hosp-a", 10_000},
	{"bob", KindInstitution, "hosp-a", 1_000},
	{"carol", KindInstitution, "lab-b", 5_000},
	{"rita", KindResearcher, "lab-b", 2_000},
	{"pat", KindPatient, "", 100},
	{"paula", KindPatient, "", 0},
	{"wanda", KindWorker, "hosp-a", 0},
	{"walt", KindWorker, "lab-b", 0},
}

func genesisAccount(name string, kind AccountKind, org string, balance uint64) GenesisAccount {
	return GenesisAccount{PubKey: testPub(name), EncKey: testEncKey(name), Kind: kind, Org: org, Balance: balance}
}

func worldGenesis() Genesis {
	g := Genesis{Authorities: []string{testAddr("root")}, Orgs: slices.Clone(worldOrgs), JobTimeoutBlocks: 3}
	for _, a := range worldAccounts {
		g.Accounts = append(g.Accounts, genesisAccount(a.name, a.kind, a.org, a.balance))
	}
	return g
}

// newWorld starts a machine on a fresh store with the standard genesis.
func newWorld(t tb) (*Machine, *store.Mem) {
	t.Helper()
	db := store.NewMem()
	m, err := New(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.InitChain(testChain, worldGenesis()); err != nil {
		t.Fatal(err)
	}
	return m, db
}

// commitBlock seals and persists the current block into db.
func commitBlock(t tb, m *Machine, db store.Writer) Commitment {
	t.Helper()
	c, err := m.EndBlock()
	if err != nil {
		t.Fatalf("EndBlock: %v", err)
	}
	if err := m.Commit(db); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	m.Committed()
	return c
}

// stateKeys lists the state keys under prefix that the machine currently
// sees: committed ones in db and those staged in the current block.
func stateKeys(m *Machine, db *store.Mem, prefix string) []string {
	var out []string
	for _, k := range db.Keys([]byte(prefix)) {
		out = append(out, string(k))
	}
	for _, c := range m.block.ChangesWithPrefix([]byte(prefix)) {
		out = append(out, string(c.Key))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// accounts reads every account the machine currently sees, by address.
func accounts(t tb, m *Machine, db *store.Mem) []Account {
	t.Helper()
	prefix := string(KeyAccount(""))
	var out []Account
	for _, k := range stateKeys(m, db, prefix) {
		a, err := getAccount(m.block, strings.TrimPrefix(k, prefix))
		if err != nil {
			t.Fatal(err)
		}
		if a != nil {
			out = append(out, *a)
		}
	}
	return out
}

// balanceSum adds up every balance; it reports false if the sum overflows.
func balanceSum(accts []Account) (uint64, bool) {
	var sum uint64
	for _, a := range accts {
		if sum+a.Balance < sum {
			return 0, false
		}
		sum += a.Balance
	}
	return sum, true
}

// stagedState copies every state key/value the machine currently sees.
func stagedState(t tb, m *Machine, db *store.Mem) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, k := range stateKeys(m, db, string(StatePrefix)) {
		v, err := m.block.Get([]byte(k))
		if err != nil {
			t.Fatal(err)
		}
		if v != nil {
			out[k] = string(v)
		}
	}
	return out
}

// mustMarshal encodes a value as the state stores it.
func mustMarshal(t tb, v any) string {
	b, err := EncodeState(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustUnmarshal decodes a stored state value.
func mustUnmarshal(t tb, s string, v any) {
	if err := DecodeState([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

// worldSetup is a first block for the standard world that gives every
// kind of object one instance: two datasets with policies (one opt-in, one
// opt-out), a permit and a deny, and two pending access requests (0 and 1).
func worldSetup() [][]byte {
	ds := func(id string) *RegisterDataset {
		return &RegisterDataset{ID: id, Version: 1, Title: id, Schema: []Field{{Name: "age", Type: "integer"}},
			RecordBand: "1k-10k", ContentRoot: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Locator: "vault://" + id}
	}
	policy := func(model string, who Requesters) Policy {
		return Policy{Purposes: []string{"research", "public_health"}, Requesters: who,
			Analyses: Analyses{Builtins: []string{"cohort_count"}}, MinCohort: MinCohortFloor,
			EpsilonPerJobMilli: 100, EpsilonTotalMilli: 1000, Price: 10,
			Split:       RewardSplit{InstitutionBps: 7000, PatientPoolBps: 2000, WorkerBps: 1000},
			Attestation: AttestSoftware, ConsentModel: model}
	}
	return [][]byte{
		mustSign("alice", 0, ds("cardio")),
		mustSign("carol", 0, ds("sleep")),
		mustSign("alice", 1, &SetPolicy{Dataset: "cardio", Policy: policy(ConsentOptIn, Requesters{Kinds: []AccountKind{KindResearcher}})}),
		mustSign("carol", 1, &SetPolicy{Dataset: "sleep", Policy: policy(ConsentOptOut, Requesters{Anyone: true})}),
		mustSign("pat", 0, &GiveConsent{Scope: Scope{Kind: ScopeDataset, ID: "cardio"}, Provision: Permit, Purposes: []string{"research", "public_health"}}),
		mustSign("paula", 0, &GiveConsent{Scope: Scope{Kind: ScopeAll}, Provision: Deny, Purposes: []string{"commercial_research"}}),
		mustSign("rita", 0, &RequestAccess{Dataset: "cardio", Purpose: "research"}),
		mustSign("rita", 1, &RequestAccess{Dataset: "sleep", Purpose: "research"}),
	}
}

// deliverSetup delivers worldSetup into the current block; all must succeed.
func deliverSetup(t tb, m *Machine) {
	t.Helper()
	for i, raw := range worldSetup() {
		res, err := m.DeliverTx(raw)
		if err != nil || res.Code != CodeOK {
			t.Fatalf("setup tx %d: %s %s %v", i, res.Code, res.Log, err)
		}
	}
}

// heldSum adds up the tokens not in accounts: job escrows, patient pools
// and deal escrows. With balances it must equal the supply.
func heldSum(t tb, m *Machine, db *store.Mem) uint64 {
	t.Helper()
	var sum uint64
	for _, k := range stateKeys(m, db, string(KeyJob(0))[:len("s/job/")]) {
		var j Job
		if _, err := getState(m.block, []byte(k), &j); err != nil {
			t.Fatal(err)
		}
		sum += j.Escrow
	}
	for _, k := range stateKeys(m, db, "s/pool/") {
		var p uint64
		if _, err := getState(m.block, []byte(k), &p); err != nil {
			t.Fatal(err)
		}
		sum += p
	}
	for _, k := range stateKeys(m, db, string(prefixDeal)) {
		var d Deal
		if _, err := getState(m.block, []byte(k), &d); err != nil {
			t.Fatal(err)
		}
		// A deal's own books balance too: what it took is what it holds,
		// paid and refunded.
		if d.Budget != d.Escrow+d.PaidPatients+d.PaidInstitutions+d.PaidWorkers+d.Refunded {
			t.Fatalf("deal %d: budget %d ≠ escrow %d + paid %d/%d/%d + refunded %d", d.ID, d.Budget, d.Escrow, d.PaidPatients, d.PaidInstitutions, d.PaidWorkers, d.Refunded)
		}
		if d.Status == DealOpen && d.Escrow < d.Pending*d.PricePerRecord {
			t.Fatalf("deal %d: escrow %d cannot pay its %d pending records at %d", d.ID, d.Escrow, d.Pending, d.PricePerRecord)
		}
		sum += d.Escrow
	}
	return sum
}
