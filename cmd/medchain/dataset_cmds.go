package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ledger"
)

// readJSONFile decodes a JSON file strictly into v.
func readJSONFile(flag, path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("--%s: %w", flag, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("--%s %s: %w", flag, path, err)
	}
	return nil
}

// parseField reads name:type[:system:code:unit]. The system may itself
// contain colons (a URI), so the code and unit are taken from the end.
func parseField(s string) (ledger.Field, error) {
	parts := strings.Split(s, ":")
	switch {
	case len(parts) == 2:
		return ledger.Field{Name: parts[0], Type: parts[1]}, nil
	case len(parts) >= 5:
		n := len(parts)
		return ledger.Field{Name: parts[0], Type: parts[1], System: strings.Join(parts[2:n-2], ":"), Code: parts[n-2], Unit: parts[n-1]}, nil
	}
	return ledger.Field{}, fail("--field %q: want name:type or name:type:system:code:unit (empty parts allowed, e.g. age:integer:::a)", s)
}

func showVersion(w io.Writer, v *ledger.DatasetVersion) {
	fmt.Fprintf(w, "version %d:\t%s\n", v.Version, v.Title)
	if v.Description != "" {
		fmt.Fprintf(w, "description:\t%s\n", v.Description)
	}
	fmt.Fprintf(w, "records:\t%s\ncontent root:\t%s\nlocator:\t%s\npublished:\theight %d by %s\n",
		v.RecordBand, v.ContentRoot, v.Locator, v.Published, v.PublishedBy)
	for _, f := range v.Schema {
		code := ""
		if f.System != "" || f.Code != "" {
			code = f.System + ":" + f.Code
		}
		fmt.Fprintf(w, "  field %s\t%s\t%s\t%s\n", f.Name, f.Type, code, f.Unit)
	}
}

func showPolicy(w io.Writer, p *ledger.Policy) {
	req := []string{}
	if p.Requesters.Anyone {
		req = append(req, "anyone")
	}
	for _, o := range p.Requesters.Orgs {
		req = append(req, "org "+o)
	}
	for _, k := range p.Requesters.Kinds {
		req = append(req, "kind "+string(k))
	}
	an := append(append([]string{}, p.Analyses.Builtins...), p.Analyses.CodeHashes...)
	fmt.Fprintf(w, "purposes:\t%s\nrequesters:\t%s\nanalyses:\t%s\n", strings.Join(p.Purposes, ", "), strings.Join(req, ", "), strings.Join(an, ", "))
	fmt.Fprintf(w, "min cohort:\t%d\nepsilon:\t%d per job, %d in total (milli)\nprice:\t%d\n", p.MinCohort, p.EpsilonPerJobMilli, p.EpsilonTotalMilli, p.Price)
	fmt.Fprintf(w, "reward split:\tinstitution %d, patient pool %d, worker %d (bps)\n", p.Split.InstitutionBps, p.Split.PatientPoolBps, p.Split.WorkerBps)
	fmt.Fprintf(w, "attestation:\t%s\nconsent model:\t%s\n", p.Attestation, p.ConsentModel)
	fmt.Fprintf(w, "exact regression:\t%t\n", p.ExactRegression)
	if p.Expiry != 0 {
		fmt.Fprintf(w, "expiry:\t%d\n", p.Expiry)
	}
	fmt.Fprintf(w, "set at:\theight %d\n", p.SetHeight)
}

func datasetCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "dataset", Short: "Publish datasets and browse the catalogue"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List the catalogue: every dataset with its latest version and policy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return query(e, cmd, func(ctx context.Context, c *client.Client) ([]api.DatasetInfo, error) { return c.Datasets(ctx) },
				func(w io.Writer, ds []api.DatasetInfo) {
					fmt.Fprintln(w, "ID\tORG\tVERSION\tRECORDS\tPOLICY\tTITLE")
					for _, d := range ds {
						band, title, pol := "-", "-", "none"
						if d.Latest != nil {
							band, title = d.Latest.RecordBand, d.Latest.Title
						}
						if d.Policy != nil {
							pol = fmt.Sprintf("%s, price %d", strings.Join(d.Policy.Purposes, "/"), d.Policy.Price)
						}
						fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\t%s\n", d.ID, d.Org, d.LatestVersion, band, pol, title)
					}
				})
		},
	}
	var version uint64
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a dataset: every version, and its policy",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if version != 0 {
				return query(e, cmd, func(ctx context.Context, c *client.Client) (*ledger.DatasetVersion, error) {
					return c.DatasetVersion(ctx, args[0], version)
				}, showVersion)
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*api.DatasetInfo, error) { return c.Dataset(ctx, args[0]) },
				func(w io.Writer, d *api.DatasetInfo) {
					fmt.Fprintf(w, "dataset:\t%s\norg:\t%s\ncreated at:\theight %d\n", d.ID, d.Org, d.Created)
					for i := len(d.Versions) - 1; i >= 0; i-- {
						showVersion(w, &d.Versions[i])
					}
					if d.Policy == nil {
						fmt.Fprintln(w, "policy:\tnone yet (no access can be requested)")
						return
					}
					fmt.Fprintln(w, "policy:")
					showPolicy(w, d.Policy)
				})
		},
	}
	show.Flags().Uint64Var(&version, "version", 0, "show only this version")
	cmd.AddCommand(list, show, datasetRegisterCmd(e), datasetPolicyCmd(e))
	return cmd
}

func datasetRegisterCmd(e *env) *cobra.Command {
	var (
		tf     txFlags
		m      ledger.RegisterDataset
		schema string
		fields []string
	)
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Publish a dataset version's metadata (version 1 creates the dataset)",
		Long: `register publishes the metadata of a dataset version: title, schema, record-count band,
the Merkle root of its encrypted records and where the node keeps them. No record leaves the vault.

The schema comes from --schema FILE (a JSON array of {"name","type","system","code","unit"})
or from repeated --field name:type[:system:code:unit], e.g.
  --field age:integer --field hba1c:number:loinc:4548-4:%`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case schema != "" && len(fields) > 0:
				return fail("give --schema or --field, not both")
			case schema != "":
				if err := readJSONFile("schema", schema, &m.Schema); err != nil {
					return err
				}
			default:
				m.Schema = nil
				for _, f := range fields {
					fd, err := parseField(f)
					if err != nil {
						return err
					}
					m.Schema = append(m.Schema, fd)
				}
			}
			if m.Version == 0 {
				v, err := e.nextVersion(cmd, m.ID)
				if err != nil {
					return err
				}
				m.Version = v
			}
			return e.sendTx(cmd, &tf, &m, func(ctx context.Context, c *client.Client, _ *api.TxSubmitted) (any, string, error) {
				v, err := c.DatasetVersion(ctx, m.ID, m.Version)
				if err != nil {
					return nil, "", err
				}
				return v, fmt.Sprintf("published dataset %s version %d", m.ID, m.Version), nil
			})
		},
	}
	addTxFlags(cmd, &tf)
	f := cmd.Flags()
	f.StringVar(&m.ID, "id", "", "dataset id (a-z 0-9 . _ -)")
	f.Uint64Var(&m.Version, "version", 0, "version to publish (default: the next one)")
	f.StringVar(&m.Title, "title", "", "title")
	f.StringVar(&m.Description, "description", "", "description")
	f.StringVar(&schema, "schema", "", "JSON file with the schema (an array of fields)")
	f.StringArrayVar(&fields, "field", nil, "a schema field name:type[:system:code:unit] (repeatable)")
	f.StringVar(&m.RecordBand, "record-band", "", fmt.Sprintf("record-count band: %v", ledger.RecordBands))
	f.StringVar(&m.ContentRoot, "content-root", "", "hex SHA-256 Merkle root of the encrypted records")
	f.StringVar(&m.Locator, "locator", "", "where the node keeps the encrypted records")
	f.StringVar(&m.DeidProfile, "deid-profile", "", "hex SHA-256 of the de-identification rule set")
	return cmd
}

// nextVersion is 1 for a new dataset, else the latest version + 1.
func (e *env) nextVersion(cmd *cobra.Command, id string) (uint64, error) {
	c, err := e.client()
	if err != nil {
		return 0, err
	}
	ctx, cancel := e.ctx(cmd)
	defer cancel()
	d, err := c.Dataset(ctx, id)
	if client.IsNotFound(err) {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	return d.LatestVersion + 1, nil
}

func datasetPolicyCmd(e *env) *cobra.Command {
	var (
		tf     txFlags
		file   string
		p      ledger.Policy
		orgs   []string
		kinds  []string
		expiry string
	)
	set := &cobra.Command{
		Use:   "set DATASET",
		Short: "Set a dataset's terms of use (by an institution account of its organisation)",
		Long: `set replaces a dataset's policy. Start from --policy FILE (a JSON policy) and/or set
fields with flags; a flag given explicitly overrides the file. Epsilon is in milli-units.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			flags := p
			pol := p
			if file != "" {
				pol = ledger.Policy{}
				if err := readJSONFile("policy", file, &pol); err != nil {
					return err
				}
			}
			fs := cmd.Flags()
			take := func(name string, apply func()) {
				if file == "" || fs.Changed(name) {
					apply()
				}
			}
			take("purpose", func() { pol.Purposes = flags.Purposes })
			take("anyone", func() { pol.Requesters.Anyone = flags.Requesters.Anyone })
			take("requester-org", func() { pol.Requesters.Orgs = orgs })
			take("requester-kind", func() {
				pol.Requesters.Kinds = nil
				for _, k := range kinds {
					pol.Requesters.Kinds = append(pol.Requesters.Kinds, ledger.AccountKind(k))
				}
			})
			take("builtin", func() { pol.Analyses.Builtins = flags.Analyses.Builtins })
			take("code-hash", func() { pol.Analyses.CodeHashes = flags.Analyses.CodeHashes })
			take("min-cohort", func() { pol.MinCohort = flags.MinCohort })
			take("epsilon-per-job-milli", func() { pol.EpsilonPerJobMilli = flags.EpsilonPerJobMilli })
			take("epsilon-total-milli", func() { pol.EpsilonTotalMilli = flags.EpsilonTotalMilli })
			take("price", func() { pol.Price = flags.Price })
			take("institution-bps", func() { pol.Split.InstitutionBps = flags.Split.InstitutionBps })
			take("patient-pool-bps", func() { pol.Split.PatientPoolBps = flags.Split.PatientPoolBps })
			take("worker-bps", func() { pol.Split.WorkerBps = flags.Split.WorkerBps })
			take("attestation", func() { pol.Attestation = flags.Attestation })
			take("consent-model", func() { pol.ConsentModel = flags.ConsentModel })
			take("exact-regression", func() { pol.ExactRegression = flags.ExactRegression })
			take("min-epsilon-per-job-milli", func() { pol.MinEpsilonPerJobMilli = flags.MinEpsilonPerJobMilli })
			take("min-study-sites", func() { pol.MinStudySites = flags.MinStudySites })
			var perr error
			take("expiry", func() { pol.Expiry, perr = parseExpiry("expiry", expiry) })
			if perr != nil {
				return perr
			}
			if err := ledger.ValidatePolicy(&pol); err != nil {
				var le *ledger.Error
				if errors.As(err, &le) {
					return fail("policy: %s", le.Msg)
				}
				return err
			}
			ds := args[0]
			return e.sendTx(cmd, &tf, &ledger.SetPolicy{Dataset: ds, Policy: pol}, func(ctx context.Context, c *client.Client, _ *api.TxSubmitted) (any, string, error) {
				got, err := c.Policy(ctx, ds)
				if err != nil {
					return nil, "", err
				}
				return got, fmt.Sprintf("policy of dataset %s set at height %d", ds, got.SetHeight), nil
			})
		},
	}
	addTxFlags(set, &tf)
	f := set.Flags()
	f.StringVar(&file, "policy", "", "JSON file with the policy")
	f.StringSliceVar(&p.Purposes, "purpose", nil, fmt.Sprintf("allowed purposes (repeatable): %v", ledger.Purposes))
	f.BoolVar(&p.Requesters.Anyone, "anyone", false, "any registered researcher or institution may request access")
	f.StringSliceVar(&orgs, "requester-org", nil, "organisations whose accounts may request access (repeatable)")
	f.StringSliceVar(&kinds, "requester-kind", nil, "account kinds that may request access (repeatable)")
	f.StringSliceVar(&p.Analyses.Builtins, "builtin", nil, fmt.Sprintf("allowed built-in analyses (repeatable): %v", ledger.BuiltinAnalyses))
	f.StringSliceVar(&p.Analyses.CodeHashes, "code-hash", nil, "hex SHA-256 of approved analysis code (repeatable)")
	f.Uint64Var(&p.MinCohort, "min-cohort", ledger.MinCohortFloor, "smallest cohort a result may describe")
	f.Uint64Var(&p.EpsilonPerJobMilli, "epsilon-per-job-milli", 1000, "differential-privacy epsilon per job, in milli-units")
	f.Uint64Var(&p.EpsilonTotalMilli, "epsilon-total-milli", 10000, "total epsilon budget, in milli-units")
	f.Uint64Var(&p.Price, "price", 0, "price per job, in tokens")
	f.Uint32Var(&p.Split.InstitutionBps, "institution-bps", 10000, "institution's share of the price, basis points")
	f.Uint32Var(&p.Split.PatientPoolBps, "patient-pool-bps", 0, "patient pool's share, basis points")
	f.Uint32Var(&p.Split.WorkerBps, "worker-bps", 0, "worker's share, basis points")
	f.StringVar(&p.Attestation, "attestation", ledger.AttestSoftware, "attestation workers need: software or hardware")
	f.StringVar(&p.ConsentModel, "consent-model", ledger.ConsentOptIn, "opt_in or opt_out")
	f.BoolVar(&p.ExactRegression, "exact-regression", false, "regressions may be released exactly (safe statistics) despite the epsilon; without it regression jobs must request a private fit")
	f.Uint64Var(&p.MinEpsilonPerJobMilli, "min-epsilon-per-job-milli", 0, "the least epsilon a job may ask for, in milli-units (default: the per-job epsilon itself)")
	f.Uint32Var(&p.MinStudySites, "min-study-sites", 0, "the fewest sites a pooled study over this dataset may finish with (default 2)")
	f.StringVar(&expiry, "expiry", "", "policy expiry: unix seconds, RFC 3339, or a duration from now")

	cmd := &cobra.Command{Use: "policy", Short: "Dataset terms of use"}
	cmd.AddCommand(set, &cobra.Command{
		Use:   "show DATASET",
		Short: "Show a dataset's policy",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*ledger.Policy, error) { return c.Policy(ctx, args[0]) }, showPolicy)
		},
	})
	return cmd
}
