// Package analysis holds medchain's built-in analyses: cohort counts and
// cross-tabulations, descriptive statistics, and logistic (logit and
// complementary log-log) and linear regression with their diagnostics.
//
// Everything here is a pure function over in-memory columns: no I/O, no
// clock, no randomness. The compute worker decrypts a dataset's columns,
// wraps them in a [Table], keeps only consented rows with [Table.Where], and
// calls an analysis with the job's parameters. The results are the exact
// statistics of the selected rows and are worker-internal: only what the
// output controls (package outputctl) let through ever leaves the worker.
//
// Regression features are columns or derived terms — log(age),
// log(sbp):treated, factors — so published risk models such as Framingham's, which
// are linear in logarithms and interactions, can be fitted from the
// measured values.
//
// # Federated regression
//
// Regression is fitted by Newton–Raphson (Fisher scoring, i.e. IRLS) written
// as three pieces so that a study spanning several institutions gets exactly
// the pooled answer:
//
//   - [LocalStep]: one site's score vector and Fisher information at the
//     current coefficients (its sufficient statistics for the step);
//   - [CombineSteps]: their sum — what secure aggregation will compute from
//     masked, fixed-point encoded steps ([FixedPoint]);
//   - [NextBeta] and [Solver]: the next coefficients, step-halving and the
//     convergence test.
//
// A single-site fit ([FitDesign], [Regress]) runs through the same three
// pieces, so pooled and federated fits agree by construction, up to the
// order of floating-point additions. A fitted [Model] can be saved, used
// for prediction, and evaluated on another cohort ([Evaluate]).
//
// # Parameters and errors
//
// Parameter structs are JSON-friendly and checked before the analysis runs
// (only a derived feature's domain, such as the log of a value that is not
// positive, shows as the rows are read); a bad parameter yields a
// [*ParamError] naming it and saying why. Error messages name columns and
// parameters, never a record-level value.
package analysis
