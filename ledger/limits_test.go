package ledger

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/medchain/medchain/federated"
	"github.com/medchain/medchain/zk"
)

// numericPaths lists the limit keys of every number a message type can
// carry, walking the type (so nil pointers and empty lists count too).
func numericPaths(key string, t reflect.Type, out *[]string) {
	switch t.Kind() {
	case reflect.Pointer:
		numericPaths(key, t.Elem(), out)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			k := key
			if name != "" {
				k = key + "." + name
			}
			numericPaths(k, f.Type, out)
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() != reflect.Uint8 {
			numericPaths(key+"[]", t.Elem(), out)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Map:
		*out = append(*out, key)
	}
}

// TestNumericLimits: every number of every registered transaction type
// has a declared range, and every declared range belongs to a number. A
// new numeric field fails here until it is given one in limits.go.
func TestNumericLimits(t *testing.T) {
	found := []string{"payload.nonce"}
	for _, d := range registry {
		numericPaths(string(d.typ), reflect.TypeOf(d.new()), &found)
	}
	for _, k := range found {
		if _, ok := numericLimits[k]; !ok {
			t.Errorf("%s: a number with no range in numericLimits (limits.go)", k)
		}
	}
	for k := range numericLimits {
		if !slices.Contains(found, k) {
			t.Errorf("numericLimits names %s, which is no field of any transaction", k)
		}
	}
}

// TestNumericLimitsAtDecode (issue 10, finding 9): a min_cohort of 2^64−1
// used to be accepted and became −1 in the worker; now it, and every other
// number out of its range, is refused when the transaction is decoded —
// before the mempool — naming the field.
func TestNumericLimitsAtDecode(t *testing.T) {
	pol := jobPolicy(1, RewardSplit{10000, 0, 0}, 10, 100)
	cases := []struct {
		name  string
		msg   Msg
		field string
	}{
		{"min_cohort 2^64-1", &SetPolicy{Dataset: "cardio", Policy: func() Policy { p := pol; p.MinCohort = math.MaxUint64; return p }()}, "msg.policy.min_cohort"},
		{"min_cohort above the bound", &SetPolicy{Dataset: "cardio", Policy: func() Policy { p := pol; p.MinCohort = MaxMinCohort + 1; return p }()}, "msg.policy.min_cohort"},
		{"epsilon beyond int64", &SetPolicy{Dataset: "cardio", Policy: func() Policy { p := pol; p.EpsilonTotalMilli = 1 << 63; return p }()}, "msg.policy.epsilon_total_milli"},
		{"split share above 10000", &SetPolicy{Dataset: "cardio", Policy: func() Policy { p := pol; p.Split.WorkerBps = math.MaxUint32; return p }()}, "msg.policy.reward_split.worker_bps"},
		{"negative expiry", &GiveConsent{Scope: Scope{Kind: ScopeAll}, Provision: Permit, Purposes: []string{"research"}, Expiry: -1}, "msg.expiry"},
		{"expiry after 9999", &DecideAccess{Request: 0, Grant: true, Expiry: MaxTime + 1}, "msg.expiry"},
		{"amount beyond 2^53", &Transfer{To: testAddr("bob"), Amount: MaxSafeInteger + 1}, "msg.amount"},
		{"zero amount", &Transfer{To: testAddr("bob")}, "msg.amount"},
		{"price ceiling beyond 2^53", &SubmitJob{Datasets: []string{"cardio"}, Analysis: "cohort_count", Params: []byte(`{}`), Purpose: "research", MaxPrice: math.MaxUint64, ResultKey: testEncKey("rita")}, "msg.max_price"},
		{"study max_abs element", &SubmitJob{Datasets: []string{"a", "b"}, Analysis: "logistic_regression", Params: []byte(`{}`), Purpose: "research", ResultKey: testEncKey("rita"),
			Study: &StudyRequest{Spec: federated.Spec{Columns: 2, MaxAbs: []uint64{1024, 1<<40 + 1}, Link: "logit"}}}, "msg.study.spec.max_abs[1]"},
		{"job id beyond 2^53", &ExpireJob{Job: math.MaxUint64}, "msg.job"},
		{"bucket beyond the edges", &AttestPrediction{Model: "m", XHash: strings.Repeat("a", 64), Bucket: MaxModelEdges + 1, ProofHash: strings.Repeat("b", 64)}, "msg.bucket"},
		{"ledger-set height", &SetPolicy{Dataset: "cardio", Policy: func() Policy { p := pol; p.SetHeight = 5; return p }()}, "msg.policy.set_height"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTx(mustSign("alice", 2, tc.msg))
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidField || !strings.HasPrefix(e.Msg, tc.field+":") {
				t.Fatalf("DecodeTx: %v, want invalid_field naming %s", err, tc.field)
			}
		})
	}
	raw := signPayload(testKey("alice"), Payload{ChainID: testChain, Type: TxTransfer, Signer: testPub("alice"), Nonce: math.MaxUint64,
		Msg: []byte(`{"to":"` + testAddr("bob") + `","amount":1}`)})
	if _, err := DecodeTx(raw); CodeOf(err) != CodeInvalidField || !strings.Contains(err.Error(), "payload.nonce") {
		t.Fatalf("nonce 2^64-1: %v, want invalid_field naming payload.nonce", err)
	}
	// Inside the range is accepted.
	p := pol
	p.MinCohort = MaxMinCohort
	if _, err := DecodeTx(mustSign("alice", 2, &SetPolicy{Dataset: "cardio", Policy: p})); err != nil {
		t.Fatalf("min_cohort at its bound: %v", err)
	}
}

// numberSeeds is one message of every type with every pointer set and
// every list holding an element, so that every number is reachable.
func numberSeeds() []Msg {
	job := uint64(1)
	pol := jobPolicy(1, RewardSplit{10000, 0, 0}, 10, 100)
	pol.Expiry, pol.MinEpsilonPerJobMilli, pol.MinStudySites = fuzzTime+3600, 5, 2
	spec := federated.Spec{Columns: 1, MaxAbs: []uint64{1 << 10}, Link: "logit", Private: &federated.PrivateSpec{Rounds: 3}, Bins: 2}
	model := testRegisterModel("m-num", "cvd")
	model.Job = &job
	predX, predBucket, predProof := testPrediction("cvd", testChain, fuzzModel, "num-1", []float64{58, 135, 1})
	var cm zk.Commitment
	if err := cm.UnmarshalText([]byte(model.Commitment)); err != nil {
		panic(err)
	}
	return []Msg{
		&CreateOrg{ID: "newlab", Name: "New Lab", Kind: OrgLab, Admin: testPub("dave"), EncKey: testEncKey("dave"), AdminPossession: ProvePossession(testKey("dave"), testChain, "newlab")},
		&SetOrgAdmin{Org: "hosp-a", Address: testAddr("bob"), Admin: true},
		&RegisterAccount{PubKey: testPub("newres"), EncKey: testEncKey("newres"), Kind: KindResearcher, Org: "hosp-a", Possession: ProvePossession(testKey("newres"), testChain, "hosp-a")},
		&Transfer{To: testAddr("bob"), Amount: 5},
		&RegisterDataset{ID: "cardio", Version: 2, Title: "T", Schema: []Field{{Name: "age", Type: "integer"}}, RecordBand: "1k-10k",
			ContentRoot: strings.Repeat("ab", 32), Locator: "vault://c"},
		&SetPolicy{Dataset: "cardio", Policy: pol},
		&GiveConsent{Scope: Scope{Kind: ScopeAll}, Provision: Permit, Purposes: []string{"research"}, Expiry: fuzzTime + 60},
		&NarrowConsent{Seq: 0, Purposes: []string{"research"}, Expiry: fuzzTime + 60},
		&RevokeConsent{Seq: 0},
		&RequestAccess{Dataset: "cardio", Purpose: "research"},
		&DecideAccess{Request: 0, Grant: true, Expiry: fuzzTime + 60},
		&RegisterWorker{Address: testAddr("wanda"), Attestation: AttestTypeSoftware, Measurement: strings.Repeat("cd", 32)},
		&SubmitJob{Datasets: []string{"cardio", "sleep"}, Analysis: "logistic_regression", Params: []byte(`{}`), Purpose: "research",
			MaxPrice: 10, ResultKey: testEncKey("rita"), EpsilonMilli: 10, Study: &StudyRequest{Spec: spec, MinSites: 2, IterationBlocks: 10}},
		&PostResult{Job: 0, Dataset: "cardio", ContentRoot: strings.Repeat("ab", 32), Measurement: strings.Repeat("cd", 32), ResultHash: strings.Repeat("ef", 32), Locator: "vault://r"},
		&FailJob{Job: 0, Dataset: "cardio", Reason: "analysis_error"},
		&ExpireJob{Job: 0},
		&PostContribution{Job: 0, Dataset: "cardio", Round: 0, Iteration: 0, Phase: federated.Phases[0],
			Contribution: federated.Contribution{Masked: []uint64{7}, Commitments: []zk.Commitment{cm}, Proof: []byte{1}}},
		&AdvanceStudy{Job: 0},
		model,
		&RecordPrediction{Model: fuzzModel, X: predX, Bucket: predBucket, Request: "num-1", Proof: predProof},
		&AttestPrediction{Model: fuzzModel, XHash: strings.Repeat("a", 64), Bucket: 1, ProofHash: strings.Repeat("b", 64)},
	}
}

// numberField is one settable number of a message value.
type numberField struct {
	key, at string
	v       reflect.Value
}

func numberFields(key, at string, v reflect.Value, out *[]numberField) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			numberFields(key, at, v.Elem(), out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			k, a := key, at
			if name != "" {
				k, a = key+"."+name, at+"."+name
			}
			numberFields(k, a, v.Field(i), out)
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			for i := range v.Len() {
				numberFields(key+"[]", at+"["+strconv.Itoa(i)+"]", v.Index(i), out)
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		*out = append(*out, numberField{key, at, v})
	}
}

// FuzzNumbers sets one number of one transaction type (every type and
// every numeric field are reachable from the seeds) to any value. Decoding
// accepts exactly the values in the field's declared range and refuses
// the rest with invalid_field naming the field; whatever is accepted, the
// state machine handles without a panic, an error or an internal code.
func FuzzNumbers(f *testing.F) {
	seeds := numberSeeds()
	for i := range seeds {
		f.Add(uint8(i), uint8(0), uint64(math.MaxUint64))
		f.Add(uint8(i), uint8(1), uint64(1<<63))
	}
	// The seeds are built once (a prediction proof is costly) and copied
	// through their wire form for each input.
	wire := make([][]byte, len(seeds))
	for i, m := range seeds {
		wire[i] = mustMarshalMsg(m)
	}
	f.Fuzz(func(t *testing.T, which, field uint8, value uint64) {
		i := int(which) % len(seeds)
		msg := newMsg(seeds[i].Type())
		if err := json.Unmarshal(wire[i], msg); err != nil {
			t.Fatal(err)
		}
		var fields []numberField
		numberFields(string(msg.Type()), "msg", reflect.ValueOf(msg), &fields)
		if len(fields) == 0 {
			return
		}
		nf := fields[int(field)%len(fields)]
		var in bool
		l := numericLimits[nf.key]
		switch nf.v.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			nf.v.SetInt(int64(value))
			if nf.v.Int() != int64(value) {
				return // does not fit the field's width: JSON cannot carry it either
			}
			in = l.all || (int64(value) >= l.lo && int64(value) <= l.hi)
		default:
			nf.v.SetUint(value)
			if nf.v.Uint() != value {
				return
			}
			in = l.all || (value <= math.MaxInt64 && int64(value) >= l.lo && int64(value) <= l.hi)
		}
		raw := mustSign("alice", 2, msg)
		_, err := DecodeTx(raw)
		if in && CodeOf(err) == CodeInvalidField && strings.HasPrefix(err.(*Error).Msg, nf.at+":") {
			t.Fatalf("%s = %d is within its range but refused: %v", nf.at, value, err)
		}
		if !in {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeInvalidField || !strings.HasPrefix(e.Msg, nf.at+":") {
				t.Fatalf("%s = %d is out of range, DecodeTx says %v", nf.at, value, err)
			}
		}
		res, derr := fuzzMachine(t).DeliverTx(raw)
		if derr != nil || res.Code == CodeInternal {
			t.Fatalf("DeliverTx %s with %s = %d: %s %s %v", msg.Type(), nf.at, value, res.Code, res.Log, derr)
		}
	})
}

func mustMarshalMsg(m Msg) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}
