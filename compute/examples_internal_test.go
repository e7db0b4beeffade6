package compute

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/jobparams"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/sandbox"
	"github.com/medchain/medchain/synth"
)

// researchTable is synthetic rows under the research schema's numeric
// columns, as LoadTable reads an ingested dataset (booleans 0/1).
func researchTable(t *testing.T, n int) *analysis.Table {
	t.Helper()
	people, err := synth.Generate(synth.Config{N: n, Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	b := func(x bool) float64 {
		if x {
			return 1
		}
		return 0
	}
	value := map[string]func(p *synth.Person) float64{
		"age":          func(p *synth.Person) float64 { return float64(p.Age) },
		"sbp":          func(p *synth.Person) float64 { return p.SBP },
		"dbp":          func(p *synth.Person) float64 { return p.DBP },
		"total_chol":   func(p *synth.Person) float64 { return p.TotalChol },
		"hdl":          func(p *synth.Person) float64 { return p.HDL },
		"ldl":          func(p *synth.Person) float64 { return p.LDL },
		"bmi":          func(p *synth.Person) float64 { return p.BMI },
		"hba1c":        func(p *synth.Person) float64 { return p.HbA1c },
		"glucose":      func(p *synth.Person) float64 { return p.Glucose },
		"heart_rate":   func(p *synth.Person) float64 { return p.HeartRate },
		"smoker":       func(p *synth.Person) float64 { return b(p.Smoking == synth.SmokingCurrent) },
		"hypertension": func(p *synth.Person) float64 { return b(p.Hypertension) },
		"diabetes":     func(p *synth.Person) float64 { return b(p.Diabetes) },
		"bp_treated":   func(p *synth.Person) float64 { return b(p.BPTreated) },
		"cvd_10y":      func(p *synth.Person) float64 { return b(p.CVD10y) },
		"cvd_event":    func(p *synth.Person) float64 { return b(p.CVDEvent) },
		"cvd_time":     func(p *synth.Person) float64 { return p.CVDTime },
	}
	var cols []analysis.Column
	for _, f := range normalize.Schema() {
		if f.Name == "sex" { // a code column, held as LoadTable holds it
			c := analysis.Column{Name: "sex", Values: make([]float64, n), Levels: []string{"male", "female"}}
			for i := range people {
				if people[i].Sex == "female" {
					c.Values[i] = 1
				}
			}
			cols = append(cols, c)
			continue
		}
		if f.Type == "code" || f.Type == "string" {
			continue
		}
		fn := value[f.Name]
		if fn == nil {
			fn = func(*synth.Person) float64 { return 0 } // a diagnosis the examples do not use
		}
		c := analysis.Column{Name: f.Name, Values: make([]float64, n)}
		for i := range people {
			c.Values[i] = fn(&people[i])
		}
		cols = append(cols, c)
	}
	tab, err := analysis.NewTable(cols...)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

// TestDescribedExamplesRun runs every example `medchain analysis describe`
// shows, and every one in docs/analyses.md, through the worker's analysis
// and release, under a policy with an epsilon and exact regressions
// allowed: each is released.
func TestDescribedExamplesRun(t *testing.T) {
	tab := researchTable(t, 3000)
	examples := map[string][]jobparams.Example{}
	for _, name := range jobparams.Analyses() {
		s, _ := jobparams.Describe(name)
		examples[name] = s.Examples
	}
	doc, err := os.ReadFile("../docs/analyses.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`--analysis (\S+) --params '([^']*)'`).FindAllStringSubmatch(string(doc), -1) {
		examples[m[1]] = append(examples[m[1]], jobparams.Example{Doc: "docs/analyses.md", Params: m[2]})
	}
	for name, exs := range examples {
		for _, ex := range exs {
			r := &outputctl.Releaser{
				Policy: outputctl.Policy{MinCohort: 20, EpsilonMilli: 5000, ExactRegression: true},
				Budget: &outputctl.Budget{TotalMilli: 5000},
				// Seeded noise: the test checks the examples, not luck.
				Noise: rand.NewChaCha8([32]byte{'e', 'x'}),
			}
			var kind ReleaseKind
			var rel any
			var err error
			if name == "code" || strings.HasPrefix(name, "code:") { // the example module, examples/wasm/meansd
				wasm, h := meansdModule(t)
				if name != "code" && name != "code:"+h {
					t.Errorf("docs/analyses.md names %s; the example module is code:%s", name, h)
				}
				kind, rel, err = runCustom(t.Context(), sandbox.NewEngine(), tab, h, wasm, json.RawMessage(ex.Params), r, rand.NewPCG(1, 2))
			} else {
				params := json.RawMessage(ex.Params)
				if name == "boosted_trees" { // the worker sets the bins, as compute does
					params, err = treesParams(params, normalize.Schema())
				}
				if err == nil {
					kind, rel, err = runAnalysis(tab, name, params, r)
				}
			}
			if err != nil {
				t.Errorf("%s %s: %v", name, ex.Params, err)
				continue
			}
			if kind == "" || rel == nil {
				t.Errorf("%s %s: released nothing", name, ex.Params)
			}
			if s, ok := rel.(outputctl.SurvivalRelease); ok {
				for _, c := range s.Curves {
					if len(c.Points) == 0 {
						t.Errorf("%s %s: group %q has no released point", name, ex.Params, c.Group)
					}
				}
				if (s.Cox == nil) != !strings.Contains(ex.Params, `"features"`) {
					t.Errorf("%s %s: Cox model released %v", name, ex.Params, s.Cox != nil)
				}
				if strings.Contains(ex.Params, `"group"`) && s.LogRank == nil {
					t.Errorf("%s %s: no log-rank test", name, ex.Params)
				}
			}
		}
	}
}
