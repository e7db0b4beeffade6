package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/outputctl"
)

// modelPredictCmd predicts locally from a model a job released: a
// regression's (logit, cloglog or linear) or a boosted-tree model. The
// values never leave the machine.
func modelPredictCmd(e *env) *cobra.Command {
	var resultFile, dataset string
	var values []string
	cmd := &cobra.Command{
		Use:   "predict",
		Short: "Predict locally from a model a job released (a regression or boosted trees), from named values",
		Long: `predict reads the decrypted results ` + "`medchain job result --out FILE`" + ` wrote, takes the
model of one site's result (--dataset, or the only model in the file: a pooled study's
sites release one), and prints its prediction for the values given as --value NAME=NUMBER:
a probability for logistic regression and boosted trees, the mean for linear regression.
Derived terms (log(age), age:sexmale) are computed from the raw values. Nothing is sent.

  medchain model predict --job-result fit.json --value age=61 --value sbp=140 --value smoker=1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if resultFile == "" {
				return fail("--job-result FILE is required (written by medchain job result --out)")
			}
			vals := map[string]float64{}
			for _, v := range values {
				name, num, ok := strings.Cut(v, "=")
				x, err := strconv.ParseFloat(num, 64)
				if !ok || name == "" || err != nil {
					return fail("--value %q: want NAME=NUMBER, e.g. age=61", v)
				}
				vals[name] = x
			}
			b, err := os.ReadFile(resultFile)
			if err != nil {
				return err
			}
			var rs []compute.Result
			if t := bytes.TrimLeft(b, " \t\r\n"); len(t) > 0 && t[0] != '[' {
				var r compute.Result
				if err := json.Unmarshal(b, &r); err != nil {
					return fail("%s: not a job result: %v", resultFile, err)
				}
				rs = []compute.Result{r}
			} else if err := json.Unmarshal(b, &rs); err != nil {
				return fail("%s: not a job result: %v", resultFile, err)
			}
			var pick *compute.Result
			for i := range rs {
				r := &rs[i]
				if dataset != "" && r.Dataset != dataset {
					continue
				}
				if !r.ReleaseKind.IsRegression() && r.ReleaseKind != compute.KindTrees && r.ReleaseKind != compute.KindPooledTrees {
					continue
				}
				if pick != nil && !bytes.Equal(pick.Release, r.Release) {
					return fail("%s holds different models (%s, %s): choose one with --dataset", resultFile, pick.Dataset, r.Dataset)
				}
				if pick == nil {
					pick = r
				}
			}
			if pick == nil {
				return fail("%s holds no regression or tree model%s", resultFile, map[bool]string{true: " of dataset " + dataset}[dataset != ""])
			}
			var p float64
			var what string
			if pick.ReleaseKind == compute.KindTrees || pick.ReleaseKind == compute.KindPooledTrees {
				var rel outputctl.TreesRelease
				if err := json.Unmarshal(pick.Release, &rel); err != nil {
					return fail("%s: tree model: %v", resultFile, err)
				}
				x := make([]float64, len(rel.Model.Features))
				for j, f := range rel.Model.Features {
					v, ok := vals[f]
					if !ok {
						return fail("--value %s=NUMBER is missing (the model's features are %s)", f, strings.Join(rel.Model.Features, ", "))
					}
					x[j] = v
				}
				if p, err = rel.Model.Predict(x); err != nil {
					return err
				}
				what = "probability"
			} else {
				var rel outputctl.RegressionRelease
				if err := json.Unmarshal(pick.Release, &rel); err != nil {
					return fail("%s: regression model: %v", resultFile, err)
				}
				m := rel.Regression.Model
				if p, err = m.PredictValues(vals); err != nil {
					return fail("%v (the model's features are %s)", err, strings.Join(m.Features, ", "))
				}
				what = map[bool]string{true: "mean", false: "probability"}[m.Link == "identity"]
			}
			if e.g.json {
				return json.NewEncoder(cmd.OutOrStdout()).Encode(map[string]any{"job": pick.Job, "dataset": pick.Dataset, "kind": pick.ReleaseKind, what: p})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %.6g (job %d, %s model of %s)\n", what, p, pick.Job, pick.ReleaseKind, pick.Dataset)
			return nil
		},
	}
	cmd.Flags().StringVar(&resultFile, "job-result", "", "the decrypted results file (medchain job result --out)")
	cmd.Flags().StringVar(&dataset, "dataset", "", "the site whose model to use (when the file holds several)")
	cmd.Flags().StringArrayVar(&values, "value", nil, "NAME=NUMBER: a feature's value (repeatable)")
	return cmd
}
