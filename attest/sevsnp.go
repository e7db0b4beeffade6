package attest

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
)

// verifySNP authenticates an SEV-SNP report with its VCEK.
func (v Verifier) verifySNP(e Evidence, p Policy, now time.Time) (claims, error) {
	report, err := abi.ReportToProto(e.Report)
	if err != nil {
		return claims{}, errorf(Malformed, "evidence.report: not an SEV-SNP attestation report: %v", err)
	}
	// The signature does not cover every byte (reserved space around r
	// and s); re-encoding and comparing makes every bit count, so no two
	// distinct byte strings are accepted as the same evidence.
	canon, err := abi.ReportToAbiBytes(report)
	if err != nil || !bytes.Equal(canon, e.Report) {
		return claims{}, errorf(Malformed, "evidence.report: not in canonical form (nonzero reserved bytes)")
	}
	info, err := abi.ParseSignerInfo(report.GetSignerInfo())
	if err != nil {
		return claims{}, errorf(Malformed, "evidence.report: signer info: %v", err)
	}
	cert, err := x509.ParseCertificate(e.Cert)
	if err != nil {
		return claims{}, errorf(Malformed, "evidence.cert: not a DER certificate: %v", err)
	}
	var exts *kds.Extensions
	chain := &spb.CertificateChain{}
	switch info.SigningKey {
	case abi.VcekReportSigner:
		exts, err = kds.VcekCertificateExtensions(cert)
		chain.VcekCert = e.Cert
	case abi.VlekReportSigner:
		exts, err = kds.VlekCertificateExtensions(cert)
		chain.VlekCert = e.Cert
	default:
		return claims{}, errorf(BadSignature, "evidence.report: signed by %v, not a VCEK or VLEK", info.SigningKey)
	}
	if err != nil {
		return claims{}, errorf(BadSignature, "evidence.cert: not a KDS %v certificate: %v", info.SigningKey, err)
	}
	product, err := kds.ParseProductName(exts.ProductName, info.SigningKey)
	if err != nil {
		return claims{}, errorf(BadSignature, "evidence.cert: product name: %v", err)
	}
	roots, err := v.snpRoots(kds.ProductLine(product))
	if err != nil {
		return claims{}, err
	}
	// Validity first, so an expired chain is refused as expired rather
	// than as a chain that does not verify.
	if err := checkValidity("the "+info.SigningKey.String()+" certificate", cert, now); err != nil {
		return claims{}, err
	}
	vouching := []*x509.Certificate{cert}
	for _, r := range roots {
		for _, c := range []struct {
			name string
			cert *x509.Certificate
		}{{"the ASK", r.ProductCerts.Ask}, {"the ARK", r.ProductCerts.Ark}} {
			if c.cert == nil {
				continue
			}
			if err := checkValidity(c.name, c.cert, now); err != nil {
				return claims{}, err
			}
			vouching = append(vouching, c.cert)
		}
	}
	att := &spb.Attestation{Report: report, CertificateChain: chain}
	opts := &verify.Options{DisableCertFetching: true, Now: now, TrustedRoots: v.SNPRoots}
	if err := verify.SnpAttestation(att, opts); err != nil {
		return claims{}, errorf(BadSignature, "SEV-SNP report: %v", err)
	}
	// The VCEK is derived from the chip and its TCB; one issued for
	// another chip or TCB must not vouch for this report.
	if info.SigningKey == abi.VcekReportSigner {
		if !bytes.Equal(exts.HWID, report.GetChipId()) {
			return claims{}, errorf(BadSignature, "the VCEK was issued to another chip than the report's")
		}
		if uint64(exts.TCBVersion) != report.GetReportedTcb() {
			return claims{}, errorf(BadSignature, "the VCEK was issued for another TCB than the report's")
		}
	}
	if len(p.CRL) > 0 {
		if err := checkSNPRevocation(p.CRL, roots, cert, now); err != nil {
			return claims{}, err
		}
	}
	pol, err := abi.ParseSnpPolicy(report.GetPolicy())
	if err != nil {
		return claims{}, errorf(Malformed, "evidence.report: guest policy: %v", err)
	}
	var tcb [8]byte
	binary.LittleEndian.PutUint64(tcb[:], report.GetReportedTcb())
	return claims{
		Claims: Claims{Type: TypeSEVSNP, Measurement: report.GetMeasurement(), TCB: tcb[:], NotAfter: earliest(vouching...)},
		debug:  pol.Debug, reportData: report.GetReportData(),
	}, nil
}

// snpRoots gives the roots trusted for a product line.
func (v Verifier) snpRoots(line string) ([]*trust.AMDRootCerts, error) {
	if v.SNPRoots != nil {
		if r := v.SNPRoots[line]; len(r) > 0 {
			return r, nil
		}
		return nil, errorf(BadSignature, "no trusted AMD root for product line %q", line)
	}
	r, err := trust.GetDefaultRootCerts(line)
	if err != nil {
		return nil, errorf(BadSignature, "no embedded AMD root for product line %q", line)
	}
	return []*trust.AMDRootCerts{r}, nil
}

// checkSNPRevocation checks the pinned CRL: signed by a trusted ARK,
// current at now, and listing neither the ASK nor the endorsement key.
func checkSNPRevocation(der []byte, roots []*trust.AMDRootCerts, cert *x509.Certificate, now time.Time) error {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return errorf(Malformed, "policy.crl: %v", err)
	}
	var root *trust.AMDRootCerts
	for _, r := range roots {
		if r.ProductCerts.Ark != nil && crl.CheckSignatureFrom(r.ProductCerts.Ark) == nil {
			root = r
			break
		}
	}
	if root == nil {
		return errorf(BadSignature, "policy.crl: not signed by a trusted ARK")
	}
	if now.Before(crl.ThisUpdate) || (!crl.NextUpdate.IsZero() && now.After(crl.NextUpdate)) {
		return errorf(Expired, "policy.crl: valid from %s to %s, block time %s", crl.ThisUpdate.UTC().Format(time.RFC3339), crl.NextUpdate.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	for _, rc := range crl.RevokedCertificateEntries {
		if rc.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return errorf(Revoked, "the endorsement key certificate is on the pinned CRL")
		}
		if ask := root.ProductCerts.Ask; ask != nil && rc.SerialNumber.Cmp(ask.SerialNumber) == 0 {
			return errorf(Revoked, "the ASK is on the pinned CRL")
		}
	}
	return nil
}
