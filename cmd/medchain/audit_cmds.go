package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ledger"
)

// trustNote says what the validator set was checked against.
func trustNote(c *client.Client) string {
	if c.Trusted != nil {
		return "validator set pinned to the genesis file"
	}
	return "validator set as served by the node (not pinned: pass --genesis FILE to pin it)"
}

// verified runs a verification and prints what it established.
func verified[T fmt.Stringer](e *env, cmd *cobra.Command, run func(ctx context.Context, c *client.Client) (T, error), extra func(w io.Writer, v T)) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	ctx, cancel := e.ctx(cmd)
	defer cancel()
	v, err := run(ctx, c)
	if err != nil {
		return err
	}
	return e.show(cmd, v, func(w io.Writer) {
		fmt.Fprintf(w, "verified: %s\n", v)
		if extra != nil {
			extra(w, v)
		}
		fmt.Fprintln(w, trustNote(c))
	})
}

func stateCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "state", Short: "Read ledger state with proofs"}
	cmd.AddCommand(&cobra.Command{
		Use:   "proof KEY",
		Short: "Fetch a state key's value with its proof and verify it against a signed header",
		Long: `proof fetches the value of a state key (e.g. s/acct/<address>, s/ds/<id>, s/pol/<id>) or the
proof of its absence, checks the sparse Merkle proof against the state root, the state root
against the app hash, and the app hash against the next block header signed by the validators.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return verified(e, cmd, func(ctx context.Context, c *client.Client) (*client.StateCheck, error) {
				return c.VerifyStateProof(ctx, args[0])
			}, func(w io.Writer, s *client.StateCheck) {
				if s.Value != nil {
					// The value is stored in the ledger's binary encoding; show
					// the record it decodes to.
					j, err := ledger.StateValueJSON([]byte(s.Key), s.Value)
					if err != nil {
						fmt.Fprintf(w, "value: %x (%v)\n", s.Value, err)
						return
					}
					fmt.Fprintf(w, "value: %s\n", j)
				}
			})
		},
	})
	return cmd
}

func auditCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read and verify the audit log"}
	entry := &cobra.Command{
		Use:   "entry INDEX",
		Short: "Show an audit log entry",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			i, err := uintArg("INDEX", args[0])
			if err != nil {
				return err
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*api.AuditEntry, error) { return c.AuditEntry(ctx, i) },
				func(w io.Writer, a *api.AuditEntry) {
					en := a.Entry
					fmt.Fprintf(w, "entry:\t%d (leaf hash %x)\n", a.Index, []byte(a.LeafHash))
					fmt.Fprintf(w, "tx:\t%s (height %d, index %d)\n", en.TxHash, en.Height, en.Index)
					fmt.Fprintf(w, "type:\t%s\nsigner:\t%s\nnonce:\t%d\n", orDash(string(en.Type)), orDash(en.Signer), en.Nonce)
					fmt.Fprintf(w, "result:\tcode %d (%s) %s\n", en.Code, en.Code, en.Log)
					for _, ch := range en.Changes {
						if ch.ValueHash == "" {
							fmt.Fprintf(w, "  deleted\t%s\n", ch.Key)
						} else {
							fmt.Fprintf(w, "  set\t%s\tsha256 %s\n", ch.Key, ch.ValueHash)
						}
					}
				})
		},
	}
	var (
		tx       string
		index    int64
		height   int64
		from, to int64
	)
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify audit log proofs against block headers signed by the validators",
		Long: `verify checks, without trusting the node:
  --tx HASH              that the transaction's audit entry is in the log as committed at its height
  --index I [--height H] that entry I is in the log as committed at height H (default: latest)
  --from H1 --to H2      that the log committed at H1 is a prefix of the log committed at H2
Each log commitment is checked against the app hash in the next block's signed header.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fs := cmd.Flags()
			consistency := fs.Changed("from") || fs.Changed("to")
			switch {
			case tx != "" && !consistency && !fs.Changed("index"):
				return verified(e, cmd, func(ctx context.Context, c *client.Client) (*client.InclusionCheck, error) {
					return c.VerifyTxAudit(ctx, strings.ToLower(tx))
				}, func(w io.Writer, ic *client.InclusionCheck) {
					fmt.Fprintf(w, "entry %d records tx %s (%s by %s): code %d (%s)\n", ic.Index, ic.Entry.TxHash, orDash(string(ic.Entry.Type)), orDash(ic.Entry.Signer), ic.Entry.Code, ic.Entry.Code)
				})
			case fs.Changed("index") && tx == "" && !consistency:
				if index < 0 {
					return fail("--index must be >= 0")
				}
				return verified(e, cmd, func(ctx context.Context, c *client.Client) (*client.InclusionCheck, error) {
					return c.VerifyAuditInclusion(ctx, uint64(index), height)
				}, nil)
			case consistency && tx == "" && !fs.Changed("index"):
				if !fs.Changed("from") || !fs.Changed("to") {
					return fail("--from and --to go together")
				}
				if from < 0 || from > to {
					return fail("want 0 <= --from <= --to, got %d and %d", from, to)
				}
				return verified(e, cmd, func(ctx context.Context, c *client.Client) (*client.ConsistencyCheck, error) {
					return c.VerifyAuditConsistency(ctx, from, to)
				}, nil)
			}
			return fail("give exactly one of --tx HASH, --index I, or --from H1 --to H2")
		},
	}
	verify.Flags().StringVar(&tx, "tx", "", "transaction hash")
	verify.Flags().Int64Var(&index, "index", 0, "audit entry index")
	verify.Flags().Int64Var(&height, "height", 0, "with --index: the height whose log to check (default latest)")
	verify.Flags().Int64Var(&from, "from", 0, "earlier height")
	verify.Flags().Int64Var(&to, "to", 0, "later height")
	cmd.AddCommand(entry, verify)
	return cmd
}
