package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

// parseScope reads dataset:ID, institution:ID or all.
func parseScope(s string) (ledger.Scope, error) {
	if s == ledger.ScopeAll {
		return ledger.Scope{Kind: ledger.ScopeAll}, nil
	}
	kind, id, ok := strings.Cut(s, ":")
	if !ok || id == "" || (kind != ledger.ScopeDataset && kind != ledger.ScopeInstitution) {
		return ledger.Scope{}, fail("--scope %q: want dataset:ID, institution:ID or all", s)
	}
	return ledger.Scope{Kind: kind, ID: id}, nil
}

func consentState(c *ledger.Consent) string {
	if c.Revoked != 0 {
		return fmt.Sprintf("revoked at %d", c.Revoked)
	}
	return "active"
}

func scopeString(s ledger.Scope) string {
	if s.ID == "" {
		return s.Kind
	}
	return s.Kind + ":" + s.ID
}

func showConsents(w io.Writer, list []api.ConsentList) {
	fmt.Fprintln(w, "PATIENT\tSEQ\tPROVISION\tSCOPE\tPURPOSES\tEXPIRY\tSTATE")
	for _, l := range list {
		for i := range l.Consents {
			c := &l.Consents[i]
			exp := "-"
			if c.Expiry != 0 {
				exp = fmt.Sprint(c.Expiry)
			}
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", short(l.Patient), c.Seq, c.Provision, scopeString(c.Scope),
				strings.Join(c.Purposes, ","), exp, consentState(c))
		}
	}
}

// localKeyOf names the local key whose address is addr: the key that signs
// a patient's own listing.
func (e *env) localKeyOf(addr string) (string, error) {
	names, err := keys.List(e.keysDir())
	if err != nil {
		return "", err
	}
	for _, n := range names {
		if k, err := keys.LoadPublic(e.keysDir(), n); err == nil && k.Address == addr {
			return n, nil
		}
	}
	return "", fail("no local key has address %s: consents are listed only to a signed request, so name the signing key with --as (the patient's own, or a worker or admin key of the institution they concern)", addr)
}

func consentCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "consent", Short: "A patient's consent decisions"}

	var as string
	var every bool
	list := &cobra.Command{
		Use:   "list [PATIENT]",
		Short: "List consents, on a request signed by the patient (or by the institution they concern)",
		Long: `list asks the node for consents on a signed request (docs/patients.md): the
node answers only the patient who gave them, and the worker or an admin of
the institution they concern.

  medchain consent list alice                      # alice's own, signed with the key alice
  medchain consent list 3fa1… --as st-mary-admin   # what of 3fa1…'s concerns st-mary
  medchain consent list --all --as st-mary-worker  # every consent that concerns st-mary
  medchain consent list                            # every local patient key's own`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			type ask struct {
				patient string
				signer  string // key name
			}
			var asks []ask
			switch {
			case every:
				if len(args) == 1 {
					return fail("--all lists every consent the signer may read: give no PATIENT with it")
				}
				if as == "" {
					return fail("--all needs --as: a worker or admin key of the institution whose consents to list")
				}
			case len(args) == 1:
				addr, err := e.address(args[0])
				if err != nil {
					return err
				}
				signer := as
				if signer == "" {
					if signer, err = e.localKeyOf(addr); err != nil {
						return err
					}
				}
				asks = append(asks, ask{addr, signer})
			default:
				if as != "" {
					return fail("--as: name the PATIENT whose consents to list (or use --all)")
				}
				names, err := keys.List(e.keysDir())
				if err != nil {
					return err
				}
				for _, n := range names {
					k, err := keys.LoadPublic(e.keysDir(), n)
					if err != nil {
						return err
					}
					asks = append(asks, ask{k.Address, n})
				}
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) ([]api.ConsentList, error) {
				out := []api.ConsentList{}
				if every {
					k, err := e.key(as)
					if err != nil {
						return nil, err
					}
					all, err := c.AllConsents(ctx, k)
					if err != nil {
						return nil, err
					}
					for len(all) > 0 { // one patient's consents at a time
						n := 1
						for n < len(all) && all[n].Patient == all[0].Patient {
							n++
						}
						out = append(out, api.ConsentList{Patient: all[0].Patient, Consents: all[:n]})
						all = all[n:]
					}
					return out, nil
				}
				for _, a := range asks {
					if len(args) == 0 {
						// Only patients give consents: another local key
						// (an institution's, a researcher's) is skipped
						// without asking for its passphrase.
						acct, err := c.Account(ctx, a.patient)
						if client.IsNotFound(err) || (err == nil && acct.Kind != ledger.KindPatient) {
							continue
						}
						if err != nil {
							return nil, err
						}
					}
					k, err := e.key(a.signer)
					if err != nil {
						return nil, err
					}
					cs, err := c.Consents(ctx, a.patient, k)
					if err != nil {
						return nil, err
					}
					if len(cs) > 0 || len(args) == 1 {
						out = append(out, api.ConsentList{Patient: a.patient, Consents: cs})
					}
				}
				return out, nil
			}, showConsents)
		},
	}
	list.Flags().StringVar(&as, "as", "", "the key that signs the request: the patient's own (default, when it is a local key) or a worker or admin key of the institution the consents concern")
	list.Flags().BoolVar(&every, "all", false, "list every consent the --as key may read (an institution's worker or admin: those that concern it)")

	var (
		gtf                  txFlags
		scope, provision, ex string
		purposes             []string
	)
	give := &cobra.Command{
		Use:   "give",
		Short: "Record a consent decision (signed by the patient)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, err := parseScope(scope)
			if err != nil {
				return err
			}
			exp, err := parseExpiry("expiry", ex)
			if err != nil {
				return err
			}
			msg := &ledger.GiveConsent{Scope: sc, Provision: provision, Purposes: purposes, Expiry: exp}
			return e.sendTx(cmd, &gtf, msg, func(ctx context.Context, c *client.Client, res *api.TxSubmitted) (any, string, error) {
				k, err := e.key(gtf.from)
				if err != nil {
					return nil, "", err
				}
				cs, err := c.Consents(ctx, k.Address(), k)
				if err != nil {
					return nil, "", err
				}
				// The patient's newest consent created at the tx's height is this one.
				for i := len(cs) - 1; i >= 0; i-- {
					if cs[i].Created == res.Result.Height {
						return cs[i], fmt.Sprintf("consent %d: %s %s for %s", cs[i].Seq, cs[i].Provision, scopeString(cs[i].Scope), strings.Join(cs[i].Purposes, ", ")), nil
					}
				}
				return nil, "", nil
			})
		},
	}
	addTxFlags(give, &gtf)
	give.Flags().StringVar(&scope, "scope", "", "what it covers: dataset:ID, institution:ID or all")
	give.Flags().StringVar(&provision, "provision", ledger.Permit, "permit or deny")
	give.Flags().StringSliceVar(&purposes, "purpose", nil, fmt.Sprintf("purposes it applies to (repeatable): %v", ledger.Purposes))
	give.Flags().StringVar(&ex, "expiry", "", "expiry: unix seconds, RFC 3339, or a duration from now")

	var (
		ntf       txFlags
		nPurposes []string
		nExpiry   string
	)
	narrow := &cobra.Command{
		Use:   "narrow SEQ",
		Short: "Remove purposes from, or bring forward the expiry of, an active consent",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := uintArg("SEQ", args[0])
			if err != nil {
				return err
			}
			exp, err := parseExpiry("expiry", nExpiry)
			if err != nil {
				return err
			}
			return e.sendTx(cmd, &ntf, &ledger.NarrowConsent{Seq: seq, Purposes: nPurposes, Expiry: exp}, nil)
		},
	}
	addTxFlags(narrow, &ntf)
	narrow.Flags().StringSliceVar(&nPurposes, "purpose", nil, "the purposes to keep (repeatable)")
	narrow.Flags().StringVar(&nExpiry, "expiry", "", "new, earlier expiry")

	var rtf txFlags
	revoke := &cobra.Command{
		Use:   "revoke SEQ",
		Short: "Revoke a consent for every job admitted from now on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			seq, err := uintArg("SEQ", args[0])
			if err != nil {
				return err
			}
			return e.sendTx(cmd, &rtf, &ledger.RevokeConsent{Seq: seq}, nil)
		},
	}
	addTxFlags(revoke, &rtf)
	cmd.AddCommand(list, give, narrow, revoke)
	return cmd
}

func showAccess(w io.Writer, a *ledger.AccessRequest) {
	fmt.Fprintf(w, "request:\t%d\ndataset:\t%s\nrequester:\t%s\npurpose:\t%s\nstatus:\t%s\ncreated at:\theight %d\n",
		a.ID, a.Dataset, a.Requester, a.Purpose, a.Status, a.Created)
	if a.Decided != 0 {
		fmt.Fprintf(w, "decided at:\theight %d by %s\n", a.Decided, a.DecidedBy)
	}
	if a.Expiry != 0 {
		fmt.Fprintf(w, "expiry:\t%d\n", a.Expiry)
	}
}

func accessCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "access", Short: "Requests for access to datasets"}
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show an access request",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("ID", args[0])
			if err != nil {
				return err
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*ledger.AccessRequest, error) {
				return c.AccessRequest(ctx, id)
			}, showAccess)
		},
	}
	var f client.AccessFilter
	list := &cobra.Command{
		Use:   "list",
		Short: "List access requests",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Requester != "" {
				addr, err := e.address(f.Requester)
				if err != nil {
					return err
				}
				f.Requester = addr
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) ([]ledger.AccessRequest, error) {
				return c.AccessRequests(ctx, f)
			},
				func(w io.Writer, rs []ledger.AccessRequest) {
					fmt.Fprintln(w, "ID\tDATASET\tREQUESTER\tPURPOSE\tSTATUS")
					for _, r := range rs {
						fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\n", r.ID, r.Dataset, short(r.Requester), r.Purpose, r.Status)
					}
				})
		},
	}
	list.Flags().StringVar(&f.Dataset, "dataset", "", "only requests for this dataset")
	list.Flags().StringVar(&f.Requester, "requester", "", "only requests by this address or local key")
	list.Flags().StringVar(&f.Status, "status", "", "only requests in this state: pending, granted, denied")

	var (
		qtf              txFlags
		dataset, purpose string
	)
	request := &cobra.Command{
		Use:   "request",
		Short: "Ask a dataset's owner for access for one purpose",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.sendTx(cmd, &qtf, &ledger.RequestAccess{Dataset: dataset, Purpose: purpose}, func(ctx context.Context, c *client.Client, res *api.TxSubmitted) (any, string, error) {
				k, err := e.key(qtf.from)
				if err != nil {
					return nil, "", err
				}
				rs, err := c.AccessRequests(ctx, client.AccessFilter{Dataset: dataset, Requester: k.Address()})
				if err != nil {
					return nil, "", err
				}
				for i := len(rs) - 1; i >= 0; i-- {
					if rs[i].Created == res.Result.Height {
						return rs[i], fmt.Sprintf("access request %d for dataset %s (%s) is %s", rs[i].ID, dataset, purpose, rs[i].Status), nil
					}
				}
				return nil, "", nil
			})
		},
	}
	addTxFlags(request, &qtf)
	request.Flags().StringVar(&dataset, "dataset", "", "dataset id")
	request.Flags().StringVar(&purpose, "purpose", "", fmt.Sprintf("purpose: one of %v", ledger.Purposes))

	decide := func(grant bool) *cobra.Command {
		var (
			tf txFlags
			ex string
		)
		use, short := "grant ID", "Grant a pending request (by an institution account of the dataset's organisation)"
		if !grant {
			use, short = "deny ID", "Deny a pending request"
		}
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := uintArg("ID", args[0])
				if err != nil {
					return err
				}
				exp, err := parseExpiry("expiry", ex)
				if err != nil {
					return err
				}
				return e.sendTx(cmd, &tf, &ledger.DecideAccess{Request: id, Grant: grant, Expiry: exp}, func(ctx context.Context, c *client.Client, _ *api.TxSubmitted) (any, string, error) {
					a, err := c.AccessRequest(ctx, id)
					if err != nil {
						return nil, "", err
					}
					return a, fmt.Sprintf("access request %d is %s", a.ID, a.Status), nil
				})
			},
		}
		addTxFlags(c, &tf)
		if grant {
			c.Flags().StringVar(&ex, "expiry", "", "grant expiry: unix seconds, RFC 3339, or a duration from now")
		}
		return c
	}
	cmd.AddCommand(show, list, request, decide(true), decide(false))
	return cmd
}
