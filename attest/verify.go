package attest

import (
	"bytes"
	"crypto/x509"
	"slices"
	"time"

	"github.com/google/go-sev-guest/verify/trust"
)

// Verifier verifies evidence against a pinned Policy. Its zero value
// trusts only the vendor roots embedded in go-sev-guest (AMD ARK/ASK per
// product line) and go-tdx-guest (Intel SGX Root CA): that is what every
// network uses.
type Verifier struct {
	// SNPRoots, when set, replaces AMD's embedded roots (product line →
	// roots). It exists for tests of paths that AMD-signed data cannot
	// reach, such as a revoked VCEK; a node never sets it.
	SNPRoots map[string][]*trust.AMDRootCerts
	// TDXRoots, when set, replaces Intel's embedded root; the same
	// caveat applies.
	TDXRoots *x509.CertPool
}

// Verify checks raw evidence at block time now: authentic (signature
// chain to the vendor root, every certificate valid at now, not revoked
// by the pinned collateral) and acceptable (debug off, a pinned launch
// measurement, report data equal to want, TCB at or above the minimum).
// It returns the claims of accepted evidence, or an *Error whose Kind
// says which check refused it. It reads nothing but its arguments.
func (v Verifier) Verify(raw []byte, p Policy, want [64]byte, now time.Time) (Claims, error) {
	e, err := DecodeEvidence(raw)
	if err != nil {
		return Claims{}, err
	}
	c, err := v.authenticate(e, p, now)
	if err != nil {
		return Claims{}, err
	}
	if err := c.check(p, want); err != nil {
		return Claims{}, err
	}
	return c.Claims, nil
}

// authenticate runs the evidence type's checks. The libraries' parsers
// trust some length fields of the evidence (go-tdx-guest v0.3.1 slices a
// quote by its QE authentication data size without a bounds check, found
// by TestEverySingleBitTamperIsRejected); a panic inside FinalizeBlock
// would stop the node, so it is turned into a refusal here. The same bytes
// panic the same way on every validator, so the verdict stays
// deterministic.
func (v Verifier) authenticate(e Evidence, p Policy, now time.Time) (c claims, err error) {
	defer func() {
		if r := recover(); r != nil {
			c, err = claims{}, errorf(Malformed, "evidence.report: the %s parser failed on it: %v", e.Type, r)
		}
	}()
	if e.Type == TypeSEVSNP {
		return v.verifySNP(e, p, now)
	}
	return v.verifyTDX(e, p, now)
}

// claims are the authenticated fields of a report, before the policy.
type claims struct {
	Claims
	debug      bool
	reportData []byte
}

// check applies the policy to authenticated claims, in a fixed order so
// that evidence failing several checks always gets the same Kind.
func (c claims) check(p Policy, want [64]byte) error {
	if c.debug {
		return errorf(DebugEnabled, "the %s guest was launched with debugging enabled", c.Type)
	}
	if !slices.ContainsFunc(p.Measurements, func(m []byte) bool { return bytes.Equal(m, c.Measurement) }) {
		return errorf(UnknownMeasurement, "the %s launch measurement is not among the %d the consortium accepts", c.Type, len(p.Measurements))
	}
	if !bytes.Equal(c.reportData, want[:]) {
		return errorf(WrongReportData, "the report data does not bind this worker's key and code measurement")
	}
	if !TCBMeets(c.TCB, p.MinTCB) {
		return errorf(LowTCB, "the platform's %s TCB is below the consortium's minimum", c.Type)
	}
	return nil
}

// checkValidity refuses a certificate outside its validity at now.
func checkValidity(what string, cert *x509.Certificate, now time.Time) error {
	if now.Before(cert.NotBefore) {
		return errorf(Expired, "%s is not valid before %s (block time %s)", what, cert.NotBefore.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if now.After(cert.NotAfter) {
		return errorf(Expired, "%s expired at %s (block time %s)", what, cert.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

func earliest(certs ...*x509.Certificate) time.Time {
	t := certs[0].NotAfter
	for _, c := range certs[1:] {
		if c.NotAfter.Before(t) {
			t = c.NotAfter
		}
	}
	return t.UTC()
}
