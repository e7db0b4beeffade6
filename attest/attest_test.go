package attest_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/medchain/medchain/attest"
	"github.com/medchain/medchain/attest/attesttest"
)

// Fixed block times. The real evidence dates from 2022 (SEV-SNP, VCEK
// valid 2022-09 to 2029-09) and 2023 (TDX; Intel's sample collateral is
// current from 2023-06-18 to 2023-07-18).
var (
	snpTime = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)
	tdxTime = time.Date(2023, time.July, 1, 1, 0, 0, 0, time.UTC)
)

func read(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The real SEV-SNP report from go-sev-guest's test data: an AMD Milan
// chip's report, signed by its VCEK, of a guest launched with DEBUG set
// and report data 01 02 03 04 05 00….
func realSNP(t testing.TB) (attest.Evidence, []byte, [64]byte) {
	e := attest.Evidence{Type: attest.TypeSEVSNP, Report: read(t, "testdata/sev-snp/attestation.bin"), Cert: read(t, "testdata/sev-snp/vcek.testcer")}
	var rd [64]byte
	copy(rd[:], []byte{1, 2, 3, 4, 5})
	return e, unhex(t, "b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01"), rd
}

// The real TDX quote from go-tdx-guest's test data: a Sapphire Rapids
// TD's version-4 quote with its PCK chain, DEBUG off.
func realTDX(t testing.TB) (attest.Evidence, []byte, [64]byte) {
	e := attest.Evidence{Type: attest.TypeTDX, Report: read(t, "testdata/tdx/tdx_prod_quote_SPR_E4.dat")}
	var rd [64]byte
	copy(rd[:], unhex(t, "6c62dec1b8191749a31dab490be532a35944dea47caef1f980863993d9899545eb7406a38d1eed313b987a467dacead6f0c87a6d766c66f6f29f8acb281f1113"))
	return e, unhex(t, "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb"), rd
}

var tdxTCB = []byte{3, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// Intel's sample PCS collateral (TCB info and QE identity for FMSPC
// 50806f000000, PCK and root CRLs), as go-tdx-guest ships it.
func sampleCollateral(t testing.TB) *attest.TDXCollateral {
	rd := func(n string) []byte { return read(t, "testdata/tdx/"+n) }
	return &attest.TDXCollateral{
		TCBInfo: rd("sample_tcbInfo_response"), TCBInfoIssuerChain: rd("tcb_info_issuer_chain.pem"),
		QEIdentity: rd("sample_qeIdentity_response"), QEIdentityIssuerChain: rd("qe_identity_issuer_chain.pem"),
		PCKCRL: rd("pckcrl"), PCKCRLIssuerChain: rd("pck_crl_issuer_chain.pem"), RootCRL: rd("rootcrl.der"),
	}
}

func TestRealTDXQuoteIsAccepted(t *testing.T) {
	e, mrtd, rd := realTDX(t)
	c, err := attest.Verifier{}.Verify(e.Encode(), attest.Policy{Measurements: [][]byte{mrtd}, MinTCB: tdxTCB}, rd, tdxTime)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Type != attest.TypeTDX || !bytes.Equal(c.Measurement, mrtd) || !bytes.Equal(c.TCB, tdxTCB) {
		t.Errorf("claims = %+v", c)
	}
	if want := time.Date(2029, time.September, 20, 13, 20, 31, 0, time.UTC); !c.NotAfter.Equal(want) {
		t.Errorf("NotAfter = %s, want the PCK certificate's %s", c.NotAfter, want)
	}
}

// The real SEV-SNP report's signature chain verifies to AMD's embedded
// Milan root, but its guest was launched with DEBUG, so it is refused for
// that and nothing else: the policy pins its measurement and report data.
func TestRealSNPReportVerifiesButItsGuestIsDebug(t *testing.T) {
	e, meas, rd := realSNP(t)
	_, err := attest.Verifier{}.Verify(e.Encode(), attest.Policy{Measurements: [][]byte{meas}}, rd, snpTime)
	if k := attest.KindOf(err); k != attest.DebugEnabled {
		t.Fatalf("Verify: %v (kind %v), want %v", err, k, attest.DebugEnabled)
	}
}

// A non-debug SEV-SNP guest, signed by a test-only AMD chain that only
// this test's verifier trusts, is accepted end to end.
func TestSNPReportFromTrustedChainIsAccepted(t *testing.T) {
	chip, err := attesttest.NewSNP(snpTime.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	key, code := []byte("worker ed25519 public key......."), bytes.Repeat([]byte{0xc0}, 32)
	var meas [48]byte
	meas[0] = 7
	ev, err := chip.Evidence(attesttest.Report{ReportData: attest.ReportData(key, code), Measurement: meas})
	if err != nil {
		t.Fatal(err)
	}
	c, err := chip.Verifier().Verify(ev, attest.Policy{Measurements: [][]byte{meas[:]}}, attest.ReportData(key, code), snpTime)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Type != attest.TypeSEVSNP || !bytes.Equal(c.Measurement, meas[:]) || len(c.TCB) != 8 {
		t.Errorf("claims = %+v", c)
	}
	// The same evidence is refused by a verifier with AMD's real roots.
	if _, err := (attest.Verifier{}).Verify(ev, attest.Policy{Measurements: [][]byte{meas[:]}}, attest.ReportData(key, code), snpTime); attest.KindOf(err) != attest.BadSignature {
		t.Errorf("with AMD's roots: %v, want %v", err, attest.BadSignature)
	}
}

// Each refusal has its own kind; each case changes one thing from
// evidence that is otherwise accepted.
func TestEachRefusalHasItsOwnKind(t *testing.T) {
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
	crl := func(from, to time.Time, revoke bool) []byte {
		b, err := chip.CRL(from, to, revoke)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tdxPolicy := attest.Policy{Measurements: [][]byte{mrtd}, MinTCB: tdxTCB}
	fakePolicy := attest.Policy{Measurements: [][]byte{meas[:]}}
	higher := append([]byte{4}, tdxTCB[1:]...)
	tests := []struct {
		name   string
		v      attest.Verifier
		ev     []byte
		policy attest.Policy
		want   [64]byte
		now    time.Time
		kind   attest.Kind
	}{
		{"not JSON", attest.Verifier{}, []byte("{"), tdxPolicy, tdxRD, tdxTime, attest.Malformed},
		{"unknown type", attest.Verifier{}, attest.Evidence{Type: "sgx", Report: tdx.Report}.Encode(), tdxPolicy, tdxRD, tdxTime, attest.Malformed},
		{"truncated quote", attest.Verifier{}, attest.Evidence{Type: attest.TypeTDX, Report: tdx.Report[:1000]}.Encode(), tdxPolicy, tdxRD, tdxTime, attest.Malformed},
		{"SNP without its VCEK", attest.Verifier{}, attest.Evidence{Type: attest.TypeSEVSNP, Report: snp.Report}.Encode(), attest.Policy{}, snpRD, snpTime, attest.Malformed},
		{"SNP with another chip's VCEK", chip.Verifier(), attest.Evidence{Type: attest.TypeSEVSNP, Report: snp.Report, Cert: snp.Cert}.Encode(), fakePolicy, snpRD, snpTime, attest.BadSignature},
		{"wrong report data (another key)", attest.Verifier{}, tdx.Encode(), tdxPolicy, attest.ReportData([]byte("another key"), nil), tdxTime, attest.WrongReportData},
		{"wrong report data (SNP, another key)", chip.Verifier(), good, fakePolicy, attest.ReportData([]byte("another key"), nil), snpTime, attest.WrongReportData},
		{"measurement not pinned", attest.Verifier{}, tdx.Encode(), attest.Policy{Measurements: [][]byte{meas[:]}}, tdxRD, tdxTime, attest.UnknownMeasurement},
		{"no measurement pinned", chip.Verifier(), good, attest.Policy{}, snpRD, snpTime, attest.UnknownMeasurement},
		{"debug policy (real SNP)", attest.Verifier{}, snp.Encode(), attest.Policy{Measurements: [][]byte{snpMeas}}, snpRD, snpTime, attest.DebugEnabled},
		{"below the pinned minimum TCB", attest.Verifier{}, tdx.Encode(), attest.Policy{Measurements: [][]byte{mrtd}, MinTCB: higher}, tdxRD, tdxTime, attest.LowTCB},
		{"below the minimum TCB (SNP)", chip.Verifier(), good, attest.Policy{Measurements: [][]byte{meas[:]}, MinTCB: []byte{0, 0, 0, 0, 0, 0, 1, 0}}, snpRD, snpTime, attest.LowTCB},
		{"TCB level not current in Intel's collateral", attest.Verifier{}, tdx.Encode(), attest.Policy{Measurements: [][]byte{mrtd}, TDX: sampleCollateral(t)}, tdxRD, tdxTime, attest.LowTCB},
		{"expired TDX collateral", attest.Verifier{}, tdx.Encode(), attest.Policy{Measurements: [][]byte{mrtd}, TDX: sampleCollateral(t)}, tdxRD, tdxTime.AddDate(0, 1, 0), attest.Expired},
		{"expired PCK certificate", attest.Verifier{}, tdx.Encode(), tdxPolicy, tdxRD, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), attest.Expired},
		{"expired VCEK", attest.Verifier{}, snp.Encode(), attest.Policy{Measurements: [][]byte{snpMeas}}, snpRD, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), attest.Expired},
		{"VCEK not yet valid", attest.Verifier{}, snp.Encode(), attest.Policy{Measurements: [][]byte{snpMeas}}, snpRD, time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), attest.Expired},
		{"expired CRL", chip.Verifier(), good, attest.Policy{Measurements: [][]byte{meas[:]}, CRL: crl(snpTime.AddDate(0, -2, 0), snpTime.AddDate(0, -1, 0), false)}, snpRD, snpTime, attest.Expired},
		{"revoked VCEK", chip.Verifier(), good, attest.Policy{Measurements: [][]byte{meas[:]}, CRL: crl(snpTime.AddDate(0, -1, 0), snpTime.AddDate(0, 1, 0), true)}, snpRD, snpTime, attest.Revoked},
		{"CRL not signed by the ARK", attest.Verifier{}, snp.Encode(), attest.Policy{Measurements: [][]byte{snpMeas}, CRL: crl(snpTime.AddDate(0, -1, 0), snpTime.AddDate(0, 1, 0), false)}, snpRD, snpTime, attest.BadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.v.Verify(tc.ev, tc.policy, tc.want, tc.now)
			if k := attest.KindOf(err); k != tc.kind {
				t.Fatalf("Verify: %v (kind %v), want kind %v", err, k, tc.kind)
			}
		})
	}
	// The controls: a current CRL that lists nothing, and evidence as is.
	ok := attest.Policy{Measurements: [][]byte{meas[:]}, CRL: crl(snpTime.AddDate(0, -1, 0), snpTime.AddDate(0, 1, 0), false)}
	if _, err := chip.Verifier().Verify(good, ok, snpRD, snpTime); err != nil {
		t.Errorf("with a current CRL: %v", err)
	}
}

func TestTCBMeetsComparesEachComponent(t *testing.T) {
	for _, tc := range []struct {
		tcb, min []byte
		want     bool
	}{
		{[]byte{2, 5}, nil, true},
		{[]byte{2, 5}, []byte{2, 5}, true},
		{[]byte{3, 5}, []byte{2, 5}, true},
		{[]byte{3, 4}, []byte{2, 5}, false}, // larger as a number, but one component is lower
		{[]byte{2, 5}, []byte{2, 5, 0}, false},
	} {
		if got := attest.TCBMeets(tc.tcb, tc.min); got != tc.want {
			t.Errorf("TCBMeets(%v, %v) = %v", tc.tcb, tc.min, got)
		}
	}
}

func TestReportDataBindsKeyAndMeasurement(t *testing.T) {
	a := attest.ReportData([]byte("key"), []byte("code"))
	for _, other := range [][2][]byte{{[]byte("key2"), []byte("code")}, {[]byte("key"), []byte("code2")}, {[]byte("keyc"), []byte("ode")}} {
		if attest.ReportData(other[0], other[1]) == a {
			t.Errorf("ReportData(%q, %q) equals ReportData(key, code)", other[0], other[1])
		}
	}
}
