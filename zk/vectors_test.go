package zk

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json and the fuzz seed corpus")

const vectorsFile = "testdata/vectors.json"

// vectorFile is testdata/vectors.json: everything a reimplementation needs
// to reproduce each proof byte for byte.
type vectorFile struct {
	Comment  string   `json:"comment"`
	Protocol string   `json:"protocol"`
	RNG      string   `json:"rng"`
	Draws    string   `json:"draws"`
	Vectors  []vector `json:"vectors"`
}

type vector struct {
	Name  string    `json:"name"`
	Model Model     `json:"model"`
	Input []float64 `json:"input"`
	// Risk thresholds the bucket edges come from; the bucket is the one
	// holding the score.
	Thresholds []float64 `json:"thresholds"`
	Context    string    `json:"context_hex"`
	CommitSeed string    `json:"commit_seed"`
	ProveSeed  string    `json:"prove_seed"`

	Quantized      QuantizedModel `json:"quantized"`
	QuantizedInput []int64        `json:"quantized_input"`
	Score          int64          `json:"score"`
	Edges          []int64        `json:"edges"`
	Bucket         Bucket         `json:"bucket"`
	Digest         string         `json:"generator_digest"`
	Blinding       Blinding       `json:"blinding"`
	Commitment     Commitment     `json:"commitment"`
	Proof          string         `json:"proof_hex"`
}

// vectorCases are the inputs of the vectors; everything else is derived.
func vectorCases() []vector {
	wave := func(d int, f func(i int) float64) []float64 {
		out := make([]float64, d)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	return []vector{
		{
			Name:       "one feature",
			Model:      Model{Weights: []float64{0.75}, Intercept: -0.5, Scale: DefaultScale},
			Input:      []float64{-2},
			Thresholds: []float64{0.1, 0.2},
		},
		{
			Name:       "cardiovascular risk, six features, middle band",
			Model:      Model{Weights: []float64{0.62, 0.18, 0.21, -0.45, 0.66, 0.57}, Intercept: -8.9, Scale: DefaultScale},
			Input:      []float64{6.1, 14.2, 5.6, 1.1, 1, 0},
			Thresholds: []float64{0.05, 0.10, 0.20, 0.30},
		},
		{
			Name:       "eight features, lowest band (open below)",
			Model:      Model{Weights: wave(8, func(i int) float64 { return math.Sin(float64(i)) }), Intercept: -3, Scale: 12},
			Input:      wave(8, func(i int) float64 { return float64(i%3) - 1 }),
			Thresholds: []float64{0.1, 0.2},
		},
		{
			Name:       "one hundred features, highest band (open above)",
			Model:      Model{Weights: wave(100, func(i int) float64 { return math.Cos(float64(i)) / 10 }), Intercept: 0.25, Scale: DefaultScale},
			Input:      wave(100, func(i int) float64 { return 1 + math.Cos(float64(i)) }),
			Thresholds: []float64{0.1, 0.2},
		},
	}
}

func fillVector(t *testing.T, v *vector, i int) {
	t.Helper()
	var err error
	if v.Quantized, err = v.Model.Quantize(); err != nil {
		t.Fatal(err)
	}
	if v.QuantizedInput, err = QuantizeInputs(v.Input, v.Model.Scale); err != nil {
		t.Fatal(err)
	}
	v.Score = mustScore(t, v.Quantized, v.QuantizedInput)
	if v.Edges, err = EdgesFromProbabilities(v.Thresholds, v.Model.Scale); err != nil {
		t.Fatal(err)
	}
	buckets, _ := BucketsFromEdges(v.Edges)
	k, _ := FindBucket(buckets, v.Score)
	v.Bucket = buckets[k]
	v.Context = hex.EncodeToString(NewContext("medchain-vectors", v.Name, "request-1"))
	v.CommitSeed = "commit-" + string(rune('a'+i))
	v.ProveSeed = "prove-" + string(rune('a'+i))
	params := mustParams(t, len(v.Model.Weights))
	digest := params.Digest()
	v.Digest = hex.EncodeToString(digest[:])
	c, o := mustCommit(t, v.Quantized, newSeededReader(v.CommitSeed))
	v.Commitment, v.Blinding = c, o.Blinding
	ctx, _ := hex.DecodeString(v.Context)
	pf := mustProve(t, params, o, c, v.QuantizedInput, v.Bucket, ctx, newSeededReader(v.ProveSeed))
	v.Proof = hex.EncodeToString(mustMarshal(t, pf))
}

// The checked-in vectors are reproduced byte for byte from their inputs
// and deterministic randomness, and every one verifies. Run with -update
// after an intended change to the protocol.
func TestVectors(t *testing.T) {
	cases := vectorCases()
	for i := range cases {
		fillVector(t, &cases[i], i)
	}
	if *update {
		vf := vectorFile{
			Comment:  "medchain zk prediction proofs; see zk/README.md. Regenerate with: go test ./zk -run TestVectors -update",
			Protocol: protocolName + " v1",
			RNG:      `test randomness: the stream SHA-512("medchain/zk/test-rng" ‖ seed ‖ uint64be(i)) for i = 0, 1, …`,
			Draws:    "Commit reads 64 bytes (r = them mod ℓ, little-endian); Prove reads 64 bytes (the prover-rng seed, see README)",
			Vectors:  cases,
		}
		b, err := json.MarshalIndent(vf, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(vectorsFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(raw, &vf); err != nil {
		t.Fatal(err)
	}
	if len(vf.Vectors) != len(cases) {
		t.Fatalf("%s has %d vectors, want %d", vectorsFile, len(vf.Vectors), len(cases))
	}
	for i, got := range vf.Vectors {
		want := cases[i]
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		if !bytes.Equal(gj, wj) {
			t.Errorf("vector %q differs from its regeneration:\n file: %s\n  now: %s", got.Name, gj, wj)
			continue
		}
		params := mustParams(t, len(got.Model.Weights))
		enc, _ := hex.DecodeString(got.Proof)
		ctx, _ := hex.DecodeString(got.Context)
		var pf Proof
		if err := pf.UnmarshalBinary(enc); err != nil {
			t.Fatal(err)
		}
		if err := Verify(params, got.Commitment, got.QuantizedInput, got.Bucket, ctx, &pf); err != nil {
			t.Errorf("vector %q: %v", got.Name, err)
		}
	}
	if *update {
		writeFuzzCorpus(t, vf.Vectors)
	}
}

// writeFuzzCorpus seeds FuzzProofDecode with valid proofs and near misses.
func writeFuzzCorpus(t *testing.T, vs []vector) {
	dir := filepath.Join("testdata", "fuzz", "FuzzProofDecode")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	valid, _ := hex.DecodeString(vs[0].Proof)
	big, _ := hex.DecodeString(vs[len(vs)-1].Proof)
	seeds := map[string][]byte{
		"valid-d1":      valid,
		"valid-d100":    big,
		"truncated":     valid[:len(valid)-1],
		"padded":        append(append([]byte(nil), valid...), 0),
		"identity-S":    append(append([]byte{1}, make([]byte, 32)...), valid[33:]...),
		"empty":         {},
		"version-only":  {1},
		"wrong-version": append([]byte{2}, valid[1:]...),
		"non-canonical": append(append([]byte{1}, bytes.Repeat([]byte{0xff}, 32)...), valid[33:]...),
		"other-shape":   valid[:len(valid)-64],
	}
	for name, b := range seeds {
		content := "go test fuzz v1\n[]byte(" + goQuote(b) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func goQuote(b []byte) string {
	var sb bytes.Buffer
	sb.WriteByte('"')
	for _, c := range b {
		sb.WriteString(`\x`)
		sb.WriteString(hex.EncodeToString([]byte{c}))
	}
	sb.WriteByte('"')
	return sb.String()
}
