package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/csvsrc"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// The vault commands work on this node's vault (<home>/vault unless
// --vault) and its ledger: `dataset ingest` seals a source into the vault
// and publishes it, `dataset verify` checks the stored version against the
// ledger, `dataset rewrap` changes who may open it, and `dataset
// quarantine` shows the rows an ingest set aside.

// addVaultCommands adds the vault commands to `medchain dataset`. The
// client flags (--timeout, --genesis) belong to addClientCommands, so the
// env is rebuilt from the parsed flags when a command runs.
func addVaultCommands(root *cobra.Command, g *globals) {
	var dataset *cobra.Command
	for _, c := range root.Commands() {
		if c.Name() == "dataset" {
			dataset = c
		}
	}
	if dataset == nil {
		panic("vault commands: no dataset command to attach to")
	}
	v := &vaultEnv{g: g}
	dataset.AddCommand(ingestCmd(v), verifyCmd(v), rewrapCmd(v), quarantineCmd(v))
}

type vaultEnv struct {
	g   *globals
	dir string // --vault
}

// env is the client env of a running command.
func (v *vaultEnv) env(cmd *cobra.Command) *env {
	o := &clientOpts{timeout: time.Minute}
	if d, err := cmd.Flags().GetDuration("timeout"); err == nil {
		o.timeout = d
	}
	if s, err := cmd.Flags().GetString("genesis"); err == nil {
		o.genesis = s
	}
	return &env{g: v.g, o: o}
}

func (v *vaultEnv) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&v.dir, "vault", "", "vault directory (default <home>/vault)")
}

func (v *vaultEnv) open() (*vault.Vault, error) {
	dir := v.dir
	if dir == "" {
		dir = filepath.Join(v.g.home, "vault")
	}
	return vaultcfg.Open(dir)
}

// nodeIdentity is the node's vault key, derived from the institution key.
func (v *vaultEnv) nodeIdentity(e *env, from string) (*vault.Identity, error) {
	k, err := e.key(from)
	if err != nil {
		return nil, err
	}
	return vault.NodeIdentity(k.Enc)
}

func ingestCmd(v *vaultEnv) *cobra.Command {
	var (
		o          ingest.Options
		format     string
		mapping    string
		rules      string
		refDate    string
		selection  string
		window     int
		badRows    string
		from       string
		recipients []string
		progress   bool
	)
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Ingest a CSV or FHIR source into the vault and publish it as the dataset's next version",
		Long: `ingest reads a source, normalises each patient to one research row, de-identifies it
(HIPAA Safe Harbor unless --deid names a profile), checks it, seals it into the vault
(<home>/vault, encrypted column by column) and publishes the version on the ledger
(register_dataset, version = latest + 1), signed with --from.

It is all-or-nothing: under --bad-rows fail (the default) any bad row means nothing is
published and nothing stays in the vault, and every problem is listed with its file, row
or JSON path; under --bad-rows quarantine the bad rows are set aside in a report sealed
with the version (see 'dataset quarantine') and the rest is published.

Who can open the version: the version's data key is wrapped to this node's vault key and,
unless --recipient is given, to the encryption key of every compute worker registered on
the ledger for the institution of --from (read from the ledger at ingest), so the
institution's own worker can run jobs on it. --recipient replaces the registered workers
with the keys given. 'dataset rewrap' changes the set later without re-encrypting.

Sources: --format csv (a file or a directory of *.csv, with --mapping), fhir (a Bundle per
patient: a file or a directory of *.json), ndjson (a FHIR Bulk Data export: a file or a
directory of *.ndjson).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e := v.env(cmd)
			o.Format = ingest.Format(format)
			o.BadRows = ingest.BadRows(badRows)
			if o.Source == "" || o.Dataset == "" {
				return fail("--source and --id are required")
			}
			if mapping != "" {
				m, err := csvsrc.LoadMapping(mapping)
				if err != nil {
					return err
				}
				o.Mapping = &m
			}
			if rules != "" {
				r, err := deid.Load(rules)
				if err != nil {
					return err
				}
				o.Rules = r
			}
			o.Normalize = normalize.DefaultConfig()
			ref := time.Now().UTC()
			if refDate != "" {
				var err error
				if ref, err = time.Parse(time.DateOnly, refDate); err != nil {
					return fail("--ref-date %q: want YYYY-MM-DD", refDate)
				}
			}
			o.Normalize.RefDate = time.Date(ref.Year(), ref.Month(), ref.Day(), 0, 0, 0, 0, time.UTC)
			o.Normalize.Selection = normalize.Selection(selection)
			o.Normalize.WindowDays = window
			for _, r := range recipients {
				rc, err := vault.ParseRecipient(r)
				if err != nil {
					return fail("--recipient %q: %v", r, err)
				}
				o.Recipients = append(o.Recipients, rc)
			}
			key, err := e.key(from)
			if err != nil {
				return err
			}
			node, err := vault.NodeIdentity(key.Enc)
			if err != nil {
				return err
			}
			// Patients' original records are kept for them, sealed to the
			// institution's originals key (never a worker's).
			oid, err := vault.OriginalsIdentity(key.Enc)
			if err != nil {
				return err
			}
			orig := oid.Recipient()
			o.Originals = &orig
			c, err := e.client()
			if err != nil {
				return err
			}
			vl, err := v.open()
			if err != nil {
				return err
			}
			secret, err := vl.Secret()
			if err != nil {
				return err
			}
			on := progress
			if f, ok := cmd.ErrOrStderr().(*os.File); ok && !cmd.Flags().Changed("progress") {
				st, err := f.Stat()
				on = err == nil && st.Mode()&os.ModeCharDevice != 0
			}
			bar := &ingestBar{w: cmd.ErrOrStderr(), on: on, start: time.Now()}
			o.Progress = bar.update
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			// Originals are filed per organisation (a shared dev vault
			// keeps each institution's apart); an unknown account is left
			// to the ledger to refuse at publication.
			if a, err := c.Account(ctx, key.Address()); err == nil && a != nil {
				o.OriginalsOrg = a.Org
			}
			// Ctrl-C stops the ingest cleanly: whatever was sealed is removed.
			ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := ingest.Run(ctx, vl, node, secret, ingest.ClientLedger{Client: c, Key: key, Timeout: e.o.timeout}, o)
			bar.done()
			if err != nil {
				return err
			}
			return e.show(cmd, rep, func(w io.Writer) { showIngest(w, rep) })
		},
	}
	v.addFlags(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Source, "source", "", "source file or directory")
	f.StringVar(&format, "format", string(ingest.FHIR), fmt.Sprintf("source format: %v", ingest.Formats))
	f.StringVar(&mapping, "mapping", "", "column mapping of a CSV source (JSON; see package csvsrc)")
	f.StringVar(&rules, "deid", "", "de-identification profile (JSON; default HIPAA Safe Harbor)")
	f.StringVar(&o.Dataset, "id", "", "dataset id (a-z 0-9 . _ -)")
	f.StringVar(&o.Title, "title", "", "title of the dataset version")
	f.StringVar(&o.Description, "description", "", "description of the dataset version")
	f.StringVar(&refDate, "ref-date", "", "reference date YYYY-MM-DD: ages are computed at it and only what happened on or before it counts (default today, UTC; set it to make an ingest repeatable)")
	f.StringVar(&selection, "selection", string(normalize.Latest), "which observation counts: latest (on or before the reference date) or mean (over --window-days)")
	f.IntVar(&window, "window-days", 0, "only observations of the last N days before the reference date count (0: no limit)")
	f.StringVar(&badRows, "bad-rows", string(ingest.Fail), "bad rows: fail (publish nothing) or quarantine (set them aside, publish the rest)")
	f.StringVar(&from, "from", "", "institution key to publish with (in <home>/keys); the node's vault key is derived from it")
	f.StringArrayVar(&recipients, "recipient", nil, "wrap the data key to this worker key instead of the institution's registered workers: age1… or 64 hex digits of an X25519 public key (repeatable)")
	f.IntVar(&o.ChunkRows, "chunk-rows", 0, "rows per sealed chunk (default 65536)")
	f.BoolVar(&progress, "progress", false, "show a progress bar on stderr (default: when stderr is a terminal)")
	f.MarkHidden("chunk-rows")
	return cmd
}

func showIngest(w io.Writer, r *ingest.Report) {
	fmt.Fprintf(w, "dataset:\t%s version %d\n", r.Dataset, r.Version)
	fmt.Fprintf(w, "source:\t%s, %d file(s), %s, reference date %s\n", r.Format, r.Files, bytesText(r.Bytes), r.RefDate)
	fmt.Fprintf(w, "rows:\t%d read, %d kept, %d quarantined\n", r.RowsRead, r.RowsKept, r.RowsQuarantined)
	for _, q := range r.Quarantined {
		fmt.Fprintf(w, "  quarantined:\t%d × %s\n", q.Count, strings.TrimPrefix(q.Field+": "+q.Reason, ": "))
	}
	fmt.Fprintf(w, "de-identification:\tprofile %s\n", r.DeidProfile)
	for _, c := range r.Deid {
		fmt.Fprintf(w, "  %s\t%s\t%d\n", c.Field, c.Method, c.N)
	}
	fmt.Fprintf(w, "columns:\t%d (pseudonym + %d fields)\n", r.Vault.Columns, len(r.Schema))
	fmt.Fprintf(w, "sealed:\t%d chunks, %s\n", r.Vault.Chunks, bytesText(r.Vault.Bytes))
	fmt.Fprintf(w, "record band:\t%s\n", r.Vault.RecordBand)
	workers := "given with --recipient"
	if r.RegisteredWorkers {
		workers = "the institution's registered workers"
	}
	fmt.Fprintf(w, "data key wrapped to:\tthe node key and %d worker key(s) (%s)\n", len(r.Recipients)-1, workers)
	for _, k := range r.Recipients {
		fmt.Fprintf(w, "  %s\n", k)
	}
	if r.RegisteredWorkers && len(r.Recipients) == 1 {
		fmt.Fprintln(w, "  (the institution has no registered worker: only this node can open the version until `dataset rewrap` adds one)")
	}
	fmt.Fprintf(w, "originals:\t%d kept for their patients, sealed to the institution's originals key only (docs/patients.md)\n", r.OriginalsKept)
	fmt.Fprintf(w, "content root:\t%s\n", r.Vault.ContentRoot)
	fmt.Fprintf(w, "published:\ttx %s at height %d\n", r.Published.TxHash, r.Published.Height)
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(w, "elapsed:\t%.1fs (%.0f rows/s, %s/s)\n", secs, float64(r.RowsRead)/secs, bytesText(int64(float64(r.Bytes)/secs)))
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// ingestBar draws the ingest's progress on one line of stderr, at most
// five times a second.
type ingestBar struct {
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
	p     ingest.Progress
	drawn bool
}

func (b *ingestBar) update(p ingest.Progress) {
	b.p = p
	if !b.on || time.Since(b.last) < 200*time.Millisecond {
		return
	}
	b.last = time.Now()
	b.draw(p)
}

func (b *ingestBar) draw(p ingest.Progress) {
	const width = 30
	frac := 0.0
	if p.BytesTotal > 0 {
		frac = min(1, float64(p.BytesRead)/float64(p.BytesTotal))
	}
	n := int(frac * width)
	rate := float64(p.Rows) / time.Since(b.start).Seconds()
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%% %s/%s  %d patients (%d bad)  %.0f/s ",
		strings.Repeat("=", n), strings.Repeat(" ", width-n), 100*frac, bytesText(p.BytesRead), bytesText(p.BytesTotal), p.Rows, p.Bad, rate)
	b.drawn = true
}

// done draws the final state and ends the line.
func (b *ingestBar) done() {
	if b.drawn {
		b.draw(b.p)
		fmt.Fprintln(b.w)
	}
}

func verifyCmd(v *vaultEnv) *cobra.Command {
	var (
		id      string
		version uint64
		from    string
	)
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check a stored dataset version against the ledger: every chunk re-hashed and opened",
		Long: `verify fetches the version's metadata from the ledger, re-hashes every stored chunk,
recomputes the Merkle root and compares it with the published content root, opens every
chunk with the node's vault key (derived from --from), and checks that the stored schema,
record band and de-identification profile are the published ones. A flipped byte anywhere
is reported with the dataset, version, column and chunk.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e := v.env(cmd)
			dv, err := v.ledgerVersion(cmd, e, id, version)
			if err != nil {
				return err
			}
			node, err := v.nodeIdentity(e, from)
			if err != nil {
				return err
			}
			vl, err := v.open()
			if err != nil {
				return err
			}
			res, err := ingest.Verify(vl, node, dv)
			if err != nil {
				return err
			}
			return e.show(cmd, res, func(w io.Writer) {
				fmt.Fprintf(w, "dataset %s version %d: OK\n", res.Dataset, res.Version)
				fmt.Fprintf(w, "content root:\t%s (recomputed from the stored chunks; matches the ledger)\n", res.ContentRoot)
				fmt.Fprintf(w, "chunks:\t%d re-hashed and opened with the node key (%s)\n", res.Chunks, bytesText(res.Bytes))
				fmt.Fprintf(w, "rows:\t%d (published band %s)\n", res.Rows, res.RecordBand)
				fmt.Fprintf(w, "schema, profile:\tmatch the ledger\n")
				fmt.Fprintf(w, "data key wrapped to:\t%s\n", strings.Join(res.Recipients, ", "))
			})
		},
	}
	v.addFlags(cmd)
	cmd.Flags().StringVar(&id, "id", "", "dataset id")
	cmd.Flags().Uint64Var(&version, "version", 0, "version (default the latest)")
	cmd.Flags().StringVar(&from, "from", "", "institution key the node's vault key is derived from")
	return cmd
}

// ledgerVersion fetches a version's metadata (the latest if version is 0).
func (v *vaultEnv) ledgerVersion(cmd *cobra.Command, e *env, id string, version uint64) (*ledger.DatasetVersion, error) {
	if id == "" {
		return nil, fail("--id is required")
	}
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := e.ctx(cmd)
	defer cancel()
	if version == 0 {
		d, err := c.Dataset(ctx, id)
		if err != nil {
			return nil, err
		}
		version = d.LatestVersion
	}
	return c.DatasetVersion(ctx, id, version)
}

func rewrapCmd(v *vaultEnv) *cobra.Command {
	var (
		id         string
		version    uint64
		from       string
		recipients []string
	)
	cmd := &cobra.Command{
		Use:   "rewrap",
		Short: "Change who may open a stored version: re-wrap its data key, without re-encrypting",
		Long: `rewrap re-wraps a stored version's data key to the node's own vault key and exactly the
--recipient keys given (worker keys the policy allows), replacing the previous set: a key
left out can no longer open the version from this vault. No data is re-encrypted and the
content root does not change. A former recipient that kept the data key itself is only shut
out by a new version.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e := v.env(cmd)
			if id == "" || version == 0 {
				return fail("--id and --version are required")
			}
			node, err := v.nodeIdentity(e, from)
			if err != nil {
				return err
			}
			rs := []vault.Recipient{node.Recipient()}
			for _, r := range recipients {
				rc, err := vault.ParseRecipient(r)
				if err != nil {
					return fail("--recipient %q: %v", r, err)
				}
				rs = append(rs, rc)
			}
			vl, err := v.open()
			if err != nil {
				return err
			}
			if err := vl.Rewrap(id, version, node, rs); err != nil {
				return err
			}
			m, err := vl.Manifest(id, version)
			if err != nil {
				return err
			}
			out := struct {
				Dataset    string   `json:"dataset"`
				Version    uint64   `json:"version"`
				Recipients []string `json:"recipients"`
			}{id, version, m.Recipients()}
			return e.show(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "dataset %s version %d: data key wrapped to\n", id, version)
				for _, r := range out.Recipients {
					fmt.Fprintf(w, "  %s\n", r)
				}
			})
		},
	}
	v.addFlags(cmd)
	cmd.Flags().StringVar(&id, "id", "", "dataset id")
	cmd.Flags().Uint64Var(&version, "version", 0, "version")
	cmd.Flags().StringVar(&from, "from", "", "institution key the node's vault key is derived from")
	cmd.Flags().StringArrayVar(&recipients, "recipient", nil, "worker key allowed to open the version: age1… or 64 hex digits (repeatable)")
	return cmd
}

func quarantineCmd(v *vaultEnv) *cobra.Command {
	var (
		id      string
		version uint64
		from    string
	)
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "Show the rows an ingest set aside (decrypted with the node's vault key)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e := v.env(cmd)
			dv, err := v.ledgerVersion(cmd, e, id, version)
			if err != nil {
				return err
			}
			node, err := v.nodeIdentity(e, from)
			if err != nil {
				return err
			}
			vl, err := v.open()
			if err != nil {
				return err
			}
			r, err := vl.Open(dv.Dataset, dv.Version, dv.ContentRoot, node)
			if err != nil {
				return err
			}
			q, err := r.Quarantine()
			if err != nil {
				return err
			}
			if q == nil {
				q = &vault.Quarantine{}
			}
			return e.show(cmd, q, func(w io.Writer) {
				fmt.Fprintf(w, "dataset %s version %d: %d row(s) quarantined\n", dv.Dataset, dv.Version, q.Rows)
				for _, p := range q.Problems {
					fmt.Fprintf(w, "  %s\n", p.Error())
				}
			})
		},
	}
	v.addFlags(cmd)
	cmd.Flags().StringVar(&id, "id", "", "dataset id")
	cmd.Flags().Uint64Var(&version, "version", 0, "version (default the latest)")
	cmd.Flags().StringVar(&from, "from", "", "institution key the node's vault key is derived from")
	return cmd
}
