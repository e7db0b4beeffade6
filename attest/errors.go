package attest

import (
	"errors"
	"fmt"
)

// Kind is why evidence was refused. Each has its own ledger result code,
// so a refusal says which check failed without any evidence bytes.
type Kind int

const (
	// Malformed: the evidence or the pinned policy cannot be parsed, or the
	// report is not in its canonical form.
	Malformed Kind = iota + 1
	// BadSignature: the report's signature or its certificate chain does
	// not verify to the embedded vendor root.
	BadSignature
	// Expired: a certificate or pinned collateral is outside its validity
	// at the block time.
	Expired
	// Revoked: a certificate of the chain is on the pinned revocation list.
	Revoked
	// DebugEnabled: the guest runs with debugging enabled, so the host can read
	// its memory.
	DebugEnabled
	// UnknownMeasurement: the launch measurement is not one the consortium pinned.
	UnknownMeasurement
	// WrongReportData: the report does not bind this worker's key and code
	// measurement.
	WrongReportData
	// LowTCB: the platform's TCB is below the pinned minimum, or its TCB
	// status in the pinned collateral is not up to date.
	LowTCB
)

var kindNames = map[Kind]string{
	Malformed:          "malformed",
	BadSignature:       "bad signature",
	Expired:            "expired",
	Revoked:            "revoked",
	DebugEnabled:       "debug enabled",
	UnknownMeasurement: "measurement not accepted",
	WrongReportData:    "report data mismatch",
	LowTCB:             "TCB below minimum",
}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a refusal of evidence.
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return "attestation " + e.Kind.String() + ": " + e.Msg }

func errorf(k Kind, format string, a ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, a...)}
}

// KindOf gives the kind of a refusal, or 0 for an error of another type.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}
