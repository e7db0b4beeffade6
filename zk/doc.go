// Package zk proves predictions of a committed linear model without
// revealing the model.
//
// A model owner quantises a linear (e.g. logistic-regression) model to
// fixed point and publishes a hiding Pedersen vector commitment to it
// (Commit). For public inputs x and a published bucket [lo, hi) of the
// integer score — a risk band such as "10–20 %", turned into score edges
// through the logit (EdgesFromProbabilities) — the owner proves that
// ⟨w, (1, x)⟩ lies in the bucket (Prove); anyone holding the commitment
// checks the proof (Verify, BatchVerify) and learns the bucket and
// nothing else about w.
//
// The proof, over ristretto255, is a commitment S to the score, a sigma
// protocol for the linear relation between the model commitment C, x and
// S whose response is compressed by an inner-product argument, and an
// aggregated Bulletproofs range proof that score − lo and hi − 1 − score
// are both 64-bit values; Fiat–Shamir over a SHA-512 transcript makes it
// non-interactive. A proof for 100 features is 1441 bytes. README.md
// describes the construction, transcript, encodings, quantisation and
// security assumptions in full.
//
// Bounds proofs serve secure aggregation: a site commits to each value of
// a vector with blindings that cancel across sites (CommitValues), proves
// every value inside a public interval with one aggregated range proof
// (ProveBounds, VerifyBounds, VerifyBoundsBatch), and anyone checks that
// the sites' commitments add up to the aggregate (SumOpensTo).
//
// Everything here is a pure function of its arguments (plus the
// randomness Prove and Commit read); types have binary or text encodings
// for the ledger, the API and the CLI. Verify and BatchVerify are
// deterministic and single-threaded, fit for consensus code; Prove uses
// two goroutines.
//
// Constant time: the prover's secret-dependent group operations (the
// commitment, the masks of the linear relation, the range proof's bit and
// mask commitments, T1, T2, S) use constant-time scans and complete
// formulas. The inner-product arguments run in variable time: their
// vectors are the responses that the uncompressed protocols publish in
// full, so timing reveals nothing the protocol's zero-knowledge property
// does not already allow. Verification is variable time throughout.
package zk
