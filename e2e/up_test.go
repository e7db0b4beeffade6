package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuickStart is the README's first command: `medchain up` creates a dev
// network, commits blocks, answers /v1/status, stops cleanly on Ctrl-C and
// resumes from disk.
func TestQuickStart(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	ports := freePorts(t, 3)
	api, rpc, p2p := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1]), fmt.Sprintf("127.0.0.1:%d", ports[2])
	p := start(t, "up", "--home", home, "--api", api, "--rpc", rpc, "--p2p", p2p)
	st := waitHeight(t, api, 3, 60*time.Second, p)
	if st.ChainID != "medchain-dev" || len(st.AppHash) != 64 {
		t.Fatalf("status = %+v", st)
	}
	// The first run seeds demo data: three institutions' synthetic cohorts,
	// ingested into the vault and published with their policies.
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(p.out.String(), "demo data ready") {
		if time.Now().After(deadline) || strings.Contains(p.out.String(), "demo data incomplete") {
			t.Fatalf("demo data not seeded:\n%s", p.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var catalogue struct {
		Datasets []struct {
			ID string `json:"id"`
		} `json:"datasets"`
	}
	if err := getJSON("http://"+api+"/v1/datasets", &catalogue); err != nil {
		t.Fatal(err)
	}
	if len(catalogue.Datasets) != 3 {
		t.Fatalf("catalogue after the demo seeding: %+v", catalogue)
	}
	readmeQuestion(t, home, api)
	hdr, err := headerAppHash(rpc, st.Height)
	if err != nil {
		t.Fatal(err)
	}
	p.interrupt(t)
	if !strings.Contains(p.out.String(), "stopped cleanly") {
		t.Fatalf("no clean stop:\n%s", p.out)
	}
	for _, name := range []string{"consortium-admin", "st-mary-admin", "rita-researcher", "patient-1"} {
		if !strings.Contains(run(t, "keys", "list", "--home", home), name) {
			t.Errorf("demo key %s missing", name)
		}
	}

	// Second run: same chain, continues from where it stopped.
	p = start(t, "up", "--home", home, "--api", api)
	st2 := waitHeight(t, api, st.Height+2, 60*time.Second, p)
	if st2.ChainID != st.ChainID {
		t.Fatalf("chain changed on restart: %s -> %s", st.ChainID, st2.ChainID)
	}
	again, err := headerAppHash(rpc, st.Height)
	if err != nil {
		t.Fatal(err)
	}
	if again != hdr {
		t.Fatalf("header %d app hash changed across restart: %s -> %s", st.Height, hdr, again)
	}
	p.interrupt(t)
}

// readmeQuestion asks the README's research question of the demo network,
// with the CLI only, as an epidemiologist would: the adjusted odds ratios of
// 10-year CVD for age, sex, systolic BP, cholesterol, HDL, smoking and
// diabetes across the three hospitals. Northside is opt-in, so this needs
// the patients `up` enrols there; sex is a code column, so it needs the
// factor. The pooled fit runs to completion and every site's result holds
// the same odds ratio for males.
func readmeQuestion(t *testing.T, home, api string) {
	t.Helper()
	params := `{"outcome":"cvd_10y","features":["age","sex","sbp","total_chol","hdl","smoker","diabetes"],` +
		`"factors":[{"column":"sex","levels":["female","male"]}]}`
	run(t, "job", "submit", "--home", home, "--node", api, "--from", "rita-researcher",
		"--dataset", "st-mary-cvd", "--dataset", "northside-cvd", "--dataset", "lakeview-cvd",
		"--purpose", "research", "--max-price", "400", "--analysis", "logistic_regression", "--params", params,
		// Generous iteration deadlines: a loaded test machine must not drop a site.
		"--iteration-blocks", "300")
	var job struct {
		Status string `json:"status"`
		Sites  []struct {
			Dataset string `json:"dataset"`
		} `json:"sites"`
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if err := json.Unmarshal([]byte(run(t, "job", "show", "0", "--home", home, "--node", api, "--json")), &job); err != nil {
			t.Fatal(err)
		}
		if job.Status == "completed" || job.Status == "failed" || job.Status == "expired" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the three-hospital study is still %s after 3 minutes", job.Status)
		}
		time.Sleep(time.Second)
	}
	if job.Status != "completed" || len(job.Sites) != 3 {
		t.Fatalf("the three-hospital study ended %q with %d sites:\n%s", job.Status, len(job.Sites),
			run(t, "job", "show", "0", "--home", home, "--node", api))
	}
	var results []struct {
		Dataset string `json:"dataset"`
		Release struct {
			Regression struct {
				N            int64 `json:"n"`
				Coefficients []struct {
					Name  string `json:"name"`
					Ratio *struct {
						Estimate float64 `json:"estimate"`
					} `json:"ratio"`
				} `json:"coefficients"`
			} `json:"regression"`
		} `json:"release"`
	}
	out := run(t, "job", "result", "0", "--home", home, "--node", api, "--from", "rita-researcher", "--json")
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(results) != 3 {
		t.Fatalf("%d results, want one per hospital", len(results))
	}
	var names []string
	var male []float64
	for _, r := range results {
		names = names[:0]
		for _, c := range r.Release.Regression.Coefficients {
			names = append(names, c.Name)
			if c.Name == "sexmale" && c.Ratio != nil {
				male = append(male, c.Ratio.Estimate)
			}
		}
		if r.Release.Regression.N == 0 {
			t.Errorf("%s: no pooled N", r.Dataset)
		}
	}
	want := "intercept age sexmale sbp total_chol hdl smoker diabetes"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("terms %q, want %q", got, want)
	}
	if len(male) != 3 || male[0] != male[1] || male[1] != male[2] || !(male[0] > 1) {
		t.Errorf("odds ratios for males across the sites: %v (one pooled fit, men at higher risk in the synthetic data)", male)
	}
}
