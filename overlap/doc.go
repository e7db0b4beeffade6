// Package overlap is query-set-overlap control: a site refuses to release a
// result whose cohort differs from the cohort of a result it released
// earlier, for the same dataset, by at least one and fewer than k patients,
// k being the dataset's minimum cohort size.
//
// The attack it stops is differencing. A researcher runs an analysis on a
// cohort A, then the same analysis on A with a filter added that only one
// patient fails ("age ≤ 89"), and subtracts: what is left is that patient.
// Every release passes the minimum-cohort rule on its own; the pair does
// not. Under this rule the second release is refused, because the two
// cohorts differ by fewer than k patients. Cohorts that differ by k or more
// leave a difference the minimum-cohort rule would have released anyway;
// identical cohorts (difference 0) reveal no one by subtraction and are left
// to the privacy budget.
//
// A cohort is held as a Sketch: the sorted set of the 64-bit keyed hashes
// (HMAC-SHA256, truncated) of its rows' pseudonyms. Pseudonyms are stable
// across a dataset's versions, so the rule also holds between releases from
// different versions of one dataset. Sketches are compared by a linear merge
// (SymmetricDifference, DiffersByLessThan) and Check applies the rule to a
// list of earlier releases. Refusals are *Refusal errors that name the
// earlier release and the minimum and nothing derived from the rows; they
// match ErrOverlap.
//
// A Store keeps each dataset's releases in one file, encrypted with
// AES-256-GCM under a key derived by HKDF from the site's secret (another
// derived key is the sketch HMAC key), with the dataset id as associated
// data. (*Store).CheckAndRecord checks a release against the history and
// records it, atomically and idempotently for retries; a damaged or
// foreign file is an error (ErrCorrupt), never an empty history.
//
// The rule is a complement to differential privacy and the privacy budget,
// not a substitute: it does not stop differencing through three or more
// releases, across sites, or with side knowledge. README.md spells out what
// it defends and what it does not.
package overlap
