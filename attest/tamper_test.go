package attest_test

import (
	"testing"
	"time"

	"github.com/medchain/medchain/attest"
	"github.com/medchain/medchain/attest/attesttest"
)

// flipEveryBit verifies the evidence with each single bit of one part
// flipped (the part rebuilt from a fresh copy each time) and fails if any
// flip is accepted or is refused for a reason other than authenticity:
// a flipped bit must break the evidence, not merely change a claim. With
// -short it flips every 7th bit only.
func flipEveryBit(t *testing.T, part []byte, verify func() error) {
	t.Helper()
	step := 1
	if testing.Short() {
		step = 7
	}
	n := 0
	for bit := 0; bit < len(part)*8; bit += step {
		part[bit/8] ^= 1 << (bit % 8)
		err := verify()
		part[bit/8] ^= 1 << (bit % 8)
		switch attest.KindOf(err) {
		case attest.Malformed, attest.BadSignature, attest.Expired:
		default:
			t.Errorf("bit %d (byte %#x) flipped: %v", bit, bit/8, err)
			if n++; n > 10 {
				t.Fatal("too many")
			}
		}
	}
}

func TestEverySingleBitTamperIsRejected(t *testing.T) {
	tdx, mrtd, tdxRD := realTDX(t)
	snp, snpMeas, snpRD := realSNP(t)
	chip, err := attesttest.NewSNP(snpTime.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	var meas [48]byte
	raw, err := chip.Evidence(attesttest.Report{ReportData: snpRD, Measurement: meas})
	if err != nil {
		t.Fatal(err)
	}
	good, err := attest.DecodeEvidence(raw)
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		name   string
		v      attest.Verifier
		ev     attest.Evidence
		part   func(*attest.Evidence) []byte
		policy attest.Policy
		rd     [64]byte
		now    time.Time
		// base is the verdict on the untouched evidence.
		base attest.Kind
	}
	report := func(e *attest.Evidence) []byte { return e.Report }
	cert := func(e *attest.Evidence) []byte { return e.Cert }
	snpPolicy := attest.Policy{Measurements: [][]byte{snpMeas}}
	for _, tc := range []target{
		// The real TDX quote: header, body, quote signature, QE report and
		// its signature, and the PEM PCK chain all lie in these bytes.
		{"tdx quote (real)", attest.Verifier{}, tdx, report, attest.Policy{Measurements: [][]byte{mrtd}}, tdxRD, tdxTime, 0},
		// The real SNP report and VCEK verify; the guest is debug, which is
		// the verdict each flip must change into an authenticity refusal.
		{"sev-snp report (real)", attest.Verifier{}, snp, report, snpPolicy, snpRD, snpTime, attest.DebugEnabled},
		{"sev-snp VCEK certificate (real)", attest.Verifier{}, snp, cert, snpPolicy, snpRD, snpTime, attest.DebugEnabled},
		// An accepted SNP report from the test-only chain.
		{"sev-snp report (test chain)", chip.Verifier(), good, report, attest.Policy{Measurements: [][]byte{meas[:]}}, snpRD, snpTime, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ev := tc.ev
			ev.Report = append([]byte(nil), ev.Report...)
			ev.Cert = append([]byte(nil), ev.Cert...)
			if len(tc.ev.Cert) == 0 {
				ev.Cert = nil
			}
			verify := func() error {
				_, err := tc.v.Verify(ev.Encode(), tc.policy, tc.rd, tc.now)
				return err
			}
			if err := verify(); attest.KindOf(err) != tc.base {
				t.Fatalf("untouched: %v, want kind %v", err, tc.base)
			}
			flipEveryBit(t, tc.part(&ev), verify)
		})
	}
}
