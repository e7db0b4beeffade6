package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/recordclient"
	"github.com/medchain/medchain/recordshare"
	"github.com/medchain/medchain/vault/blob"
)

// Your record, and a second opinion (docs/patients.md): `patient record`,
// `patient share create|list|revoke` on the patient's side, `share open`
// on the clinician's.

// patientRecordCmds are the patient-side record commands, added under
// `medchain patient`.
func patientRecordCmds(e *env) []*cobra.Command {
	return []*cobra.Command{patientRecordCmd(e), patientShareCmd(e)}
}

// recordSummary is what `patient record` prints: the originals' sources
// and sizes, never their content.
type recordSummary struct {
	Server    string           `json:"server"`
	Org       string           `json:"org"`
	Originals []originalSource `json:"originals"`
	Out       string           `json:"out,omitempty"`
	Extracted []string         `json:"extracted,omitempty"`
}

type originalSource struct {
	Dataset   string `json:"dataset"`
	Version   uint64 `json:"version"`
	MediaType string `json:"media_type"`
	Bytes     int    `json:"bytes"`
}

func summariseCopy(cp *recordshare.Copy, out string) *recordSummary {
	s := &recordSummary{Server: cp.Server, Org: cp.Org, Out: out, Originals: []originalSource{}}
	for _, o := range cp.Originals {
		s.Originals = append(s.Originals, originalSource{Dataset: o.Dataset, Version: o.Version, MediaType: o.MediaType, Bytes: len(o.Data)})
	}
	return s
}

// writeCopy writes a decrypted copy for its owner only.
func writeCopy(path string, cp *recordshare.Copy) error {
	b, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	if err := blob.WriteFileAtomic(path, b, 0o600); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}

// extractCopy writes each original of a copy as a file of its own in
// dir, named by dataset and version (st-mary-cvd-v1.csv, …-v2.json), for
// its owner only; it returns the files written.
func extractCopy(dir string, cp *recordshare.Copy) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--extract: %w", err)
	}
	var out []string
	for _, o := range cp.Originals {
		ext := ".json"
		if o.MediaType == "text/csv" {
			ext = ".csv"
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-v%d%s", o.Dataset, o.Version, ext))
		if err := blob.WriteFileAtomic(path, o.Data, 0o600); err != nil {
			return nil, fmt.Errorf("--extract: %w", err)
		}
		out = append(out, path)
	}
	return out, nil
}

func readCopy(path string) (*recordshare.Copy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--record: %w", err)
	}
	var cp recordshare.Copy
	if err := json.Unmarshal(b, &cp); err != nil || cp.Format != recordshare.CopyFormat {
		return nil, fmt.Errorf("--record %s: not a record copy written by `medchain patient record --out`", path)
	}
	return &cp, nil
}

func patientRecordCmd(e *env) *cobra.Command {
	var from, out, extract string
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Get your own record from the institution whose node --node is (signed by you, encrypted to you)",
		Long: `record signs a fresh request with your key (bound to the institution's account, a random
nonce and an expiry five minutes ahead, so it is good once) and asks the institution's node for
your record: every original it keeps of you — the FHIR Bundle or CSV row as it was ingested,
identifiable, because it is yours — encrypted to your account key and decrypted here.
--out writes the decrypted copy (owner-only): keep it safe, and give it to
` + "`medchain patient share create --record`" + ` to share it. Without --out only a summary is printed.

  medchain patient record --from patient-1 --node st-mary:8080 --out my-record.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := e.key(from)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			rec, err := recordclient.MyRecord(ctx, c, k)
			if err != nil {
				return err
			}
			if out != "" {
				if err := writeCopy(out, rec.Copy); err != nil {
					return err
				}
			}
			s := summariseCopy(rec.Copy, out)
			if extract != "" {
				if s.Extracted, err = extractCopy(extract, rec.Copy); err != nil {
					return err
				}
			}
			return e.show(cmd, s, func(w io.Writer) {
				fmt.Fprintf(w, "your record at %s (served by %s): %d original(s)\n", s.Org, s.Server, len(s.Originals))
				for _, o := range s.Originals {
					fmt.Fprintf(w, "  %s version %d\t%s\t%d bytes\n", o.Dataset, o.Version, o.MediaType, o.Bytes)
				}
				if out != "" {
					fmt.Fprintf(w, "written to %s\n", out)
				}
				for _, f := range s.Extracted {
					fmt.Fprintf(w, "extracted %s\n", f)
				}
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "your patient key (in <home>/keys)")
	cmd.Flags().StringVar(&out, "out", "", "write the decrypted copy to this file (mode 0600)")
	cmd.Flags().StringVar(&extract, "extract", "", "also write each original (FHIR Bundle, CSV) as a file of its own in this directory")
	return cmd
}

func patientShareCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "share", Short: "Share your record with a clinician for a second opinion; list and revoke your shares"}
	var from, to, passcode, record string
	var link bool
	var expires time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "Share your record: encrypted to a clinician's account, or as a link with a passcode",
		Long: `create shares a copy of your record (--record, from ` + "`patient record --out`" + `; else a fresh copy
is fetched) through the node --node names, which serves it:
  --to ACCOUNT   encrypted to that account's registered key; only its signed request opens it;
  --link         encrypted to a new one-time key carried only in the printed link, opened with
                 the link and --passcode (give them to the clinician separately). The node holds
                 ciphertext and a salted passcode verifier; wrong passcodes lock the share.
The share is recorded on the ledger first (share_record: its hash, the recipient account or
"link", the serving institution account, the expiry — nothing of the record), then uploaded.
It opens once, before --expires, unless you revoke it first.

  medchain patient share create --from patient-1 --to rita-researcher --expires 72h
  medchain patient share create --from patient-1 --link --passcode 'correct horse' --expires 24h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if link == (to != "") {
				return fail("give either --to ACCOUNT or --link")
			}
			if link && passcode == "" {
				passcode = os.Getenv("MEDCHAIN_SHARE_PASSCODE")
			}
			if link && len(passcode) < recordshare.MinPasscode {
				return fail("--passcode: a link needs a passcode of at least %d characters (or MEDCHAIN_SHARE_PASSCODE)", recordshare.MinPasscode)
			}
			if !link && passcode != "" {
				return fail("--passcode: only a --link share has one")
			}
			if expires <= 0 || expires > ledger.MaxShareSeconds*time.Second {
				return fail("--expires: between 1s and %dh", ledger.MaxShareSeconds/3600)
			}
			k, err := e.key(from)
			if err != nil {
				return err
			}
			o := recordclient.ShareOptions{Passcode: passcode, Expires: expires}
			if to != "" {
				if o.To, err = e.address(to); err != nil {
					return fmt.Errorf("--to: %w", err)
				}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			var cp *recordshare.Copy
			if record != "" {
				if cp, err = readCopy(record); err != nil {
					return err
				}
			} else {
				rec, err := recordclient.MyRecord(ctx, c, k)
				if err != nil {
					return err
				}
				cp = rec.Copy
			}
			sh, err := recordclient.Share(ctx, c, k, cp, o)
			if err != nil {
				return err
			}
			return e.show(cmd, sh, func(w io.Writer) {
				fmt.Fprintf(w, "share %s to %s, served by %s, expires %s\n", sh.Hash, sh.Recipient, sh.Server, time.Unix(sh.Expiry, 0).UTC().Format(time.RFC3339))
				if sh.Link != "" {
					fmt.Fprintf(w, "link (give it to the clinician, and the passcode separately):\n%s\n", sh.Link)
				}
			})
		},
	}
	f := create.Flags()
	f.StringVar(&from, "from", "", "your patient key (in <home>/keys)")
	f.StringVar(&to, "to", "", "the clinician's account: address or local key name")
	f.BoolVar(&link, "link", false, "share as a link with a one-time key and a passcode")
	f.StringVar(&passcode, "passcode", "", "the link's passcode (default $MEDCHAIN_SHARE_PASSCODE)")
	f.DurationVar(&expires, "expires", 24*time.Hour, "how long the share lives (at most 90 days)")
	f.StringVar(&record, "record", "", "the copy to share (from `patient record --out`; default: fetch a fresh one)")

	var lfrom, patient string
	list := &cobra.Command{
		Use:   "list",
		Short: "List your shares as the ledger records them, with what became of each",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addr := patient
			if addr == "" {
				k, err := e.key(lfrom)
				if err != nil {
					return err
				}
				addr = k.Address()
			} else {
				var err error
				if addr, err = e.address(patient); err != nil {
					return fmt.Errorf("--patient: %w", err)
				}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			l, err := recordclient.List(ctx, c, addr)
			if err != nil {
				return err
			}
			return e.show(cmd, l, func(w io.Writer) {
				fmt.Fprintln(w, "SHARE\tTO\tSERVER\tEXPIRES\tSTATE\tCREATED\tCLOSED")
				for _, s := range l.Shares {
					closed := "-"
					if s.Closed > 0 {
						closed = fmt.Sprint(s.Closed)
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.Hash, s.Recipient, s.Server,
						time.Unix(s.Expiry, 0).UTC().Format(time.RFC3339), s.State, s.Created, closed)
				}
			})
		},
	}
	list.Flags().StringVar(&lfrom, "from", "", "your patient key (in <home>/keys)")
	list.Flags().StringVar(&patient, "patient", "", "list this wallet's shares instead (address or key name)")

	var rtf txFlags
	revoke := &cobra.Command{
		Use:   "revoke HASH",
		Short: "Revoke a share before it is opened (revoke_share)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.sendTx(cmd, &rtf, &ledger.RevokeShare{Hash: args[0]}, nil)
		},
	}
	addTxFlags(revoke, &rtf)
	cmd.AddCommand(create, list, revoke)
	return cmd
}

// shareCmd is the clinician's side: `medchain share open`.
func shareCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "share", Short: "Open a record a patient shared with you"}
	var from, passcode, out, extract string
	open := &cobra.Command{
		Use:   "open LINK|HASH",
		Short: "Open a share: a link with its passcode, or a share to your account with --from",
		Long: `open opens a share once, before it expires and unless the patient revoked it:
  medchain share open 'medchain-share:/…' --passcode '…' [--out record.json]
      at the node the link names, decrypted with the link's one-time key; wrong passcodes
      count, and too many lock the share for good;
  medchain share open HASH --from rita-researcher [--out record.json]
      a share made to your account, on a request signed by you, decrypted with your key.
The opening is recorded on the ledger (close_share) before the node releases the share.
--out writes the decrypted record; without it a summary is printed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			var o *recordclient.Opened
			if _, err := recordshare.ParseLink(args[0]); err == nil {
				if from != "" {
					return fail("--from: a link opens with its passcode, not a key")
				}
				if passcode == "" {
					passcode = os.Getenv("MEDCHAIN_SHARE_PASSCODE")
				}
				if passcode == "" {
					return fail("--passcode is required to open a link (or MEDCHAIN_SHARE_PASSCODE)")
				}
				if o, err = recordclient.OpenLink(ctx, args[0], passcode); err != nil {
					return err
				}
			} else {
				if len(args[0]) != 64 {
					return fail("LINK|HASH: %q is neither a share link (%s…) nor a share hash (64 hex digits)", args[0], recordshare.LinkPrefix)
				}
				k, err := e.key(from)
				if err != nil {
					return err
				}
				c, err := e.client()
				if err != nil {
					return err
				}
				if o, err = recordclient.OpenForAccount(ctx, c, k, args[0]); err != nil {
					return err
				}
			}
			if out != "" {
				if err := writeCopy(out, o.Copy); err != nil {
					return err
				}
			}
			s := summariseCopy(o.Copy, out)
			if extract != "" {
				var err error
				if s.Extracted, err = extractCopy(extract, o.Copy); err != nil {
					return err
				}
			}
			return e.show(cmd, struct {
				Share string `json:"share"`
				*recordSummary
			}{o.Share, s}, func(w io.Writer) {
				fmt.Fprintf(w, "opened share %s from %s: %d original(s)\n", o.Share, s.Org, len(s.Originals))
				for _, r := range s.Originals {
					fmt.Fprintf(w, "  %s version %d\t%s\t%d bytes\n", r.Dataset, r.Version, r.MediaType, r.Bytes)
				}
				if out != "" {
					fmt.Fprintf(w, "written to %s\n", filepath.Clean(out))
				}
				for _, f := range s.Extracted {
					fmt.Fprintf(w, "extracted %s\n", f)
				}
			})
		},
	}
	open.Flags().StringVar(&from, "from", "", "your key, for a share made to your account")
	open.Flags().StringVar(&passcode, "passcode", "", "the link's passcode (default $MEDCHAIN_SHARE_PASSCODE)")
	open.Flags().StringVar(&out, "out", "", "write the decrypted record to this file (mode 0600)")
	open.Flags().StringVar(&extract, "extract", "", "also write each original (FHIR Bundle, CSV) as a file of its own in this directory")
	cmd.AddCommand(open)
	return cmd
}

// addRecordsFlag adds --records to `node` and `up`.
func addRecordsFlag(cmd *cobra.Command, records *string, what string) {
	cmd.Flags().StringVar(records, "records", "", "institution key (in <home>/keys) the node serves patients' own records and their shares as, and whose admins' console reads its ingest reports and quarantine ("+what+")")
}

func recordsOptions(account string) *node.RecordOptions {
	if account == "" {
		return nil
	}
	return &node.RecordOptions{Account: account}
}

// recordsUp sets o's record serving for `up`: on a demo network, St
// Mary's node serves its patients' records unless --records says
// otherwise.
func recordsUp(home, account string, o node.Options) node.Options {
	if account == "" && fileExists(filepath.Join(node.KeysDir(home), "st-mary-admin.json")) {
		account = "st-mary-admin"
	}
	o.Records = recordsOptions(account)
	return o
}
