// Package guest gathers attestation evidence inside a confidential VM, for
// a worker to present with register_worker. It asks the guest's TEE
// device, through the interfaces go-sev-guest and go-tdx-guest provide
// (Linux configfs-tsm, or the /dev/sev-guest and /dev/tdx_guest ioctls),
// for a report whose 64-byte REPORT_DATA binds the worker's ledger key and
// code measurement (attest.ReportData), and wraps it in attest.Evidence.
//
// Only a worker links this package; validators verify with package attest
// and never touch a device.
package guest

import (
	"bytes"
	"errors"
	"fmt"

	sevabi "github.com/google/go-sev-guest/abi"
	sevclient "github.com/google/go-sev-guest/client"
	tdxabi "github.com/google/go-tdx-guest/abi"
	tdxclient "github.com/google/go-tdx-guest/client"
	tdxpb "github.com/google/go-tdx-guest/proto/tdx"

	"github.com/medchain/medchain/attest"
)

// SNPDevice is what an SEV-SNP guest asks for a report: go-sev-guest's
// client.QuoteProvider, whose raw quote is the report followed by the
// host-provided certificate table.
type SNPDevice interface {
	IsSupported() bool
	GetRawQuote(reportData [64]byte) ([]byte, error)
}

// TDXDevice is what a TDX guest asks for a quote: go-tdx-guest's
// client.QuoteProvider.
type TDXDevice interface {
	IsSupported() error
	GetRawQuote(reportData [64]byte) ([]byte, error)
}

var (
	_ SNPDevice = sevclient.QuoteProvider(nil)
	_ TDXDevice = tdxclient.QuoteProvider(nil)
)

// OpenSNP finds the machine's SEV-SNP device (configfs-tsm first, then
// /dev/sev-guest). It fails outside an SEV-SNP guest.
func OpenSNP() (SNPDevice, error) {
	p, err := sevclient.GetQuoteProvider()
	if err != nil {
		return nil, fmt.Errorf("guest: no SEV-SNP device (is this an SEV-SNP confidential VM?): %w", err)
	}
	return p, nil
}

// OpenTDX finds the machine's TDX quote provider (configfs-tsm). It fails
// outside a TDX guest.
func OpenTDX() (TDXDevice, error) {
	p, err := tdxclient.GetQuoteProvider()
	if err != nil {
		return nil, fmt.Errorf("guest: no TDX quote provider: %w", err)
	}
	if err := p.IsSupported(); err != nil {
		return nil, fmt.Errorf("guest: no TDX quote provider (is this a TDX confidential VM?): %w", err)
	}
	return p, nil
}

// ErrNoVCEK is returned when the host provided no VCEK with the report
// and none was given: the operator fetches it once from AMD's KDS for the
// chip and TCB (the URL is kds.VCEKCertURL of the report's chip ID and
// reported TCB) and passes it in.
var ErrNoVCEK = errors.New("guest: the host's certificate table has no VCEK or VLEK; pass the chip's VCEK")

// SNP asks the device for a report with the given report data and returns
// the evidence: the report, and the endorsement key certificate from the
// host's certificate table or, when the host provides none, vcek.
func SNP(d SNPDevice, reportData [64]byte, vcek []byte) ([]byte, error) {
	raw, err := d.GetRawQuote(reportData)
	if err != nil {
		return nil, fmt.Errorf("guest: SEV-SNP report: %w", err)
	}
	if len(raw) < sevabi.ReportSize {
		return nil, fmt.Errorf("guest: SEV-SNP report: %d bytes, want at least %d", len(raw), sevabi.ReportSize)
	}
	report := raw[:sevabi.ReportSize]
	att, err := sevabi.ReportCertsToProto(raw)
	if err != nil {
		return nil, fmt.Errorf("guest: SEV-SNP report: %w", err)
	}
	if !bytes.Equal(att.GetReport().GetReportData(), reportData[:]) {
		return nil, errors.New("guest: the device returned a report for other report data")
	}
	cert := vcek
	if c := att.GetCertificateChain().GetVcekCert(); len(c) > 0 {
		cert = c
	} else if c := att.GetCertificateChain().GetVlekCert(); len(c) > 0 {
		cert = c
	}
	if len(cert) == 0 {
		return nil, ErrNoVCEK
	}
	return attest.Evidence{Type: attest.TypeSEVSNP, Report: bytes.Clone(report), Cert: cert}.Encode(), nil
}

// TDX asks the device for a quote with the given report data and returns
// the evidence.
func TDX(d TDXDevice, reportData [64]byte) ([]byte, error) {
	raw, err := d.GetRawQuote(reportData)
	if err != nil {
		return nil, fmt.Errorf("guest: TDX quote: %w", err)
	}
	q, err := tdxabi.QuoteToProto(raw)
	if err != nil {
		return nil, fmt.Errorf("guest: TDX quote: %w", err)
	}
	v4, ok := q.(*tdxpb.QuoteV4)
	if !ok {
		return nil, fmt.Errorf("guest: TDX quote of type %T; only version 4 is verified", q)
	}
	if !bytes.Equal(v4.GetTdQuoteBody().GetReportData(), reportData[:]) {
		return nil, errors.New("guest: the device returned a quote for other report data")
	}
	return attest.Evidence{Type: attest.TypeTDX, Report: raw}.Encode(), nil
}

// ForWorker is the report data a worker asks its device for: its ledger
// public key and its code measurement, bound by attest.ReportData.
func ForWorker(workerKey, codeMeasurement []byte) [64]byte {
	return attest.ReportData(workerKey, codeMeasurement)
}
