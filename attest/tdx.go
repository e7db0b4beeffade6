package attest

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	_ "embed"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/verify"
)

// verifyTDX authenticates a TDX version-4 quote with the PCK chain it
// carries and, when the consortium pinned it, Intel's collateral.
func (v Verifier) verifyTDX(e Evidence, p Policy, now time.Time) (claims, error) {
	q, err := abi.QuoteToProto(e.Report)
	if err != nil {
		return claims{}, errorf(Malformed, "evidence.report: not a TDX quote: %v", err)
	}
	quote, ok := q.(*pb.QuoteV4)
	if !ok {
		return claims{}, errorf(Malformed, "evidence.report: a TDX quote of version %T; only version 4 is verified", q)
	}
	// Bytes after the quote's structure are covered by no signature.
	if n := len(quote.GetExtraBytes()); n > 0 {
		return claims{}, errorf(Malformed, "evidence.report: %d bytes after the end of the TDX quote", n)
	}
	canon, err := abi.QuoteToAbiBytes(quote)
	if err != nil || !bytes.Equal(canon, e.Report) {
		return claims{}, errorf(Malformed, "evidence.report: the TDX quote is not in canonical form")
	}
	pemChain := quote.GetSignedData().GetCertificationData().GetQeReportCertificationData().GetPckCertificateChainData().GetPckCertChain()
	chain, err := parsePCKChain(pemChain)
	if err != nil {
		return claims{}, err
	}
	for i, name := range []string{"the PCK certificate", "the PCK CA certificate", "the Intel root certificate"} {
		if err := checkValidity(name, chain[i], now); err != nil {
			return claims{}, err
		}
	}
	roots := v.TDXRoots
	if roots == nil {
		roots = intelRoot()
	}
	opts := &verify.Options{Now: now, TrustedRoots: roots, Getter: pinnedCollateral{p.TDX}}
	if p.TDX != nil {
		opts.GetCollateral, opts.CheckRevocations = true, true
	}
	if err := verify.TdxQuote(quote, opts); err != nil {
		return claims{}, classifyTDX(err)
	}
	body := quote.GetTdQuoteBody()
	return claims{
		Claims: Claims{Type: TypeTDX, Measurement: body.GetMrTd(), TCB: body.GetTeeTcbSvn(), NotAfter: earliest(chain...)},
		// TD_ATTRIBUTES bit 0 is DEBUG: the VMM can read and write the TD.
		debug: body.GetTdAttributes()[0]&1 != 0, reportData: body.GetReportData(),
	}, nil
}

// intelRootPEM is Intel's SGX Root CA, the root of every PCK chain
// (SHA-256 fingerprint 44:A0:19:6B:...:74:D3, valid to 2049). It is the
// certificate go-tdx-guest embeds; passing it explicitly keeps the
// library from logging a warning on every verification.
//
//go:embed intel_sgx_root_ca.pem
var intelRootPEM []byte

var intelRoot = sync.OnceValue(func() *x509.CertPool {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(intelRootPEM) {
		panic("attest: the embedded Intel root certificate does not parse")
	}
	return p
})

// parsePCKChain reads the quote's PCK chain (leaf, CA, root) and insists
// on the exact PEM Intel writes, optionally ending in one NUL: PEM
// decoding skips text around the blocks, which would let bits change
// without changing the verdict.
func parsePCKChain(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	var again []byte
	rest := data
	for range 3 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil || b.Type != "CERTIFICATE" {
			return nil, errorf(Malformed, "evidence.report: the quote's PCK chain is not three PEM certificates")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, errorf(Malformed, "evidence.report: PCK chain certificate %d: %v", len(certs)+1, err)
		}
		certs = append(certs, c)
		again = append(again, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if !bytes.Equal(data, again) && !bytes.Equal(data, append(again, 0)) {
		return nil, errorf(Malformed, "evidence.report: the quote's PCK chain is not in canonical PEM form")
	}
	return certs, nil
}

// classifyTDX gives go-tdx-guest's refusals their Kind. The library's
// errors are sentinels for expiry and text otherwise; the tests pin each
// mapping, so a library upgrade that changes a message fails them.
func classifyTDX(err error) error {
	for _, s := range []error{
		verify.ErrRootCaCrlExpired, verify.ErrPCKCrlExpired, verify.ErrTcbInfoExpired, verify.ErrQeIdentityExpired,
		verify.ErrPCKCrlSigningCertExpired, verify.ErrPCKCrlRootCertExpired, verify.ErrTcbInfoSigningCertExpired,
		verify.ErrTcbInfoRootCertExpired, verify.ErrQeIdentitySigningCertExpired, verify.ErrQeIdentityRootCertExpired,
		verify.ErrPckLeafCertExpired, verify.ErrRootCaCertExpired, verify.ErrIntermediateCaCertExpired,
	} {
		if errors.Is(err, s) {
			return errorf(Expired, "TDX collateral: %v", err)
		}
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, " has expired"):
		// The library wraps some of its expiry sentinels with %v.
		return errorf(Expired, "TDX collateral: %v", err)
	case errors.Is(err, errNotPinned):
		return errorf(Malformed, "TDX collateral: %v", err)
	case strings.Contains(msg, " was revoked at "):
		return errorf(Revoked, "TDX: %v", err)
	case strings.Contains(msg, "failed TCB status check"):
		return errorf(LowTCB, "TDX: %v", err)
	}
	return errorf(BadSignature, "TDX quote: %v", err)
}

var errNotPinned = errors.New("not in the pinned collateral")

// pinnedCollateral answers go-tdx-guest's requests to Intel's PCS from
// the pinned collateral, and nothing else: verification never reaches the
// network. The library picks the URL from the PCK certificate (FMSPC and
// CA); the body it gets back carries the FMSPC it is for, which the
// library checks.
type pinnedCollateral struct{ c *TDXCollateral }

func (g pinnedCollateral) Get(u string) (map[string][]string, []byte, error) {
	c := g.c
	if c == nil {
		return nil, nil, fmt.Errorf("%s: %w", u, errNotPinned)
	}
	chain := func(name string, pemChain []byte) map[string][]string {
		return map[string][]string{name: {url.QueryEscape(string(pemChain))}}
	}
	switch {
	case strings.HasPrefix(u, "https://api.trustedservices.intel.com/tdx/certification/v4/tcb?"):
		return chain("Tcb-Info-Issuer-Chain", c.TCBInfoIssuerChain), c.TCBInfo, nil
	case u == "https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity":
		return chain("Sgx-Enclave-Identity-Issuer-Chain", c.QEIdentityIssuerChain), c.QEIdentity, nil
	case strings.HasPrefix(u, "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?"):
		return chain("Sgx-Pck-Crl-Issuer-Chain", c.PCKCRLIssuerChain), c.PCKCRL, nil
	case u == "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der":
		return nil, c.RootCRL, nil
	}
	return nil, nil, fmt.Errorf("%s: %w", u, errNotPinned)
}
