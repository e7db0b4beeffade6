package jobparams_test

import (
	"encoding/json"
	"testing"

	"github.com/medchain/medchain/jobparams"
)

// BenchmarkCheck: the check job submit, the API and the worker make, on a
// logistic regression with a factor, an interaction and a filter.
func BenchmarkCheck(b *testing.B) {
	params := json.RawMessage(`{"outcome":"cvd_10y","features":["age*sex","I(age^2)","log(sbp)","total_chol","hdl","smoker","diabetes"],` +
		`"factors":[{"column":"sex","levels":["female","male"]}],"filter":[{"column":"age","op":"between","values":[30,74]}]}`)
	for b.Loop() {
		if err := jobparams.Check("logistic_regression", params, schema); err != nil {
			b.Fatal(err)
		}
	}
}
