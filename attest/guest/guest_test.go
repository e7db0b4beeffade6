package guest_test

import (
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"
	tdxtest "github.com/google/go-tdx-guest/testing"

	"github.com/medchain/medchain/attest"
	"github.com/medchain/medchain/attest/attesttest"
	"github.com/medchain/medchain/attest/guest"
)

var now = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// A worker in an SEV-SNP guest asks its device for a report bound to its
// key and code; the evidence it gets is what the ledger accepts.
func TestSNPEvidenceFromTheDeviceVerifies(t *testing.T) {
	chip, err := attesttest.NewSNP(now.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	key, code := []byte("worker key"), []byte("code measurement")
	rd := guest.ForWorker(key, code)
	var launch [48]byte
	launch[0] = 9
	dev, err := chip.Device(attesttest.Report{ReportData: rd, Measurement: launch})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := guest.SNP(dev, rd, nil)
	if err != nil {
		t.Fatalf("SNP: %v", err)
	}
	if _, err := chip.Verifier().Verify(ev, attest.Policy{Measurements: [][]byte{launch[:]}}, attest.ReportData(key, code), now); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Asked for report data it has no report for, the fake device fails,
	// and the error comes back.
	if _, err := guest.SNP(dev, guest.ForWorker([]byte("other"), code), nil); err == nil {
		t.Error("SNP with report data the device does not answer: no error")
	}
}

// reportOnly is a device whose host provides no certificates: the raw
// quote is the bare report.
type reportOnly struct{ report []byte }

func (reportOnly) IsSupported() bool                        { return true }
func (d reportOnly) GetRawQuote(_ [64]byte) ([]byte, error) { return d.report, nil }

func TestSNPWithoutAHostVCEKNeedsOne(t *testing.T) {
	chip, err := attesttest.NewSNP(now.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	rd := guest.ForWorker([]byte("k"), []byte("c"))
	full, err := chip.Evidence(attesttest.Report{ReportData: rd})
	if err != nil {
		t.Fatal(err)
	}
	e, err := attest.DecodeEvidence(full)
	if err != nil {
		t.Fatal(err)
	}
	dev := reportOnly{report: e.Report}
	if _, err := guest.SNP(dev, rd, nil); !errors.Is(err, guest.ErrNoVCEK) {
		t.Fatalf("no VCEK anywhere: %v, want ErrNoVCEK", err)
	}
	ev, err := guest.SNP(dev, rd, e.Cert)
	if err != nil {
		t.Fatal(err)
	}
	if string(ev) != string(full) {
		t.Error("evidence with the VCEK passed in differs from the chip's")
	}
	var other [64]byte
	if _, err := guest.SNP(dev, other, e.Cert); err == nil {
		t.Error("a report for other report data was wrapped as evidence")
	}
	if len(e.Report) != abi.ReportSize {
		t.Fatalf("report of %d bytes", len(e.Report))
	}
}

// A TDX guest's quote provider (go-tdx-guest's test provider, answering
// with the real quote of attest/testdata) gives evidence that verifies.
func TestTDXEvidenceFromTheQuoteProviderVerifies(t *testing.T) {
	quote, err := os.ReadFile("../testdata/tdx/tdx_prod_quote_SPR_E4.dat")
	if err != nil {
		t.Fatal(err)
	}
	var rd [64]byte
	b, _ := hex.DecodeString("6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113")
	copy(rd[:], b)
	var other [64]byte
	p, err := tdxtest.TcQuoteProvider([]tdxtest.TestCase{{Input: rd, Quote: quote}, {Input: other, Quote: quote}})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := guest.TDX(p, rd)
	if err != nil {
		t.Fatalf("TDX: %v", err)
	}
	mrtd, _ := hex.DecodeString("6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb")
	if _, err := (attest.Verifier{}).Verify(ev, attest.Policy{Measurements: [][]byte{mrtd}}, rd, time.Date(2023, time.July, 1, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := guest.TDX(p, other); err == nil {
		t.Error("a quote for other report data was wrapped as evidence")
	}
}

// Outside a confidential VM (this machine), opening a device fails with
// a message that says so, rather than producing anything.
func TestOpenFailsOutsideAConfidentialVM(t *testing.T) {
	if _, err := os.Stat("/dev/sev-guest"); err == nil {
		t.Skip("this machine has an SEV-SNP guest device")
	}
	if _, err := os.Stat("/sys/kernel/config/tsm/report"); err == nil {
		t.Skip("this machine has configfs-tsm")
	}
	if _, err := guest.OpenSNP(); err == nil {
		t.Error("OpenSNP succeeded on a machine without an SEV-SNP device")
	}
	if _, err := guest.OpenTDX(); err == nil {
		t.Error("OpenTDX succeeded on a machine without configfs-tsm")
	}
}
