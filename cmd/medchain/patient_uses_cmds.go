package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/receipts"
	"github.com/medchain/medchain/rewards"
)

// A patient's own view of the use of their records, and their rewards
// (issue 12; docs/patients.md, "Usage receipts and rewards").

// patientUsesCmds are `patient uses`, `patient rewards` and `patient claim`.
func patientUsesCmds(e *env) []*cobra.Command {
	return []*cobra.Command{patientUsesCmd(e), patientRewardsCmd(e), patientClaimCmd(e)}
}

// Use is one line of `patient uses`: a job site whose receipts hold the
// patient's tag.
type Use struct {
	Job            uint64 `json:"job"`
	Requester      string `json:"requester"`
	Purpose        string `json:"purpose"`
	Analysis       string `json:"analysis"`
	Dataset        string `json:"dataset"`
	When           string `json:"when"` // the job's admission, RFC 3339
	AdmittedHeight int64  `json:"admitted_height"`
	ReleasedHeight int64  `json:"released_height"`
}

// Uses is what `patient uses` prints: the receipt sets scanned and the uses found.
type Uses struct {
	Patient string `json:"patient"`
	Scanned int    `json:"scanned"`
	Uses    []Use  `json:"uses"`
}

// scanUses downloads every complete receipt set from job `from` on and
// keeps those the key recognises. Nothing about the key leaves this
// process: the node serves every set to everyone alike.
func scanUses(ctx context.Context, c *client.Client, k *keys.Key, from uint64) (*Uses, error) {
	chain, err := c.Chain(ctx)
	if err != nil {
		return nil, err
	}
	sets, err := c.AllReceipts(ctx, from)
	if err != nil {
		return nil, err
	}
	sc := receipts.NewScanner(k.Enc, chain)
	out := &Uses{Patient: k.Address(), Scanned: len(sets), Uses: []Use{}}
	for _, s := range sets {
		ok, err := sc.Recognises(s.WorkerEncKey, s.Job, s.Dataset, s.Tags)
		if err != nil {
			return nil, fmt.Errorf("receipts of job %d %s: %w", s.Job, s.Dataset, err)
		}
		if ok {
			out.Uses = append(out.Uses, useOf(&s))
		}
	}
	return out, nil
}

func useOf(s *api.ReceiptView) Use {
	return Use{Job: s.Job, Requester: s.Requester, Purpose: s.Purpose, Analysis: s.Analysis, Dataset: s.Dataset,
		When: time.Unix(s.AdmittedTime, 0).UTC().Format(time.RFC3339), AdmittedHeight: s.AdmittedHeight, ReleasedHeight: s.ReleasedHeight}
}

func patientUsesCmd(e *env) *cobra.Command {
	var from string
	var since uint64
	cmd := &cobra.Command{
		Use:   "uses",
		Short: "List the jobs that used your records (scans the public receipts with your key)",
		Long: `uses downloads every job's usage receipts from the node and recognises, on this machine,
the ones made for your key: a job lists you only if its data holder's worker included
your records. The node cannot tell whose receipts you looked for.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := e.key(from)
			if err != nil {
				return err
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*Uses, error) {
				return scanUses(ctx, c, k, since)
			}, func(w io.Writer, u *Uses) {
				if len(u.Uses) == 0 {
					fmt.Fprintf(w, "no job used the records of %s (%d receipt sets scanned)\n", u.Patient, u.Scanned)
					return
				}
				fmt.Fprintln(w, "JOB\tREQUESTER\tPURPOSE\tANALYSIS\tDATASET\tWHEN")
				for _, x := range u.Uses {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\n", x.Job, short(x.Requester), x.Purpose, x.Analysis, x.Dataset, x.When)
				}
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the patient's key (in <home>/keys)")
	cmd.Flags().Uint64Var(&since, "since", 0, "scan jobs from this id on")
	return cmd
}

// rewardRequest signs a request to org's node for the key.
func rewardRequest(ctx context.Context, c *client.Client, k *keys.Key, org, action, recipient string, unit uint64) (*rewards.Request, error) {
	chain, err := c.Chain(ctx)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	r := &rewards.Request{ChainID: chain, Org: org, Action: action, Recipient: recipient, Unit: unit, ID: hex.EncodeToString(id), Time: time.Now().Unix()}
	r.Sign(k.Sign)
	return r, nil
}

func patientRewardsCmd(e *env) *cobra.Command {
	var from, org string
	cmd := &cobra.Command{
		Use:   "rewards",
		Short: "Ask an institution's node what your records earned there (a request you sign)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if org == "" {
				return fail("--org is required: the institution whose node keeps your tally")
			}
			k, err := e.key(from)
			if err != nil {
				return err
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*rewards.Answer, error) {
				req, err := rewardRequest(ctx, c, k, org, rewards.ActionBalance, "", 0)
				if err != nil {
					return nil, err
				}
				return c.Rewards(ctx, req)
			}, func(w io.Writer, a *rewards.Answer) {
				fmt.Fprintf(w, "%s at %s: %d tokens to claim\n", a.Wallet, a.Org, a.Balance)
				if len(a.Uses) > 0 {
					fmt.Fprintln(w, "JOB\tDATASET\tEARNED PER RECORD\tSETTLED")
					for _, u := range a.Uses {
						fmt.Fprintf(w, "%d\t%s\t%d.%06d\t%t\n", u.Job, u.Dataset, u.PerRow/rewards.Micro, u.PerRow%rewards.Micro, u.Settled)
					}
				}
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the patient's key (in <home>/keys)")
	cmd.Flags().StringVar(&org, "org", "", "the institution")
	return cmd
}

// Claimed is what `patient claim` prints.
type Claimed struct {
	Org       string      `json:"org"`
	Recipient string      `json:"recipient"`
	Claimed   uint64      `json:"claimed"`
	Claims    []ClaimedTx `json:"claims"`
}

// ClaimedTx is one voucher redeemed.
type ClaimedTx struct {
	Amount uint64      `json:"amount"`
	Hash   string      `json:"hash"`
	Code   ledger.Code `json:"code"`
	Log    string      `json:"log,omitempty"`
}

func patientClaimCmd(e *env) *cobra.Command {
	var from, org, to string
	var unit uint64
	cmd := &cobra.Command{
		Use:   "claim",
		Short: "Collect your rewards at an institution: vouchers paid to a wallet you choose",
		Long: `claim asks the institution's node (with a request you sign) for vouchers worth what your
records earned there, in fixed denominations, and redeems each with a claim_reward
transaction signed by the recipient wallet. A claim names the institution, the amount and
the recipient — no job, dataset or cohort. Paid to your own wallet it shows that you
have records at the institution; --to another key of yours (registered here if it is new)
keeps the two apart. The claims together show your balance rounded down to --unit (what
is below it waits for the next claim): after a single job, an exact balance would tell the
job's cohort size.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if org == "" {
				return fail("--org is required: the institution whose node keeps your tally")
			}
			k, err := e.key(from)
			if err != nil {
				return err
			}
			rk := k
			if to != "" {
				if rk, err = keys.Load(e.keysDir(), to); err != nil {
					return fmt.Errorf("--to: %w", err)
				}
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			if _, err := c.Account(ctx, rk.Address()); client.IsNotFound(err) {
				r, err := c.SignAndSubmit(ctx, rk, &ledger.RegisterAccount{PubKey: rk.PubKey(), EncKey: rk.EncPub(), Kind: ledger.KindPatient}, true)
				if err == nil {
					err = client.ResultError(r)
				}
				if err != nil {
					return fmt.Errorf("--to: registering the recipient wallet: %w", err)
				}
			} else if err != nil {
				return err
			}
			req, err := rewardRequest(ctx, c, k, org, rewards.ActionVouchers, rk.Address(), unit)
			if err != nil {
				return err
			}
			a, err := c.Rewards(ctx, req)
			if err != nil {
				return err
			}
			out := &Claimed{Org: org, Recipient: rk.Address(), Claims: []ClaimedTx{}}
			var failed error
			for _, v := range a.Vouchers {
				r, err := c.SignAndSubmit(ctx, rk, &ledger.ClaimReward{Voucher: v}, true)
				if err != nil {
					return err
				}
				ct := ClaimedTx{Amount: v.Amount, Hash: r.Hash}
				if r.Result != nil {
					ct.Code, ct.Log = r.Result.Code, r.Result.Log
				}
				if err := client.ResultError(r); err != nil {
					failed = err
				} else {
					out.Claimed += v.Amount
				}
				out.Claims = append(out.Claims, ct)
			}
			if err := e.show(cmd, out, func(w io.Writer) {
				if len(out.Claims) == 0 {
					fmt.Fprintf(w, "nothing to claim at %s\n", org)
					return
				}
				fmt.Fprintf(w, "claimed %d tokens from %s to %s in %d vouchers\n", out.Claimed, org, out.Recipient, len(out.Claims))
				for _, x := range out.Claims {
					fmt.Fprintf(w, "%d\t%s\t%s\n", x.Amount, x.Hash, x.Code)
				}
			}); err != nil {
				return err
			}
			return failed
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the patient's key (in <home>/keys): signs the request")
	cmd.Flags().StringVar(&org, "org", "", "the institution")
	cmd.Flags().StringVar(&to, "to", "", "the key of the wallet to pay (default --from); registered as a patient wallet if new")
	cmd.Flags().Uint64Var(&unit, "unit", 10, fmt.Sprintf("the smallest denomination to claim, one of %v", ledger.RewardDenominations))
	return cmd
}
