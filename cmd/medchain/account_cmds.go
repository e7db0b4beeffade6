package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ledger"
)

func statusCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the node's chain, height and app hash",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*api.NodeStatus, error) { return c.Status(ctx) },
				func(w io.Writer, s *api.NodeStatus) {
					fmt.Fprintf(w, "chain:\t%s\n", s.ChainID)
					fmt.Fprintf(w, "height:\t%d (block time %s)\n", s.Height, s.BlockTime.UTC().Format("2006-01-02T15:04:05Z"))
					fmt.Fprintf(w, "app hash:\t%x (in header %d)\n", []byte(s.AppHash), s.Height+1)
					fmt.Fprintf(w, "audit log:\t%d entries\n", s.Commitment.AuditSize)
					fmt.Fprintf(w, "validators:\t%d\n", s.Validators)
					fmt.Fprintf(w, "node:\t%s (%s), %d peers, catching up: %t\n", s.Moniker, s.NodeID, s.Peers, s.CatchingUp)
					fmt.Fprintf(w, "version:\t%s\n", s.Version)
				})
		},
	}
}

func txCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "tx", Short: "Look up transactions"}
	cmd.AddCommand(&cobra.Command{
		Use:   "show HASH",
		Short: "Show a committed transaction's result",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*ledger.TxRecord, error) { return c.Tx(ctx, args[0]) },
				func(w io.Writer, r *ledger.TxRecord) {
					fmt.Fprintf(w, "tx %s committed at height %d (index %d): code %d (%s): %s\naudit entry %d\n",
						strings.ToLower(args[0]), r.Height, r.Index, r.Code, r.Code, r.Log, r.AuditIndex)
				})
		},
	})
	return cmd
}

func showAccount(w io.Writer, a *ledger.Account) {
	fmt.Fprintf(w, "address:\t%s\nkind:\t%s\norg:\t%s\nbalance:\t%d\nnonce:\t%d\nregistered at:\theight %d\n",
		a.Address, a.Kind, orDash(a.Org), a.Balance, a.Nonce, a.Registered)
}

func accountCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Register and look up accounts"}
	show := &cobra.Command{
		Use:   "show ADDRESS|KEYNAME",
		Short: "Show an account",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := e.address(args[0])
			if err != nil {
				return err
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*ledger.Account, error) { return c.Account(ctx, addr) }, showAccount)
		},
	}
	var (
		tf                 txFlags
		kind, org, possHex string
		key, pubHex, encHx string
	)
	reg := &cobra.Command{
		Use:   "register",
		Short: "Register an account: a patient registers their own key; other kinds are registered by an org admin",
		Long: `register records a key on the ledger.

  medchain account register --from patient-key --kind patient
      a patient registers their own wallet key (signed by that key, nonce 0)
  medchain account register --from org-admin --kind researcher --org ORG --key NEWKEY
      an organisation admin registers a key of their organisation; the key proves
      it consents (a proof of possession, made here from the local key, or given
      with --pub-key/--enc-key as --possession, made by its holder with
      "medchain keys possession NAME --org ORG")`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k := ledger.AccountKind(kind)
			if kind == "" {
				return fail("--kind is required (one of %v)", ledger.AccountKinds)
			}
			if k == ledger.KindPatient && key == "" && pubHex == "" {
				key = tf.from
			}
			pub, enc, err := e.pubKeys("key", key, "pub-key", pubHex, "enc-key", encHx)
			if err != nil {
				return err
			}
			msg := &ledger.RegisterAccount{PubKey: pub, EncKey: enc, Kind: k, Org: org}
			if k != ledger.KindPatient {
				if msg.Possession, err = e.possession(cmd, key, "possession", possHex, org); err != nil {
					return err
				}
			}
			return e.sendTx(cmd, &tf, msg, func(ctx context.Context, c *client.Client, _ *api.TxSubmitted) (any, string, error) {
				a, err := c.Account(ctx, ledger.Address(pub))
				if err != nil {
					return nil, "", err
				}
				return a, fmt.Sprintf("registered %s account %s", a.Kind, a.Address), nil
			})
		},
	}
	addTxFlags(reg, &tf)
	reg.Flags().StringVar(&kind, "kind", "", fmt.Sprintf("account kind: %v", ledger.AccountKinds))
	reg.Flags().StringVar(&org, "org", "", "organisation of the account (not for patients)")
	reg.Flags().StringVar(&key, "key", "", "local key to register (default for --kind patient: the --from key)")
	reg.Flags().StringVar(&pubHex, "pub-key", "", "ed25519 public key to register, hex (instead of --key)")
	reg.Flags().StringVar(&encHx, "enc-key", "", "X25519 public key to register, hex (instead of --key)")
	reg.Flags().StringVar(&possHex, "possession", "", "the key's proof of possession, hex (with --pub-key; from `medchain keys possession`)")
	cmd.AddCommand(show, reg, accountStatusCmd(e))
	return cmd
}

func transferCmd(e *env) *cobra.Command {
	var (
		tf     txFlags
		to     string
		amount uint64
	)
	cmd := &cobra.Command{
		Use:   "transfer",
		Short: "Send tokens to another account",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return fail("--to is required")
			}
			addr, err := e.address(to)
			if err != nil {
				return err
			}
			return e.sendTx(cmd, &tf, &ledger.Transfer{To: addr, Amount: amount}, nil)
		},
	}
	addTxFlags(cmd, &tf)
	cmd.Flags().StringVar(&to, "to", "", "recipient address or local key name")
	cmd.Flags().Uint64Var(&amount, "amount", 0, "amount of tokens")
	return cmd
}

// accountStatusCmd suspends or reactivates an account of the signer's
// organisation (set_account_status).
func accountStatusCmd(e *env) *cobra.Command {
	var (
		tf     txFlags
		status string
	)
	cmd := &cobra.Command{
		Use:   "status ADDRESS|KEYNAME",
		Short: "Suspend or reactivate an account of your organisation (an admin signs)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			addr, err := e.address(args[0])
			if err != nil {
				return err
			}
			if !slices.Contains(ledger.AccountStatuses, status) {
				return fail("--status: want one of %v", ledger.AccountStatuses)
			}
			return e.sendTx(cmd, &tf, &ledger.SetAccountStatus{Address: addr, Status: status}, nil)
		},
	}
	addTxFlags(cmd, &tf)
	cmd.Flags().StringVar(&status, "status", "", "suspended or active")
	return cmd
}

func showOrg(w io.Writer, o *ledger.Org) {
	fmt.Fprintf(w, "id:\t%s\nname:\t%s\nkind:\t%s\nadmins:\t%s\ncreated at:\theight %d\n",
		o.ID, o.Name, o.Kind, strings.Join(o.Admins, ", "), o.Created)
}

func orgCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Member organisations"}
	list := &cobra.Command{
		Use:   "list",
		Short: "List organisations",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return query(e, cmd, func(ctx context.Context, c *client.Client) ([]ledger.Org, error) { return c.Orgs(ctx) },
				func(w io.Writer, orgs []ledger.Org) {
					fmt.Fprintln(w, "ID\tKIND\tADMINS\tNAME")
					for _, o := range orgs {
						fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", o.ID, o.Kind, len(o.Admins), o.Name)
					}
				})
		},
	}
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an organisation",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*ledger.Org, error) { return c.Org(ctx, args[0]) }, showOrg)
		},
	}
	var (
		tf                        txFlags
		id, name, kind, adminPoss string
		admin, adminPub, adminEnc string
	)
	create := &cobra.Command{
		Use:   "create",
		Short: "Admit an organisation and register its first admin (signed by a consortium authority)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pub, enc, err := e.pubKeys("admin", admin, "admin-pub-key", adminPub, "admin-enc-key", adminEnc)
			if err != nil {
				return err
			}
			poss, err := e.possession(cmd, admin, "admin-possession", adminPoss, id)
			if err != nil {
				return err
			}
			msg := &ledger.CreateOrg{ID: id, Name: name, Kind: ledger.OrgKind(kind), Admin: pub, EncKey: enc, AdminPossession: poss}
			return e.sendTx(cmd, &tf, msg, func(ctx context.Context, c *client.Client, _ *api.TxSubmitted) (any, string, error) {
				o, err := c.Org(ctx, id)
				if err != nil {
					return nil, "", err
				}
				return o, fmt.Sprintf("created organisation %s with admin %s", o.ID, ledger.Address(pub)), nil
			})
		},
	}
	addTxFlags(create, &tf)
	create.Flags().StringVar(&id, "id", "", "organisation id (a-z 0-9 . _ -)")
	create.Flags().StringVar(&name, "name", "", "display name")
	create.Flags().StringVar(&kind, "kind", "", fmt.Sprintf("organisation kind: %v", ledger.OrgKinds))
	create.Flags().StringVar(&admin, "admin", "", "local key of the first admin")
	create.Flags().StringVar(&adminPub, "admin-pub-key", "", "first admin's ed25519 public key, hex (instead of --admin)")
	create.Flags().StringVar(&adminEnc, "admin-enc-key", "", "first admin's X25519 public key, hex (instead of --admin)")
	create.Flags().StringVar(&adminPoss, "admin-possession", "", "first admin's proof of possession, hex (with --admin-pub-key; from `medchain keys possession`)")

	adminCmd := &cobra.Command{Use: "admin", Short: "Add or remove organisation admins"}
	for _, add := range []bool{true, false} {
		var (
			tf  txFlags
			org string
		)
		use, short := "add ADDRESS|KEYNAME", "Make an institution account of the organisation an admin"
		if !add {
			use, short = "remove ADDRESS|KEYNAME", "Remove an admin (not the last one)"
		}
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				addr, err := e.address(args[0])
				if err != nil {
					return err
				}
				if org == "" {
					return fail("--org is required")
				}
				return e.sendTx(cmd, &tf, &ledger.SetOrgAdmin{Org: org, Address: addr, Admin: add}, nil)
			},
		}
		addTxFlags(c, &tf)
		c.Flags().StringVar(&org, "org", "", "organisation id")
		adminCmd.AddCommand(c)
	}
	cmd.AddCommand(list, show, create, adminCmd)
	return cmd
}
