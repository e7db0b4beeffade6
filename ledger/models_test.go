package ledger

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/medchain/medchain/zk"
)

// TestPropertyPredictions drives random model traffic — registrations of
// the generated model ids with either test model, predictions proven with
// either opening, sometimes with a flipped proof bit or another bucket
// claimed, verified and attested — and checks the ledger's verdict on every
// record_prediction against what is true: it succeeds exactly when the
// model id was registered with the opening that made the proof, the proof
// is untouched, the bucket is the one proven and the proof is new. After
// every block each model's prediction count matches its records, every
// record is indexed by its proof hash, and no record holds x or the proof.
func TestPropertyPredictions(t *testing.T) {
	type proven struct {
		genPrediction
		name string // the test model whose opening made the proof
	}
	var all []proven
	for _, id := range genModels {
		for _, name := range []string{"cvd", "other"} {
			for i, values := range [][]float64{{30, 110, 0}, {60, 150, 1}, {45, 140, 0}} {
				req := fmt.Sprintf("prop-%d", i)
				x, b, proof := testPrediction(name, testChain, id, req, values)
				all = append(all, proven{genPrediction{model: id, request: req, x: x, bucket: b, proof: proof}, name})
			}
		}
	}
	rapid.Check(t, func(rt *rapid.T) {
		m, db := newWorld(rt)
		nonces := map[string]uint64{}
		registered := map[string]string{} // model id → test model name
		recorded := map[string]bool{}     // model id + proof hash
		h, now := int64(0), int64(1_700_000_000)
		for range rapid.IntRange(1, 4).Draw(rt, "blocks") {
			h++
			now += 10
			if err := m.BeginBlock(BlockInfo{Height: h, Time: now}); err != nil {
				rt.Fatal(err)
			}
			for range rapid.IntRange(1, 8).Draw(rt, "txs") {
				signer := rapid.SampledFrom([]string{"rita", "carol", "pat"}).Draw(rt, "signer")
				var msg Msg
				want := CodeOK
				switch rapid.IntRange(0, 2).Draw(rt, "kind") {
				case 0:
					id, name := rapid.SampledFrom(genModels).Draw(rt, "model"), rapid.SampledFrom([]string{"cvd", "other"}).Draw(rt, "test model")
					msg = testRegisterModel(id, name)
					switch {
					case signer == "pat":
						want = CodeUnauthorized
					case registered[id] != "":
						want = CodeAlreadyExists
					default:
						registered[id] = name
					}
				default:
					p := rapid.SampledFrom(all).Draw(rt, "prediction")
					proof, bucket := slices.Clone(p.proof), p.bucket
					tampered := rapid.IntRange(0, 3).Draw(rt, "tamper") == 0
					if tampered {
						proof[rapid.IntRange(1, len(proof)-1).Draw(rt, "at")] ^= 1 << rapid.IntRange(0, 7).Draw(rt, "bit")
					}
					if rapid.IntRange(0, 3).Draw(rt, "other bucket") == 0 {
						bucket = rapid.Uint32Range(0, 3).Draw(rt, "bucket")
					}
					key := p.model + "/" + ProofHash(proof)
					switch {
					case registered[p.model] == "":
						want = CodeNotFound
					case recorded[key]:
						want = CodeAlreadyExists
					case tampered || bucket != p.bucket || registered[p.model] != p.name:
						want = CodeInvalidProof
					}
					msg = &RecordPrediction{Model: p.model, X: p.x, Bucket: bucket, Request: p.request, Proof: proof}
					if want == CodeOK {
						recorded[key] = true
					}
				}
				res, err := m.DeliverTx(mustSign(signer, nonces[signer], msg))
				nonces[signer]++
				if err != nil {
					rt.Fatal(err)
				}
				if res.Code != want {
					rt.Fatalf("%s by %s: %s (%s), want %s", msg.Type(), signer, res.Code, res.Log, want)
				}
			}
			commitBlock(rt, m, db)
			for _, id := range genModels {
				model, err := GetModel(db, id)
				if err != nil {
					rt.Fatal(err)
				}
				if model == nil {
					continue
				}
				ps, err := GetPredictions(db, id)
				if err != nil {
					rt.Fatal(err)
				}
				for i, p := range ps {
					var seq uint64
					if found, err := getState(db, KeyPredictionProof(id, p.ProofHash), &seq); err != nil || !found || seq != uint64(i) || p.Seq != seq {
						rt.Fatalf("prediction %d of %s: index says %d (%v, %v)", i, id, seq, found, err)
					}
					if p.Mode != PredictionVerified || p.Label != testLabels[p.Bucket] {
						rt.Fatalf("prediction %+v", p)
					}
					b, _ := json.Marshal(p)
					for _, f := range []string{`"x"`, `"proof"`} {
						if bytes.Contains(b, []byte(f+":")) {
							rt.Fatalf("prediction record holds %s: %s", f, b)
						}
					}
				}
			}
		}
	})
}

// TestVerifyPredictionAgreesWithZK: the ledger's check accepts exactly what
// zk.Verify accepts, for the statement the model's stored edges define.
func TestVerifyPredictionAgreesWithZK(t *testing.T) {
	reg := testRegisterModel("cvd", "cvd")
	m := &Model{ID: reg.ID, Commitment: reg.Commitment, Features: reg.Features, Scale: reg.Scale, BucketEdges: reg.BucketEdges, BucketLabels: reg.BucketLabels}
	x, bucket, proof := testPrediction("cvd", testChain, "cvd", "r1", []float64{52, 150, 1})
	if err := VerifyPrediction(testChain, m, x, bucket, "r1", proof); err != nil {
		t.Fatalf("valid proof: %v", err)
	}
	for name, err := range map[string]error{
		"other chain":   VerifyPrediction("other", m, x, bucket, "r1", proof),
		"other request": VerifyPrediction(testChain, m, x, bucket, "r2", proof),
		"other bucket":  VerifyPrediction(testChain, m, x, (bucket+1)%4, "r1", proof),
		"other x":       VerifyPrediction(testChain, m, []int64{x[0] + 1, x[1], x[2]}, bucket, "r1", proof),
		"padded":        VerifyPrediction(testChain, m, x, bucket, "r1", append(slices.Clone(proof), 0)),
	} {
		if CodeOf(err) != CodeInvalidProof {
			t.Errorf("%s: %v, want invalid_proof", name, err)
		}
	}
	if err := VerifyPrediction(testChain, m, x[:2], bucket, "r1", proof); CodeOf(err) != CodeInvalidField || !strings.Contains(err.Error(), "msg.x") {
		t.Errorf("short x: %v", err)
	}
	if err := VerifyPrediction(testChain, m, x, 4, "r1", proof); CodeOf(err) != CodeInvalidField {
		t.Errorf("bucket 4: %v", err)
	}
	if err := VerifyPrediction(testChain, m, x, bucket, "", proof); CodeOf(err) != CodeInvalidField {
		t.Errorf("empty request: %v", err)
	}
	// The same, straight through zk.
	var c zk.Commitment
	if err := c.UnmarshalText([]byte(m.Commitment)); err != nil {
		t.Fatal(err)
	}
	var p zk.Proof
	if err := p.UnmarshalBinary(proof); err != nil {
		t.Fatal(err)
	}
	params, _ := zk.NewParams(3)
	bs, _ := m.Buckets()
	if err := zk.Verify(params, c, x, bs[bucket], zk.NewContext(testChain, "cvd", "r1"), &p); err != nil {
		t.Fatalf("zk.Verify: %v", err)
	}
}

// TestInputsHash pins the inputs hash: domain, salt and x are all bound,
// and the encoding is length-prefixed.
func TestInputsHash(t *testing.T) {
	x := []int64{7680, 28160, 0}
	base := InputsHash(nil, x)
	if base != InputsHash([]byte{}, x) {
		t.Fatal("nil and empty salt differ")
	}
	for name, h := range map[string]string{
		"salt":     InputsHash([]byte("s"), x),
		"x":        InputsHash(nil, []int64{7680, 28160, 1}),
		"shorter":  InputsHash(nil, x[:2]),
		"negative": InputsHash(nil, []int64{-7680, 28160, 0}),
	} {
		if h == base || len(h) != 64 {
			t.Errorf("%s: %s", name, h)
		}
	}
	// Known answer, so clients in other languages can check theirs.
	if got, want := InputsHash([]byte("salt"), []int64{1, -1}), inputsHashKAT; got != want {
		t.Errorf("InputsHash(salt, [1 -1]) = %s, want %s", got, want)
	}
}

// inputsHashKAT is SHA-256("medchain/zk/inputs/v1" 0x00 ‖ 00000004 ‖ "salt" ‖
// 00000002 ‖ int64be(1) ‖ int64be(-1)), computed independently.
const inputsHashKAT = "aaf36a9baa2567f7782a07f2b9b06ae02a9718bf56c1cb7b709ea8620dd9b5d5"

// BenchmarkVerifyPrediction is what a record_prediction costs a validator
// beyond decoding: the statement checks and zk.Verify.
func BenchmarkVerifyPrediction(b *testing.B) {
	for _, d := range []int{3, 100} {
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			w := make([]float64, d)
			values := make([]float64, d)
			for i := range w {
				w[i], values[i] = 0.01*float64(i%7-3), float64(i%11)
			}
			c, o, err := zk.Commit(zk.Model{Weights: w, Intercept: -1, Scale: 16}, newSeededReader("bench"))
			if err != nil {
				b.Fatal(err)
			}
			reg := &RegisterModel{ID: "bench", Commitment: c.String(), Features: testFeatures(d), Scale: 16, BucketEdges: testEdges(), BucketLabels: testLabels}
			m := &Model{ID: reg.ID, Commitment: reg.Commitment, Features: reg.Features, Scale: reg.Scale, BucketEdges: reg.BucketEdges, BucketLabels: reg.BucketLabels}
			x, _ := zk.QuantizeInputs(values, 16)
			score, _ := o.Score(x)
			bs, _ := m.Buckets()
			i, _ := zk.FindBucket(bs, score)
			params, _ := zk.NewParams(d)
			p, err := zk.Prove(params, o, c, x, bs[i], zk.NewContext(testChain, "bench", "r"), newSeededReader("bench-proof"))
			if err != nil {
				b.Fatal(err)
			}
			proof, _ := p.MarshalBinary()
			b.ResetTimer()
			for range b.N {
				if err := VerifyPrediction(testChain, m, x, uint32(i), "r", proof); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
