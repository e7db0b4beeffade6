package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/jobparams"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/sandbox"
)

// analysisCmd documents the built-in analyses' parameters where a
// researcher looks: the parameter format comes from package jobparams,
// which also checks a job's params before it is signed.
func analysisCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "analysis", Short: "The analyses and their parameters; custom analysis modules"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the built-in analyses a worker runs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var specs []*jobparams.Spec
			for _, name := range jobparams.Analyses() {
				s, _ := jobparams.Describe(name)
				specs = append(specs, s)
			}
			return e.show(cmd, specs, func(w io.Writer) {
				for _, s := range specs {
					fmt.Fprintf(w, "%s\t%s\n", s.Name, s.Summary)
				}
			})
		},
	}
	describe := &cobra.Command{
		Use:   "describe NAME",
		Short: "Print an analysis's parameters (the JSON object of job submit --params) with examples",
		Long: `describe prints the parameters a built-in analysis takes in job submit --params: each
parameter's path in the JSON object ("filter[].op" is the op of each filter condition),
its JSON type, whether it is required and what it means, then examples that fit the
research schema of an ingested dataset (medchain job submit checks params against the
dataset's schema before anything is signed).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, ok := jobparams.Describe(args[0])
			if !ok {
				return fail("NAME: %q is not a built-in analysis a worker runs (%s)", args[0], strings.Join(jobparams.Analyses(), ", "))
			}
			return e.show(cmd, s, func(w io.Writer) { describeAnalysis(w, s) })
		},
	}
	hash := &cobra.Command{
		Use:   "hash FILE",
		Short: "Print the SHA-256 of a custom analysis module: what a policy lists in analyses.code_hashes and a job names as code:HASH",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			h := sandbox.Hash(wasm)
			return e.show(cmd, map[string]string{"hash": h, "analysis": "code:" + h}, func(w io.Writer) { fmt.Fprintln(w, h) })
		},
	}
	var vaultDir string
	install := &cobra.Command{
		Use:   "install FILE",
		Short: "Install a custom analysis module for this node's workers (<vault>/modules/HASH.wasm)",
		Long: `install copies a WebAssembly module into the vault's modules directory, where the node's
workers look for the module a code:HASH job names. A worker runs only modules whose
hash the dataset's policy lists (analyses.code_hashes); install the ones you reviewed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			wasm, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			if vaultDir == "" {
				vaultDir = filepath.Join(e.g.home, "vault")
			}
			h, err := sandbox.Dir(filepath.Join(vaultDir, "modules")).Install(wasm)
			if err != nil {
				return err
			}
			return e.show(cmd, map[string]string{"hash": h, "analysis": "code:" + h}, func(w io.Writer) {
				fmt.Fprintf(w, "installed code:%s\n", h)
			})
		},
	}
	install.Flags().StringVar(&vaultDir, "vault", "", "vault directory (default <home>/vault)")
	cmd.AddCommand(list, describe, hash, install)
	return cmd
}

func describeAnalysis(w io.Writer, s *jobparams.Spec) {
	fmt.Fprintf(w, "%s: %s\n\nparameters (--params, a JSON object):\n", s.Name, s.Summary)
	for _, p := range s.Params {
		req := "optional"
		if p.Required {
			req = "required"
		}
		fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", p.Path, p.Type, req, p.Doc)
	}
	name := s.Name
	if name == "code" {
		name = "code:<sha256>"
	}
	fmt.Fprintf(w, "\nexamples:\n")
	for _, ex := range s.Examples {
		fmt.Fprintf(w, "  # %s\n  --analysis %s --params '%s'\n", ex.Doc, name, ex.Params)
	}
	if s.Name == "code" {
		fmt.Fprintf(w, "\nhost API:\n%s\n", sandbox.HostAPI)
	}
}

// checkParams checks a job's params against the schema of each dataset's
// latest version before the job is signed: the check the worker makes, so
// a mistake costs no block and no tokens. A dataset the node does not
// know is left to the ledger to refuse.
func checkParams(ctx context.Context, c *client.Client, m *ledger.SubmitJob) error {
	for _, id := range m.Datasets {
		ds, err := c.Dataset(ctx, id)
		if client.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if ds.Latest == nil {
			continue
		}
		if err := jobparams.Check(m.Analysis, m.Params, ds.Latest.Schema); err != nil {
			return fail("--params do not fit dataset %s (medchain analysis describe %s shows the format): %v", id, m.Analysis, err)
		}
		if pol := ds.Policy; pol != nil && pol.ConsentModel == ledger.ConsentOptIn {
			if err := checkSomeoneConsents(ctx, c, m, ds); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSomeoneConsents refuses a job over an opt-in dataset on which no
// patient's consent permits the purpose: it has no rows for the job, and
// its worker would refuse it (no_consent). Consents are listed only to
// their patients and data holders, so the node decides it
// (POST /v1/jobs/validate), as of now, where the worker reads them as of
// the job's admission.
func checkSomeoneConsents(ctx context.Context, c *client.Client, m *ledger.SubmitJob, ds *api.DatasetInfo) error {
	_, err := c.ValidateJob(ctx, api.ValidateRequest{Datasets: []string{ds.ID}, Analysis: m.Analysis, Params: m.Params, Purpose: m.Purpose})
	var e *client.Error
	if errors.As(err, &e) && e.Param == "datasets" {
		return fail("--%s; leave it out", e.Message)
	}
	return err
}

func (e *env) checkJobParams(cmd *cobra.Command, m *ledger.SubmitJob) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	ctx, cancel := e.ctx(cmd)
	defer cancel()
	return checkParams(ctx, c, m)
}
