package ledger

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/medchain/medchain/store"
)

// Fuzz targets. Their seed corpora live in testdata/fuzz/<FuzzName>/ and
// run with every `go test`; fuzz with e.g.
//
//	go test ./ledger -run '^$' -fuzz FuzzDeliverTx -fuzztime 1m
//
// The corpus files are generated from fuzzSeeds by
//
//	go test ./ledger -run TestFuzzCorpus -update-fuzz-corpus
//
// and TestFuzzCorpus fails when they drift from it (for example after a
// change to the wire format made the seeds invalid).

var updateFuzzCorpus = flag.Bool("update-fuzz-corpus", false, "rewrite the seed corpora in testdata/fuzz")

// fuzzTime is the block time of the block fuzz inputs are delivered in.
const fuzzTime = 1_700_000_100

// fuzzSeed is a transaction and the code it gets in the fuzz block.
type fuzzSeed struct {
	name string
	raw  []byte
	want Code
}

// fuzzSeeds are one valid transaction of every type against the fuzz base
// state (the standard world after fuzzSetup), and one of every common way
// to be wrong.
func fuzzSeeds() []fuzzSeed {
	transfer := &Transfer{To: testAddr("bob"), Amount: 5}
	flipped := mustSign("alice", 2, transfer)
	var env envelope
	if err := json.Unmarshal(flipped, &env); err != nil {
		panic(err)
	}
	env.Signature[0] ^= 0x80
	flipped, _ = json.Marshal(env)
	predX, predBucket, predProof := testPrediction("cvd", testChain, fuzzModel, "fuzz-1", []float64{58, 135, 1})
	policy := Policy{Purposes: []string{"education"}, Requesters: Requesters{Orgs: []string{"hosp-a"}},
		Analyses: Analyses{Builtins: []string{"crosstab"}}, MinCohort: 50, EpsilonPerJobMilli: 10, EpsilonTotalMilli: 10,
		Price: 1, Split: RewardSplit{InstitutionBps: 10000}, Attestation: AttestHardware, ConsentModel: ConsentOptIn, Expiry: fuzzTime + 3600}
	return []fuzzSeed{
		{"create_org", mustSign("root", 0, &CreateOrg{ID: "newlab", Name: "New Lab", Kind: OrgLab, Admin: testPub("dave"), EncKey: testEncKey("dave"), AdminPossession: ProvePossession(testKey("dave"), testChain, "newlab")}), CodeOK},
		{"set_org_admin", mustSign("alice", 2, &SetOrgAdmin{Org: "hosp-a", Address: testAddr("bob"), Admin: true}), CodeOK},
		{"register_account", mustSign("alice", 2, &RegisterAccount{PubKey: testPub("newres"), EncKey: testEncKey("newres"), Kind: KindResearcher, Org: "hosp-a", Possession: ProvePossession(testKey("newres"), testChain, "hosp-a")}), CodeOK},
		{"register_account_patient", mustSign("newpat", 0, &RegisterAccount{PubKey: testPub("newpat"), EncKey: testEncKey("newpat"), Kind: KindPatient}), CodeOK},
		{"transfer", mustSign("alice", 2, transfer), CodeOK},
		{"register_dataset", mustSign("alice", 2, &RegisterDataset{ID: "cardio", Version: 2, Title: "Cardio v2", Description: "adds smoking status",
			Schema:     []Field{{Name: "age", Type: "integer"}, {Name: "sbp", Type: "number", Unit: "mm[Hg]", System: "loinc", Code: "8480-6"}, {Name: "smoker", Type: "boolean"}},
			RecordBand: "10k-100k", ContentRoot: strings.Repeat("ab", 32), Locator: "vault://cardio/v2", DeidProfile: strings.Repeat("cd", 32)}), CodeOK},
		{"set_policy", mustSign("carol", 2, &SetPolicy{Dataset: "sleep", Policy: policy}), CodeOK},
		{"give_consent", mustSign("pat", 1, &GiveConsent{Scope: Scope{Kind: ScopeInstitution, ID: "lab-b"}, Provision: Deny, Purposes: []string{"model_training"}, Expiry: fuzzTime + 60}), CodeOK},
		{"narrow_consent", mustSign("pat", 1, &NarrowConsent{Seq: 0, Purposes: []string{"research"}, Expiry: fuzzTime + 60}), CodeOK},
		{"revoke_consent", mustSign("pat", 1, &RevokeConsent{Seq: 0}), CodeOK},
		{"request_access", mustSign("rita", 2, &RequestAccess{Dataset: "cardio", Purpose: "public_health"}), CodeOK},
		{"decide_access", mustSign("alice", 2, &DecideAccess{Request: 0, Grant: true, Expiry: fuzzTime + 86400}), CodeOK},

		{"replay", worldSetup()[0], CodeBadNonce},
		{"nonce_ahead", mustSign("alice", 3, transfer), CodeBadNonce},
		{"bad_signature", flipped, CodeBadSignature},
		{"wrong_chain", func() []byte { b, _ := SignTx(testKey("alice"), "other-chain", 2, transfer); return b }(), CodeWrongChain},
		{"unknown_type", signPayload(testKey("alice"), Payload{ChainID: testChain, Type: "mint", Signer: testPub("alice"), Nonce: 2, Msg: []byte(`{}`)}), CodeUnknownType},
		{"unknown_field", signPayload(testKey("alice"), Payload{ChainID: testChain, Type: TxTransfer, Signer: testPub("alice"), Nonce: 2, Msg: []byte(`{"to":"x","amount":1,"memo":"hi"}`)}), CodeMalformed},
		{"trailing", append(mustSign("alice", 2, transfer), '0'), CodeMalformed},
		{"not_json", []byte("transfer 5 to bob"), CodeMalformed},
		{"empty", nil, CodeMalformed},
		{"unknown_account", mustSign("ghost", 0, transfer), CodeUnknownAccount},
		{"unauthorized", mustSign("rita", 2, &CreateOrg{ID: "x1", Name: "X", Kind: OrgLab, Admin: testPub("x"), EncKey: testEncKey("x"), AdminPossession: ProvePossession(testKey("x"), testChain, "x1")}), CodeUnauthorized},
		{"insufficient_funds", mustSign("paula", 1, &Transfer{To: testAddr("pat"), Amount: 1}), CodeInsufficientFund},
		{"not_found", mustSign("alice", 2, &RequestAccess{Dataset: "onc", Purpose: "research"}), CodeNotFound},
		{"invalid_state", mustSign("alice", 2, &SetOrgAdmin{Org: "hosp-a", Address: testAddr("alice"), Admin: true}), CodeInvalidState},
		{"invalid_field", mustSign("alice", 2, &Transfer{To: testAddr("bob")}), CodeInvalidField},
		{"expired", mustSign("pat", 1, &GiveConsent{Scope: Scope{Kind: ScopeAll}, Provision: Permit, Purposes: []string{"research"}, Expiry: fuzzTime}), CodeExpired},

		// Models: the base state has fuzzModel registered (fuzzSetup).
		{"register_model", mustSign("rita", 2, testRegisterModel("cvd-risk", "other")), CodeOK},
		{"record_prediction", mustSign("pat", 1, &RecordPrediction{Model: fuzzModel, X: predX, Bucket: predBucket, Request: "fuzz-1", Proof: predProof}), CodeOK},
		{"attest_prediction", mustSign("carol", 2, &AttestPrediction{Model: fuzzModel, XHash: InputsHash([]byte("salt"), predX), Bucket: predBucket, ProofHash: ProofHash(predProof)}), CodeOK},
		{"invalid_proof", mustSign("pat", 1, &RecordPrediction{Model: fuzzModel, X: predX, Bucket: (predBucket + 1) % 4, Request: "fuzz-1", Proof: predProof}), CodeInvalidProof},
	}
}

// fuzzModel is the model the fuzz base state registers, signed by bob.
const fuzzModel = "fuzz-cvd"

// fuzzSetup is worldSetup plus a registered model.
func fuzzSetup() [][]byte {
	return append(worldSetup(), mustSign("bob", 0, testRegisterModel(fuzzModel, "cvd")))
}

var fuzzBase = sync.OnceValue(func() *store.Mem {
	db := store.NewMem()
	m, err := New(db)
	if err != nil {
		panic(err)
	}
	if _, err := m.InitChain(testChain, worldGenesis()); err != nil {
		panic(err)
	}
	if err := m.BeginBlock(BlockInfo{Height: 1, Time: fuzzTime - 10}); err != nil {
		panic(err)
	}
	for _, raw := range fuzzSetup() {
		if res, err := m.DeliverTx(raw); err != nil || res.Code != CodeOK {
			panic(fmt.Sprintf("setup: %+v %v", res, err))
		}
	}
	if _, err := m.EndBlock(); err != nil {
		panic(err)
	}
	if err := m.Commit(db); err != nil {
		panic(err)
	}
	return db
})

// fuzzMachine opens a machine on the shared base state and starts block 2.
// Nothing is ever committed to the base, so every input sees the same state.
func fuzzMachine(t *testing.T) *Machine {
	m, err := New(fuzzBase())
	if err != nil {
		t.Fatal(err)
	}
	if err := m.BeginBlock(BlockInfo{Height: 2, Time: fuzzTime}); err != nil {
		t.Fatal(err)
	}
	return m
}

// FuzzDeliverTx: whatever bytes arrive, DeliverTx never panics and never
// returns an error (errors are for store failures), and a transaction that
// fails changes no state but its verified signer's nonce. One that succeeds
// creates or destroys no tokens.
func FuzzDeliverTx(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		base := fuzzBase()
		m := fuzzMachine(t)
		res, err := m.DeliverTx(data)
		if err != nil || res.Code == CodeInternal {
			t.Fatalf("DeliverTx: %s %s %v (errors and internal are for store failures)", res.Code, res.Log, err)
		}
		tx, verr := DecodeAndVerify(data, testChain)
		if verr != nil && res.Code != CodeOf(verr) {
			t.Fatalf("DeliverTx says %s, DecodeAndVerify %v", res.Code, verr)
		}
		changes := m.block.ChangesWithPrefix(StatePrefix)
		if res.Code != CodeOK {
			for _, ch := range changes {
				var was, now Account
				if verr != nil || string(ch.Key) != string(KeyAccount(tx.Signer())) {
					t.Fatalf("failed transaction (%s: %s) changed %s", res.Code, res.Log, ch.Key)
				}
				old, _ := base.Get(ch.Key)
				if err := DecodeState(old, &was); err != nil {
					t.Fatalf("failed transaction (%s) created account %s", res.Code, ch.Key)
				}
				if err := DecodeState(ch.Value, &now); err != nil {
					t.Fatal(err)
				}
				was.Nonce++
				if mustMarshal(t, was) != mustMarshal(t, now) {
					t.Fatalf("failed transaction (%s: %s) changed its signer beyond the nonce:\n%+v\n%+v", res.Code, res.Log, was, now)
				}
			}
		} else {
			if verr != nil {
				t.Fatalf("a transaction that does not verify (%v) succeeded", verr)
			}
			var before, after uint64
			for _, ch := range changes {
				if !bytes.HasPrefix(ch.Key, KeyAccount("")) {
					continue
				}
				var was, now Account
				if old, _ := base.Get(ch.Key); old != nil {
					mustUnmarshal(t, string(old), &was)
				}
				mustUnmarshal(t, string(ch.Value), &now)
				before += was.Balance
				after += now.Balance
			}
			if before != after {
				t.Fatalf("%s changed the balances it touched from %d to %d", tx.Payload.Type, before, after)
			}
		}
		c, err := m.EndBlock()
		if err != nil {
			t.Fatalf("EndBlock: %v", err)
		}
		if err := c.Verify(); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzDecodeTx: DecodeTx never panics; it refuses with one of the codes
// that describe bytes (never a state code; invalid_field is a number out
// of its range, limits.go); and what it accepts is the
// canonical encoding of what it decodes to, which re-encodes to itself.
// The transaction vectors (testdata/vectors/tx.json) are seeds too.
func FuzzDecodeTx(f *testing.F) {
	vf := loadVectors(f)
	for _, v := range slices.Concat(vf.Accept, vf.Reject) {
		f.Add(v.bytes(f))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The fast path (json.Unmarshal, then the canonical checks) accepts
		// exactly what the strict decoder accepts, with the same result.
		if len(data) <= MaxTxBytes {
			fast := decodeFast(data)
			strict, serr := decodeStrict(data)
			if (fast != nil) != (serr == nil) || fast != nil && !reflect.DeepEqual(fast, strict) {
				t.Fatalf("fast path %+v, strict decoder %+v, %v", fast, strict, serr)
			}
			// The direct path (no JSON decoder for the envelope and
			// payload) accepts a subset of that, with the same result.
			if direct := decodeDirect(data); direct != nil && (serr != nil || !reflect.DeepEqual(direct, strict)) {
				t.Fatalf("direct path %+v, strict decoder %+v, %v", direct, strict, serr)
			}
		}
		tx, err := DecodeTx(data)
		if err != nil {
			if c := CodeOf(err); c != CodeMalformed && c != CodeOversize && c != CodeUnknownType && c != CodeInvalidField {
				t.Fatalf("DecodeTx refused with %s: %v", c, err)
			}
			return
		}
		if len(data) > MaxTxBytes {
			t.Fatalf("accepted %d bytes", len(data))
		}
		if tx.Msg.Type() != tx.Payload.Type || tx.Hash != sha256.Sum256(data) {
			t.Fatalf("type %s / %s, or hash wrong", tx.Msg.Type(), tx.Payload.Type)
		}
		_ = tx.Verify(testChain) // must not panic, whatever the key bytes
		_ = tx.Verify(tx.Payload.ChainID)

		// The message re-encodes to a fixed point.
		b1, err := json.Marshal(tx.Msg)
		if err != nil {
			t.Fatalf("re-encode %s: %v", tx.Payload.Type, err)
		}
		m2 := newMsg(tx.Payload.Type)
		if err := strictUnmarshal(b1, m2); err != nil {
			t.Fatalf("re-encoded %s does not decode: %v\n%s", tx.Payload.Type, err, b1)
		}
		if b2, _ := json.Marshal(m2); !bytes.Equal(b1, b2) {
			t.Fatalf("%s encoding is not stable:\n%s\n%s", tx.Payload.Type, b1, b2)
		}

		// What it accepts is the canonical encoding of what it decoded to.
		checkCanonical(t, data, tx)
	})
}

// FuzzVerify mutates a validly signed transaction (overwriting, inserting
// or deleting bytes at a position). Whitespace and field-name case in the
// envelope are not signed, but the encoding is canonical, so no mutation is
// accepted: whatever verifies is the original, byte for byte. A relay can
// change neither what was signed nor the transaction's hash.
func FuzzVerify(f *testing.F) {
	var valid [][]byte
	for _, s := range fuzzSeeds() {
		if s.want == CodeOK {
			valid = append(valid, s.raw)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, op uint8, pos uint16, mut []byte) {
		orig := valid[int(which)%len(valid)]
		at := int(pos) % (len(orig) + 1)
		var data []byte
		switch op % 3 {
		case 0: // overwrite
			data = slices.Clone(orig)
			copy(data[at:], mut)
		case 1: // insert
			data = slices.Concat(orig[:at], mut, orig[at:])
		case 2: // delete
			data = slices.Concat(orig[:at], orig[min(len(orig), at+len(mut)):])
		}
		tx, err := DecodeAndVerify(data, testChain)
		if err != nil {
			return
		}
		want, err := DecodeAndVerify(orig, testChain)
		if err != nil {
			t.Fatalf("seed does not verify: %v", err)
		}
		if !bytes.Equal(tx.raw, want.raw) || !bytes.Equal(tx.Signature, want.Signature) {
			t.Fatalf("a mutated transaction verifies with a different payload or signature:\n%s\n%s", data, orig)
		}
		if !bytes.Equal(data, orig) {
			t.Fatalf("a mutated transaction verifies:\n%q\n%q", data, orig)
		}
	})
}

// corpusFile encodes fuzz arguments in the `go test fuzz v1` format.
func corpusFile(args ...any) []byte {
	var b bytes.Buffer
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			fmt.Fprintf(&b, "[]byte(%q)\n", v)
		default:
			fmt.Fprintf(&b, "%T(%v)\n", v, v)
		}
	}
	return b.Bytes()
}

// wantCorpus is every seed corpus file, by path.
func wantCorpus() map[string][]byte {
	files := map[string][]byte{}
	seeds := fuzzSeeds()
	for _, s := range seeds {
		files[filepath.Join("testdata/fuzz/FuzzDeliverTx", s.name)] = corpusFile(s.raw)
		files[filepath.Join("testdata/fuzz/FuzzDecodeTx", s.name)] = corpusFile(s.raw)
	}
	files["testdata/fuzz/FuzzDecodeTx/payload_whitespace"] = corpusFile([]byte(
		`{"payload": { "chain_id" : "medchain-test", "type":"transfer", "signer":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "nonce":1, "msg": {"to":"ab","amount":2} } , "signature":"` +
			strings.Repeat("A", 86) + `=="}`))
	files["testdata/fuzz/FuzzDecodeTx/empty_slices"] = corpusFile([]byte(
		`{"payload":{"chain_id":"c","type":"set_policy","signer":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","nonce":0,"msg":{"dataset":"d","policy":{"purposes":[],"requesters":{"orgs":[],"kinds":null}}}},"signature":"` +
			strings.Repeat("A", 86) + `=="}`))
	for name, args := range map[string][]any{
		"unchanged":         {uint8(0), uint8(2), uint16(0), []byte{}},
		"flip_signature":    {uint8(4), uint8(0), uint16(len(seeds[4].raw) - 10), []byte("B")},
		"leading_space":     {uint8(1), uint8(1), uint16(0), []byte(" \n")},
		"change_amount":     {uint8(4), uint8(0), uint16(bytes.Index(seeds[4].raw, []byte("amount")) + 8), []byte("9")},
		"field_name_case":   {uint8(2), uint8(0), uint16(2), []byte("P")},
		"drop_payload_byte": {uint8(3), uint8(2), uint16(40), []byte("x")},
	} {
		files[filepath.Join("testdata/fuzz/FuzzVerify", name)] = corpusFile(args...)
	}
	return files
}

// TestFuzzCorpus checks that every seed gets the code it is named for, and
// that the committed corpus files are exactly the generated ones.
func TestFuzzCorpus(t *testing.T) {
	for _, s := range fuzzSeeds() {
		res, err := fuzzMachine(t).DeliverTx(s.raw)
		if err != nil || res.Code != s.want {
			t.Errorf("seed %s: %s (%s) %v, want %s", s.name, res.Code, res.Log, err, s.want)
		}
	}
	want := wantCorpus()
	if *updateFuzzCorpus {
		for _, dir := range []string{"FuzzDeliverTx", "FuzzDecodeTx", "FuzzVerify"} {
			if err := os.RemoveAll(filepath.Join("testdata/fuzz", dir)); err != nil {
				t.Fatal(err)
			}
		}
		for path, b := range want {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for path, b := range want {
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("%s is missing or stale (%v); run go test ./ledger -run TestFuzzCorpus -update-fuzz-corpus", path, err)
		}
	}
}
