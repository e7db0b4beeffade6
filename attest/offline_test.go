package attest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	sevtrust "github.com/google/go-sev-guest/verify/trust"
	tdxtrust "github.com/google/go-tdx-guest/verify/trust"

	"github.com/medchain/medchain/attest"
	"github.com/medchain/medchain/attest/attesttest"
)

// noNetwork is an HTTP transport that refuses every request and counts
// them; the libraries reach AMD's KDS and Intel's PCS through Go's
// default client, so installing it as the default transport cuts off the
// only way they have to the network.
type noNetwork struct{ calls atomic.Int64 }

func (n *noNetwork) RoundTrip(r *http.Request) (*http.Response, error) {
	n.calls.Add(1)
	return nil, fmt.Errorf("network disabled in this test: %s", r.URL)
}

func TestVerificationNeverTouchesTheNetwork(t *testing.T) {
	nn := &noNetwork{}
	saved := http.DefaultTransport
	http.DefaultTransport = nn
	t.Cleanup(func() { http.DefaultTransport = saved })

	tdx, mrtd, tdxRD := realTDX(t)
	snp, snpMeas, snpRD := realSNP(t)
	chip, err := attesttest.NewSNP(snpTime.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var meas [48]byte
	good, err := chip.Evidence(attesttest.Report{ReportData: snpRD, Measurement: meas})
	if err != nil {
		t.Fatal(err)
	}
	crl, err := chip.CRL(snpTime.AddDate(0, -1, 0), snpTime.AddDate(0, 1, 0), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		v    attest.Verifier
		ev   []byte
		p    attest.Policy
		rd   [64]byte
		kind attest.Kind
	}{
		{"tdx", attest.Verifier{}, tdx.Encode(), attest.Policy{Measurements: [][]byte{mrtd}}, tdxRD, 0},
		{"tdx with pinned collateral", attest.Verifier{}, tdx.Encode(), attest.Policy{Measurements: [][]byte{mrtd}, TDX: sampleCollateral(t)}, tdxRD, attest.LowTCB},
		{"sev-snp (AMD)", attest.Verifier{}, snp.Encode(), attest.Policy{Measurements: [][]byte{snpMeas}}, snpRD, attest.DebugEnabled},
		{"sev-snp with pinned CRL", chip.Verifier(), good, attest.Policy{Measurements: [][]byte{meas[:]}, CRL: crl}, snpRD, 0},
	} {
		now := tdxTime
		if c.name[0] == 's' {
			now = snpTime
		}
		if _, err := c.v.Verify(c.ev, c.p, c.rd, now); attest.KindOf(err) != c.kind {
			t.Errorf("%s: %v, want kind %v", c.name, err, c.kind)
		}
	}
	if n := nn.calls.Load(); n != 0 {
		t.Errorf("%d network requests during verification", n)
	}
	// The control: the libraries' fetchers (their default ones retry
	// these same getters for two minutes) do go through this transport,
	// so a verification that fetched would have been counted.
	(&sevtrust.SimpleHTTPSGetter{}).Get("https://kdsintf.amd.com/vcek/v1/Milan/cert_chain")
	(&tdxtrust.SimpleHTTPSGetter{}).Get("https://api.trustedservices.intel.com/tdx/certification/v4/qe/identity")
	if n := nn.calls.Load(); n < 2 {
		t.Errorf("the libraries' fetchers made %d requests through the test transport, want at least 2", n)
	}
}

// Verification is a function of its arguments: run twice, it gives the
// same claims or the same refusal, word for word.
func TestVerificationIsAFunctionOfItsInputs(t *testing.T) {
	tdx, mrtd, tdxRD := realTDX(t)
	snp, snpMeas, snpRD := realSNP(t)
	type in struct {
		ev []byte
		p  attest.Policy
		rd [64]byte
	}
	for _, c := range []in{
		{tdx.Encode(), attest.Policy{Measurements: [][]byte{mrtd}}, tdxRD},
		{tdx.Encode(), attest.Policy{Measurements: [][]byte{mrtd}, TDX: sampleCollateral(t)}, tdxRD},
		{snp.Encode(), attest.Policy{Measurements: [][]byte{snpMeas}}, snpRD},
	} {
		now := tdxTime
		if bytes.Contains(c.ev, []byte(attest.TypeSEVSNP)) {
			now = snpTime
		}
		c1, err1 := attest.Verifier{}.Verify(c.ev, c.p, c.rd, now)
		c2, err2 := attest.Verifier{}.Verify(c.ev, c.p, c.rd, now)
		if fmt.Sprint(c1, err1) != fmt.Sprint(c2, err2) {
			t.Errorf("two runs differ:\n%v %v\n%v %v", c1, err1, c2, err2)
		}
	}
}

// FuzzVerify: whatever the bytes, verification returns (no panic, which
// would stop a validator) and accepts nothing but the untouched quote.
func FuzzVerify(f *testing.F) {
	tdx, mrtd, tdxRD := realTDX(f)
	f.Add(tdx.Report)
	f.Fuzz(func(t *testing.T, report []byte) {
		ev := attest.Evidence{Type: attest.TypeTDX, Report: report}
		_, err := attest.Verifier{}.Verify(ev.Encode(), attest.Policy{Measurements: [][]byte{mrtd}}, tdxRD, tdxTime)
		if err == nil && !bytes.Equal(report, tdx.Report) {
			t.Fatalf("accepted a quote that differs from the real one")
		}
	})
}
