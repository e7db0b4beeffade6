package compute

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/sandbox"
)

// meansdModule is the example module, as checked in by package sandbox.
func meansdModule(t testing.TB) ([]byte, string) {
	t.Helper()
	wasm, err := os.ReadFile("../sandbox/testdata/meansd.wasm")
	if err != nil {
		t.Fatal(err)
	}
	return wasm, sandbox.Hash(wasm)
}

// releaser is a dataset's output controls with seeded noise: two
// releasers of the same seed draw the same noise.
func releaser(seed byte, epsMilli uint64) *outputctl.Releaser {
	return &outputctl.Releaser{
		Policy: outputctl.Policy{MinCohort: 20, EpsilonMilli: epsMilli},
		Budget: &outputctl.Budget{TotalMilli: epsMilli},
		Noise:  rand.NewChaCha8([32]byte{seed}),
	}
}

// The example module's release is the built-in descriptive analysis's, to
// the bit, under the same controls and the same noise: the module only
// chooses what is summarised, and the worker summarises and releases it as
// it does a column. With a filter, and with values outside the bounds
// (clamped the same way), and privately as every policy on the ledger is.
func TestCustomMeanSDEqualsDescriptive(t *testing.T) {
	tab := researchTable(t, 3000)
	wasm, h := meansdModule(t)
	e := sandbox.NewEngine()
	defer e.Close(t.Context())
	for _, tc := range []struct{ custom, builtin string }{
		{
			`{"columns":["sbp","total_chol"],"outputs":[{"name":"sbp","bounds":{"lower":80,"upper":220}},{"name":"total_chol","bounds":{"lower":100,"upper":400}}],"limits":{"memory_pages":1024,"timeout_ms":60000}}`,
			`{"variables":[{"column":"sbp","bounds":{"lower":80,"upper":220}},{"column":"total_chol","bounds":{"lower":100,"upper":400}}]}`,
		},
		{
			`{"filter":[{"column":"age","op":">=","value":50}],"columns":["hdl"],"outputs":[{"name":"hdl","bounds":{"lower":40,"upper":60}}],"limits":{"memory_pages":1024,"timeout_ms":60000}}`,
			`{"filter":[{"column":"age","op":">=","value":50}],"variables":[{"column":"hdl","bounds":{"lower":40,"upper":60}}]}`,
		},
	} {
		kind, got, err := runCustom(t.Context(), e, tab, h, wasm, json.RawMessage(tc.custom), releaser(7, 5000), rand.NewPCG(3, 4))
		if err != nil {
			t.Fatal(err)
		}
		wantKind, want, err := runAnalysis(tab, "descriptive", json.RawMessage(tc.builtin), releaser(7, 5000))
		if err != nil {
			t.Fatal(err)
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(want)
		if kind != wantKind || !bytes.Equal(gb, wb) {
			t.Fatalf("custom %s %s\nbuilt-in %s %s", kind, gb, wantKind, wb)
		}
		// The noise is real: another seed releases other numbers.
		_, other, _ := runCustom(t.Context(), e, tab, h, wasm, json.RawMessage(tc.custom), releaser(8, 5000), rand.NewPCG(3, 4))
		if ob, _ := json.Marshal(other); bytes.Equal(ob, gb) {
			t.Fatal("two noise seeds released the same numbers")
		}
	}
}

// A cohort below the minimum is refused before the module runs, as a
// built-in analysis refuses it.
func TestCustomRefusesSmallCohortBeforeRunning(t *testing.T) {
	tab := researchTable(t, 3000)
	wasm, _ := meansdModule(t)
	params := `{"filter":[{"column":"age","op":">","value":200}],"columns":["sbp"],"outputs":[{"name":"sbp","bounds":{"lower":80,"upper":220}}],"limits":{"memory_pages":1024,"timeout_ms":60000}}`
	// A wrong hash would fail the run: the refusal comes first.
	_, _, err := runCustom(t.Context(), sandbox.NewEngine(), tab, "00", wasm, json.RawMessage(params), releaser(1, 5000), rand.NewPCG(1, 1))
	if !errors.Is(err, outputctl.ErrBelowMinCohort) || failReason(err) != "cohort_too_small" {
		t.Fatalf("got %v, want the minimum cohort's refusal", err)
	}
}

// Without an epsilon a custom analysis is not released: a module's own
// filters (NaN outputs) would let two exact releases be differenced.
func TestCustomNeedsNoise(t *testing.T) {
	tab := researchTable(t, 3000)
	wasm, h := meansdModule(t)
	params := `{"columns":["sbp"],"outputs":[{"name":"sbp","bounds":{"lower":80,"upper":220}}],"limits":{"memory_pages":1024,"timeout_ms":60000}}`
	_, _, err := runCustom(t.Context(), sandbox.NewEngine(), tab, h, wasm, json.RawMessage(params), releaser(1, 0), rand.NewPCG(1, 1))
	if failReason(err) != "analysis_error" {
		t.Fatalf("got %v, want an analysis_error refusal", err)
	}
}

// What a module's failure does to the job: over its limits,
// resource_exhausted; anything else it did, analysis_error (both charged:
// it read data); a caller that gave up, nothing (retried).
func TestCustomFailureReasons(t *testing.T) {
	for err, want := range map[error]string{
		sandbox.ErrTimeout:            "resource_exhausted",
		sandbox.ErrMemory:             "resource_exhausted",
		sandbox.ErrModule:             "analysis_error",
		sandbox.ErrShape:              "analysis_error",
		sandbox.ErrDependsOnOtherRows: "analysis_error",
		context.Canceled:              "",
	} {
		if got := failReason(customRefusal(err)); got != want {
			t.Errorf("%v: reason %q, want %q", err, got, want)
		}
	}
	// The message is fixed per reason: whatever the module put in its
	// failure (an output index, a status) reaches neither log nor refusal.
	planted := fmt.Errorf("%w: output 13 was not written (status 7)", sandbox.ErrShape)
	if msg := customRefusal(planted).Error(); strings.Contains(msg, "13") || strings.Contains(msg, "7") {
		t.Errorf("the refusal repeats the module's words: %q", msg)
	}
}
