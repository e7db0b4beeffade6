package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/zkmodel"
)

// Zero-knowledge predictions: commit a model, prove its predictions,
// verify them, and record them on the ledger.

// openings is where this home keeps the openings of the models committed
// from it.
func (e *env) openings() zkmodel.Openings {
	return zkmodel.Openings{Dir: filepath.Join(e.g.home, "models")}
}

// modelFlags names the flag behind each input of package zkmodel.
var modelFlags = map[zkmodel.Input]string{
	zkmodel.InputID:         "--id",
	zkmodel.InputModel:      "--model",
	zkmodel.InputFeatures:   "--features/--feature",
	zkmodel.InputThresholds: "--risk-thresholds",
	zkmodel.InputLabels:     "--labels",
	zkmodel.InputJobResult:  "--job-result",
	zkmodel.InputX:          "--x",
	zkmodel.InputRequest:    "--request",
}

// modelErr names the flag of an input zkmodel refused; other errors pass.
func modelErr(err error) error {
	var ie *zkmodel.Error
	if errors.As(err, &ie) {
		if f, ok := modelFlags[ie.Input]; ok {
			return fail("%s: %v", f, ie.Err)
		}
	}
	return err
}

func showModel(w io.Writer, m *ledger.Model) {
	fmt.Fprintf(w, "model:\t%s\nowner:\t%s\n", m.ID, m.Owner)
	if m.Org != "" {
		fmt.Fprintf(w, "org:\t%s\n", m.Org)
	}
	if m.Description != "" {
		fmt.Fprintf(w, "description:\t%s\n", m.Description)
	}
	fmt.Fprintf(w, "commitment:\t%s\nscale:\t%d fractional bits (scores at 2^%d)\n", m.Commitment, m.Scale, 2*m.Scale)
	if m.Job != nil {
		fmt.Fprintf(w, "trained by:\tjob %d\n", *m.Job)
	}
	fmt.Fprintf(w, "registered at:\theight %d\npredictions:\t%d\n", m.Registered, m.Predictions)
	for i, f := range m.Features {
		code := ""
		if f.System != "" || f.Code != "" {
			code = f.System + ":" + f.Code
		}
		fmt.Fprintf(w, "  feature %d\t%s\t%s\t%s\n", i, f.Name, code, f.Unit)
	}
	for i, l := range m.BucketLabels {
		lo, hi := "-inf", "+inf"
		if i > 0 {
			lo = strconv.FormatInt(m.BucketEdges[i-1], 10)
		}
		if i < len(m.BucketEdges) {
			hi = strconv.FormatInt(m.BucketEdges[i], 10)
		}
		fmt.Fprintf(w, "  bucket %d\t%s\t[%s, %s)\n", i, l, lo, hi)
	}
}

func modelCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Zero-knowledge predictions: commit a model, prove and verify its predictions",
		Long: `A model owner commits to a linear (e.g. logistic-regression) model without publishing
it; a prediction proof then shows that the committed model puts inputs x in a risk
bucket, and reveals nothing else about the weights.

  medchain model commit  --from KEY --id ID --model model.json --feature … --risk-thresholds 0.05,0.1,0.2
  medchain model prove   --id ID --x 55,213,50,140,0,0 --out proof.json     (the owner, with the opening)
  medchain model verify  --proof proof.json                                 (anyone; off the ledger)
  medchain model attest  --proof proof.json --from KEY                      (patient predictions: hashes only)
  medchain model record  --proof proof.json --from KEY                      (public inputs only: x goes on chain)

Where x goes: a proof file holds the quantised inputs x. ` + "`record`" + ` puts x in a
transaction, which the chain keeps for good: use it only for inputs that may be public
(a synthetic or consented example, an auditor's spot check). For a patient, verify off
the ledger and ` + "`attest`" + `: the ledger then records a salted hash of x, the bucket and the
hash of the proof, never x.`,
	}
	var f client.ModelFilter
	list := &cobra.Command{
		Use:   "list",
		Short: "List registered models",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.Owner != "" {
				addr, err := e.address(f.Owner)
				if err != nil {
					return err
				}
				f.Owner = addr
			}
			return query(e, cmd, func(ctx context.Context, c *client.Client) ([]ledger.Model, error) { return c.Models(ctx, f) },
				func(w io.Writer, ms []ledger.Model) {
					fmt.Fprintln(w, "ID\tOWNER\tORG\tFEATURES\tBUCKETS\tPREDICTIONS\tREGISTERED")
					for _, m := range ms {
						fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%d\t%d\n", m.ID, short(m.Owner), orDash(m.Org), len(m.Features),
							strings.Join(m.BucketLabels, " | "), m.Predictions, m.Registered)
					}
				})
		},
	}
	list.Flags().StringVar(&f.Owner, "owner", "", "only models registered by this address or local key")
	list.Flags().StringVar(&f.Org, "org", "", "only models of this organisation")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a registered model: commitment, features, buckets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*ledger.Model, error) { return c.Model(ctx, args[0]) }, showModel)
		},
	}
	preds := &cobra.Command{
		Use:   "predictions ID",
		Short: "List a model's recorded predictions (hashes and buckets only)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return query(e, cmd, func(ctx context.Context, c *client.Client) ([]ledger.Prediction, error) {
				return c.Predictions(ctx, args[0])
			},
				func(w io.Writer, ps []ledger.Prediction) {
					fmt.Fprintln(w, "SEQ\tMODE\tBUCKET\tRECORDER\tHEIGHT\tX HASH\tPROOF HASH\tREQUEST")
					for _, p := range ps {
						fmt.Fprintf(w, "%d\t%s\t%d %s\t%s\t%d\t%s\t%s\t%s\n", p.Seq, p.Mode, p.Bucket, p.Label, short(p.Recorder), p.Height,
							short(p.XHash), short(p.ProofHash), orDash(p.Request))
					}
				})
		},
	}
	cmd.AddCommand(modelCommitCmd(e), modelProveCmd(e), modelVerifyCmd(e), modelRecordCmd(e), modelAttestCmd(e), modelPredictCmd(e), show, list, preds)
	return cmd
}

func modelCommitCmd(e *env) *cobra.Command {
	var (
		tf                          txFlags
		id, modelPath, featuresPath string
		featureFlags, labels        []string
		thresholds                  []float64
		job                         int64
		description                 string
		jobResult                   string
	)
	cmd := &cobra.Command{
		Use:   "commit",
		Short: "Commit to a model and register the commitment (by a researcher or institution account)",
		Long: `commit quantises a linear model, commits to it with fresh randomness, saves the secret
opening to <home>/models/ID.opening.json (mode 0600; it is never sent anywhere) and
registers the commitment with its features, scale and risk buckets.

  medchain model commit --from rita-researcher --id cvd-10y --model model.json \
      --feature age:loinc:30525-0:a --feature sbp:loinc:8480-6:mm[Hg] … \
      --risk-thresholds 0.05,0.1,0.2 [--job 3]

model.json is {"weights": [...], "intercept": b, "scale": S} for logit = Σ wᵢxᵢ + b
(scale: fractional bits, default 16), optionally with "features". --features FILE is a
JSON list of {"name", "system", "code", "unit"}; --feature name[:system[:code[:unit]]]
repeats, in the order of the weights. --risk-thresholds are probabilities; they become
integer score edges through the logit (zk.EdgesFromProbabilities), which is all the
ledger stores. --job names the completed compute job that trained the model.

--job-result FILE commits the logistic model a compute job released, from the result
decrypted with ` + "`medchain job result ID --out FILE`" + `: its coefficients, intercept and
feature names, and the job id (instead of --model and --job). Every result in the file
must hold the same model (the sites of a pooled study release one fit); for a job whose
sites released different models, write one site's with ` + "`job result ID --dataset D --out FILE`" + `.

Keep the opening safe: it reveals the weights, and without it no prediction of this
model can ever be proven.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := ledger.ValidModelID(id); err != nil {
				return fail("--id: %v", err)
			}
			r := zkmodel.Request{ID: id, Thresholds: thresholds, Labels: labels, Description: description}
			var err error
			switch {
			case jobResult != "" && (modelPath != "" || job >= 0):
				return fail("--job-result names the model and its job: give it without --model and --job")
			case jobResult != "":
				var j uint64
				if r.Spec, j, err = zkmodel.ReadJobResult(jobResult); err != nil {
					return modelErr(err)
				}
				r.Job = &j
			case modelPath == "":
				return fail("--model (a JSON file {weights, intercept, scale}) or --job-result is required")
			default:
				if r.Spec, err = zkmodel.ReadSpec(modelPath); err != nil {
					return modelErr(err)
				}
				if job >= 0 {
					j := uint64(job)
					r.Job = &j
				}
			}
			switch {
			case featuresPath != "" && len(featureFlags) > 0:
				return fail("give --features or --feature, not both")
			case featuresPath != "":
				if r.Features, err = zkmodel.ReadFeatures(featuresPath); err != nil {
					return modelErr(err)
				}
				if r.Features == nil {
					r.Features = []ledger.ModelFeature{}
				}
			case len(featureFlags) > 0:
				for _, s := range featureFlags {
					f, err := zkmodel.ParseFeature(s)
					if err != nil {
						return fail("--feature %v", err)
					}
					r.Features = append(r.Features, f)
				}
			}
			msg, opening, err := zkmodel.Commit(r, rand.Reader)
			if err != nil {
				return modelErr(err)
			}
			if _, err := e.key(tf.from); err != nil {
				return err
			}
			cl, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			opening.ChainID, err = cl.Chain(ctx)
			cancel()
			if err != nil {
				return err
			}
			path, err := e.openings().Save(opening)
			if err != nil {
				return err
			}
			committed := false
			err = e.sendTx(cmd, &tf, msg, func(ctx context.Context, c *client.Client, _ *api.TxSubmitted) (any, string, error) {
				committed = true
				m, err := c.Model(ctx, id)
				if err != nil {
					return nil, "", err
				}
				return m, fmt.Sprintf("registered model %s: commitment %s, %d features, buckets %s\nthe opening is in %s: keep it secret (it reveals the weights) and safe (without it no prediction can be proven)",
					m.ID, m.Commitment, len(m.Features), strings.Join(m.BucketLabels, " | "), path), nil
			})
			var refused *client.Error
			switch {
			case err == nil, committed:
			case errors.As(err, &refused):
				// Refused, or committed with an error: the commitment is not
				// on the ledger, and its opening is of no use.
				e.openings().Discard(id)
			default:
				fmt.Fprintf(cmd.ErrOrStderr(), "the opening is kept in %s: if model %s was not registered (check `medchain model show %s`), remove it before committing again\n", path, id, id)
			}
			return err
		},
	}
	addTxFlags(cmd, &tf)
	fl := cmd.Flags()
	fl.StringVar(&id, "id", "", "model id (2-64 chars of a-z 0-9 . _ -)")
	fl.StringVar(&modelPath, "model", "", `model file: {"weights": [...], "intercept": b, "scale": S}`)
	fl.StringVar(&featuresPath, "features", "", `features file: [{"name", "system", "code", "unit"}, ...]`)
	fl.StringArrayVar(&featureFlags, "feature", nil, "a feature, name[:system[:code[:unit]]] (repeatable, in the order of the weights)")
	fl.Float64SliceVar(&thresholds, "risk-thresholds", nil, "increasing risk probabilities that separate the buckets, e.g. 0.05,0.1,0.2")
	fl.StringSliceVar(&labels, "labels", nil, "bucket labels, one more than thresholds (default <5%,5-10%,…)")
	fl.Int64Var(&job, "job", -1, "the completed compute job that trained the model")
	fl.StringVar(&description, "description", "", "what the model predicts, for the catalogue")
	fl.StringVar(&jobResult, "job-result", "", "a decrypted compute job result (medchain job result --out) whose logistic model to commit")
	return cmd
}

func modelProveCmd(e *env) *cobra.Command {
	var (
		id, request, out, openingPath string
		values                        []float64
	)
	cmd := &cobra.Command{
		Use:   "prove",
		Short: "Prove which risk bucket the committed model puts inputs in (needs the model's opening)",
		Long: `prove evaluates the committed model on inputs x with the secret opening (from
<home>/models/ID.opening.json, or --opening), finds the bucket the score falls in and
proves it. It prints the bucket's label only, never the score, and writes the statement
and proof to --out (mode 0600):

  medchain model prove --id cvd-10y --x 55,213,50,140,0,0 --request visit-42 --out proof.json

--x are the feature values in the model's units, in feature order; they are quantised at
the model's scale. The proof is bound to this chain, the model and the request id
(default: a random one). The file holds x: treat it as the patient's record.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := ledger.ValidModelID(id); err != nil {
				return fail("--id: %v", err)
			}
			if len(values) == 0 {
				return fail("--x is required: the feature values, comma-separated, in feature order")
			}
			if out == "" {
				return fail("--out is required: where to write the proof file")
			}
			request, err := zkmodel.RequestID(request, rand.Reader)
			if err != nil {
				return modelErr(err)
			}
			o, err := e.openings().Load(id, openingPath)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			m, err := c.Model(ctx, id)
			if err != nil {
				return err
			}
			chainID, err := c.Chain(ctx)
			if err != nil {
				return err
			}
			pf, err := zkmodel.Prove(o, m, chainID, request, values, rand.Reader)
			if err != nil {
				return modelErr(err)
			}
			if err := zkmodel.WritePredictionFile(out, pf); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			return e.show(cmd, pf, func(w io.Writer) {
				fmt.Fprintf(w, "bucket %d: %s\n", pf.Bucket, pf.Label)
				fmt.Fprintf(w, "wrote %s: model %s, request %s, proof %d bytes\n", out, id, request, len(pf.Proof))
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&id, "id", "", "the model id")
	fl.Float64SliceVar(&values, "x", nil, "feature values, comma-separated, in feature order and the features' units")
	fl.StringVar(&request, "request", "", "request id the proof is bound to (1-64 chars of A-Z a-z 0-9 . _ : -; default random)")
	fl.StringVar(&out, "out", "", "proof file to write")
	fl.StringVar(&openingPath, "opening", "", "the model's opening file (default <home>/models/ID.opening.json)")
	return cmd
}

func modelVerifyCmd(e *env) *cobra.Command {
	var (
		proofPath          string
		apiOnly, localOnly bool
	)
	type verifyOutput struct {
		Model  string              `json:"model"`
		Bucket uint32              `json:"bucket"`
		Label  string              `json:"label"`
		Valid  bool                `json:"valid"`
		Node   *api.VerifyResult   `json:"node,omitempty"`
		Local  *zkmodel.LocalCheck `json:"local,omitempty"`
	}
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Verify a prediction proof off the ledger: by the node and here",
		Long: `verify checks a proof file two ways, and says which said what:

  node:  POST /v1/models/ID/verify — the node runs the ledger's check against the model on
         its ledger (the node sees x, but records nothing);
  local: zk.Verify here, against the model's commitment and bucket edges read through a
         state proof that is checked against a block header signed by the validators (the
         validator set pinned by the home's genesis file, or --genesis) — nothing rests on
         the node's word.

Either can be skipped (--local-only keeps x away from the node; --node-only needs no
headers). Exit 0 if every check run says valid, 1 if any says invalid.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if proofPath == "" {
				return fail("--proof is required: a file written by `medchain model prove`")
			}
			if apiOnly && localOnly {
				return fail("give --node-only or --local-only, not both")
			}
			pf, err := client.ReadPredictionFile(proofPath)
			if err != nil {
				return fmt.Errorf("--proof: %w", err)
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			out := verifyOutput{Model: pf.Model, Bucket: pf.Bucket, Label: pf.Label, Valid: true}
			if !localOnly {
				if out.Node, err = c.VerifyPrediction(ctx, pf.Model, pf.VerifyRequest()); err != nil {
					return err
				}
				out.Valid = out.Valid && out.Node.Valid
				if out.Node.Label != "" {
					out.Label = out.Node.Label
				}
			}
			if !apiOnly {
				if out.Local, err = zkmodel.CheckLocally(ctx, c, pf); err != nil {
					return err
				}
				out.Valid = out.Valid && out.Local.Valid
			}
			verdict := func(valid bool, reason string) string {
				if valid {
					return "valid"
				}
				return "INVALID: " + reason
			}
			err = e.show(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "model:\t%s\nrequest:\t%s\nbucket:\t%d (%s)\n", pf.Model, pf.Request, pf.Bucket, out.Label)
				if n := out.Node; n != nil {
					fmt.Fprintf(w, "node:\t%s (the node's check, POST %s/v1/models/%s/verify, against commitment %s at height %d)\n",
						verdict(n.Valid, n.Reason), c.BaseURL(), pf.Model, short(n.Commitment), n.Height)
				}
				if l := out.Local; l != nil {
					pinned := "the validator set the node serves"
					if l.Header.Pinned {
						pinned = "the pinned validator set"
					}
					fmt.Fprintf(w, "local:\t%s (zk.Verify here, against commitment %s from a state proof at height %d; header %d signed by %d/%d validators of %s)\n",
						verdict(l.Valid, l.Reason), short(l.Commitment), l.State.Commitment.Height, l.Header.Height, l.Header.Signers, l.Header.Validators, pinned)
				}
				if out.Node != nil && out.Local != nil && out.Node.Valid != out.Local.Valid {
					fmt.Fprintln(w, "WARNING:\tthe node and the local check disagree: do not trust this node")
				}
			})
			if err != nil {
				return err
			}
			if !out.Valid {
				return client.VerificationFailed("the proof in %s does not show that model %q puts x in bucket %d", proofPath, pf.Model, pf.Bucket)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&proofPath, "proof", "", "proof file written by `medchain model prove`")
	cmd.Flags().BoolVar(&apiOnly, "node-only", false, "only ask the node (skip the local check)")
	cmd.Flags().BoolVar(&localOnly, "local-only", false, "only check here (x is not sent to the node)")
	return cmd
}

// predictionCreated reports the prediction a transaction recorded.
func predictionCreated(model string) created {
	return func(ctx context.Context, c *client.Client, res *api.TxSubmitted) (any, string, error) {
		v, ok := client.EventAttr(res.Result, string(ledger.TxRecordPrediction), "seq")
		if !ok {
			v, ok = client.EventAttr(res.Result, string(ledger.TxAttestPrediction), "seq")
		}
		seq, err := strconv.ParseUint(v, 10, 64)
		if !ok || err != nil {
			return nil, "", fmt.Errorf("the transaction record names no prediction")
		}
		ps, err := c.Predictions(ctx, model)
		if err != nil {
			return nil, "", err
		}
		if seq >= uint64(len(ps)) {
			return nil, "", fmt.Errorf("prediction %d of model %q is not listed", seq, model)
		}
		p := ps[seq]
		return p, fmt.Sprintf("recorded prediction %d of model %s (%s): bucket %d (%s), x hash %s, proof hash %s",
			p.Seq, model, p.Mode, p.Bucket, p.Label, p.XHash, p.ProofHash), nil
	}
}

func modelRecordCmd(e *env) *cobra.Command {
	var (
		tf        txFlags
		proofPath string
	)
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Record a prediction on the ledger, which verifies it — PUBLIC inputs only",
		Long: `record sends the proof file's statement and proof in a record_prediction transaction:
every validator verifies the proof, and the ledger records the bucket with hashes of x
and of the proof.

x itself is in the transaction, and the chain keeps every transaction for good. Use this
only for inputs that may be public: a synthetic or consented example, an auditor's spot
check of the model. NEVER for a patient's values: verify those off the ledger
(` + "`model verify`" + `) and record them with ` + "`model attest`" + `, which sends only hashes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if proofPath == "" {
				return fail("--proof is required: a file written by `medchain model prove`")
			}
			pf, err := client.ReadPredictionFile(proofPath)
			if err != nil {
				return fmt.Errorf("--proof: %w", err)
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "note: record_prediction puts x in a block for good; for a patient's inputs use `medchain model attest`")
			return e.sendTx(cmd, &tf, &ledger.RecordPrediction{Model: pf.Model, X: pf.X, Bucket: pf.Bucket, Request: pf.Request, Proof: pf.Proof},
				predictionCreated(pf.Model))
		},
	}
	addTxFlags(cmd, &tf)
	cmd.Flags().StringVar(&proofPath, "proof", "", "proof file written by `medchain model prove`")
	return cmd
}

func modelAttestCmd(e *env) *cobra.Command {
	var (
		tf        txFlags
		proofPath string
	)
	cmd := &cobra.Command{
		Use:   "attest",
		Short: "Verify a prediction here and attest it on the ledger with hashes only (institution, researcher or auditor account)",
		Long: `attest verifies the proof file locally (as ` + "`model verify --local-only`" + `: zk.Verify
against the model read through a verified state proof) and, if it is valid, sends an
attest_prediction transaction with the bucket, the salted hash of x (ledger.InputsHash
with the file's salt) and the SHA-256 of the proof. x never leaves this machine; whoever
holds the proof file can later show that it is the prediction recorded.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if proofPath == "" {
				return fail("--proof is required: a file written by `medchain model prove`")
			}
			pf, err := client.ReadPredictionFile(proofPath)
			if err != nil {
				return fmt.Errorf("--proof: %w", err)
			}
			if len(pf.Salt) < 16 {
				return fail("--proof: the file has no salt (at least 16 bytes) to hide x with")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			lc, err := zkmodel.CheckLocally(ctx, c, pf)
			cancel()
			if err != nil {
				return err
			}
			if !lc.Valid {
				return client.VerificationFailed("not attesting: %s", lc.Reason)
			}
			msg := &ledger.AttestPrediction{Model: pf.Model, XHash: ledger.InputsHash(pf.Salt, pf.X), Bucket: pf.Bucket, ProofHash: ledger.ProofHash(pf.Proof)}
			return e.sendTx(cmd, &tf, msg, predictionCreated(pf.Model))
		},
	}
	addTxFlags(cmd, &tf)
	cmd.Flags().StringVar(&proofPath, "proof", "", "proof file written by `medchain model prove`")
	return cmd
}
