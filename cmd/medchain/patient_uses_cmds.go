package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
//
// A patient with a secret (`patient keys`) holds a different wallet at each
// institution; --secret NAME makes these commands work across all of them:
// uses scans the receipts with every institution's wallet, rewards and
// claim ask each institution with the wallet it knows.

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
	// Wallet is the patient's wallet whose key recognised the receipt and,
	// with --secret, Institution the institution that wallet is for.
	Wallet      string `json:"wallet"`
	Institution string `json:"institution,omitempty"`
}

// Uses is what `patient uses` prints: the receipt sets scanned and the uses found.
type Uses struct {
	Patient string   `json:"patient"` // the key (--from) or the secret (--secret)
	Wallets []string `json:"wallets"` // the wallets scanned with
	Scanned int      `json:"scanned"`
	Uses    []Use    `json:"uses"`
}

// orgWallet is one of a patient's wallets: with --secret, the one derived
// for an institution; with --from, the key itself (org as --org says).
type orgWallet struct {
	org string
	key *keys.Key
}

// patientFlags select a patient's wallets: one key, or every institution
// wallet of a secret.
type patientFlags struct {
	from, secret, org string
	orgNodes          []string            // ORG=ADDR: the node that answers for ORG
	served            map[string][]string // node → the institutions it answers for
}

func (f *patientFlags) add(cmd *cobra.Command, orgUse string) {
	cmd.Flags().StringVar(&f.from, "from", "", "the patient's key (in <home>/keys)")
	cmd.Flags().StringVar(&f.secret, "secret", "", "the patient's secret (patient keys init): use the wallet it gives at each institution")
	cmd.Flags().StringVar(&f.org, "org", "", orgUse)
}

// wallets resolves the flags. With --secret they are the secret's wallets
// at --org, or at every organisation on the ledger.
func (f *patientFlags) wallets(ctx context.Context, e *env, c *client.Client) ([]orgWallet, error) {
	switch {
	case f.from != "" && f.secret != "":
		return nil, fail("--from and --secret: name one (a key, or a patient secret whose institution wallets are used)")
	case f.secret == "":
		k, err := e.key(f.from)
		if err != nil {
			return nil, err
		}
		return []orgWallet{{f.org, k}}, nil
	}
	s, err := keys.LoadPatientSecret(e.keysDir(), f.secret, keys.DefaultPassphrase)
	if err != nil {
		return nil, fmt.Errorf("--secret: %w", err)
	}
	defer clear(s)
	orgs := []string{f.org}
	if f.org == "" {
		all, err := c.Orgs(ctx)
		if err != nil {
			return nil, err
		}
		orgs = orgs[:0]
		for _, o := range all {
			orgs = append(orgs, o.ID)
		}
		slices.Sort(orgs)
	}
	var out []orgWallet
	for _, org := range orgs {
		k, err := keys.PatientWallet(s, org, f.secret+"."+org)
		if err != nil {
			return nil, fail("--org: %v", err)
		}
		out = append(out, orgWallet{org, k})
	}
	return out, nil
}

// registered keeps the wallets that are patient accounts on the ledger: a
// wallet never registered was never linked, and has nothing to ask for.
func registered(ctx context.Context, c *client.Client, ws []orgWallet) ([]orgWallet, error) {
	var out []orgWallet
	for _, w := range ws {
		a, err := c.Account(ctx, w.key.Address())
		if client.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if a.Kind == ledger.KindPatient {
			out = append(out, w)
		}
	}
	return out, nil
}

// nodeFor is the client for the node that answers for org: --org-node's,
// else --node's. With --secret, a wallet's request goes only to a node
// that says (GET /v1/rewards) it answers for the wallet's institution: a
// node that saw the wallets of one patient at several institutions ask
// together could link them. For such an org nodeFor returns no client and
// says why.
func (f *patientFlags) nodeFor(ctx context.Context, c *client.Client, org string) (*client.Client, string, error) {
	n := c
	for _, on := range f.orgNodes {
		o, addr, ok := strings.Cut(on, "=")
		if !ok || o == "" || addr == "" {
			return nil, "", fail("--org-node %q: want ORG=ADDRESS", on)
		}
		if o == org {
			n = client.New(addr)
			n.ChainID, n.Trusted = c.ChainID, c.Trusted
		}
	}
	if f.secret == "" {
		return n, "", nil // one key, one institution: the node the patient named
	}
	if f.served == nil {
		f.served = map[string][]string{}
	}
	orgs, ok := f.served[n.BaseURL()]
	if !ok {
		var err error
		if orgs, err = n.RewardOrgs(ctx); err != nil {
			return nil, "", fmt.Errorf("%s: asking the node which institutions it answers for: %w", org, err)
		}
		f.served[n.BaseURL()] = orgs
	}
	if !slices.Contains(orgs, org) {
		return nil, "not asked: the node does not answer for this institution (name its node with --org-node " + org + "=ADDR)", nil
	}
	return n, "", nil
}

// scanUses downloads every complete receipt set from job `from` on and
// keeps those one of the wallets recognises. Nothing about the keys leaves
// this process: the node serves every set to everyone alike.
func scanUses(ctx context.Context, c *client.Client, ws []orgWallet, secret bool, from uint64) (*Uses, error) {
	chain, err := c.Chain(ctx)
	if err != nil {
		return nil, err
	}
	sets, err := c.AllReceipts(ctx, from)
	if err != nil {
		return nil, err
	}
	out := &Uses{Scanned: len(sets), Uses: []Use{}}
	scanners := make([]*receipts.Scanner, len(ws))
	for i, w := range ws {
		scanners[i] = receipts.NewScanner(w.key.Enc, chain)
		out.Wallets = append(out.Wallets, w.key.Address())
	}
	for _, s := range sets {
		for i, sc := range scanners {
			ok, err := sc.Recognises(s.WorkerEncKey, s.Job, s.Dataset, s.Tags)
			if err != nil {
				return nil, fmt.Errorf("receipts of job %d %s: %w", s.Job, s.Dataset, err)
			}
			if ok {
				u := useOf(&s)
				u.Wallet = ws[i].key.Address()
				if secret {
					u.Institution = ws[i].org
				}
				out.Uses = append(out.Uses, u)
			}
		}
	}
	return out, nil
}

func useOf(s *api.ReceiptView) Use {
	return Use{Job: s.Job, Requester: s.Requester, Purpose: s.Purpose, Analysis: s.Analysis, Dataset: s.Dataset,
		When: time.Unix(s.AdmittedTime, 0).UTC().Format(time.RFC3339), AdmittedHeight: s.AdmittedHeight, ReleasedHeight: s.ReleasedHeight}
}

func patientUsesCmd(e *env) *cobra.Command {
	var pf patientFlags
	var since uint64
	cmd := &cobra.Command{
		Use:   "uses",
		Short: "List the jobs that used your records (scans the public receipts with your keys)",
		Long: `uses downloads every job's usage receipts from the node and recognises, on this machine,
the ones made for your key: a job lists you only if its data holder's worker included
your records. The node cannot tell whose receipts you looked for.

--from KEY scans with one key; --secret NAME with the wallet the patient secret NAME gives
at every institution on the ledger (or at --org), so uses at all your institutions are
listed together, each with the institution whose wallet recognised it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pf.from == "" && pf.secret == "" {
				return fail("--from or --secret is required: your key, or your patient secret")
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*Uses, error) {
				ws, err := pf.wallets(ctx, e, c)
				if err != nil {
					return nil, err
				}
				u, err := scanUses(ctx, c, ws, pf.secret != "", since)
				if err != nil {
					return nil, err
				}
				u.Patient = pf.from + pf.secret
				return u, nil
			}, func(w io.Writer, u *Uses) {
				if len(u.Uses) == 0 {
					fmt.Fprintf(w, "no job used the records of %s (%d receipt sets scanned with %d wallets)\n", u.Patient, u.Scanned, len(u.Wallets))
					return
				}
				fmt.Fprintln(w, "JOB\tREQUESTER\tPURPOSE\tANALYSIS\tDATASET\tWHEN\tWALLET")
				for _, x := range u.Uses {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Job, short(x.Requester), x.Purpose, x.Analysis, x.Dataset, x.When, short(x.Wallet))
				}
			})
		},
	}
	pf.add(cmd, "with --secret: only the wallet for this institution")
	cmd.Flags().Uint64Var(&since, "since", 0, "scan jobs from this id on")
	return cmd
}

// rewardRequest signs a request to org's node for the key.
func rewardRequest(ctx context.Context, c *client.Client, k *keys.Key, org, action, recipient string, unit uint64, notes uint32) (*rewards.Request, error) {
	chain, err := c.Chain(ctx)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return nil, err
	}
	r := &rewards.Request{ChainID: chain, Org: org, Action: action, Recipient: recipient, Unit: unit, Notes: notes, ID: hex.EncodeToString(id), Time: time.Now().Unix()}
	r.Sign(k.Sign)
	return r, nil
}

// PatientRewards is what `patient rewards` prints: the balance at each
// institution asked, and their sum.
type PatientRewards struct {
	Total uint64     `json:"total"`
	At    []RewardAt `json:"at"`
}

// RewardAt is one institution's answer; Note says why there is none (its
// node does not answer for it, or the wallet is linked to no record there).
type RewardAt struct {
	Org     string          `json:"org"`
	Wallet  string          `json:"wallet"`
	Balance uint64          `json:"balance"`
	Uses    []rewards.Use   `json:"uses"`
	Note    string          `json:"note,omitempty"`
	answer  *rewards.Answer `json:"-"`
}

// isNoTally reports an institution that has nothing for the wallet: its node
// keeps no tally for it, or the wallet is linked to no record there.
func isNoTally(err error) bool {
	var ce *client.Error
	return errors.As(err, &ce) && ce.Status == 404
}

func patientRewardsCmd(e *env) *cobra.Command {
	var pf patientFlags
	cmd := &cobra.Command{
		Use:   "rewards",
		Short: "Ask institutions' nodes what your records earned there (requests you sign)",
		Long: `rewards asks an institution's node, with a request you sign, what your records earned
there: the balance you can claim and the jobs your records were used in (no amount per job:
it would tell the job's cohort size). --from KEY --org ORG asks one institution with one key;
--secret NAME asks every institution where the secret's wallet is a registered patient
account (or only --org), each with its own wallet; --org-node ORG=ADDR sends an institution's
request to its own node (default --node).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pf.secret == "" && pf.org == "" {
				return fail("--org is required with --from: the institution whose node keeps your tally (or --secret for all)")
			}
			if pf.from == "" && pf.secret == "" {
				return fail("--from or --secret is required: your key, or your patient secret")
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*PatientRewards, error) {
				ws, err := pf.wallets(ctx, e, c)
				if err != nil {
					return nil, err
				}
				if pf.secret != "" {
					if ws, err = registered(ctx, c, ws); err != nil {
						return nil, err
					}
				}
				out := &PatientRewards{At: []RewardAt{}}
				for _, w := range ws {
					n, why, err := pf.nodeFor(ctx, c, w.org)
					if err != nil {
						return nil, err
					}
					if n == nil {
						out.At = append(out.At, RewardAt{Org: w.org, Wallet: w.key.Address(), Uses: []rewards.Use{}, Note: why})
						continue
					}
					req, err := rewardRequest(ctx, n, w.key, w.org, rewards.ActionBalance, "", 0, 0)
					if err != nil {
						return nil, err
					}
					a, err := n.Rewards(ctx, req)
					if pf.secret != "" && isNoTally(err) {
						out.At = append(out.At, RewardAt{Org: w.org, Wallet: w.key.Address(), Uses: []rewards.Use{}, Note: noteOf(err)})
						continue
					}
					if err != nil {
						return nil, fmt.Errorf("%s: %w", w.org, err)
					}
					out.At = append(out.At, RewardAt{Org: w.org, Wallet: a.Wallet, Balance: a.Balance, Uses: a.Uses})
					out.Total += a.Balance
				}
				return out, nil
			}, func(w io.Writer, r *PatientRewards) {
				for _, at := range r.At {
					if at.Note != "" {
						fmt.Fprintf(w, "%s at %s: %s\n", short(at.Wallet), at.Org, at.Note)
						continue
					}
					fmt.Fprintf(w, "%s at %s: %d tokens to claim\n", short(at.Wallet), at.Org, at.Balance)
					if len(at.Uses) > 0 {
						fmt.Fprintln(w, "  JOB\tDATASET\tSETTLED")
						for _, u := range at.Uses {
							fmt.Fprintf(w, "  %d\t%s\t%t\n", u.Job, u.Dataset, u.Settled)
						}
					}
				}
				if len(r.At) != 1 {
					fmt.Fprintf(w, "%d tokens to claim at %d institutions\n", r.Total, len(r.At))
				}
			})
		},
	}
	pf.add(cmd, "the institution (with --secret: only this one)")
	cmd.Flags().StringArrayVar(&pf.orgNodes, "org-node", nil, "ORG=ADDR: the node that answers for ORG (repeatable; default --node)")
	return cmd
}

func noteOf(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Message
	}
	return err.Error()
}

// Claimed is what `patient claim` prints: every note redeemed, at every
// institution asked.
type Claimed struct {
	Claimed uint64      `json:"claimed"`
	Claims  []ClaimedTx `json:"claims"`
	Notes   []string    `json:"notes,omitempty"` // institutions with nothing for the wallet, and why
}

// ClaimedTx is one note redeemed.
type ClaimedTx struct {
	Org       string      `json:"org"`
	Amount    uint64      `json:"amount"`
	Recipient string      `json:"recipient"`
	Hash      string      `json:"hash"`
	Code      ledger.Code `json:"code"`
	Log       string      `json:"log,omitempty"`
}

// ensurePatientAccount registers k as a patient wallet if it is new.
func ensurePatientAccount(ctx context.Context, c *client.Client, k *keys.Key) error {
	_, err := c.Account(ctx, k.Address())
	if !client.IsNotFound(err) {
		return err
	}
	r, err := c.SignAndSubmit(ctx, k, &ledger.RegisterAccount{PubKey: k.PubKey(), EncKey: k.EncPub(), Kind: ledger.KindPatient}, true)
	if err == nil {
		err = client.ResultError(r)
	}
	if err != nil {
		return fmt.Errorf("registering the recipient wallet %s: %w", k.Name, err)
	}
	return nil
}

// noteKeyName is the key file of a --fresh note wallet of wallet w.
func noteKeyName(w *keys.Key, addr string) string { return w.Name + ".note-" + addr[:12] }

// findNoteKey is the key of the wallet a note pays, among those this
// command may have paid: the asking wallet, --to's, a --fresh note wallet.
func findNoteKey(e *env, recipient string, w, to *keys.Key) *keys.Key {
	for _, k := range []*keys.Key{w, to} {
		if k != nil && k.Address() == recipient {
			return k
		}
	}
	k, err := keys.Load(e.keysDir(), noteKeyName(w, recipient))
	if err != nil || k.Address() != recipient {
		return nil
	}
	return k
}

// claimNote submits one note's claim signed by k and records it in out. A
// note offered again (outstanding) that the ledger finds claimed already
// (its claim committed after the node looked) is not a failure.
func claimNote(ctx context.Context, c *client.Client, k *keys.Key, org string, v ledger.Voucher, out *Claimed, outstanding bool) error {
	if err := ensurePatientAccount(ctx, c, k); err != nil {
		return err
	}
	r, err := c.SignAndSubmit(ctx, k, &ledger.ClaimReward{Voucher: v}, true)
	if err != nil {
		return err
	}
	ct := ClaimedTx{Org: org, Amount: v.Amount, Recipient: v.Recipient, Hash: r.Hash}
	if r.Result != nil {
		ct.Code, ct.Log = r.Result.Code, r.Result.Log
	}
	out.Claims = append(out.Claims, ct)
	err = client.ResultError(r)
	if err == nil {
		out.Claimed += v.Amount
	}
	if outstanding && ct.Code == ledger.CodeNullifierSpent {
		return nil
	}
	return err
}

func patientClaimCmd(e *env) *cobra.Command {
	var pf patientFlags
	var to string
	var unit uint64
	var notes uint32
	var fresh bool
	cmd := &cobra.Command{
		Use:   "claim",
		Short: "Collect your rewards: notes of fixed denominations paid to wallets you choose",
		Long: `claim asks an institution's node (with a request you sign) for notes worth what your
records earned there — powers of two, one note per binary digit of your balance, each with
its own nullifier — and redeems each with a claim_reward transaction signed by its
recipient. A claim names the institution, a power of two and the recipient: no job, dataset
or cohort. What you do not claim stays in the pool, yours to claim later.

Claims sent together to one wallet add up to your exact balance, which after a single job
is about that job's pool share over its cohort. To keep them apart: --notes 1 takes one
note now (the largest) and leaves the rest for later; --fresh pays each note to a new
wallet of its own (a key written to <home>/keys and registered here); --to pays another
key of yours. Paid to your institution wallet, a claim shows you have records there.

--from KEY --org ORG claims at one institution with one key; --secret NAME at every
institution where the secret's wallet is a registered patient account (or only --org).
Claims at several institutions in one run land in the same blocks, which may suggest they are
one patient's: claim with --org, one institution at a time, to avoid it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if pf.secret == "" && pf.org == "" {
				return fail("--org is required with --from: the institution whose node keeps your tally (or --secret for all)")
			}
			if pf.from == "" && pf.secret == "" {
				return fail("--from or --secret is required: your key, or your patient secret")
			}
			if to != "" && fresh {
				return fail("--to and --fresh: choose one recipient rule")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			var toKey *keys.Key
			if to != "" {
				if toKey, err = keys.Load(e.keysDir(), to); err != nil {
					return fmt.Errorf("--to: %w", err)
				}
				if err := ensurePatientAccount(ctx, c, toKey); err != nil {
					return fmt.Errorf("--to: %w", err)
				}
			}
			ws, err := pf.wallets(ctx, e, c)
			if err != nil {
				return err
			}
			if pf.secret != "" {
				if ws, err = registered(ctx, c, ws); err != nil {
					return err
				}
			}
			out := &Claimed{Claims: []ClaimedTx{}}
			var failed error
			for _, w := range ws {
				n, why, err := pf.nodeFor(ctx, c, w.org)
				if err != nil {
					return err
				}
				if n == nil {
					out.Notes = append(out.Notes, w.org+": "+why)
					continue
				}
				// One request for every note, or (--fresh) one per note,
				// each to its own new wallet.
				for taken := uint32(0); notes == 0 || taken < notes; {
					rk := w.key
					per := notes - taken
					if notes == 0 {
						per = 0
					}
					switch {
					case toKey != nil:
						rk = toKey
					case fresh:
						// The note's wallet is kept before it is asked for:
						// its key is the only way to the tokens, and a note
						// whose answer is lost comes back (outstanding).
						if rk, err = keys.Generate("note"); err != nil {
							return err
						}
						rk.Name = noteKeyName(w.key, rk.Address())
						if err := rk.Save(e.keysDir()); err != nil {
							return err
						}
						per = 1
					}
					req, err := rewardRequest(ctx, n, w.key, w.org, rewards.ActionVouchers, rk.Address(), unit, per)
					if err != nil {
						return err
					}
					a, err := n.Rewards(ctx, req)
					if pf.secret != "" && isNoTally(err) {
						out.Notes = append(out.Notes, w.org+": "+noteOf(err))
						break
					}
					if err != nil {
						return fmt.Errorf("%s: %w", w.org, err)
					}
					// Notes issued before and not claimed: claim each with
					// the key of the wallet it pays, if this home has it.
					for _, v := range a.Outstanding {
						k := findNoteKey(e, v.Recipient, w.key, toKey)
						if k == nil {
							out.Notes = append(out.Notes, fmt.Sprintf("%s: a note of %d to %s, issued earlier: no key for that wallet here", w.org, v.Amount, v.Recipient))
							continue
						}
						if err := claimNote(ctx, c, k, w.org, v, out, true); err != nil {
							failed = err
						}
					}
					if len(a.Vouchers) == 0 {
						if fresh {
							os.Remove(filepath.Join(e.keysDir(), rk.Name+".json")) // nothing was paid to it
						}
						break
					}
					if fresh {
						if err := ensurePatientAccount(ctx, c, rk); err != nil {
							return err
						}
					}
					for _, v := range a.Vouchers {
						if err := claimNote(ctx, c, rk, w.org, v, out, false); err != nil {
							failed = err
						}
					}
					taken += uint32(len(a.Vouchers))
					if !fresh {
						break
					}
				}
			}
			if err := e.show(cmd, out, func(w io.Writer) {
				for _, n := range out.Notes {
					fmt.Fprintln(w, n)
				}
				if len(out.Claims) == 0 {
					fmt.Fprintln(w, "nothing to claim")
					return
				}
				fmt.Fprintf(w, "claimed %d tokens in %d notes\n", out.Claimed, len(out.Claims))
				fmt.Fprintln(w, "ORG\tAMOUNT\tRECIPIENT\tTX\tRESULT")
				for _, x := range out.Claims {
					fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\n", x.Org, x.Amount, short(x.Recipient), x.Hash, x.Code)
				}
			}); err != nil {
				return err
			}
			return failed
		},
	}
	pf.add(cmd, "the institution (with --secret: only this one)")
	cmd.Flags().StringArrayVar(&pf.orgNodes, "org-node", nil, "ORG=ADDR: the node that answers for ORG (repeatable; default --node)")
	cmd.Flags().StringVar(&to, "to", "", "the key of the wallet to pay (default the wallet that asks); registered as a patient wallet if new")
	cmd.Flags().BoolVar(&fresh, "fresh", false, "pay each note to a new wallet of its own (written to <home>/keys, registered)")
	cmd.Flags().Uint32Var(&notes, "notes", 0, fmt.Sprintf("take at most this many notes per institution, the largest first (0: all, up to %d)", rewards.MaxVouchers))
	cmd.Flags().Uint64Var(&unit, "unit", 1, "the smallest note to take, a power of two (smaller ones wait for a later claim)")
	return cmd
}
