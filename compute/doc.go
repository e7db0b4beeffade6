// Package compute is the institution's compute worker: it follows the
// ledger, picks up admitted jobs for its organisation's datasets, re-checks
// each against the ledger, decrypts the dataset version in memory with the
// worker's key, keeps only the rows whose patient's consent (as of the job's
// admission height) covers the job's purpose, runs the built-in analysis,
// applies the output controls of package outputctl, encrypts the release to
// the requester's X25519 key with age, stores the ciphertext in the node's
// results store and posts post_result (or fail_job with a fixed reason).
//
// # Job parameters
//
// A job's params JSON is decoded, with unknown fields refused, straight into
// the parameter struct of its analysis:
//
//	cohort_count         analysis.CountParams      {"filter": [...]}
//	crosstab             analysis.CrossTabParams   {"rows": {...}, "cols": {...}, "filter": [...]}
//	descriptive          analysis.DescribeParams   {"variables": [{"column": "age", "bounds": {...}}], "filter": [...]}
//	logistic_regression  analysis.RegressionParams {"outcome": "cvd_10y", "features": ["age", ...], "link": "logit"|"cloglog", "filter": [...]}
//	                     + optional "private": outputctl.PrivateRegression (bounds, rounds) for a DP fit
//	linear_regression    as logistic_regression, link forced to identity
//
// Output controls come from the job's admitted site: the policy's minimum
// cohort, and the job's epsilon for that site (already charged on the ledger
// at admission; the worker's outputctl.Budget holds exactly that amount, so
// one release can spend it and no more). Regressions without "private" are
// released exactly under the safe-statistics rules (outputctl
// ReleaseRegression with ExactRegression): the ledger's Policy has no
// exact_regression switch yet, so the worker treats every policy as
// allowing it. See the package README for the rest.
//
// # Consent
//
// Rows carry pseudonyms; the vault's per-organisation link table
// (vault.Links) maps a pseudonym to the patient's wallet address, whose
// consents the worker reads from the ledger API (GET /v1/consents signed
// with the worker key: every consent that concerns its institution, once
// per run). ledger.ConsentAllows is
// evaluated at the job's admission height and time, so a consent given
// after admission does not count and a revocation at or before admission
// excludes the patient. An unlinked row has no consents: the dataset's
// consent model decides (opt-out includes, opt-in excludes).
//
// # Deployment
//
// In production each institution's node runs one worker, with its own key
// registered on the ledger (register_worker) and the dataset keys wrapped to
// it at ingest. On dev and demo networks (`medchain up`, `medchain node`) the
// node starts one worker for every `<org>-worker` key in <home>/keys whose
// account is a registered worker of that organisation with the node's
// measurement (RunNodeWorkers).
//
// Multi-site jobs: each site posts its own result on its own rows, except a
// pooled study (a logistic regression submitted with a study spec), which
// the sites fit as one model by secure aggregation through the ledger
// (pooled.go, docs/studies.md). Before anything computed from a cohort
// leaves a site, the cohort passes the release rules and the overlap rule
// (overlap.go).
package compute
