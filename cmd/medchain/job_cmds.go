package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

// Compute: workers, jobs and privacy budgets.

// addJobCommands adds `worker`, `job` and `dataset budget` (under the
// dataset command, which must have been added already).
func addJobCommands(root *cobra.Command, e *env) {
	root.AddCommand(workerCmd(e), jobCmd(e), attestationPolicyCmd(e))
	for _, c := range root.Commands() {
		if c.Name() == "dataset" {
			c.AddCommand(datasetBudgetCmd(e))
		}
	}
}

// sha256File is the hex SHA-256 of a file's contents.
func sha256File(flag, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--%s: %w", flag, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("--%s: %w", flag, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashFlag takes a hash from --NAME (hex) or from the SHA-256 of the file
// named by --FILEFLAG; exactly one of them.
func hashFlag(name, hexVal, fileFlag, file string) (string, error) {
	switch {
	case hexVal != "" && file != "":
		return "", fail("give --%s or --%s, not both", name, fileFlag)
	case file != "":
		return sha256File(fileFlag, file)
	case hexVal == "":
		return "", fail("--%s HEX or --%s PATH is required", name, fileFlag)
	}
	if _, err := hexFlag(name, hexVal, 32); err != nil {
		return "", err
	}
	return strings.ToLower(hexVal), nil
}

func showWorker(w io.Writer, wk *ledger.Worker) {
	fmt.Fprintf(w, "worker:\t%s\norg:\t%s\nattestation:\t%s\nmeasurement:\t%s\n", wk.Address, wk.Org, wk.Attestation, wk.Measurement)
	if wk.EvidenceHash != "" {
		fmt.Fprintf(w, "evidence:\tsha256 %s\n", wk.EvidenceHash)
	}
	fmt.Fprintf(w, "registered at:\theight %d\n", wk.Registered)
	if wk.LaunchMeasurement != "" {
		fmt.Fprintf(w, "launch measurement:\t%s\ntcb:\t%s\nattested at:\theight %d\n", wk.LaunchMeasurement, wk.TCB, wk.AttestedHeight)
	}
}

func workerCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "worker", Short: "Compute workers: register and look up"}
	show := &cobra.Command{
		Use:   "show ADDRESS|KEYNAME",
		Short: "Show a registered worker",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := e.address(args[0])
			if err != nil {
				return err
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*ledger.Worker, error) { return c.Worker(ctx, addr) }, showWorker)
		},
	}
	var org string
	list := &cobra.Command{
		Use:   "list",
		Short: "List registered workers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return query(e, cmd, func(ctx context.Context, c *client.Client) ([]ledger.Worker, error) { return c.Workers(ctx, org) },
				func(w io.Writer, ws []ledger.Worker) {
					fmt.Fprintln(w, "ADDRESS\tORG\tATTESTATION\tMEASUREMENT\tREGISTERED")
					for _, wk := range ws {
						fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", wk.Address, wk.Org, wk.Attestation, short(wk.Measurement), wk.Registered)
					}
				})
		},
	}
	list.Flags().StringVar(&org, "org", "", "only workers of this organisation")

	var (
		tf                          txFlags
		worker, attestation         string
		measurement, binary, evFile string
	)
	reg := &cobra.Command{
		Use:   "register",
		Short: "Register a worker account's attestation and code measurement (by an admin of its organisation)",
		Long: `register records what a worker account runs: its attestation type and the SHA-256
measurement of its binary and analysis code. The worker account must exist
(account register --kind worker). Registering again replaces the record, e.g.
after an upgrade changes the measurement.

  medchain worker register --from st-mary-admin --worker st-mary-worker --measure-binary ./medchain-worker

A worker in an SEV-SNP or TDX confidential VM registers with --attestation
sev-snp or tdx and --evidence from "worker evidence" (run inside the VM); the
ledger verifies it against the consortium's pinned attestation-policy at block
time. SGX is refused (no verifier).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if worker == "" {
				return fail("--worker is required: the worker account's address or local key name")
			}
			addr, err := e.address(worker)
			if err != nil {
				return err
			}
			m, err := hashFlag("measurement", measurement, "measure-binary", binary)
			if err != nil {
				return err
			}
			msg := &ledger.RegisterWorker{Address: addr, Attestation: attestation, Measurement: m}
			if evFile != "" {
				if msg.Evidence, err = os.ReadFile(evFile); err != nil {
					return fmt.Errorf("--evidence: %w", err)
				}
			}
			return e.sendTx(cmd, &tf, msg, func(ctx context.Context, c *client.Client, _ *api.TxSubmitted) (any, string, error) {
				w, err := c.Worker(ctx, addr)
				if err != nil {
					return nil, "", err
				}
				return w, fmt.Sprintf("registered worker %s of %s: %s attestation, measurement %s", w.Address, w.Org, w.Attestation, w.Measurement), nil
			})
		},
	}
	addTxFlags(reg, &tf)
	reg.Flags().StringVar(&worker, "worker", "", "the worker account: address or local key name")
	reg.Flags().StringVar(&attestation, "attestation", ledger.AttestTypeSoftware, fmt.Sprintf("attestation type: %v", ledger.AttestationTypes))
	reg.Flags().StringVar(&measurement, "measurement", "", "hex SHA-256 of the worker binary and analysis code")
	reg.Flags().StringVar(&binary, "measure-binary", "", "compute the measurement as the SHA-256 of this file (instead of --measurement)")
	reg.Flags().StringVar(&evFile, "evidence", "", "file with the attestation evidence (none for software attestation)")
	cmd.AddCommand(show, list, reg, workerEvidenceCmd(e))
	return cmd
}

func jobDatasets(j *ledger.Job) string {
	ds := make([]string, len(j.Sites))
	for i, s := range j.Sites {
		ds[i] = s.Dataset
	}
	return strings.Join(ds, ",")
}

func showJob(w io.Writer, j *ledger.Job) {
	fmt.Fprintf(w, "job:\t%d\nstatus:\t%s\n", j.ID, j.Status)
	if j.Reason != "" {
		fmt.Fprintf(w, "reason:\t%s\n", j.Reason)
	}
	params := readableJSON(j.Params)
	fmt.Fprintf(w, "requester:\t%s\npurpose:\t%s\nanalysis:\t%s\nparams:\t%s\nescrow:\t%d\n",
		j.Requester, j.Purpose, j.Analysis, params, j.Escrow)
	fmt.Fprintf(w, "admitted at:\theight %d (deadline height %d)\n", j.Admitted, j.Deadline)
	if j.Closed != 0 {
		fmt.Fprintf(w, "closed at:\theight %d\n", j.Closed)
	}
	for _, s := range j.Sites {
		res := "result pending"
		if r := s.Result; r != nil {
			res = fmt.Sprintf("result %s by %s at height %d", short(r.ResultHash), short(r.Worker), r.Posted)
		}
		if s.Excluded != "" {
			res = s.Excluded + " from the study, not paid"
		}
		if f := s.Refusal; f != nil {
			res = "params refused: " + refusalText(f)
		}
		fmt.Fprintf(w, "  site %s\tversion %d\t%s\tprice %d\tepsilon %d\t%s\n", s.Dataset, s.Version, s.Org, s.Price, s.EpsilonMilli, res)
	}
	if st := j.Study; st != nil {
		showStudy(w, st)
	}
}

// readableJSON is compact JSON, keys sorted, unescaped: the ledger's encoding escapes
// <, > and & (as \u003e …), which reads badly in a filter.
func readableJSON(raw json.RawMessage) string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return string(raw)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return string(raw)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// refusalText is a worker's params refusal in words: its code, parameter
// and column (the full message: medchain analysis describe, or submitting
// the same params again, which the CLI checks first).
func refusalText(f *ledger.Refusal) string {
	out := f.Code
	if f.Param != "" {
		out += " at " + f.Param
	}
	if f.Column != "" {
		out += " (column " + f.Column + ")"
	}
	return out
}

// showStudy prints a pooled study's rounds, participants and exclusions —
// never a site's values (the ledger holds none).
func showStudy(w io.Writer, st *ledger.Study) {
	state := fmt.Sprintf("round %d, iteration %d, due by height %d", st.Round, st.Iteration, st.Deadline)
	if st.Done {
		state = fmt.Sprintf("final sum in after %d iterations; sites post their results", st.Iteration)
	}
	fmt.Fprintf(w, "study:\t%s (minimum %d sites, %d blocks per iteration)\n", state, st.MinSites, st.IterationBlocks)
	fmt.Fprintf(w, "participants:\t%s\n", strings.Join(st.Participants, ", "))
	for _, r := range st.Rounds {
		end := "current"
		if r.Ended != 0 {
			end = fmt.Sprintf("ended at height %d: %s", r.Ended, r.EndReason)
		}
		fmt.Fprintf(w, "  round %d\tfrom iteration %d at height %d\t%s\t%s\n", r.Round, r.FirstIteration, r.Started, strings.Join(r.Participants, ", "), end)
	}
	for _, x := range st.Excluded {
		ev := ""
		if x.Evidence != "" {
			ev = "\tevidence " + x.Evidence
		}
		fmt.Fprintf(w, "  %s %s\tround %d iteration %d at height %d\t%s%s\n", x.Dataset, x.Kind, x.Round, x.Iteration, x.Height, x.Reason, ev)
	}
}

// jobSite picks the site of a job a worker acts for: --dataset if given,
// else the one site held by the worker's organisation.
func jobSite(j *ledger.Job, dataset string, w *ledger.Worker) (*ledger.JobSite, error) {
	var match []*ledger.JobSite
	for i := range j.Sites {
		s := &j.Sites[i]
		if (dataset != "" && s.Dataset == dataset) || (dataset == "" && s.Org == w.Org) {
			match = append(match, s)
		}
	}
	switch {
	case len(match) == 1:
		return match[0], nil
	case dataset != "":
		return nil, fail("--dataset: job %d does not use dataset %q (it uses %s)", j.ID, dataset, jobDatasets(j))
	case len(match) == 0:
		return nil, fail("job %d uses no dataset of %s (it uses %s); give --dataset", j.ID, w.Org, jobDatasets(j))
	}
	return nil, fail("job %d uses several datasets of %s; give --dataset", j.ID, w.Org)
}

// workerContext reads a job and the signing worker's registration, for the
// defaults of post-result and fail.
func (e *env) workerContext(cmd *cobra.Command, from string, id uint64) (*ledger.Job, *ledger.Worker, error) {
	k, err := e.key(from)
	if err != nil {
		return nil, nil, err
	}
	c, err := e.client()
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := e.ctx(cmd)
	defer cancel()
	j, err := c.Job(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	w, err := c.Worker(ctx, k.Address())
	if err != nil {
		return nil, nil, err
	}
	return j, w, nil
}

// readParams reads --params: inline JSON, or @FILE.
func readParams(s string) (json.RawMessage, error) {
	b := []byte(s)
	if name, ok := strings.CutPrefix(s, "@"); ok {
		var err error
		if b, err = os.ReadFile(name); err != nil {
			return nil, fmt.Errorf("--params: %w", err)
		}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil || obj == nil {
		return nil, fail("--params: want a JSON object (inline or @FILE): %v", err)
	}
	return json.RawMessage(b), nil
}

// resultKey is the X25519 key a job's result is encrypted to: a local key's
// (by name) or 64 hex digits.
func (e *env) resultKey(s string) ([]byte, error) {
	if len(s) == 64 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	k, err := keys.LoadPublic(e.keysDir(), s)
	if err != nil {
		return nil, fmt.Errorf("--result-key %q is neither a local key name nor 64 hex digits: %w", s, err)
	}
	return k.EncPub, nil
}

// jobCreated reports the job a transaction acted on.
func jobCreated(id uint64, line func(j *ledger.Job) string) created {
	return func(ctx context.Context, c *client.Client, _ *api.TxSubmitted) (any, string, error) {
		j, err := c.Job(ctx, id)
		if err != nil {
			return nil, "", err
		}
		return j, line(j), nil
	}
}

func jobCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "job", Short: "Compute jobs: submit, follow, settle"}
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a job: its sites, their results and its status",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("ID", args[0])
			if err != nil {
				return err
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*ledger.Job, error) { return c.Job(ctx, id) }, showJob)
		},
	}
	var f client.JobFilter
	list := &cobra.Command{
		Use:   "list",
		Short: "List jobs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Requester != "" {
				addr, err := e.address(f.Requester)
				if err != nil {
					return err
				}
				f.Requester = addr
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) ([]ledger.Job, error) { return c.Jobs(ctx, f) },
				func(w io.Writer, js []ledger.Job) {
					fmt.Fprintln(w, "ID\tSTATUS\tREQUESTER\tPURPOSE\tANALYSIS\tDATASETS\tESCROW\tADMITTED")
					for _, j := range js {
						fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d\n", j.ID, j.Status, short(j.Requester), j.Purpose, short(j.Analysis), jobDatasets(&j), j.Escrow, j.Admitted)
					}
				})
		},
	}
	list.Flags().StringVar(&f.Requester, "requester", "", "only jobs submitted by this address or local key")
	list.Flags().StringVar(&f.Status, "status", "", "only jobs in this state: admitted, completed, failed, expired")
	list.Flags().StringVar(&f.Dataset, "dataset", "", "only jobs that use this dataset")

	cmd.AddCommand(show, list, jobSubmitCmd(e), jobExpireCmd(e), jobPostResultCmd(e), jobFailCmd(e))
	return cmd
}

func jobSubmitCmd(e *env) *cobra.Command {
	var (
		tf                        txFlags
		m                         ledger.SubmitJob
		params, resultKey         string
		minSites, iterationBlocks uint32
	)
	cmd := &cobra.Command{
		Use:   "submit",
		Short: "Submit an analysis over datasets (by a researcher or institution account)",
		Long: `submit asks for an analysis over one or more datasets. Each dataset's policy must allow
the purpose, the requester (or an access grant must cover it) and the analysis, and
its privacy budget must cover the job's epsilon; the price (the sum of the policies'
prices, at most --max-price) is held in escrow until the results are in. The job id
is printed once the transaction is committed.

A logistic regression over two or more datasets (without "private") is one pooled
study: the sites fit one model by secure aggregation through the ledger, and the
job carries the study's declared column bounds (from the schema's plausible ranges).
So is a survival job with "features" (a Cox model) over two or more datasets: it is
fitted on the params' time grid; without features each site releases its own
Kaplan–Meier curves.
` + "`medchain job show ID`" + ` shows its rounds, participants, dropped and flagged sites.

  medchain job submit --from rita-researcher --dataset st-mary-cvd --analysis cohort_count \
      --params '{"filter":[{"column":"age","op":">=","value":40}]}' --purpose research --max-price 100

The params are checked against each dataset's schema before anything is signed, as
the worker would check them; ` + "`medchain analysis describe NAME`" + ` prints an analysis's
parameters with examples.

--analysis is a built-in analysis (` + strings.Join(ledger.BuiltinAnalyses, ", ") + `)
or code:<hex SHA-256> of a custom analysis module the datasets' policies list (its params and
host API: ` + "`medchain analysis describe code`" + `). The result is encrypted to the X25519
key of --result-key (a local key name or 64 hex digits; default: the --from key's).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(m.Datasets) == 0 {
				return fail("--dataset is required (repeatable)")
			}
			if m.Analysis == "" {
				return fail("--analysis is required: a built-in analysis or code:HEX")
			}
			if m.Purpose == "" {
				return fail("--purpose is required (one of %v)", ledger.Purposes)
			}
			if !cmd.Flags().Changed("max-price") {
				return fail("--max-price is required: the most the job may cost, in tokens")
			}
			var err error
			if m.Params, err = readParams(params); err != nil {
				return err
			}
			if err := e.checkJobParams(cmd, &m); err != nil {
				return err
			}
			if compute.NeedsStudy(&m) {
				if err := planStudy(cmd.Context(), e, &m, minSites, iterationBlocks); err != nil {
					return err
				}
			}
			if resultKey == "" {
				resultKey = tf.from
			}
			if resultKey == "" {
				return fail("--from is required: the name of a key in %s", e.keysDir())
			}
			if m.ResultKey, err = e.resultKey(resultKey); err != nil {
				return err
			}
			return e.sendTx(cmd, &tf, &m, func(ctx context.Context, c *client.Client, res *api.TxSubmitted) (any, string, error) {
				id, err := client.JobID(res.Result)
				if err != nil {
					return nil, "", err
				}
				return jobCreated(id, func(j *ledger.Job) string {
					return fmt.Sprintf("submitted job %d: escrow %d, deadline height %d", j.ID, j.Escrow, j.Deadline)
				})(ctx, c, res)
			})
		},
	}
	addTxFlags(cmd, &tf)
	fl := cmd.Flags()
	fl.StringArrayVar(&m.Datasets, "dataset", nil, "a dataset to run on (repeatable)")
	fl.StringVar(&m.Analysis, "analysis", "", "built-in analysis name, or code:<hex sha256>")
	fl.StringVar(&params, "params", "{}", "analysis parameters: a JSON object, or @FILE")
	fl.StringVar(&m.Purpose, "purpose", "", fmt.Sprintf("purpose of use: %v", ledger.Purposes))
	fl.Uint64Var(&m.MaxPrice, "max-price", 0, "the most the job may cost, in tokens")
	fl.Uint64Var(&m.EpsilonMilli, "epsilon-milli", 0, "epsilon per dataset, milli-units (default: each policy's per-job epsilon)")
	fl.StringVar(&resultKey, "result-key", "", "key the result is encrypted to: local key name or hex X25519 key (default: the --from key)")
	fl.Uint32Var(&minSites, "min-sites", 0, "pooled study: the fewest sites it may finish with (default 2, or the policies' minimum)")
	fl.Uint32Var(&iterationBlocks, "iteration-blocks", 0, "pooled study: each iteration's deadline in blocks (default 30, at least 10)")
	return cmd
}

// planStudy declares the study of a pooled logistic regression from the
// first dataset's schema and normalize's plausible ranges.
func planStudy(ctx context.Context, e *env, m *ledger.SubmitJob, minSites, iterationBlocks uint32) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	ds, err := c.Dataset(ctx, m.Datasets[0])
	if err != nil {
		return err
	}
	var schema []ledger.Field
	if ds.Latest != nil {
		schema = ds.Latest.Schema
	}
	req, err := compute.PlanJobStudy(m.Analysis, m.Params, schema, nil)
	if err != nil {
		return fail("--params: %v", err)
	}
	req.MinSites, req.IterationBlocks = minSites, iterationBlocks
	m.Study = req
	return nil
}

func jobExpireCmd(e *env) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "expire ID",
		Short: "Expire a job past its deadline: the requester is refunded (anyone may sign)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("ID", args[0])
			if err != nil {
				return err
			}
			return e.sendTx(cmd, &tf, &ledger.ExpireJob{Job: id}, jobCreated(id, func(j *ledger.Job) string {
				return fmt.Sprintf("job %d is %s", j.ID, j.Status)
			}))
		},
	}
	addTxFlags(cmd, &tf)
	return cmd
}

func jobPostResultCmd(e *env) *cobra.Command {
	var (
		tf                              txFlags
		dataset, hashHex, file, locator string
		contentRoot, measurement        string
	)
	cmd := &cobra.Command{
		Use:   "post-result ID",
		Short: "Post a site's result for a job (by a registered worker of the site's organisation)",
		Long: `post-result records a worker's result for one site of a job: the SHA-256 of the
encrypted result and where it can be fetched. The transaction repeats the content root
the job was admitted on and the worker's registered measurement, so the signature binds
them; both default to what the ledger holds. --dataset defaults to the job's one dataset
held by the worker's organisation. The last site's result settles the job.

This is for operators and tests; a worker node posts its results itself.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("ID", args[0])
			if err != nil {
				return err
			}
			h, err := hashFlag("result-hash", hashHex, "result-file", file)
			if err != nil {
				return err
			}
			if locator == "" {
				return fail("--locator is required: where the encrypted result can be fetched")
			}
			j, w, err := e.workerContext(cmd, tf.from, id)
			if err != nil {
				return err
			}
			site, err := jobSite(j, dataset, w)
			if err != nil {
				return err
			}
			msg := &ledger.PostResult{Job: id, Dataset: site.Dataset, ContentRoot: site.ContentRoot, Measurement: w.Measurement, ResultHash: h, Locator: locator}
			if contentRoot != "" {
				msg.ContentRoot = strings.ToLower(contentRoot)
			}
			if measurement != "" {
				msg.Measurement = strings.ToLower(measurement)
			}
			return e.sendTx(cmd, &tf, msg, jobCreated(id, func(j *ledger.Job) string {
				posted := 0
				for _, s := range j.Sites {
					if s.Result != nil {
						posted++
					}
				}
				return fmt.Sprintf("posted the result of job %d for %s; %d of %d sites have posted; job %d is %s", j.ID, site.Dataset, posted, len(j.Sites), j.ID, j.Status)
			}))
		},
	}
	addTxFlags(cmd, &tf)
	fl := cmd.Flags()
	fl.StringVar(&dataset, "dataset", "", "the site's dataset (default: the job's one dataset of the worker's organisation)")
	fl.StringVar(&hashHex, "result-hash", "", "hex SHA-256 of the encrypted result")
	fl.StringVar(&file, "result-file", "", "compute the result hash as the SHA-256 of this file (instead of --result-hash)")
	fl.StringVar(&locator, "locator", "", "where the encrypted result can be fetched")
	fl.StringVar(&contentRoot, "content-root", "", "content root the result was computed on (default: the one the job was admitted on)")
	fl.StringVar(&measurement, "measurement", "", "the worker's measurement (default: its registered one)")
	return cmd
}

func jobFailCmd(e *env) *cobra.Command {
	var (
		tf              txFlags
		dataset, reason string
	)
	cmd := &cobra.Command{
		Use:   "fail ID",
		Short: "Fail a job for a site that cannot produce a result (by a registered worker of the site's organisation)",
		Long: `fail ends a job on behalf of one of its sites: the requester is refunded in full and
every site that released no result gets its privacy budget back. The reason is one of
` + strings.Join(ledger.FailReasons, ", ") + ` (no free text).

This is for operators and tests; a worker node reports failures itself.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("ID", args[0])
			if err != nil {
				return err
			}
			if reason == "" {
				return fail("--reason is required (one of %v)", ledger.FailReasons)
			}
			j, w, err := e.workerContext(cmd, tf.from, id)
			if err != nil {
				return err
			}
			site, err := jobSite(j, dataset, w)
			if err != nil {
				return err
			}
			return e.sendTx(cmd, &tf, &ledger.FailJob{Job: id, Dataset: site.Dataset, Reason: reason}, jobCreated(id, func(j *ledger.Job) string {
				return fmt.Sprintf("job %d is %s: %s", j.ID, j.Status, j.Reason)
			}))
		},
	}
	addTxFlags(cmd, &tf)
	cmd.Flags().StringVar(&dataset, "dataset", "", "the site's dataset (default: the job's one dataset of the worker's organisation)")
	cmd.Flags().StringVar(&reason, "reason", "", fmt.Sprintf("why: %v", ledger.FailReasons))
	return cmd
}

func datasetBudgetCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "budget ID",
		Short: "Show a dataset's privacy budget (spent, total, remaining) and patient pool",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*api.DatasetBudget, error) {
				return c.DatasetBudget(ctx, args[0])
			},
				func(w io.Writer, b *api.DatasetBudget) {
					fmt.Fprintf(w, "dataset:\t%s\nspent:\t%d of %d milli-epsilon\nremaining:\t%d milli-epsilon (%d per job)\npatient pool:\t%d\n",
						b.Dataset, b.SpentMilli, b.TotalMilli, b.RemainingMilli, b.PerJobMilli, b.PatientPool)
				})
		},
	}
}
