// Package outputctl decides what of an analysis result may leave the
// worker. It is pure: results, a policy, a privacy budget and a source of
// randomness in; a releasable result (or a refusal) out.
//
// The release rules, in full in README.md:
//
//   - Minimum cohort: a result computed on fewer rows than the policy's
//     MinCohort is refused, before any epsilon is spent.
//   - Minimum cell: no released count, and no count derivable from released
//     counts (a margin minus other cells, complementary cells of a
//     cross-tab), lies in 1…MinCell−1 (MinCell is at least 11, so counts of
//     1–10 never leave). Suppress finds the withheld cells: primary
//     suppression, then secondary suppression until no withheld entry can
//     be solved for and no line's withheld cells add up to a small count.
//   - Differential privacy: with a positive epsilon per release, counts
//     get discrete Laplace noise and bounded statistics are computed from
//     clamped, grid-rounded integer sums with discrete Laplace noise and
//     permute-and-flip quantiles. All noise is drawn with integer
//     arithmetic only (no floating-point Laplace sampling, whose gaps leak
//     the true value — Mironov 2012), from crypto/rand in production. Each
//     release charges its epsilon to a Budget (sequential composition, in
//     the ledger's milli-units) and is refused when the budget cannot pay.
//     Suppression is then applied to the noisy numbers, as post-processing.
//   - Regression: released only with n ≥ MinCohort, residual degrees of
//     freedom, events and non-events all ≥ MinCell, and every 0/1 feature
//     with ≥ MinCell rows at each level; exactly, as safe statistics, when
//     the policy allows it (ExactRegression), or else with differential
//     privacy by noisy sufficient statistics per Newton step
//     (RegressPrivate).
//
// Result types carry Suppressed flags on every withheld number (which is
// then null) and the EpsilonSpentMilli of the release.
package outputctl
