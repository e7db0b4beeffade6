package ledger

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Code is a transaction result code. Codes are part of the protocol: they
// are stable, never reused, and 0 is success. Clients, the HTTP API and the
// CLI all map from this one list.
type Code uint32

// Result codes. Append new ones at the end; never renumber.
const (
	CodeOK               Code = 0
	CodeMalformed        Code = 1  // bytes are not a well-formed transaction
	CodeOversize         Code = 2  // transaction larger than MaxTxBytes
	CodeUnknownType      Code = 3  // type is not a known transaction type
	CodeWrongChain       Code = 4  // signed for another chain
	CodeBadSignature     Code = 5  // signature does not verify
	CodeBadNonce         Code = 6  // nonce already used (replay) or out of order
	CodeUnknownAccount   Code = 7  // signer or referenced account is not registered
	CodeUnauthorized     Code = 8  // signer may not do this
	CodeInvalidField     Code = 9  // a field is missing or out of range
	CodeNotFound         Code = 10 // referenced object does not exist
	CodeAlreadyExists    Code = 11 // object with that id exists
	CodeInsufficientFund Code = 12 // balance too low
	CodeInvalidState     Code = 13 // object is in a state that forbids this (revoked, decided, …)
	CodeExpired          Code = 14 // object or policy expired at block time
	CodeOverflow         Code = 15 // arithmetic would overflow
	CodeInternal         Code = 16 // store failure; the node's fault, not the sender's
	CodeBudgetExhausted  Code = 17 // a dataset's privacy budget cannot cover the job
	CodePriceExceeded    Code = 18 // the job costs more than the requester's ceiling
	CodeInvalidProof     Code = 19 // a zero-knowledge proof does not verify
	// Refused hardware attestation evidence (register_worker), and workers
	// whose evidence no longer meets the pinned policy: one code per check.
	CodeEvidenceMalformed   Code = 20 // evidence does not parse, or is not canonical
	CodeEvidenceSignature   Code = 21 // signature or certificate chain does not verify to the vendor root
	CodeEvidenceExpired     Code = 22 // a certificate or the pinned collateral is outside its validity at block time
	CodeEvidenceRevoked     Code = 23 // a certificate is on the pinned revocation list
	CodeEvidenceDebug       Code = 24 // the guest was launched with debugging enabled
	CodeEvidenceMeasurement Code = 25 // the launch measurement is not pinned by the consortium
	CodeEvidenceReportData  Code = 26 // the report data does not bind the worker's key and code measurement
	CodeEvidenceTCB         Code = 27 // the TCB is below the pinned minimum or not current in the collateral
	CodeRateLimited         Code = 28 // the signer, or self-registration, is over its rate limit (genesis)
	// Reward claims (rewards.go).
	CodeNullifierSpent   Code = 30 // the voucher's nullifier was claimed before
	CodeBadVoucher       Code = 31 // the voucher's issuer is not of its organisation, or its signature does not verify
	CodePoolInsufficient Code = 32 // the organisation's patient pools hold less than the voucher
	// Record shares (shares.go) and the node serving them: why a share
	// did not open. An expired share is CodeExpired.
	CodeShareRevoked  Code = 34 // the patient revoked the share before it was opened
	CodeShareClosed   Code = 35 // the share was opened already (a share opens once)
	CodeWrongPasscode Code = 36 // the passcode of a link share does not match
	CodeShareLocked   Code = 37 // too many wrong passcodes: the share is locked for good
	// Data deals (deals.go).
	CodeDealFull         Code = 38 // the deal has as many records accepted as its maximum or its budget allows
	CodeFieldNotAllowed  Code = 39 // a deal asks for a direct identifier or free text
	CodeAlreadyDelivered Code = 40 // the patient's record was delivered to the deal already

	// Signed API requests (package reqsig): codes of the HTTP API only,
	// never of a transaction.
	CodeUnauthenticated Code = 42 // the request needs a valid request signature and has none (missing, malformed, wrong signature, outside the time window)
	CodeReplayed        Code = 43 // the signed request was already served (its nonce was seen)

	CodeAccountSuspended Code = 46 // the signer is suspended by an admin of its organisation (suspension.go)

	// Custom analyses (code:<sha256>). 29–43 are other features' codes.
	CodeCodeNotApproved Code = 44 // no dataset policy of the job lists the module's hash
	CodeSandboxLimits   Code = 45 // a custom analysis job's limits are missing or out of range
)

var codeNames = map[Code]string{
	CodeOK:               "ok",
	CodeMalformed:        "malformed",
	CodeOversize:         "oversize",
	CodeUnknownType:      "unknown_type",
	CodeWrongChain:       "wrong_chain",
	CodeBadSignature:     "bad_signature",
	CodeBadNonce:         "bad_nonce",
	CodeUnknownAccount:   "unknown_account",
	CodeUnauthorized:     "unauthorized",
	CodeInvalidField:     "invalid_field",
	CodeNotFound:         "not_found",
	CodeAlreadyExists:    "already_exists",
	CodeInsufficientFund: "insufficient_funds",
	CodeInvalidState:     "invalid_state",
	CodeExpired:          "expired",
	CodeOverflow:         "overflow",
	CodeInternal:         "internal",
	CodeBudgetExhausted:  "budget_exhausted",
	CodePriceExceeded:    "price_exceeded",
	CodeInvalidProof:     "invalid_proof",

	CodeEvidenceMalformed:   "evidence_malformed",
	CodeEvidenceSignature:   "evidence_bad_signature",
	CodeEvidenceExpired:     "evidence_expired",
	CodeEvidenceRevoked:     "evidence_revoked",
	CodeEvidenceDebug:       "evidence_debug",
	CodeEvidenceMeasurement: "evidence_measurement",
	CodeEvidenceReportData:  "evidence_report_data",
	CodeEvidenceTCB:         "evidence_tcb",

	CodeRateLimited: "rate_limited",

	CodeNullifierSpent:   "nullifier_spent",
	CodeBadVoucher:       "bad_voucher",
	CodePoolInsufficient: "pool_insufficient",
	CodeShareRevoked:     "share_revoked",
	CodeShareClosed:      "share_closed",
	CodeWrongPasscode:    "wrong_passcode",
	CodeShareLocked:      "share_locked",
	CodeDealFull:         "deal_full",
	CodeFieldNotAllowed:  "field_not_allowed",
	CodeAlreadyDelivered: "already_delivered",
	CodeUnauthenticated:  "unauthenticated",
	CodeReplayed:         "replayed",
	CodeCodeNotApproved:  "code_not_approved",
	CodeSandboxLimits:    "sandbox_limits",
	CodeAccountSuspended: "account_suspended",
}

// String is the code's stable name.
func (c Code) String() string {
	if n, ok := codeNames[c]; ok {
		return n
	}
	return fmt.Sprintf("code_%d", uint32(c))
}

// Codes lists every defined code in order (for documentation and tests).
// Ranges of codes are assigned to features, so the list may have gaps.
func Codes() []Code {
	// Ranges are handed out to features in advance, so the codes may have
	// gaps: list the defined ones in order rather than counting up.
	return slices.Sorted(maps.Keys(codeNames))
}

// Error is the one error type of the ledger: a code and a message that says
// what is wrong and where (the field or object). Messages never carry
// record-level data.
type Error struct {
	Code Code
	Msg  string
}

func (e *Error) Error() string { return e.Code.String() + ": " + e.Msg }

// Is lets errors.Is match on the code alone: errors.Is(err, &Error{Code: CodeBadNonce}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Msg == "" || t.Msg == e.Msg)
}

func errf(c Code, format string, args ...any) *Error {
	return &Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

// CodeOf extracts the result code of err: 0 for nil, CodeInternal for errors
// that are not *Error (a store failure).
func CodeOf(err error) Code {
	if err == nil {
		return CodeOK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
