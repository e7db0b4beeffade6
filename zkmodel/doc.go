// Package zkmodel is the model owner's and the verifier's side of
// zero-knowledge predictions (package zk does the cryptography, the
// ledger keeps the commitments and prediction records):
//
//   - a model in real numbers (Spec: a model file, or the logistic model a
//     compute job released, FromJobResult) becomes a registration: its
//     weights quantised and committed to with fresh randomness, its risk
//     thresholds turned into integer score edges (Commit);
//   - the commitment's secret opening is kept in a file only the owner
//     can read (Openings), and with it the owner proves which risk bucket
//     the model puts inputs in (Prove), writing a prediction file;
//   - anyone checks a prediction file here, against the model read through
//     a state proof (CheckLocally).
//
// Commit and Prove are pure (randomness in, values out); Openings and the
// Read functions are the file I/O around them. `medchain model` is a thin
// command over this package. Errors about one input are *Error, naming
// the input; the CLI maps inputs to its flags.
package zkmodel
