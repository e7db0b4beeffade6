package ledger

import (
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"

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
	"submit_job.study.spec.cox.grid[]":     {1, 1 << 53, false},
	"submit_job.study.spec.cox.center[]":   {-(1 << 40), 1 << 40, false},
	"submit_job.study.spec.trees.bins":     {2, 64, false},
	"submit_job.study.spec.trees.depth":    {1, 6, false},
	"submit_job.study.spec.trees.trees":    {1, 500, false},
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

	"set_attestation_policy.expiry_blocks": {1, MaxEvidenceExpiryBlocks, false},

	"anchor_readings.seq": {1, MaxSafeInteger, false},

	"share_record.expiry":         expiry,
	"post_receipts.job":           safeCount,
	"post_receipts.part":          {0, MaxReceiptParts, false},
	"claim_reward.voucher.amount": {1, MaxSafeInteger, false},
	"post_deal.price_per_record":  {1, MaxSafeInteger, false},
	"post_deal.budget":            {1, MaxSafeInteger, false},
	"post_deal.max_records":       {1, MaxDealRecords, false},
	"post_deal.expiry_blocks":     {1, MaxDealBlocks, false},
	"accept_deal.deal":            safeCount,
	"withdraw_acceptance.deal":    safeCount,
	"deliver_deal_rows.deal":      safeCount,
	"close_deal.deal":             safeCount,
	"decline_acceptances.deal":    safeCount,
}

// checkLimits checks every number of a decoded message against
// numericLimits. Errors name the field (msg.policy.min_cohort, msg.x[3]).
func checkLimits(t TxType, msg Msg) error {
	v := reflect.ValueOf(msg)
	p, ok := plans.Load(v.Type())
	if !ok {
		p, _ = plans.LoadOrStore(v.Type(), planFor(string(t), v.Type()))
	}
	if pl := p.(*plan); pl != nil { // nil: a type without numbers
		if e := pl.check(v); e != nil {
			return e.err()
		}
	}
	return nil
}

// plans caches, per message type, where its numbers are: a pure function
// of the type, so the cache cannot change an outcome.
var plans sync.Map // reflect.Type → *plan

// plan is where the numbers of a type are and the limits they obey.
type plan struct {
	key    string // the numericLimits key of this value
	num    bool   // a number, checked against lim
	found  bool   // lim was declared
	signed bool
	lim    limit
	ptr    *plan       // a pointer's target
	fields []fieldPlan // a struct's fields that hold numbers
	elem   *plan       // a list's elements, when they hold numbers to check
}

type fieldPlan struct {
	index int
	name  string // JSON name; "" for a field flattened into its parent
	p     *plan
}

// planFor builds the plan of a type; nil when it holds no numbers to check.
func planFor(key string, t reflect.Type) *plan {
	switch t.Kind() {
	case reflect.Pointer:
		if p := planFor(key, t.Elem()); p != nil {
			return &plan{key: key, ptr: p}
		}
	case reflect.Struct:
		pl := &plan{key: key}
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			k := key
			if name != "" {
				k = key + "." + name
			}
			if p := planFor(k, f.Type); p != nil {
				pl.fields = append(pl.fields, fieldPlan{i, name, p})
			}
		}
		if len(pl.fields) > 0 {
			return pl
		}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return nil // bytes: keys, proofs, raw JSON
		}
		if l, ok := numericLimits[key+"[]"]; ok && l.all {
			return nil
		}
		if p := planFor(key+"[]", t.Elem()); p != nil {
			return &plan{key: key, elem: p}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.Map:
		l, ok := numericLimits[key]
		if ok && l.all {
			return nil
		}
		k := t.Kind()
		return &plan{key: key, num: true, found: ok && k != reflect.Float32 && k != reflect.Float64 && k != reflect.Complex64 &&
			k != reflect.Complex128 && k != reflect.Map, lim: l, signed: k >= reflect.Int && k <= reflect.Int64}
	}
	return nil
}

// rangeErr is a number out of its range; path is built on the way out,
// innermost first, so a value in range costs no string building.
type rangeErr struct {
	path  []string
	value string
	p     *plan
}

func (e *rangeErr) err() error {
	at := "msg"
	for i := len(e.path) - 1; i >= 0; i-- {
		at += e.path[i]
	}
	if !e.p.found {
		return errf(CodeInvalidField, "%s: no declared range", at)
	}
	return errf(CodeInvalidField, "%s: %s is out of range (%d to %d)", at, e.value, e.p.lim.lo, e.p.lim.hi)
}

func (p *plan) check(v reflect.Value) *rangeErr {
	switch {
	case p.num:
		if !p.found {
			return &rangeErr{p: p}
		}
		if p.signed {
			if n := v.Int(); n < p.lim.lo || n > p.lim.hi {
				return &rangeErr{value: strconv.FormatInt(n, 10), p: p}
			}
		} else if n := v.Uint(); n > math.MaxInt64 || int64(n) < p.lim.lo || int64(n) > p.lim.hi {
			return &rangeErr{value: strconv.FormatUint(n, 10), p: p}
		}
	case p.ptr != nil:
		if !v.IsNil() {
			return p.ptr.check(v.Elem())
		}
	case p.elem != nil:
		for i := range v.Len() {
			if e := p.elem.check(v.Index(i)); e != nil {
				e.path = append(e.path, "["+strconv.Itoa(i)+"]")
				return e
			}
		}
	default:
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return nil
			}
			v = v.Elem()
		}
		for _, f := range p.fields {
			if e := f.p.check(v.Field(f.index)); e != nil {
				if f.name != "" {
					e.path = append(e.path, "."+f.name)
				}
				return e
			}
		}
	}
	return nil
}
