// Package jobparams is the parameter format of the built-in analyses and
// its check against a dataset's schema: what a job may put in its params,
// and whether the params fit the dataset before anything is signed, paid
// for or read.
//
// The CLI (`medchain job submit`, `medchain analysis describe`), the API
// (POST /v1/jobs/validate, GET /v1/analyses/{name}) and the compute worker
// all call [Check], so a researcher sees before submitting the same message
// a worker would refuse the job with. A check reads only the params and the
// schema, which are public on the ledger; it never sees a row, so its
// messages name parameters, columns and types and nothing else.
//
// Check runs in three stages, the first failure winning:
//
//  1. shape: the params are a JSON object whose keys and value types are
//     those of the analysis's parameter struct (unknown_parameter,
//     missing_parameter, wrong_type);
//  2. schema: every column named exists in the dataset (no_such_column,
//     listing the columns there are) and has a type the analysis can use
//     (wrong_type);
//  3. values: the analysis itself is run on an empty table with the
//     schema's columns, so every parameter rule the worker applies before
//     reading a row (operators, bounds, links, duplicate features, term
//     syntax) is applied here by the same code (bad_value).
package jobparams
