package ledger

import (
	"fmt"
	"math"
	"reflect"
	"strings"

	"github.com/medchain/medchain/federated"
)

// Numeric limits: every number in every transaction is range-checked when
// the transaction is decoded (so in CheckTx, before it can reach a block),
// against one table. A number that passes fits every place it goes: the
// int64 a worker converts it to, a JSON reader that holds numbers as
// doubles (the dashboard), the ledger's own sums (checked again where they
// add up), and a time.Time (years up to 9999). TestNumericLimits fails on a
// numeric field of any registered message that has no entry here, and on an
// entry that names no field.

// MaxSafeInteger is the largest integer a JSON reader that keeps numbers as
// IEEE doubles reads exactly (2^53 − 1). Counts, amounts, ids and nonces stay
// at or below it.
const MaxSafeInteger = 1<<53 - 1

// MaxTime is the latest expiry, in unix seconds: 9999-12-31T23:59:59Z, the
// last instant RFC 3339 (and Go's time.Time JSON encoding) can write.
const MaxTime = 253402300799

// MaxMinCohort bounds a policy's minimum cohort: above it no dataset a band
// can describe would ever release anything, and it converts to an int on
// every platform a worker runs on.
const MaxMinCohort = 1_000_000_000

// MaxEpsilonMilli bounds every epsilon (milli-units): an epsilon of a
// million is already no privacy at all; the bound keeps budget sums far
// from overflow and exact when a worker turns them into a float.
const MaxEpsilonMilli = 1_000_000_000

// limit is an inclusive range of a numeric field. all is for values that
// are elements of a group (the masked values of a contribution, taken
// modulo 2^64) or scalars of the proof system, where every value is
// meaningful.
type limit struct {
	lo, hi int64
	all    bool
}

var (
	anyValue  = limit{all: true}
	safeCount = limit{0, MaxSafeInteger, false}
	expiry    = limit{0, MaxTime, false}
	bps       = limit{0, 10_000, false}
)

// numericLimits is keyed by transaction type and JSON path ("[]" for the
// elements of a list); "payload.nonce" is the envelope's one number.
var numericLimits = map[string]limit{
	"payload.nonce": safeCount,

	"transfer.amount": {1, MaxSafeInteger, false},

	"register_dataset.version": {1, MaxSafeInteger, false},

	"set_policy.policy.min_cohort":                    {MinCohortFloor, MaxMinCohort, false},
	"set_policy.policy.epsilon_per_job_milli":         {1, MaxEpsilonMilli, false},
	"set_policy.policy.epsilon_total_milli":           {1, MaxEpsilonMilli, false},
	"set_policy.policy.min_epsilon_per_job_milli":     {0, MaxEpsilonMilli, false},
	"set_policy.policy.price":                         safeCount,
	"set_policy.policy.reward_split.institution_bps":  bps,
	"set_policy.policy.reward_split.patient_pool_bps": bps,
	"set_policy.policy.reward_split.worker_bps":       bps,
	"set_policy.policy.expiry":                        expiry,
	"set_policy.policy.min_study_sites":               {0, federated.MaxSites, false},
	"set_policy.policy.set_height":                    {0, 0, false}, // set by the ledger

	"give_consent.expiry":   expiry,
	"narrow_consent.seq":    safeCount,
	"narrow_consent.expiry": expiry,
	"revoke_consent.seq":    safeCount,

	"decide_access.request": safeCount,
	"decide_access.expiry":  expiry,

	"submit_job.max_price":                 safeCount,
	"submit_job.epsilon_milli":             {0, MaxEpsilonMilli, false},
	"submit_job.study.spec.columns":        {1, federated.MaxColumns, false},
	"submit_job.study.spec.max_abs[]":      {1, 1 << 40, false},
	"submit_job.study.spec.private.rounds": {1, 50, false},
	"submit_job.study.spec.bins":           {0, federated.MaxBins, false},
	"submit_job.study.min_sites":           {0, federated.MaxSites, false},
	"submit_job.study.iteration_blocks":    {0, 10_000, false},
	"post_result.job":                      safeCount,
	"fail_job.job":                         safeCount,
	"expire_job.job":                       safeCount,
	"advance_study.job":                    safeCount,
	"post_contribution.job":                safeCount,
	"post_contribution.round":              {0, math.MaxUint32, false},
	"post_contribution.iteration":          {0, math.MaxUint32, false},
	"post_contribution.masked[]":           anyValue, // modulo 2^64, uniformly masked
	"register_model.scale":                 {0, 30, false},
	"register_model.bucket_edges[]":        anyValue, // scores; the proof system's arithmetic is exact
	"register_model.job":                   safeCount,
	"record_prediction.x[]":                anyValue, // inputs; exact arithmetic in the proof system
	"record_prediction.bucket":             {0, MaxModelEdges, false},
	"attest_prediction.bucket":             {0, MaxModelEdges, false},
}

// checkLimits checks every number of a decoded message against
// numericLimits. Errors name the field (msg.policy.min_cohort, msg.x[3]).
func checkLimits(t TxType, msg Msg) error {
	return walkLimits(string(t), "msg", reflect.ValueOf(msg))
}

func walkLimits(key, at string, v reflect.Value) error {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return walkLimits(key, at, v.Elem())
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			k, a := key, at
			if name != "" { // a field without a name is flattened into its parent (PostContribution)
				k, a = key+"."+name, at+"."+name
			}
			if err := walkLimits(k, a, v.Field(i)); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return nil // bytes: keys, proofs, raw JSON
		}
		if l, ok := numericLimits[key+"[]"]; ok && l.all {
			return nil
		}
		for i := range v.Len() {
			if err := walkLimits(key+"[]", fmt.Sprintf("%s[%d]", at, i), v.Index(i)); err != nil {
				return err
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return inLimit(key, at, v.Int() < 0, uint64(v.Int()), v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return inLimit(key, at, false, v.Uint(), int64(min(v.Uint(), math.MaxInt64)))
	case reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.Map:
		return errf(CodeInvalidField, "%s: the ledger has no numbers of this kind", at)
	}
	return nil
}

// inLimit checks one number: u is its bit pattern (for printing an unsigned
// value), s its value clamped to int64.
func inLimit(key, at string, negative bool, u uint64, s int64) error {
	l, ok := numericLimits[key]
	if !ok {
		return errf(CodeInvalidField, "%s: no declared range", at)
	}
	if l.all {
		return nil
	}
	if s < l.lo || s > l.hi || (!negative && u > math.MaxInt64) {
		if negative {
			return errf(CodeInvalidField, "%s: %d is out of range (%d to %d)", at, s, l.lo, l.hi)
		}
		return errf(CodeInvalidField, "%s: %d is out of range (%d to %d)", at, u, l.lo, l.hi)
	}
	return nil
}
