// Package attesttest signs SEV-SNP reports with a test-only AMD chain
// (go-sev-guest's fake ARK, ASK and VCEK), for the tests of paths that
// AMD-signed data cannot reach: a non-debug guest bound to a chosen key,
// a revoked VCEK. Real AMD-signed evidence is in attest/testdata; nothing
// here is trusted outside a test, because only a Verifier built by
// (*SNP).Verifier trusts this chain.
package attesttest

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"math/big"
	"time"

	"github.com/google/go-sev-guest/abi"
	sevtest "github.com/google/go-sev-guest/testing"
	"github.com/google/go-sev-guest/verify/trust"

	"github.com/medchain/medchain/attest"
)

// productName is the product the fake chain certifies; its line picks
// the roots the verifier uses.
const productName = "Milan-B1"

// SNP is a fake AMD chain for one chip.
type SNP struct {
	signer *sevtest.AmdSigner
}

// NewSNP creates the chain; its certificates are valid from created on
// (the VCEK for seven years, as AMD's are).
func NewSNP(created time.Time) (*SNP, error) {
	s, err := sevtest.DefaultTestOnlyCertChain(productName, created)
	if err != nil {
		return nil, err
	}
	return &SNP{signer: s}, nil
}

// Verifier trusts this chain instead of AMD's roots.
func (s *SNP) Verifier() attest.Verifier {
	return attest.Verifier{SNPRoots: map[string][]*trust.AMDRootCerts{"Milan": {s.root()}}}
}

// VerifierWithAMD trusts this chain beside AMD's embedded Milan roots, so
// real AMD-signed evidence verifies as it would on a network.
func (s *SNP) VerifierWithAMD() (attest.Verifier, error) {
	amd, err := trust.GetDefaultRootCerts("Milan")
	if err != nil {
		return attest.Verifier{}, err
	}
	return attest.Verifier{SNPRoots: map[string][]*trust.AMDRootCerts{"Milan": {amd, s.root()}}}, nil
}

func (s *SNP) root() *trust.AMDRootCerts {
	r := trust.AMDRootCertsProduct("Milan")
	r.ProductCerts = &trust.ProductCerts{Ark: s.signer.Ark, Ask: s.signer.Ask}
	return r
}

// Report is what a fake chip reports.
type Report struct {
	ReportData  [64]byte
	Measurement [48]byte
	Debug       bool
}

// Evidence signs a version-2 report as the chip would and wraps it with
// the VCEK. The fake VCEK is for chip ID zero at TCB zero, so the report
// says the same.
func (s *SNP) Evidence(r Report) ([]byte, error) {
	resp := sevtest.CreateRawReport(&sevtest.TestReportOptions{ReportData: r.ReportData[:]})
	raw := resp[:abi.ReportSize]
	binary.LittleEndian.PutUint64(raw[0x08:0x10], abi.SnpPolicyToBytes(abi.SnpPolicy{Debug: r.Debug}))
	copy(raw[0x90:0xC0], r.Measurement[:])
	R, S, err := s.signer.Sign(abi.SignedComponent(raw))
	if err != nil {
		return nil, err
	}
	if err := abi.SetSignature(R, S, raw); err != nil {
		return nil, err
	}
	return attest.Evidence{Type: attest.TypeSEVSNP, Report: raw, Cert: s.signer.Vcek.Raw}.Encode(), nil
}

// Device is a fake SEV-SNP guest device (go-sev-guest's test
// QuoteProvider) on this chip: asked for one of the reports' report data,
// it signs the report and returns it with the host certificate table
// holding the chain (ARK, ASK, VCEK), as a real host provides it.
func (s *SNP) Device(reports ...Report) (*sevtest.QuoteProvider, error) {
	var tcs []sevtest.TestCase
	for i, r := range reports {
		tc := sevtest.TestCase{Name: fmt.Sprint("report ", i), Input: r.ReportData}
		tc.Output = sevtest.CreateRawReport(&sevtest.TestReportOptions{ReportData: r.ReportData[:]})
		binary.LittleEndian.PutUint64(tc.Output[0x08:0x10], abi.SnpPolicyToBytes(abi.SnpPolicy{Debug: r.Debug}))
		copy(tc.Output[0x90:0xC0], r.Measurement[:])
		tcs = append(tcs, tc)
	}
	return sevtest.TcQuoteProvider(tcs, &sevtest.DeviceOptions{Signer: s.signer, Product: abi.DefaultSevProduct()})
}

// CRL is a revocation list signed by the fake ARK, valid from thisUpdate
// to nextUpdate, listing the chip's VCEK when revokeVCEK is set.
func (s *SNP) CRL(thisUpdate, nextUpdate time.Time, revokeVCEK bool) ([]byte, error) {
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	if revokeVCEK {
		tmpl.RevokedCertificateEntries = []x509.RevocationListEntry{{SerialNumber: s.signer.Vcek.SerialNumber, RevocationTime: thisUpdate}}
	}
	// The fake ARK has no subject key identifier, which Go requires of a
	// CRL issuer (for the authority key identifier); the signature does
	// not depend on it.
	issuer := *s.signer.Ark
	issuer.SubjectKeyId = []byte{1}
	issuer.KeyUsage |= x509.KeyUsageCRLSign
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, &issuer, s.signer.Keys.Ark)
	if err != nil {
		return nil, fmt.Errorf("attesttest: CRL: %w", err)
	}
	return der, nil
}
