package jobparams_test

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/medchain/medchain/jobparams"
	"github.com/medchain/medchain/normalize"
)

// The schema every ingested dataset has: age, sex (a code), the
// measurements, smoker and the diagnoses (booleans), cvd_10y.
var schema = normalize.Schema()

func TestEveryExampleFitsTheResearchSchema(t *testing.T) {
	for _, name := range jobparams.Analyses() {
		s, _ := jobparams.Describe(name)
		if len(s.Examples) == 0 {
			t.Errorf("%s has no example", name)
		}
		for _, ex := range s.Examples {
			if err := jobparams.Check(name, json.RawMessage(ex.Params), schema); err != nil {
				t.Errorf("%s example %q: %v", name, ex.Params, err)
			}
		}
	}
}

func TestEveryParameterIsDocumented(t *testing.T) {
	for _, name := range jobparams.Analyses() {
		s, _ := jobparams.Describe(name)
		for _, p := range s.Params {
			if p.Doc == "" {
				t.Errorf("%s: parameter %s has no description", name, p.Path)
			}
			if p.Type == "" {
				t.Errorf("%s: parameter %s has no type", name, p.Path)
			}
		}
	}
}

// TestErrorsNameWhatIsWrong is the catalogue of mistakes a researcher makes
// and what each is told: a stable code, the parameter's path, the column
// concerned and a message saying how to put it right.
func TestErrorsNameWhatIsWrong(t *testing.T) {
	for _, tc := range []struct {
		analysis, params string
		code             jobparams.Code
		param, column    string
		message          string // a substring
	}{
		// The example `job submit --help` used to give.
		{"cohort_count", `{"where":{"age":{"gte":40}}}`, jobparams.UnknownParameter, "where", "",
			`unknown parameter "where"; the analysis takes "filter"`},
		{"cohort_count", `{"filter":[{"colum":"age","op":">=","value":40}]}`, jobparams.UnknownParameter, "filter[0].colum", "",
			`takes "column", "op", "value", "values"`},
		{"cohort_count", `{"filter":{"column":"age"}}`, jobparams.WrongType, "filter", "",
			"want a list of objects, got an object"},
		{"cohort_count", `{"filter":[{"column":"age","op":">=","value":"40"}]}`, jobparams.WrongType, "filter[0].value", "",
			"want a number, got a string"},
		{"cohort_count", `{"filter":[{"column":"age","op":"gte","value":40}]}`, jobparams.BadValue, "filter[0].op", "",
			`unknown operator "gte"`},
		{"cohort_count", `{"filter":[{"column":"agee","op":">=","value":40}]}`, jobparams.NoSuchColumn, "filter[0].column", "",
			`no column "agee" in the dataset; its columns are "age", "sex", "sbp"`},
		{"cohort_count", `[1]`, jobparams.Malformed, "", "", "want a JSON object, got a list"},
		// Bins off the public 32-bin lattice would let a requester place
		// edges; 16 and 8 are every second and fourth edge of it.
		{"boosted_trees", `{"outcome":"cvd_10y","features":["age"],"bins":12}`, jobparams.BadValue, "bins", "", "8, 16 or 32 equal bins"},
		{"boosted_trees", `{"outcome":"cvd_10y","features":["age"],"bounds":[{"lower":40,"upper":41}]}`, jobparams.BadValue, "bounds", "", "leave bounds out"},
		{"cohort_count", `{"filter":`, jobparams.Malformed, "", "", "not valid JSON"},
		{"logistic_regression", `{"features":["age"]}`, jobparams.MissingParameter, "outcome", "", "outcome is required (a string)"},
		{"logistic_regression", `{"outcome":"cvd_10y","features":"age"}`, jobparams.WrongType, "features", "",
			"want a list of strings, got a string"},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["age","sex"]}`, jobparams.WrongType, "features[1]", "sex",
			`column "sex" is a code column: declare it in factors, with its levels`},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["age*sex"],"factors":[{"column":"sexx","levels":["female","male"]}]}`,
			jobparams.NoSuchColumn, "factors[0].column", "", `no column "sexx"`},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["age"],"factors":[{"column":"sex","levels":["female","male"]}]}`,
			jobparams.BadValue, "factors[0]", "", `factor "sex" is not used by any feature`},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["sex"],"factors":[{"column":"sex","levels":["female"]}]}`,
			jobparams.BadValue, "factors[0].levels", "", "need 2 to 50 levels, got 1"},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["smoker"],"factors":[{"column":"smoker","levels":["no","yes"]}]}`,
			jobparams.BadValue, "factors[0].levels[0]", "", `"no" is not a number, and column "smoker" holds numbers`},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["log(sex)"],"factors":[{"column":"sex","levels":["female","male"]}]}`,
			jobparams.BadValue, "features[0]", "", "sex is a factor; log() takes a numeric column"},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["I(age^12)"]}`,
			jobparams.BadValue, "features[0]", "", "k from 2 to 9"},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["age","log(sbp"]}`, jobparams.BadValue, "features[1]", "",
			"unbalanced parentheses"},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["age","log(sbpp)"]}`, jobparams.NoSuchColumn, "features[1]", "",
			`no column "sbpp"`},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["age","age"]}`, jobparams.BadValue, "features[1]", "", "listed twice"},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["cvd_10y"]}`, jobparams.BadValue, "features[0]", "", "involves the outcome"},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["age"],"link":"probit"}`, jobparams.BadValue, "link", "", "probit"},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["age"],"max_iter":2.5}`, jobparams.WrongType, "max_iter", "", "want an integer"},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["age","sbp"],"private":{"bounds":[{"lower":18,"upper":90}]}}`,
			jobparams.BadValue, "private.bounds", "", "1 bounds for 2 design columns (age, sbp)"},
		{"logistic_regression", `{"outcome":"cvd_10y","features":["age"],"private":{"bounds":[{"lower":90,"upper":18}]}}`,
			jobparams.BadValue, "private.bounds[0]", "", "is not below upper bound"},
		{"linear_regression", `{"outcome":"sbp","features":["age"],"link":"logit"}`, jobparams.BadValue, "link", "", "identity link"},
		{"linear_regression", `{"outcome":"sbp","features":["age"],"private":{"bounds":[{"lower":18,"upper":90}]}}`,
			jobparams.MissingParameter, "private.outcome_bounds", "", "needs outcome_bounds"},
		{"descriptive", `{}`, jobparams.MissingParameter, "variables", "", "variables is required"},
		{"descriptive", `{"variables":[]}`, jobparams.BadValue, "variables", "", "no variables"},
		{"descriptive", `{"variables":[{"column":"sex"}]}`, jobparams.WrongType, "variables[0].column", "sex", "code column"},
		{"crosstab", `{"rows":{"column":"diabetes"}}`, jobparams.BadValue, "rows", "", "levels"},
		{"crosstab", `{"rows":{"column":"diabetes","levels":[0,1]},"cols":{"column":"smoking","levels":[0,1]}}`,
			jobparams.NoSuchColumn, "cols.column", "", `no column "smoking"`},
		{"code:ab", `{}`, jobparams.MissingParameter, "columns", "", "columns is required"},
		{"code:ab", `{"columns":["sex"],"outputs":[],"limits":{"memory_pages":1,"timeout_ms":1}}`, jobparams.WrongType, "columns[0]", "sex", "code column"},
		{"code:ab", `{"columns":["sbp","sbp"],"outputs":[],"limits":{"memory_pages":1,"timeout_ms":1}}`, jobparams.BadValue, "columns[1]", "sbp", "named twice"},
		{"code:ab", `{"columns":["sbp"],"outputs":[],"limits":{"memory_pages":1,"timeout_ms":1}}`, jobparams.MissingParameter, "outputs", "", "declare the outputs"},
		{"code:ab", `{"columns":["sbp"],"outputs":[{"name":"a b","bounds":{"lower":0,"upper":1}}],"limits":{"memory_pages":1,"timeout_ms":1}}`,
			jobparams.BadValue, "outputs[0].name", "", "letters, digits and _"},
		{"code:ab", `{"columns":["sbp"],"outputs":[{"name":"m","bounds":{"lower":1,"upper":1}}],"limits":{"memory_pages":1,"timeout_ms":1}}`,
			jobparams.BadValue, "outputs[0].bounds", "", "lower below upper"},
		{"code:ab", `{"columns":["sbp"],"outputs":[{"name":"m","bounds":{"lower":0,"upper":1}}],"limits":{"memory_pages":1,"timeout_ms":300001}}`,
			jobparams.BadValue, "limits.timeout_ms", "", "1 to 300000 milliseconds"},
		{"code:ab", `{"columns":["sbp"],"outputs":[{"name":"m","bounds":{"lower":0,"upper":1}}],"limits":{"memory_pages":1,"timeout_ms":1},"rows":1}`,
			jobparams.UnknownParameter, "rows", "", `unknown parameter "rows"`},
		{"survival", `{}`, jobparams.MissingParameter, "time", "", "time is required"},
		{"survival", `{"time":"cvd_time","event":"cvd_event"}`, jobparams.MissingParameter, "grid", "", "grid is required"},
		{"survival", `{"time":"cvd_tim","event":"cvd_event","grid":[5]}`, jobparams.NoSuchColumn, "time", "", `no column "cvd_tim"`},
		{"survival", `{"time":"sex","event":"cvd_event","grid":[5]}`, jobparams.WrongType, "time", "sex", "code column"},
		{"survival", `{"time":"cvd_time","event":"cvd_event","grid":[5,5]}`, jobparams.BadValue, "grid[1]", "", "strictly increasing"},
		{"survival", `{"time":"cvd_time","event":"cvd_event","grid":[-1]}`, jobparams.BadValue, "grid[0]", "", "positive"},
		{"survival", `{"time":"cvd_time","event":"cvd_event","grid":[5],"ties":"exact"}`, jobparams.BadValue, "ties", "", "efron or breslow"},
		{"survival", `{"time":"cvd_time","event":"cvd_event","grid":[5],"group":{"column":"smokr","levels":["false","true"]}}`,
			jobparams.NoSuchColumn, "group.column", "", `no column "smokr"`},
		{"survival", `{"time":"cvd_time","event":"cvd_event","grid":[5],"group":{"column":"smoker","levels":["true"]}}`,
			jobparams.BadValue, "group.levels", "", "need 2 to 50 levels"},
		{"survival", `{"time":"cvd_time","event":"cvd_event","grid":[5],"features":["age","cvd_time"]}`,
			jobparams.BadValue, "features[1]", "", "involves the time column"},
		{"survival", `{"time":"cvd_time","event":"cvd_event","grid":[5],"features":["sex"]}`,
			jobparams.WrongType, "features[0]", "sex", "declare it in factors"},
	} {
		t.Run(tc.analysis+" "+tc.params, func(t *testing.T) {
			err := jobparams.Check(tc.analysis, json.RawMessage(tc.params), schema)
			var e *jobparams.Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want a *jobparams.Error", err)
			}
			if e.Code != tc.code || e.Param != tc.param || e.Column != tc.column {
				t.Errorf("got code %s param %q column %q, want %s %q %q (%v)", e.Code, e.Param, e.Column, tc.code, tc.param, tc.column, err)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("message %q does not say %q", err, tc.message)
			}
			if tc.param != "" && !strings.HasPrefix(err.Error(), "params."+tc.param+": ") {
				t.Errorf("message %q does not start with the parameter", err)
			}
		})
	}
}

func TestDecodeNormalisesTheLink(t *testing.T) {
	v, err := jobparams.Decode("linear_regression", json.RawMessage(`{"outcome":"sbp","features":["age"]}`), schema)
	if err != nil {
		t.Fatal(err)
	}
	if p := v.(*jobparams.Regression); p.Link != "identity" {
		t.Errorf("link %q, want identity", p.Link)
	}
	v, err = jobparams.Decode("logistic_regression", nil, schema)
	if err == nil || v != nil {
		t.Fatalf("empty params of a regression: got %v, %v", v, err)
	}
}

// Every `--analysis NAME --params '…'` in docs/analyses.md fits the
// research schema.
func TestDocsExamplesFitTheSchema(t *testing.T) {
	doc, err := os.ReadFile("../docs/analyses.md")
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile(`--analysis (\S+) --params '([^']*)'`).FindAllStringSubmatch(string(doc), -1)
	if len(found) < 3 {
		t.Fatalf("%d examples found in docs/analyses.md", len(found))
	}
	for _, m := range found {
		if err := jobparams.Check(m[1], json.RawMessage(m[2]), schema); err != nil {
			t.Errorf("docs/analyses.md: --analysis %s --params '%s': %v", m[1], m[2], err)
		}
	}
}
