package jobparams

import (
	"reflect"
	"strings"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/gbt"
	"github.com/medchain/medchain/outputctl"
)

// Regression is the params of logistic_regression and linear_regression:
// the analysis's own, plus "private" for a differentially private fit.
type Regression struct {
	analysis.RegressionParams
	Private *outputctl.PrivateRegression `json:"private,omitempty"`
}

// Normalise sets and checks the link for the analysis: linear_regression
// has the identity link; logistic_regression logit (the default) or
// cloglog.
func (r *Regression) Normalise(name string) *Error {
	if name == "linear_regression" {
		if r.Link != "" && r.Link != analysis.Identity {
			return errorf(BadValue, "link", "", "a linear regression has the identity link")
		}
		r.Link = analysis.Identity
		return nil
	}
	if r.Link == analysis.Identity {
		return errorf(BadValue, "link", "", "use linear_regression for the identity link")
	}
	if r.Link == "" {
		r.Link = analysis.Logit
	}
	return nil
}

// Spec describes a built-in analysis's parameters.
type Spec struct {
	Name     string    `json:"name"`
	Summary  string    `json:"summary"`
	Params   []Param   `json:"params"`
	Examples []Example `json:"examples"`

	typ reflect.Type
}

// Param is one parameter: its path in the params object ("filter[].op"
// is the op of each filter condition), its JSON type, whether it must be
// given, and what it means.
type Param struct {
	Path     string `json:"path"`
	Type     string `json:"type"`
	Required bool   `json:"required"`
	Doc      string `json:"doc"`
}

// Example is params that fit the research schema every ingested dataset
// has (normalize.Schema; a test checks every example against it, and one
// of package compute runs each through the worker's analysis).
type Example struct {
	Doc    string `json:"doc"`
	Params string `json:"params"`
}

// filterDocs describe a filter, which every analysis takes.
var filterDocs = map[string]string{
	"filter":           "conditions every row of the cohort must meet (all of them); a row whose value is null meets none",
	"filter[].column":  "the column compared: a number, integer, year or boolean column (booleans are 0 and 1)",
	"filter[].op":      `one of "=", "!=", "<", "<=", ">", ">=", "between" (inclusive, two values) or "in" (any of the values)`,
	"filter[].value":   `the number compared with, for "=", "!=", "<", "<=", ">" and ">="`,
	"filter[].values":  `the numbers for "between" ([low, high]) or "in" (one or more)`,
	"bounds.lower":     "lower clamping bound, chosen by the requester (never read from the data)",
	"bounds.upper":     "upper clamping bound, above lower",
	"dimension.column": "the column to categorise: a number, integer, year or boolean column",
	"dimension.levels": "the exact values that are categories (codes, booleans, small integers); other values are left out",
	"dimension.breaks": "strictly increasing cut points making the bins [b0,b1), [b1,b2), …, [bk-1,bk]",
}

var specs = []*Spec{
	{
		Name:    "cohort_count",
		Summary: "the number of consented rows that meet the filter (released with noise under the policy's epsilon, and refused below the minimum cohort)",
		typ:     reflect.TypeFor[analysis.CountParams](),
		Examples: []Example{
			{"every consented patient", `{}`},
			{"patients aged 40 or over", `{"filter":[{"column":"age","op":">=","value":40}]}`},
			{"smokers aged 40 to 60", `{"filter":[{"column":"age","op":"between","values":[40,60]},{"column":"smoker","op":"=","value":1}]}`},
		},
	},
	{
		Name:    "crosstab",
		Summary: "a one- or two-way table of counts with its margins; the categories come from the params, never from the data",
		typ:     reflect.TypeFor[analysis.CrossTabParams](),
		Examples: []Example{
			{"diabetes by smoking status", `{"rows":{"column":"diabetes","levels":[0,1]},"cols":{"column":"smoker","levels":[0,1]}}`},
			{"age bands of patients with a treated blood pressure", `{"filter":[{"column":"bp_treated","op":"=","value":1}],"rows":{"column":"age","breaks":[30,40,50,60,70,80]}}`},
		},
	},
	{
		Name:    "descriptive",
		Summary: "count, missing, mean, SD and quantiles of each variable; with bounds, the bounded summaries a differentially private release needs",
		typ:     reflect.TypeFor[analysis.DescribeParams](),
		Examples: []Example{
			{"systolic blood pressure and cholesterol, each clamped to public bounds", `{"variables":[{"column":"sbp","bounds":{"lower":80,"upper":220}},{"column":"total_chol","bounds":{"lower":100,"upper":400}}]}`},
			{"age of the patients with diabetes", `{"filter":[{"column":"diabetes","op":"=","value":1}],"variables":[{"column":"age","bounds":{"lower":18,"upper":90}}]}`},
		},
	},
	{
		Name: "logistic_regression",
		Summary: "a binary outcome (0/1 or boolean) regressed on features by maximum likelihood (logit, or cloglog); " +
			"over several datasets, one pooled fit by secure aggregation",
		typ: reflect.TypeFor[Regression](),
		Examples: []Example{
			{"10-year CVD on age, blood pressure, cholesterol and smoking", `{"outcome":"cvd_10y","features":["age","sbp","total_chol","hdl","smoker","diabetes"]}`},
			{"Framingham-style terms: logarithms and an interaction", `{"outcome":"cvd_10y","features":["log(age)","log(sbp)","log(sbp):bp_treated","log(total_chol)","smoker"],"filter":[{"column":"age","op":">=","value":30}]}`},
			{"sex as a factor (female the reference) with its interaction with age, and a quadratic age term", `{"outcome":"cvd_10y","features":["age*sex","I(age^2)","sbp","smoker"],"factors":[{"column":"sex","levels":["female","male"],"reference":"female"}]}`},
			{"robust standard errors, and a likelihood-ratio test of smoking and diabetes together", `{"outcome":"cvd_10y","features":["age","sbp","smoker","diabetes"],"robust":true,"lrt_drop":["smoker","diabetes"]}`},
			{"a differentially private fit with public bounds for each feature", `{"outcome":"cvd_10y","features":["age","sbp"],"private":{"bounds":[{"lower":18,"upper":90},{"lower":80,"upper":220}],"rounds":5}}`},
		},
	},
	{
		Name: "boosted_trees",
		Summary: "gradient-boosted decision trees for a 0/1 outcome on measurements and booleans, each cut by the worker into 32 (or 16 or 8) equal bins over its public plausible range; " +
			"every leaf holds at least the minimum cohort; over several datasets one model is grown on their pooled consented rows through the ledger (a study: one masked node histogram per round), with pooled AUC and calibration",
		typ: reflect.TypeFor[gbt.Params](),
		Examples: []Example{
			{"10-year CVD from age, blood pressure, BMI and smoking: 100 trees of depth 4, bins over the plausible ranges",
				`{"outcome":"cvd_10y","features":["age","sbp","bmi","smoker"]}`},
			{"over several hospitals, one model (a study; switched off at workers until its bins are released under a per-bin rule, docs/studies.md): 50 trees of depth 3 in 16 bins, which halves every round's histogram",
				`{"outcome":"cvd_10y","features":["age","sbp","smoker"],"trees":50,"depth":3,"bins":16}`},
		},
	},
	{
		Name: "survival",
		Summary: "time to an event with censoring: Kaplan–Meier curves released at the requester's time grid (optionally by group, with a log-rank test) " +
			"and, with features, a Cox proportional-hazards model (hazard ratios, CIs, p-values, concordance); over several datasets with features, one pooled Cox model " +
			"fitted through the ledger on one of the public grids " + analysis.PooledCoxGridList() + ", its sums held to the small-group rule in every interval, so 0/1 features need enough rows at each site (docs/analyses.md)",
		typ: reflect.TypeFor[analysis.SurvivalParams](),
		Examples: []Example{
			{"survival free of CVD over 15 years of follow-up, at yearly points", `{"time":"cvd_time","event":"cvd_event","grid":[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]}`},
			{"curves for smokers and non-smokers, compared by a log-rank test", `{"time":"cvd_time","event":"cvd_event","grid":[2,4,6,8,10,12,14],"group":{"column":"smoker","levels":["false","true"]}}`},
			{"a Cox model of CVD-free survival on the risk factors, sex a factor (Efron ties)", `{"time":"cvd_time","event":"cvd_event","grid":[5,10,15],"features":["age","sex","sbp","total_chol","hdl","smoker","diabetes"],"factors":[{"column":"sex","levels":["female","male"]}]}`},
			{"Breslow ties, patients aged 40 or over", `{"time":"cvd_time","event":"cvd_event","grid":[5,10],"features":["age","sbp","smoker"],"ties":"breslow","filter":[{"column":"age","op":">=","value":40}]}`},
		},
	},
	{
		Name:    "linear_regression",
		Summary: "a numeric outcome regressed on features by ordinary least squares",
		typ:     reflect.TypeFor[Regression](),
		Examples: []Example{
			{"systolic blood pressure on age and BMI", `{"outcome":"sbp","features":["age","bmi"]}`},
		},
	},
	{
		Name: "code",
		Summary: "a custom analysis, named code:<sha256> of a WebAssembly module the dataset's policy lists: the module maps each consented row of the columns it asks for " +
			"to declared outputs, and the worker releases each output's count, mean, SD and quantiles, clamped to its bounds, under the output controls",
		typ: reflect.TypeFor[Custom](),
		Examples: []Example{
			{"the example module meansd (examples/wasm/meansd): mean and SD of systolic blood pressure and cholesterol, the module under 64 MiB and 10 s",
				`{"columns":["sbp","total_chol"],"outputs":[{"name":"sbp","bounds":{"lower":80,"upper":220}},{"name":"total_chol","bounds":{"lower":100,"upper":400}}],"limits":{"memory_pages":1024,"timeout_ms":10000}}`},
		},
	},
}

// regressionDocs describe the regression parameters.
var regressionDocs = map[string]string{
	"outcome": "the outcome column: 0/1 or boolean for logistic_regression; a number, integer or year column for linear_regression",
	"features": "the model's terms, as in an R formula: a column (number, integer, year or boolean), log(x), I(x^k) (k from 2 to 9), " +
		"a factor declared in factors, a:b (interaction), a*b (a, b and a:b); terms are ordered as R orders them (by degree) and " +
		"coefficients named as R names them (sexmale, age:sexmale)",
	"factors":                      "the categorical predictors: columns (code, string, boolean, or numbers that are codes) coded as treatment contrasts",
	"factors[].column":             "the column",
	"factors[].levels":             "its categories, 2 to 50, written as the vault holds them (codes as text, booleans false/true); a row with another value is left out, and a worker refuses a level with fewer rows than the minimum cohort",
	"factors[].reference":          "the level the others are compared with (default: the first)",
	"link":                         `logistic_regression: "logit" (default, odds ratios) or "cloglog" (hazard ratios); linear_regression: "identity" or omitted`,
	"max_iter":                     "the most Newton iterations (1 to 1000; 0 or omitted for the default)",
	"tol":                          "the convergence tolerance, in [0, 1) (0 or omitted for the default)",
	"robust":                       "true for robust (sandwich, HC0) standard errors, as R's sandwich::vcovHC(type = \"HC0\"); a single dataset's exact fit only",
	"lrt_drop":                     "terms to drop for a likelihood-ratio test of the nested model (an F test for linear_regression), written as in features (\"smoking\", \"age:sex\"; \"age*sex\" drops all three); a single dataset's exact fit only",
	"private":                      "fit with differential privacy (noisy sufficient statistics); without it the fit is exact, which a worker runs only when the dataset's policy sets exact_regression",
	"private.bounds":               "one clamping interval per feature, in the order of features",
	"private.bounds[].lower":       "lower clamping bound of the feature",
	"private.bounds[].upper":       "upper clamping bound of the feature",
	"private.outcome_bounds":       "the outcome's clamping interval (required by linear_regression, unused by logistic)",
	"private.outcome_bounds.lower": "lower clamping bound of the outcome",
	"private.outcome_bounds.upper": "upper clamping bound of the outcome",
	"private.rounds":               "the fixed number of noisy Newton rounds of a logistic fit, 1 to 50 (default 5)",
	"bounds":                       "boosted_trees: set by the worker, not the requester — each feature's public plausible range (booleans 0–1); leave it out",
	"bounds[].lower":               "lower end of the feature's binning range",
	"bounds[].upper":               "upper end of the feature's binning range, above lower",
	"trees":                        "how many trees, 1 to 500 (default 100)",
	"depth":                        "each tree's depth, 1 to 6 (default 4)",
	"learning_rate":                "the shrinkage of each tree's leaf values, in (0, 1] (default 0.1)",
	"lambda":                       "the L2 penalty on leaf values, 0 to 1e6 (default 1)",
	"bins":                         "boosted_trees: 32 (default), 16 or 8 equal bins of each feature's public plausible range (coarser bins shrink a study's rounds)",
	"variables":                    "the columns to summarise, each with optional clamping bounds",
	"variables[].column":           "a number, integer, year or boolean column",
	"variables[].bounds":           "clamping interval for the differentially private release; a worker refuses a variable without one when the policy has an epsilon (every policy has one)",
	"variables[].bounds.lower":     "lower clamping bound",
	"variables[].bounds.upper":     "upper clamping bound, above lower",
	"rows":                         "the row categories",
	"cols":                         "the column categories (omitted: a one-way table)",
}

// survivalDocs describe the survival parameters.
var survivalDocs = map[string]string{
	"time":  "the follow-up time: a number, integer or year column (rows with a negative or null time are left out), e.g. cvd_time in years",
	"event": "whether follow-up ended with the event (1/true) or was censored (0/false): a 0/1 or boolean column, e.g. cvd_event",
	"grid": "the public time grid, 1 to 200 strictly increasing positive times in the time column's unit, chosen by the requester and never read from the data: " +
		"curves are released at these points only (an interval whose events or censorings are 1 to min_cell−1 is merged into the next; the curve stops before the risk set falls below the minimum cohort); " +
		"a Cox model over several datasets (a pooled study) is fitted on times coarsened to it, and there the grid must be one of the public grids, the same for every requester: " +
		analysis.PooledCoxGridList() + " (a grid of the requester's choosing would let the sites' refusals date their events: docs/analyses.md)",
	"group":           "split the curves by a column and compare them by a log-rank test (released exactly only where the policy sets exact_regression)",
	"group.column":    "the column: code, string, boolean or number",
	"group.levels":    "its groups, 2 to 50, written as the vault holds them (codes as text, booleans false/true); rows at other values are left out",
	"group.reference": "unused for a group (accepted so that a factor declaration can be reused)",
	"filter": "conditions every row of the cohort must meet (all of them), as for the other analyses, on any column but the time and event columns: " +
		"a filter swept along the follow-up would date events through the refusals it meets, and selecting on the outcome biases the estimates",
	"features": "a Cox model's terms, written as a regression's (columns, log(x), I(x^k), factors, a:b, a*b); none: curves only. " +
		"A Cox model is released exactly, so only where the policy sets exact_regression",
	"factors":             "the categorical predictors the features name, as for a regression",
	"factors[].column":    "the column",
	"factors[].levels":    "its categories, written as the vault holds them; a worker refuses a level with fewer rows than the minimum cohort",
	"factors[].reference": "the level the others are compared with (default: the first)",
	"ties":                `how tied event times enter the Cox partial likelihood: "efron" (default, as R) or "breslow"`,
	"max_iter":            "the most Newton iterations of the Cox fit (1 to 1000; 0 or omitted for the default)",
	"tol":                 "the convergence tolerance of the Cox fit, in [0, 1) (0 or omitted for the default)",
}

// docFor finds the description of a parameter path of an analysis.
func docFor(name, path string) string {
	if name == "survival" {
		if d, ok := survivalDocs[path]; ok {
			return d
		}
	}
	if d, ok := regressionDocs[path]; ok {
		return d
	}
	if d, ok := filterDocs[path]; ok {
		return d
	}
	if d, ok := customDocs[path]; ok {
		return d
	}
	for _, dim := range []string{"rows.", "cols."} {
		if rest, ok := strings.CutPrefix(path, dim); ok {
			return filterDocs["dimension."+rest]
		}
	}
	return ""
}

func init() {
	for _, s := range specs {
		params("", s.typ, true, &s.Params)
		for i := range s.Params {
			s.Params[i].Doc = docFor(s.Name, s.Params[i].Path)
		}
	}
}

// Analyses lists the built-in analyses whose params this package knows.
func Analyses() []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out
}

// Describe is the parameter format of a built-in analysis.
func Describe(name string) (*Spec, bool) {
	for _, s := range specs {
		if s.Name == name {
			return s, true
		}
	}
	return nil, false
}
