package synth

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/medchain/medchain/analysis"
)

// Issue 4's acceptance: on cohorts whose outcome is drawn from a logistic
// model with known coefficients, the 95% Wald intervals of a logistic
// regression cover the generating values at about the nominal rate over
// repeated seeds, and the estimates are centred on them.
func TestLogisticCoverage(t *testing.T) {
	const (
		seeds = 100
		n     = 2000
	)
	model := DefaultLogistic()
	names := model.names()
	truth := append([]float64{model.Intercept}, make([]float64, len(names))...)
	for j, name := range names {
		truth[j+1] = model.Coefficients[name]
	}
	covered := make([]int, len(truth))
	sum := make([]float64, len(truth))
	sumsq := make([]float64, len(truth))
	for seed := int64(1); seed <= seeds; seed++ {
		people, err := Generate(Config{N: n, Seed: seed, Outcome: OutcomeLogistic})
		if err != nil {
			t.Fatal(err)
		}
		cols := make([]analysis.Column, 0, len(names)+1)
		for _, name := range names {
			v := make([]float64, n)
			for i := range people {
				v[i], _ = people[i].LogisticFactor(name)
			}
			cols = append(cols, analysis.Column{Name: name, Values: v})
		}
		y := make([]float64, n)
		for i := range people {
			y[i] = b2f(people[i].CVD10y)
		}
		tbl, err := analysis.NewTable(append(cols, analysis.Column{Name: "cvd_10y", Values: y})...)
		if err != nil {
			t.Fatal(err)
		}
		r, err := analysis.Regress(tbl, analysis.RegressionParams{Outcome: "cvd_10y", Features: names, Link: analysis.Logit})
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		if len(r.Coefficients) != len(truth) {
			t.Fatalf("seed %d: %d coefficients, want %d", seed, len(r.Coefficients), len(truth))
		}
		for j, c := range r.Coefficients {
			if c.Lower <= truth[j] && truth[j] <= c.Upper {
				covered[j]++
			}
			sum[j] += c.Estimate
			sumsq[j] += c.Estimate * c.Estimate
		}
	}
	for j := range truth {
		name := "(intercept)"
		if j > 0 {
			name = names[j-1]
		}
		rate := float64(covered[j]) / seeds
		mean := sum[j] / seeds
		sd := math.Sqrt(max(0, sumsq[j]/seeds-mean*mean))
		mcse := sd / math.Sqrt(seeds)
		t.Logf("%-12s truth %8.4f  mean estimate %8.4f (sd %.4f)  95%% CI coverage %3.0f%%", name, truth[j], mean, sd, 100*rate)
		if rate < 0.88 || rate > 0.99 {
			t.Errorf("%s: 95%% CI covered the truth in %.0f%% of %d seeds, want 88–99%%", name, 100*rate, seeds)
		}
		// The MLE's small-sample bias is O(1/n); allow 10% of the
		// coefficient on top of 3 Monte Carlo standard errors.
		if math.Abs(mean-truth[j]) > 0.1*math.Abs(truth[j])+3*mcse {
			t.Errorf("%s: mean estimate %.4f over %d seeds, truth %.4f (Monte Carlo SE %.4f)", name, mean, seeds, truth[j], mcse)
		}
	}
}

// The logistic outcome leaves everything but the outcome and the risk as
// the Framingham mode makes it, and is reproducible.
func TestLogisticSameFactors(t *testing.T) {
	cfg := Config{N: 500, Seed: 11}
	fram, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Outcome = OutcomeLogistic
	logit, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Generate(cfg)
	m := DefaultLogistic()
	differ := 0
	for i := range fram {
		f, l := fram[i], logit[i]
		if l != again[i] {
			t.Fatalf("person %d differs between two logistic runs", i)
		}
		if want := 1 / (1 + math.Exp(-m.Eta(&l))); math.Abs(l.Risk-want) > 1e-15 {
			t.Errorf("person %d: risk %v, want sigmoid(η) = %v", i, l.Risk, want)
		}
		if f.CVD10y != l.CVD10y {
			differ++
		}
		f.Risk, f.CVD10y = l.Risk, l.CVD10y
		if f != l {
			t.Fatalf("person %d: risk factors or identifiers differ between outcome models", i)
		}
	}
	if differ == 0 {
		t.Error("the logistic outcome is the Framingham outcome for every person")
	}
}

func TestLogisticConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{N: 1, Outcome: "cox"}, `outcome "cox"`},
		{Config{N: 1, Outcome: OutcomeLogistic, Logistic: &Logistic{Coefficients: map[string]float64{"weight": 1}}}, `"weight": no such risk factor`},
		{Config{N: 1, Outcome: OutcomeLogistic, Logistic: &Logistic{Intercept: math.NaN()}}, "not finite"},
		{Config{N: 1, Outcome: OutcomeLogistic, Logistic: &Logistic{Coefficients: map[string]float64{"age": math.Inf(1)}}}, "not finite"},
	} {
		if _, err := Generate(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.cfg, err, tc.want)
		}
	}
}

func TestTruthModel(t *testing.T) {
	m := Logistic{Intercept: -3, Coefficients: map[string]float64{"age": 0.05, "smoker": 0.7}}
	var buf bytes.Buffer
	if err := WriteTruthModel(&buf, Config{N: 10, Seed: 2, Outcome: OutcomeLogistic, Logistic: &m}); err != nil {
		t.Fatal(err)
	}
	var got TruthModel
	if err := json.Unmarshal(buf.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Outcome != OutcomeLogistic || got.Logistic == nil || got.Logistic.Intercept != -3 ||
		got.Logistic.Coefficients["age"] != 0.05 || got.Logistic.Coefficients["smoker"] != 0.7 || got.Seed != 2 || got.N != 10 {
		t.Errorf("truth model %s", buf.String())
	}
	// ReadLogistic takes the model part back.
	in, _ := json.Marshal(m)
	back, err := ReadLogistic(bytes.NewReader(in))
	if err != nil || back.Intercept != -3 || back.Coefficients["smoker"] != 0.7 {
		t.Errorf("ReadLogistic: %+v, %v", back, err)
	}
	if _, err := ReadLogistic(strings.NewReader(`{"intercept": 1, "coefficients": {"bogus": 1}}`)); err == nil {
		t.Error("ReadLogistic accepted an unknown factor")
	}
	buf.Reset()
	if err := WriteTruthModel(&buf, Config{N: 10, Seed: 2}); err != nil || !strings.Contains(buf.String(), `"outcome": "framingham"`) || strings.Contains(buf.String(), "logistic") {
		t.Errorf("framingham truth model %s, %v", buf.String(), err)
	}
}
