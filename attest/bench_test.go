package attest_test

import (
	"syscall"
	"testing"
	"time"

	"github.com/medchain/medchain/attest"
	"github.com/medchain/medchain/attest/attesttest"
)

// BenchmarkVerify measures one verification of each kind of evidence, as
// FinalizeBlock runs it (decode, chain, signature, collateral, claims).
func BenchmarkVerify(b *testing.B) {
	tdx, mrtd, tdxRD := realTDX(b)
	snp, snpMeas, snpRD := realSNP(b)
	chip, err := attesttest.NewSNP(snpTime.AddDate(-1, 0, 0))
	if err != nil {
		b.Fatal(err)
	}
	var meas [48]byte
	good, err := chip.Evidence(attesttest.Report{ReportData: snpRD, Measurement: meas})
	if err != nil {
		b.Fatal(err)
	}
	crl, err := chip.CRL(snpTime.AddDate(0, -1, 0), snpTime.AddDate(0, 1, 0), false)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		v      attest.Verifier
		ev     []byte
		p      attest.Policy
		rd     [64]byte
		expect attest.Kind
	}{
		{name: "tdx", v: attest.Verifier{}, ev: tdx.Encode(), p: attest.Policy{Measurements: [][]byte{mrtd}, MinTCB: tdxTCB}, rd: tdxRD},
		{name: "tdx+collateral", v: attest.Verifier{}, ev: tdx.Encode(), p: attest.Policy{Measurements: [][]byte{mrtd}, TDX: sampleCollateral(b)}, rd: tdxRD, expect: attest.LowTCB},
		{name: "sev-snp/amd-milan", v: attest.Verifier{}, ev: snp.Encode(), p: attest.Policy{Measurements: [][]byte{snpMeas}}, rd: snpRD, expect: attest.DebugEnabled},
		{name: "sev-snp/test-chain+crl", v: chip.Verifier(), ev: good, p: attest.Policy{Measurements: [][]byte{meas[:]}, CRL: crl}, rd: snpRD},
	} {
		b.Run(bc.name, func(b *testing.B) {
			now := tdxTime
			if bc.name[0] == 's' {
				now = snpTime
			}
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			for b.Loop() {
				_, err := bc.v.Verify(bc.ev, bc.p, bc.rd, now)
				if attest.KindOf(err) != bc.expect {
					b.Fatalf("Verify: %v, want kind %v", err, bc.expect)
				}
			}
			// On a machine shared with other builds, wall time per op
			// mostly measures waiting for a core; the process's CPU time
			// per op is what one verification costs.
			b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N)/1000, "cpu-ms/op")
		})
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
