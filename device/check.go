package device

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"

	"github.com/medchain/medchain/normalize"
)

// Reason is why a reading was refused: a short code, stable, for the
// device, the console and metrics. It never carries a value.
type Reason string

// Reasons, in the order the checks run.
const (
	Malformed        Reason = "malformed"         // a field missing or out of syntax
	UnknownDevice    Reason = "unknown_device"    // no such device registered
	Suspended        Reason = "device_suspended"  // registered, suspended
	Revoked          Reason = "device_revoked"    // registered, revoked for good
	BadSignature     Reason = "bad_signature"     // not signed by the device's key
	Replay           Reason = "replay"            // this sequence number was accepted before
	StaleSequence    Reason = "stale_sequence"    // too far behind the newest accepted
	TooOld           Reason = "too_old"           // measured before the acceptance window
	FromFuture       Reason = "from_future"       // measured after now plus the allowed skew
	UnregisteredCode Reason = "unregistered_code" // the device is not registered to send this code
	UnknownCode      Reason = "unknown_code"      // not a numeric measure medchain knows
	UnknownUnit      Reason = "unknown_unit"      // not a unit the measure accepts
	Implausible      Reason = "implausible"       // outside the plausible range
)

// Rejection is a refused reading: which device and sequence number (when
// they could be read), the reason, and for malformed readings the field.
type Rejection struct {
	Device string
	Seq    uint64
	Reason Reason
	Field  string
}

func (r *Rejection) Error() string {
	s := "reading refused"
	if r.Device != "" {
		s += fmt.Sprintf(": device %s seq %d", r.Device, r.Seq)
	}
	s += ": " + string(r.Reason)
	if r.Field != "" {
		s += " (field " + r.Field + ")"
	}
	return s
}

// ReasonOf is the reason of a *Rejection anywhere in err's chain, or "".
func ReasonOf(err error) Reason {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Reason
	}
	return ""
}

// Status is a device's standing on the ledger.
type Status uint8

// Statuses. Suspension can be lifted; revocation cannot.
const (
	Active Status = iota + 1
	SuspendedStatus
	RevokedStatus
)

// Info is what the checks need of a device's registration.
type Info struct {
	Key    ed25519.PublicKey
	Status Status
	Codes  []string // the LOINC codes it is registered to send
}

// Policy is the acceptance window: how old a reading may be when it
// arrives, how far ahead of the node's clock its time may be, and how far
// behind the newest accepted sequence number a late one may still be.
type Policy struct {
	MaxAgeMs  int64
	MaxSkewMs int64
	Plausible normalize.Config // plausible ranges (RefDate unused)
}

// DefaultPolicy accepts readings up to 5 minutes old (a device buffering
// through a short network loss) and 5 seconds ahead, with normalize's
// default ranges.
func DefaultPolicy() Policy {
	return Policy{MaxAgeMs: 5 * 60 * 1000, MaxSkewMs: 5000, Plausible: normalize.DefaultConfig()}
}

// Check runs every check on a well-formed reading of a device whose
// registration is info (nil: unknown) against its replay window w, at
// nowMs. It does not change w: the caller marks the sequence number
// (w.Mark) once the reading is durably stored, so that a reading that
// fails to store can be sent again. The returned value is in the field's
// unit (normalize's conversion).
func (p *Policy) Check(s *Signed, info *Info, w *Window, nowMs int64) (float64, error) {
	return p.check(s, info, w, nowMs, func() bool { return s.Verify(info.Key) })
}

// CheckVerified is Check with the signature already verified (sigOK, by
// VerifyBatch against info.Key): the same checks in the same order, so the
// reason given is the same.
func (p *Policy) CheckVerified(s *Signed, info *Info, w *Window, nowMs int64, sigOK bool) (float64, error) {
	return p.check(s, info, w, nowMs, func() bool { return sigOK })
}

// NeedsSignature reports whether Check would reach the signature of a
// well-formed reading of a device registered as info: only an active
// device's readings are verified.
func NeedsSignature(info *Info) bool { return info != nil && info.Status == Active }

func (p *Policy) check(s *Signed, info *Info, w *Window, nowMs int64, verified func() bool) (float64, error) {
	reject := func(r Reason) (float64, error) {
		return 0, &Rejection{Device: s.Device, Seq: s.Seq, Reason: r}
	}
	if f, ok := s.wellFormed(); !ok {
		return 0, &Rejection{Device: deviceIfID(s.Device), Seq: s.Seq, Reason: Malformed, Field: f}
	}
	switch {
	case info == nil:
		return reject(UnknownDevice)
	case info.Status == RevokedStatus:
		return reject(Revoked)
	case info.Status != Active:
		return reject(Suspended)
	case !verified():
		return reject(BadSignature)
	}
	if r := w.Check(s.Seq); r != "" {
		return reject(r)
	}
	switch {
	case s.Time < nowMs-p.MaxAgeMs:
		return reject(TooOld)
	case s.Time > nowMs+p.MaxSkewMs:
		return reject(FromFuture)
	case !slices.Contains(info.Codes, s.Code):
		return reject(UnregisteredCode)
	}
	_, v, err := p.Plausible.Observe(s.Code, s.Unit, s.Value)
	switch {
	case errors.Is(err, normalize.ErrUnknownCode):
		return reject(UnknownCode)
	case errors.Is(err, normalize.ErrUnknownUnit):
		return reject(UnknownUnit)
	case err != nil:
		return reject(Implausible)
	}
	return v, nil
}
