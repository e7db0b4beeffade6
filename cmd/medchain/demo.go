package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/report"
	"github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// demoEnrolled is how many of Northside's patients enrol a wallet and permit
// research: Northside's dataset is opt-in, so only they can be used.
const demoEnrolled = 200

// demoFeatures are the risk factors of the demo study.
var demoFeatures = []string{"age", "sbp", "total_chol", "hdl", "smoker", "diabetes"}

func demoCmd(g *globals) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "The whole story end to end on the embedded default, narrated",
		Long: `demo starts a fresh one-validator network in a new directory (--home to choose it; it must
not exist yet) with the compute workers on, and plays the story: three institutions
ingest synthetic cohorts into their vaults and publish them with policies; patients
consent — some refuse, one revokes; a researcher buys a cardiovascular risk-factor
study across the three; each institution's worker runs it on consented rows only and
the sites combine masked Newton steps through the ledger (secure aggregation) into one pooled logistic fit;
the researcher downloads, decrypts and verifies the result and renders a report; the
tokens land. It prints what happens at each step and stops the network at the end
(--keep leaves it running until Ctrl-C).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home := g.home
			if !cmd.Flags().Changed("home") {
				dir, err := os.MkdirTemp("", "medchain-demo-")
				if err != nil {
					return err
				}
				home = filepath.Join(dir, "home")
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDemo(ctx, home, cmd.OutOrStdout(), keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the network running after the story, until Ctrl-C")
	return cmd
}

func loopbackAddrs(n int) ([]string, error) {
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		out = append(out, l.Addr().String())
		l.Close()
	}
	return out, nil
}

// demoOutcome is what the demo's study produced, for tests to check.
type demoOutcome struct {
	Job        *ledger.Job
	Regression analysis.Regression
}

func runDemo(ctx context.Context, home string, out io.Writer, keep bool) error {
	_, err := playDemo(ctx, home, out, keep)
	return err
}

func playDemo(ctx context.Context, home string, out io.Writer, keep bool) (*demoOutcome, error) {
	step := func(format string, args ...any) { fmt.Fprintf(out, "\n== "+format+"\n", args...) }
	say := func(format string, args ...any) { fmt.Fprintf(out, "   "+format+"\n", args...) }

	step("1. A consortium network on this machine")
	if node.Initialized(home) {
		return nil, fail("%s already holds a node: give --home a new directory", home)
	}
	addrs, err := loopbackAddrs(3)
	if err != nil {
		return nil, err
	}
	err = node.CreateNetwork([]string{home}, node.NetOptions{ChainID: "medchain-demo", Validators: 1, Demo: true,
		BlockTime: 300 * time.Millisecond, API: addrs[0], RPC: addrs[1], P2P: addrs[2]})
	if err != nil {
		return nil, err
	}
	n, err := node.Start(home, node.Options{Workers: true})
	if err != nil {
		return nil, err
	}
	defer n.Stop()
	c := client.New("http://" + n.APIAddr())
	if err := waitFor(ctx, 30*time.Second, func() (bool, error) {
		st, err := n.Status(ctx)
		return err == nil && st.Height >= 2, nil
	}); err != nil {
		return nil, err
	}
	say("one validator (CometBFT), home %s, API and dashboard http://%s/", home, n.APIAddr())

	step("2. Three institutions publish de-identified cohorts, with policies and workers")
	if err := seedDemo(ctx, home, n.APIAddr(), out); err != nil {
		return nil, err
	}

	step("3. Patients decide")
	if err := demoConsents(ctx, c, home, say); err != nil {
		return nil, err
	}

	dir := node.KeysDir(home)
	rita, err := keys.Load(dir, "rita-researcher")
	if err != nil {
		return nil, err
	}
	watch := []string{"rita-researcher", "st-mary-admin", "northside-admin", "lakeview-admin", "st-mary-worker", "northside-worker", "lakeview-worker"}
	before, err := demoBalances(ctx, c, dir, watch)
	if err != nil {
		return nil, err
	}

	step("4. A researcher buys a cardiovascular risk-factor study across the three")
	params, _ := json.Marshal(map[string]any{"outcome": "cvd_10y", "features": demoFeatures})
	var datasets []string
	for _, s := range seed.DemoSites {
		datasets = append(datasets, s.Dataset)
	}
	sub := &ledger.SubmitJob{Datasets: datasets, Analysis: "logistic_regression", Params: params,
		Purpose: "research", MaxPrice: 1000, ResultKey: rita.EncPub()}
	ds, err := c.Dataset(ctx, datasets[0])
	if err != nil {
		return nil, err
	}
	if sub.Study, err = compute.PlanStudy(params, ds.Latest.Schema, nil); err != nil {
		return nil, err
	}
	// Each worker proves its contribution's bounds before posting (seconds
	// on a busy 2-core machine) while blocks keep coming: a generous
	// iteration deadline keeps a slow live site from being dropped.
	sub.Study.IterationBlocks = 300
	r, err := c.SignAndSubmit(ctx, rita, sub, true)
	if err != nil {
		return nil, err
	}
	if r.Result == nil || r.Result.Code != ledger.CodeOK {
		return nil, fmt.Errorf("submit_job: %+v", r.Result)
	}
	id, err := client.JobID(r.Result)
	if err != nil {
		return nil, err
	}
	job, err := c.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	say("rita-researcher submitted job %d: logistic regression of cvd_10y on %v over %v", id, demoFeatures, datasets)
	say("admitted at height %d: %d tokens escrowed; each dataset's privacy budget charged", job.Admitted, job.Escrow)

	step("5. Each institution's worker computes on its own consented rows; the ledger coordinates the pooled fit")
	seenSums := 0
	err = waitFor(ctx, 3*time.Minute, func() (bool, error) {
		j, err := c.Job(ctx, id)
		if err != nil {
			return false, err
		}
		if v, err := c.Study(ctx, id); err == nil && len(v.Sums) > seenSums {
			seenSums = len(v.Sums)
			say("iterations summed on the ledger so far: %d (each site's Newton step masked and proven in bounds; only the sum is stored)", seenSums)
		}
		switch j.Status {
		case ledger.JobCompleted:
			job = j
			return true, nil
		case ledger.JobFailed, ledger.JobExpired:
			return false, fmt.Errorf("job %d %s: %s", id, j.Status, j.Reason)
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	say("every site posted its signed result: job %d completed at height %d", id, job.Closed)

	step("6. The researcher downloads, decrypts and verifies the result")
	var results []*compute.Result
	for _, s := range job.Sites {
		res, _, err := compute.FetchResult(ctx, c, job, s.Dataset, rita)
		if err != nil {
			return nil, err
		}
		results = append(results, res)
	}
	checks, allOK, err := compute.VerifyJob(ctx, c, job, rita)
	if err != nil {
		return nil, err
	}
	for _, ch := range checks {
		mark := "ok  "
		if !ch.OK {
			mark = "FAIL"
		}
		say("%s %s %s: %s", mark, ch.Dataset, ch.What, ch.Detail)
	}
	if !allOK {
		return nil, errors.New("the result did not verify")
	}
	var rr outputctl.RegressionRelease
	if err := json.Unmarshal(results[0].Release, &rr); err != nil {
		return nil, err
	}
	reg := rr.Regression
	say("pooled fit on about %d consented patients (about %d events; the pooled counts carry each site's DP noise) across %d institutions:", reg.N, reg.Events, len(job.Sites))
	for _, co := range reg.Coefficients {
		line := fmt.Sprintf("  %-12s β=%9.5f  SE=%8.5f  p=%.2g", co.Name, co.Estimate, co.SE, co.P)
		if co.Ratio != nil {
			line += fmt.Sprintf("  OR=%.4f (95%% CI %.4f–%.4f)", co.Ratio.Estimate, co.Ratio.Lower, co.Ratio.Upper)
		}
		say("%s", line)
	}
	reportFile := filepath.Join(home, fmt.Sprintf("job-%d-report.png", id))
	if err := writeReport(reportFile, report.PNG, results, report.Options{}); err != nil {
		return nil, err
	}
	say("report with the forest plot of odds ratios: %s", reportFile)

	step("7. The tokens land")
	after, err := demoBalances(ctx, c, dir, watch)
	if err != nil {
		return nil, err
	}
	for _, name := range watch {
		say("%-18s %9d → %9d  (%+d)", name, before[name], after[name], int64(after[name])-int64(before[name]))
	}
	for _, s := range seed.DemoSites {
		b, err := c.DatasetBudget(ctx, s.Dataset)
		if err != nil {
			return nil, err
		}
		say("%-18s patient pool %d tokens; privacy budget %d of %d milli-epsilon spent", s.Dataset, b.PatientPool, b.SpentMilli, b.TotalMilli)
	}
	step("Done. Every step above is a transaction in the audit log: see http://%s/", n.APIAddr())
	if keep {
		say("the network keeps running; Ctrl-C stops it")
		<-ctx.Done()
	}
	return &demoOutcome{Job: job, Regression: reg}, nil
}

// demoConsents has the demo's patients decide (seed.DemoEnrol), with the
// institutions' link tables in home's vault.
func demoConsents(ctx context.Context, c *client.Client, home string, say func(string, ...any)) error {
	v, err := vaultcfg.Open(filepath.Join(home, "vault"))
	if err != nil {
		return err
	}
	return seed.DemoEnrol(ctx, c, v, node.KeysDir(home), demoEnrolled, say)
}

func demoBalances(ctx context.Context, c *client.Client, dir string, names []string) (map[string]uint64, error) {
	out := map[string]uint64{}
	for _, name := range names {
		k, err := keys.Load(dir, name)
		if err != nil {
			return nil, err
		}
		a, err := c.Account(ctx, k.Address())
		if err != nil {
			return nil, err
		}
		out[name] = a.Balance
	}
	return out, nil
}

// waitFor polls cond until it holds, fails, or the time is up.
func waitFor(ctx context.Context, within time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(within)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", within)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(300 * time.Millisecond):
		}
	}
}
