package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/patientlink"
	"github.com/medchain/medchain/report"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// Results of compute jobs (download, verify, report) and the patient link
// table the workers use to find consents.

// addResultCommands adds `patient link` and `job result|verify|report`
// (under the job command, which must have been added already).
func addResultCommands(root *cobra.Command, e *env) {
	root.AddCommand(patientCmd(e))
	root.AddCommand(shareCmd(e))
	for _, c := range root.Commands() {
		if c.Name() == "job" {
			c.AddCommand(jobResultCmd(e), jobVerifyCmd(e), jobReportCmd(e))
		}
	}
}

func patientCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "patient", Short: "Patients' wallets linked to their rows (institution side), and what a patient does: uses, rewards, record and shares, deals"}
	var from, dataset, patientID, wallet, rules, dir string
	var recipients []string
	link := &cobra.Command{
		Use:   "link",
		Short: "Record that a source patient id belongs to a wallet, so the worker applies that wallet's consents",
		Long: `link computes the patient's pseudonym from the source patient id with the vault's secret
and the dataset's de-identification rules (the same function ingest used; Safe Harbor
unless --deid names the profile, which must match the version's profile hash), and
records pseudonym → wallet in the organisation's link table
(<vault>/links/<org>.links, AES-256-GCM under the table's own random key, which is kept in
<vault>/links/<org>.key wrapped with age to the institution's node key and to the worker keys
given with --recipient: the organisation's compute workers, which read the table to apply
consents; recipients are added, never removed). The patient id and the pseudonym are never
printed or sent anywhere.

  medchain patient link --from st-mary-admin --dataset st-mary-cvd --patient-id 0b6f… --wallet 3fa1… --recipient age1…`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dataset == "" || patientID == "" || wallet == "" {
				return fail("--dataset, --patient-id and --wallet are required")
			}
			addr, err := e.address(wallet)
			if err != nil {
				return fmt.Errorf("--wallet: %w", err)
			}
			k, err := e.key(from)
			if err != nil {
				return err
			}
			var r *deid.Rules
			if rules != "" {
				if r, err = deid.Load(rules); err != nil {
					return err
				}
			}
			if dir == "" {
				dir = filepath.Join(e.g.home, "vault")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			node, err := vault.NodeIdentity(k.Enc)
			if err != nil {
				return err
			}
			var share []vault.Recipient
			for _, r := range recipients {
				rc, err := vault.ParseRecipient(r)
				if err != nil {
					return fail("--recipient %q: %v", r, err)
				}
				share = append(share, rc)
			}
			res, err := patientlink.Link(ctx, c, func() (*vault.Vault, error) { return vaultcfg.Open(dir) }, patientlink.Request{Institution: k.Address(), Dataset: dataset, PatientID: patientID, Wallet: addr, Rules: r, Node: node, Share: share})
			switch {
			case errors.Is(err, patientlink.ErrWrongOrg):
				return fail("--from %s: %v", k.Name, err)
			case errors.Is(err, patientlink.ErrWrongProfile):
				return fail("%v: give the dataset's profile with --deid", err)
			case err != nil:
				return err
			}
			return e.show(cmd, res, func(w io.Writer) {
				fmt.Fprintf(w, "linked a patient of %s to wallet %s", res.Org, res.Wallet)
				if res.Replaced != "" && res.Replaced != res.Wallet {
					fmt.Fprintf(w, " (was linked to %s)", res.Replaced)
				}
				fmt.Fprintln(w)
			})
		},
	}
	f := link.Flags()
	f.StringVar(&from, "from", "", "an institution key of the dataset's organisation")
	f.StringVar(&dataset, "dataset", "", "a dataset of the organisation (for its org and de-identification profile)")
	f.StringVar(&patientID, "patient-id", "", "the patient's id in the source system")
	f.StringVar(&wallet, "wallet", "", "the patient's wallet: address or local key name")
	f.StringVar(&rules, "deid", "", "de-identification rules the dataset was ingested with (default Safe Harbor)")
	f.StringVar(&dir, "vault", "", "vault directory (default <home>/vault)")
	f.StringArrayVar(&recipients, "recipient", nil, "also let this worker key read the link table: age1… or 64 hex digits of an X25519 public key (repeatable)")
	cmd.AddCommand(link)
	cmd.AddCommand(patientRecordCmds(e)...)
	cmd.AddCommand(patientUsesCmds(e)...)
	cmd.AddCommand(patientDealCmds(e)...)
	cmd.AddCommand(patientKeysCmd(e))
	return cmd
}

// sitesOf is the datasets of a job to act on: --dataset, else every site.
func sitesOf(j *ledger.Job, dataset string) ([]string, error) {
	var out []string
	for _, s := range j.Sites {
		if dataset == "" || s.Dataset == dataset {
			out = append(out, s.Dataset)
		}
	}
	if len(out) == 0 {
		return nil, fail("--dataset: job %d does not use dataset %q (it uses %s)", j.ID, dataset, jobDatasets(j))
	}
	return out, nil
}

// fetchResults downloads, hash-checks and decrypts the results of a job.
func (e *env) fetchResults(cmd *cobra.Command, id uint64, dataset, from string) ([]*compute.Result, error) {
	k, err := e.key(from)
	if err != nil {
		return nil, err
	}
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := e.ctx(cmd)
	defer cancel()
	j, err := c.Job(ctx, id)
	if err != nil {
		return nil, err
	}
	ds, err := sitesOf(j, dataset)
	if err != nil {
		return nil, err
	}
	var out []*compute.Result
	for _, d := range ds {
		r, _, err := compute.FetchResult(ctx, c, j, d, k)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func jobResultCmd(e *env) *cobra.Command {
	var from, dataset, outFile string
	cmd := &cobra.Command{
		Use:   "result ID",
		Short: "Download a job's results, check them against the ledger's result hash, and decrypt them",
		Long: `result downloads each site's encrypted result (GET /v1/results/{job}/{dataset}), refuses
it unless its SHA-256 equals the result hash the worker posted on the ledger, decrypts it
with the X25519 key of --from (the job's result key) and prints the results as JSON (or
writes them to --out, 0600).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("ID", args[0])
			if err != nil {
				return err
			}
			rs, err := e.fetchResults(cmd, id, dataset, from)
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(rs, "", "  ")
			if err != nil {
				return err
			}
			b = append(b, '\n')
			if outFile != "" {
				if err := os.WriteFile(outFile, b, 0o600); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %d result(s) of job %d to %s (hash checked against the ledger, decrypted)\n", len(rs), id, outFile)
				return nil
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the requester's key (holds the result key)")
	cmd.Flags().StringVar(&dataset, "dataset", "", "only this site's result (default: every site)")
	cmd.Flags().StringVar(&outFile, "out", "", "write the decrypted results to this file")
	return cmd
}

func jobVerifyCmd(e *env) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "verify ID",
		Short: "Check a job's results against the ledger: result hash, worker registration and measurement, content root",
		Long: `verify checks, for every site of the job: the stored ciphertext hashes to the result hash
posted on the ledger; the posting worker is a registered worker of the dataset's
organisation with the measurement the result records; the content root the result binds
is the root the ledger publishes for the dataset version. With --from (the requester's
key) it also decrypts each result and checks that it names the same job, dataset, root,
worker and measurement. It prints each check and fails if any does.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("ID", args[0])
			if err != nil {
				return err
			}
			var k *keys.Key
			if from != "" {
				if k, err = e.key(from); err != nil {
					return err
				}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			j, err := c.Job(ctx, id)
			if err != nil {
				return err
			}
			checks, ok, err := compute.VerifyJob(ctx, c, j, k)
			if err != nil {
				return err
			}
			err = e.show(cmd, map[string]any{"job": id, "ok": ok, "checks": checks}, func(w io.Writer) {
				for _, ch := range checks {
					mark := "ok  "
					if !ch.OK {
						mark = "FAIL"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", mark, ch.Dataset, ch.What, ch.Detail)
				}
			})
			if err == nil && !ok {
				return fail("job %d: verification failed", id)
			}
			return err
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the requester's key: also decrypt and check each result's bindings")
	return cmd
}

func jobReportCmd(e *env) *cobra.Command {
	var from, dataset, outFile string
	var per []string
	cmd := &cobra.Command{
		Use:   "report ID",
		Short: "Render a job's results as PNG or SVG: tables, forest plot, ROC and calibration",
		Long: `report downloads and decrypts a job's results (as job result does) and renders them for
people as one page, PNG or SVG by the --out file's extension: per release a table of the
coefficients (estimate, SE, ratio with 95% CI, z, p), a forest plot of the odds ratios on a log
scale, the ROC curve (as released, or the binormal curve implied by the released AUC, labelled
so) and calibration (a pooled study's released risk bins, or a single site's calibration line).
The sites of a pooled study release one fit: it is drawn once, naming them.

--per TERM=UNITS shows a term's effect per UNITS of its units (an odds ratio per 10 years:
--per age=10; per standard deviation: give the SD a descriptive job released).

  medchain job report 0 --from rita-researcher --out job-0.png --per age=10 --per sbp=20`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("ID", args[0])
			if err != nil {
				return err
			}
			if outFile == "" {
				return fail("--out FILE.png or FILE.svg is required")
			}
			format, err := report.FormatOf(outFile)
			if err != nil {
				return fail("--out: %v", err)
			}
			opts := report.Options{Per: map[string]float64{}}
			for _, p := range per {
				term, units, ok := strings.Cut(p, "=")
				k, err := strconv.ParseFloat(units, 64)
				if !ok || term == "" || err != nil {
					return fail("--per %q: want TERM=UNITS, e.g. age=10", p)
				}
				opts.Per[term] = k
			}
			rs, err := e.fetchResults(cmd, id, dataset, from)
			if err != nil {
				return err
			}
			if err := writeReport(outFile, format, rs, opts); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the report of job %d (%d result(s)) to %s\n", id, len(rs), outFile)
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the requester's key (holds the result key)")
	cmd.Flags().StringVar(&dataset, "dataset", "", "only this site's result (default: every site)")
	cmd.Flags().StringVar(&outFile, "out", "", "file to write: .png or .svg")
	cmd.Flags().StringArrayVar(&per, "per", nil, "TERM=UNITS: show TERM's effect per UNITS of its units (repeatable)")
	return cmd
}

// writeReport renders results to path (owner-only: the report holds the
// decrypted results) through a temporary file, so a failed render leaves
// no partial report.
func writeReport(path string, format report.Format, rs []*compute.Result, opts report.Options) error {
	in := make([]report.Result, len(rs))
	for i, r := range rs {
		in[i] = report.Result{Job: r.Job, Dataset: r.Dataset, Version: r.Version, Analysis: r.Analysis, Purpose: r.Purpose,
			ConsentModel: r.ConsentModel, ConsentAsOf: r.ConsentAsOf, Worker: r.Worker, MinCohort: r.MinCohort,
			EpsilonMilli: r.EpsilonMilli, ReleaseKind: string(r.ReleaseKind), Release: r.Release}
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".report-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := report.Render(f, format, in, opts); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
