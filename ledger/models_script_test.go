package ledger

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/zk"
)

// buildModelMsg builds the model transactions of scripts:
//
//	register_model id=ID [model=NAME] [commitment=HEX] [features=(NAME[:SYSTEM[:CODE[:UNIT]]], …)]
//	               [scale=N] [edges=(E, …)] [labels=(L, …)] [job=N] [description=TEXT]
//	record_prediction model=ID values=(V, …) [request=R] [x=(Q, …)] [bucket=N]
//	               [proof=valid|flip|truncate|none] [prove_with=NAME] [prove_values=(V, …)]
//	               [prove_request=R] [prove_chain=C]
//	attest_prediction model=ID values=(V, …) [salt=S] [bucket=N] [x_hash=HEX] [proof_hash=HEX]
//
// register_model commits to test model NAME (default cvd; see testModels)
// and remembers that NAME proves for ID. A prediction is proven for real
// with that model's opening: values are the real-valued inputs, quantised
// at the test scale; the transaction claims the bucket they fall in and
// carries the quantised x, unless bucket= or x= say otherwise. The prove_
// arguments prove a different statement than the one sent (another model,
// other inputs, another request id or chain), proof= damages the proof
// bytes (flip one bit in the middle, drop the last byte, or send none).
// attest_prediction sends the salted inputs hash and the hash of such a
// proof.
func (r *scriptRunner) buildModelMsg(t *testing.T, typ TxType, a *args) Msg {
	if r.models == nil {
		r.models = map[string]string{}
	}
	if typ == TxRegisterModel {
		id, name := a.str("id", ""), a.str("model", "cvd")
		if _, ok := r.models[id]; !ok {
			r.models[id] = name
		}
		m := testRegisterModel(id, name)
		m.Commitment = a.str("commitment", m.Commitment)
		if a.has("features") {
			m.Features = nil
			for _, f := range a.list("features") {
				parts := strings.Split(f, ":")
				mf := ModelFeature{Name: parts[0]}
				for i, p := range []*string{&mf.System, &mf.Code, &mf.Unit} {
					if i+1 < len(parts) {
						*p = parts[i+1]
					}
				}
				m.Features = append(m.Features, mf)
			}
		}
		m.Scale = uint32(a.u64("scale", uint64(m.Scale)))
		if a.has("edges") {
			m.BucketEdges = []int64{}
			for _, e := range a.list("edges") {
				n, err := strconv.ParseInt(e, 10, 64)
				if err != nil {
					t.Fatalf("edges: %v", err)
				}
				m.BucketEdges = append(m.BucketEdges, n)
			}
		}
		if a.has("labels") {
			m.BucketLabels = a.list("labels")
		}
		if a.has("job") {
			j := a.u64("job", 0)
			m.Job = &j
		}
		m.Description = a.str("description", "")
		return m
	}

	id := a.str("model", "")
	name, ok := r.models[id]
	if !ok {
		name = "cvd"
	}
	values := floats(t, "values", a.list("values"))
	request := a.str("request", "req-1")
	proveValues := values
	if a.has("prove_values") {
		proveValues = floats(t, "prove_values", a.list("prove_values"))
	}
	_, bucket, proof := testPrediction(a.str("prove_with", name), a.str("prove_chain", r.chainID), id, a.str("prove_request", request), proveValues)
	x, err := zk.QuantizeInputs(values, testModelScale)
	if err != nil {
		t.Fatal(err)
	}
	if a.has("x") {
		x = []int64{}
		for _, s := range a.list("x") {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				t.Fatalf("x: %v", err)
			}
			x = append(x, n)
		}
	}
	bucket = uint32(a.u64("bucket", uint64(bucket)))
	switch a.str("proof", "valid") {
	case "valid":
	case "flip":
		proof[len(proof)/2] ^= 1
	case "truncate":
		proof = proof[:len(proof)-1]
	case "none":
		proof = nil
	default:
		t.Fatalf("proof: want valid, flip, truncate or none")
	}
	if typ == TxRecordPrediction {
		return &RecordPrediction{Model: id, X: x, Bucket: bucket, Request: request, Proof: proof}
	}
	return &AttestPrediction{Model: id, XHash: a.str("x_hash", InputsHash([]byte(a.str("salt", "salt")), x)), Bucket: bucket,
		ProofHash: a.str("proof_hash", ProofHash(proof))}
}

func floats(t *testing.T, name string, vs []string) []float64 {
	out := make([]float64, len(vs))
	for i, v := range vs {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[i] = f
	}
	return out
}

// printModels answers the "model" and "predictions" queries.
func (r *scriptRunner) printModels(t *testing.T, out *strings.Builder, st store.Reader, cmd string, ids []string) {
	for _, id := range ids {
		m, err := GetModel(st, id)
		if err != nil {
			t.Fatal(err)
		}
		if m == nil {
			fmt.Fprintf(out, "model %s: none\n", id)
			continue
		}
		if cmd == "model" {
			var feats []string
			for _, f := range m.Features {
				s := f.Name
				if f.Code != "" {
					s += ":" + f.System + ":" + f.Code
				}
				if f.Unit != "" {
					s += " (" + f.Unit + ")"
				}
				feats = append(feats, s)
			}
			fmt.Fprintf(out, "model %s: owner=%s org=%s commitment=%.8s… scale=%d registered=%d predictions=%d", id, m.Owner, m.Org,
				m.Commitment, m.Scale, m.Registered, m.Predictions)
			if m.Job != nil {
				fmt.Fprintf(out, " job=%d", *m.Job)
			}
			fmt.Fprintf(out, "\n  features=(%s)\n", strings.Join(feats, ", "))
			b, err := m.Buckets()
			if err != nil {
				t.Fatal(err)
			}
			var bs []string
			for i, l := range m.BucketLabels {
				lo, hi := "-inf", "+inf"
				if i > 0 {
					lo = fmt.Sprint(b[i].Lo)
				}
				if i < len(m.BucketEdges) {
					hi = fmt.Sprint(b[i].Hi)
				}
				bs = append(bs, fmt.Sprintf("%d %s [%s, %s)", i, l, lo, hi))
			}
			fmt.Fprintf(out, "  buckets: %s\n", strings.Join(bs, "; "))
			continue
		}
		ps, err := GetPredictions(st, id)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(out, "predictions of %s: %d\n", id, len(ps))
		for _, p := range ps {
			fmt.Fprintf(out, "  #%d %s by %s at %d: bucket %d (%s) x_hash=%.8s… proof_hash=%.8s…", p.Seq, p.Mode, p.Recorder, p.Height,
				p.Bucket, p.Label, p.XHash, p.ProofHash)
			if p.Request != "" {
				fmt.Fprintf(out, " request=%s", p.Request)
			}
			fmt.Fprintln(out)
		}
	}
}
