// Package vocab is medchain's shared vocabulary: the few words that the
// ledger, the vault pipeline (fhir, csvsrc, normalize, deid, record, vault),
// keys, the worker and the clients all speak, with nothing behind them.
//
// It holds account addresses (derived from an ed25519 public key, and their
// text syntax), the id syntax of organisations, datasets and models, the
// schema of a dataset (Field and FieldTypes), record-count bands (never an
// exact count) and the purpose-of-use list. It is deliberately not the
// state machine: transaction messages, state records, result codes and
// consent evaluation stay in package ledger, which re-exports the words
// here under their old names (ledger.Field is vocab.Field) so code that
// speaks to the ledger need not import both.
//
// Why a package of its own rather than the module root: the root import
// path reads as "medchain itself", which invites growth; a leaf named for
// what it is keeps its one rule easy to state and to check. That rule is
// that vocab imports only the standard library, so a FHIR parser, the
// de-identifier or an analysis can use these words without linking the
// database, the Merkle trees or CometBFT (the layering test at
// layering/layering_test.go enforces it). Add a word here only when a
// package that must not link the ledger needs it.
package vocab
