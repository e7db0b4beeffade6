package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/deal"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// Data deals (docs/patients.md, "Data deals"): buyers post, close and
// collect (`deal …`), patients accept and withdraw (`patient deals|accept|
// withdraw`), the data holder's worker delivers (`deal deliver`).

func dealCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "deal", Short: "Data deals: buy de-identified records that patients agree to sell"}
	cmd.AddCommand(dealPostCmd(e), dealShowCmd(e), dealListCmd(e), dealCloseCmd(e), dealRowsCmd(e), dealDeliverCmd(e))
	return cmd
}

// patientDealCmds are the patient's side, added to `medchain patient`.
func patientDealCmds(e *env) []*cobra.Command {
	return []*cobra.Command{patientDealsCmd(e), patientAcceptCmd(e), patientWithdrawCmd(e)}
}

func dealCreated(ctx context.Context, c *client.Client, res *api.TxSubmitted) (any, string, error) {
	for _, ev := range res.Result.Events {
		for _, a := range ev.Attrs {
			if ev.Type == "post_deal" && a.Key == "deal" {
				id, err := strconv.ParseUint(a.Value, 10, 64)
				if err != nil {
					return nil, "", err
				}
				d, err := c.Deal(ctx, id)
				if err != nil {
					return nil, "", err
				}
				return d, fmt.Sprintf("deal %d: %d escrowed, open until height %d", d.ID, d.Escrow, d.Expires-1), nil
			}
		}
	}
	return nil, "", nil
}

func dealPostCmd(e *env) *cobra.Command {
	var (
		tf                          txFlags
		purpose, org, buyerKey      string
		datasets, fields            []string
		price, budget, max, expires uint64
	)
	cmd := &cobra.Command{
		Use:   "post",
		Short: "Offer to buy records: the fields wanted, a price per record, a budget escrowed now",
		Long: `post signs a post_deal with --from (a researcher or institution account, the buyer). The deal
buys from the --dataset datasets (repeatable), or from any dataset of --org; the ledger checks
each named dataset's policy allows --purpose and the buyer, and that every --field is in its
schema and is neither a direct identifier nor free text. The --budget (at most
--max-records × --price) is escrowed; delivered records are paid from it, the rest comes back
when the deal is closed. Rows are encrypted to --from's X25519 key unless --buyer-key names
another (64 hex digits).

  medchain deal post --from rita-researcher --purpose commercial_research --dataset st-mary-cvd \
      --field age --field sbp --field smoker --price 100 --budget 5000 --max-records 50 --expiry-blocks 10000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(fields) == 0 {
				return fail("--field is required (repeatable): the schema fields to buy")
			}
			if len(datasets) == 0 && org == "" {
				return fail("name the datasets (--dataset, repeatable) or an institution (--org)")
			}
			k, err := e.key(tf.from)
			if err != nil {
				return err
			}
			bk := k.EncPub()
			if buyerKey != "" {
				if bk, err = hexFlag("buyer-key", buyerKey, 32); err != nil {
					return err
				}
			}
			msg := &ledger.PostDeal{Purpose: purpose, Datasets: datasets, Org: org, Fields: fields, PricePerRecord: price,
				Budget: budget, MaxRecords: max, ExpiryBlocks: expires, BuyerKey: bk}
			return e.sendTx(cmd, &tf, msg, dealCreated)
		},
	}
	addTxFlags(cmd, &tf)
	f := cmd.Flags()
	f.StringVar(&purpose, "purpose", "research", fmt.Sprintf("purpose of use: %v", ledger.Purposes))
	f.StringSliceVar(&datasets, "dataset", nil, "a dataset to buy from (repeatable)")
	f.StringVar(&org, "org", "", "buy from any dataset of this institution instead")
	f.StringSliceVar(&fields, "field", nil, "a schema field to buy (repeatable; never an identifier or free text)")
	f.Uint64Var(&price, "price", 0, "tokens per delivered record")
	f.Uint64Var(&budget, "budget", 0, "tokens escrowed now (at most --max-records × --price)")
	f.Uint64Var(&max, "max-records", 0, "most records the deal takes")
	f.Uint64Var(&expires, "expiry-blocks", 0, "blocks the deal stays open")
	f.StringVar(&buyerKey, "buyer-key", "", "X25519 public key rows are encrypted to, hex (default: --from's)")
	return cmd
}

// dealView is `deal show`: the deal and its acceptances.
type dealView struct {
	Deal        *ledger.Deal        `json:"deal"`
	Acceptances []ledger.Acceptance `json:"acceptances"`
}

func showDeal(w io.Writer, d *ledger.Deal) {
	from := "datasets " + strings.Join(d.Datasets, ", ")
	if d.Org != "" {
		from = "any dataset of " + d.Org
	}
	fmt.Fprintf(w, "deal:\t%d (%s)\nbuyer:\t%s\npurpose:\t%s\nfrom:\t%s\nfields:\t%s\n", d.ID, d.Status, d.Buyer, d.Purpose, from, strings.Join(d.Fields, ", "))
	fmt.Fprintf(w, "price per record:\t%d\nbudget:\t%d (escrow %d)\nrecords:\t%d pending, %d delivered, at most %d\n", d.PricePerRecord, d.Budget, d.Escrow, d.Pending, d.Delivered, d.MaxRecords)
	fmt.Fprintf(w, "paid:\tpatients %d, institutions %d, workers %d; refunded %d\nopen:\theights %d to %d\n", d.PaidPatients, d.PaidInstitutions, d.PaidWorkers, d.Refunded, d.Posted, d.Expires-1)
}

func dealShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a deal, its books and its acceptances",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("ID", args[0])
			if err != nil {
				return err
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*dealView, error) {
				d, err := c.Deal(ctx, id)
				if err != nil {
					return nil, err
				}
				acc, err := c.Acceptances(ctx, id, "")
				return &dealView{Deal: d, Acceptances: acc}, err
			}, func(w io.Writer, v *dealView) {
				showDeal(w, v.Deal)
				if len(v.Acceptances) > 0 {
					fmt.Fprintln(w, "\nPATIENT\tDATASET\tSTATUS\tACCEPTED\tROW")
					for _, a := range v.Acceptances {
						row := "-"
						if a.Delivery != nil {
							row = short(a.Delivery.RowHash)
						}
						fmt.Fprintf(w, "%s\t%s v%d\t%s\t%d\t%s\n", a.Patient, a.Dataset, a.Version, a.Status, a.Accepted, row)
					}
				}
			})
		},
	}
}

func showDeals(w io.Writer, ds []ledger.Deal) {
	fmt.Fprintln(w, "ID\tSTATUS\tBUYER\tPURPOSE\tFROM\tFIELDS\tPRICE\tRECORDS\tEXPIRES")
	for _, d := range ds {
		from := strings.Join(d.Datasets, ",")
		if d.Org != "" {
			from = "org:" + d.Org
		}
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%d\t%d/%d\t%d\n", d.ID, d.Status, short(d.Buyer), d.Purpose, from, strings.Join(d.Fields, ","),
			d.PricePerRecord, d.Pending+d.Delivered, d.MaxRecords, d.Expires)
	}
}

func dealListCmd(e *env) *cobra.Command {
	var f client.DealFilter
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List deals",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Buyer != "" {
				addr, err := e.address(f.Buyer)
				if err != nil {
					return fmt.Errorf("--buyer: %w", err)
				}
				f.Buyer = addr
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) ([]ledger.Deal, error) { return c.Deals(ctx, f) }, showDeals)
		},
	}
	cmd.Flags().StringVar(&f.Buyer, "buyer", "", "only this buyer's deals (address or key name)")
	cmd.Flags().StringVar(&f.Status, "status", "", "open or closed")
	cmd.Flags().StringVar(&f.Dataset, "dataset", "", "only deals naming this dataset")
	cmd.Flags().StringVar(&f.Org, "org", "", "only deals open to any dataset of this institution")
	return cmd
}

func dealCloseCmd(e *env) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "close ID",
		Short: "Close a deal and refund what is left of its escrow to the buyer (the buyer any time, anyone once expired)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("ID", args[0])
			if err != nil {
				return err
			}
			return e.sendTx(cmd, &tf, &ledger.CloseDeal{Deal: id}, func(ctx context.Context, c *client.Client, _ *api.TxSubmitted) (any, string, error) {
				d, err := c.Deal(ctx, id)
				if err != nil {
					return nil, "", err
				}
				return d, fmt.Sprintf("deal %d closed: %d delivered, %d refunded to %s", d.ID, d.Delivered, d.Refunded, d.Buyer), nil
			})
		},
	}
	addTxFlags(cmd, &tf)
	return cmd
}

func dealRowsCmd(e *env) *cobra.Command {
	var from, outFile string
	cmd := &cobra.Command{
		Use:   "rows ID",
		Short: "Download a deal's delivered rows, check each against the ledger, and decrypt them (buyer)",
		Long: `rows downloads each delivered record (GET /v1/deals/{id}/rows/{address}), refuses it unless
its SHA-256 is the row hash its delivery put on the ledger, decrypts it with --from's X25519 key
(the deal's buyer key) and checks it carries the deal's id and exactly its fields. The rows are
printed as JSON, or written to --out (0600).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("ID", args[0])
			if err != nil {
				return err
			}
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
			rows, err := deal.Fetch(ctx, c, id, k)
			if err != nil {
				return err
			}
			b, err := json.MarshalIndent(rows, "", "  ")
			if err != nil {
				return err
			}
			b = append(b, '\n')
			if outFile != "" {
				if err := os.WriteFile(outFile, b, 0o600); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %d row(s) of deal %d to %s (hashes checked against the ledger, decrypted)\n", len(rows), id, outFile)
				return nil
			}
			_, err = cmd.OutOrStdout().Write(b)
			return err
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the buyer's key (holds the deal's buyer key)")
	cmd.Flags().StringVar(&outFile, "out", "", "write the decrypted rows to this file")
	return cmd
}

func dealDeliverCmd(e *env) *cobra.Command {
	var from, org, dir, results, rules string
	cmd := &cobra.Command{
		Use:   "deliver",
		Short: "Deliver the accepted records of the institution's patients, once (the data holder's worker)",
		Long: `deliver runs the worker's delivery once: for every open deal with pending acceptances in a
dataset of --org, it finds each accepting wallet's row through the organisation's link table
(which --from, a registered worker key of --org, must be able to open), keeps only the deal's
fields as the dataset's de-identification profile made them, encrypts each row to the buyer,
stores it in the node's results store (<home>/results, which the API serves) and posts
deliver_deal_rows. Acceptances of wallets it holds no record for (not linked to one of its
patients, or no row in the accepted version) are declined (decline_acceptances), which frees
their places. It prints counts only: delivered, declined, and left pending by reason.

A node started by "medchain up" or "medchain node" runs this for its <org>-worker keys.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if org == "" {
				return fail("--org is required: the organisation the worker delivers for")
			}
			k, err := e.key(from)
			if err != nil {
				return err
			}
			if dir == "" {
				dir = filepath.Join(e.g.home, "vault")
			}
			if results == "" {
				results = compute.ResultsDir(e.g.home)
			}
			v, err := vaultcfg.Open(dir)
			if err != nil {
				return err
			}
			store, err := compute.OpenResultStore(results)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			d := &deal.Deliverer{Key: k, Org: org, Vault: v, Ledger: c, Store: store, Log: slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))}
			if rules != "" {
				r, err := deid.Load(rules)
				if err != nil {
					return err
				}
				h, err := r.Hash()
				if err != nil {
					return err
				}
				d.Profiles = func(hash string) (*deid.Rules, error) {
					if hash != h && hash != "" {
						return nil, fmt.Errorf("--deid %s is profile %s, the version names %s", rules, h, hash)
					}
					return r, nil
				}
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			out, err := d.RunOnce(ctx)
			if out == nil {
				out = []deal.Outcome{}
			}
			if serr := e.show(cmd, out, func(w io.Writer) {
				if len(out) == 0 {
					fmt.Fprintln(w, "nothing to deliver")
				}
				for _, o := range out {
					fmt.Fprintf(w, "deal %d:\t%d delivered, %d declined", o.Deal, o.Delivered, o.Declined)
					for reason, n := range o.Skipped {
						fmt.Fprintf(w, ", %d skipped (%s)", n, reason)
					}
					fmt.Fprintln(w)
				}
			}); serr != nil {
				return serr
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the worker's key (a registered worker of --org)")
	f.StringVar(&org, "org", "", "the organisation whose datasets it delivers from")
	f.StringVar(&dir, "vault", "", "vault directory (default <home>/vault)")
	f.StringVar(&results, "results", "", "results store the API serves rows from (default <home>/results)")
	f.StringVar(&rules, "deid", "", "de-identification rules the datasets were ingested with (default Safe Harbor)")
	return cmd
}

// patientDealsView is `patient deals`: the open deals, and the patient's
// acceptances.
type patientDealsView struct {
	Open        []ledger.Deal       `json:"open"`
	Acceptances []ledger.Acceptance `json:"acceptances"`
}

func patientDealsCmd(e *env) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "deals",
		Short: "List open data deals, and the deals the patient (--from) accepted and what each paid",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			patient := ""
			if from != "" {
				addr, err := e.address(from)
				if err != nil {
					return fmt.Errorf("--from: %w", err)
				}
				patient = addr
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*patientDealsView, error) {
				open, err := c.Deals(ctx, client.DealFilter{Status: ledger.DealOpen})
				if err != nil {
					return nil, err
				}
				v := &patientDealsView{Open: open, Acceptances: []ledger.Acceptance{}}
				if patient != "" {
					v.Acceptances, err = c.PatientDeals(ctx, patient)
				}
				return v, err
			}, func(w io.Writer, v *patientDealsView) {
				showDeals(w, v.Open)
				if patient == "" {
					return
				}
				fmt.Fprintln(w, "\nYOUR DEALS\tDATASET\tSTATUS\tACCEPTED\tPAID")
				for _, a := range v.Acceptances {
					paid := "-"
					if a.Delivery != nil {
						paid = fmt.Sprint(a.Delivery.Patient)
					}
					fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\n", a.Deal, a.Dataset, a.Status, a.Accepted, paid)
				}
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the patient's key name or address (shows their acceptances too)")
	return cmd
}

func patientAcceptCmd(e *env) *cobra.Command {
	var (
		tf      txFlags
		dataset string
	)
	cmd := &cobra.Command{
		Use:   "accept DEAL",
		Short: "Agree to sell your de-identified record to a deal's buyer (signed by the patient)",
		Long: `accept signs accept_deal with the patient's key (--from): the deal and the dataset that holds
your record (--dataset), nothing else — no patient id or record reaches the ledger. The
institution's worker then delivers your row, only the fields the deal asks for, de-identified
and encrypted to the buyer, and you are paid the deal's price less the institution's and the
worker's shares. You can withdraw until it is delivered.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("DEAL", args[0])
			if err != nil {
				return err
			}
			if dataset == "" {
				return fail("--dataset is required: the dataset that holds your record (one the deal buys from)")
			}
			return e.sendTx(cmd, &tf, &ledger.AcceptDeal{Deal: id, Dataset: dataset}, nil)
		},
	}
	addTxFlags(cmd, &tf)
	cmd.Flags().StringVar(&dataset, "dataset", "", "the dataset holding your record")
	return cmd
}

func patientWithdrawCmd(e *env) *cobra.Command {
	var tf txFlags
	cmd := &cobra.Command{
		Use:   "withdraw DEAL",
		Short: "Withdraw your acceptance of a deal before your record is delivered",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := uintArg("DEAL", args[0])
			if err != nil {
				return err
			}
			return e.sendTx(cmd, &tf, &ledger.WithdrawAcceptance{Deal: id}, nil)
		},
	}
	addTxFlags(cmd, &tf)
	return cmd
}
