package ledger

import (
	"encoding/hex"
	"reflect"
	"syscall"
	"testing"
	"time"
)

// hardwareBlock is one block's transactions on the standard world: the
// consortium authority (root) pins SEV-SNP and TDX policy, then hosp-a's
// admin registers its worker wanda with evidence of each kind.
func hardwareBlock(t *testing.T, now int64) (txs [][]byte, want []Code) {
	code := scriptHash("worker v1")
	snp := &SetAttestationPolicy{Evidence: AttestTypeSEVSNP, ExpiryBlocks: 10, CRL: chipCRL(t, "current", now),
		Measurements: []string{hex.EncodeToString(launchMeasurement("good")), hex.EncodeToString(launchMeasurement("real-snp"))}}
	tdx := &SetAttestationPolicy{Evidence: AttestTypeTDX, ExpiryBlocks: 10, TDXCollateral: sampleTDXCollateral(t),
		Measurements: []string{hex.EncodeToString(launchMeasurement("real-tdx"))}}
	reg := func(typ string, ev []byte) *RegisterWorker {
		return &RegisterWorker{Address: testAddr("wanda"), Attestation: typ, Measurement: code, Evidence: ev}
	}
	good := chipEvidence(t, "good", testPub("wanda"), code, false)
	msgs := []struct {
		signer string
		msg    Msg
		want   Code
	}{
		{"root", snp, CodeOK},
		{"root", tdx, CodeOK},
		{"alice", reg(AttestTypeSEVSNP, realEvidence(t, AttestTypeSEVSNP)), CodeEvidenceDebug},
		{"alice", reg(AttestTypeTDX, realEvidence(t, AttestTypeTDX)), CodeEvidenceExpired},
		{"alice", reg(AttestTypeSEVSNP, chipEvidence(t, "good", testPub("bob"), code, false)), CodeEvidenceReportData},
		{"alice", reg(AttestTypeSEVSNP, good), CodeOK},
	}
	nonces := map[string]uint64{}
	for _, m := range msgs {
		txs = append(txs, mustSign(m.signer, nonces[m.signer], m.msg))
		nonces[m.signer]++
		want = append(want, m.want)
	}
	return txs, want
}

// Two validators given the same evidence at the same block time reach the
// same verdicts, byte for byte, and the same app hash.
func TestHardwareVerdictsAreTheSameOnTwoMachines(t *testing.T) {
	a, dbA := newWorld(t)
	b, dbB := newWorld(t)
	const now = 1_700_000_010
	txs, want := hardwareBlock(t, now)
	info := BlockInfo{Height: 1, Time: now}
	if err := a.BeginBlock(info); err != nil {
		t.Fatal(err)
	}
	if err := b.BeginBlock(info); err != nil {
		t.Fatal(err)
	}
	for i, raw := range txs {
		ra, errA := a.DeliverTx(raw)
		rb, errB := b.DeliverTx(raw)
		if errA != nil || errB != nil {
			t.Fatalf("tx %d: DeliverTx errors %v, %v", i, errA, errB)
		}
		if !reflect.DeepEqual(ra, rb) {
			t.Fatalf("tx %d: the machines disagree:\n%+v\n%+v", i, ra, rb)
		}
		if ra.Code != want[i] {
			t.Errorf("tx %d: %s (%s), want %s", i, ra.Code, ra.Log, want[i])
		}
	}
	ca, cb := commitBlock(t, a, dbA), commitBlock(t, b, dbB)
	if !reflect.DeepEqual(ca, cb) {
		t.Fatalf("commitments differ:\n%+v\n%+v", ca, cb)
	}
	w, err := GetWorker(dbA, testAddr("wanda"))
	if err != nil || w == nil {
		t.Fatalf("worker: %v %v", w, err)
	}
	if w.Attestation != AttestTypeSEVSNP || w.LaunchMeasurement != hex.EncodeToString(launchMeasurement("good")) || w.TCB != "0000000000000000" || w.AttestedHeight != 1 {
		t.Errorf("worker record %+v", w)
	}
}

// The verdict depends on the block time and on nothing else that varies:
// Intel's sample collateral is current on 2023-07-01, when it rates the
// real quote's TCB as not current, and stale on 2023-11-14.
func TestEvidenceIsJudgedAtBlockTime(t *testing.T) {
	for _, c := range []struct {
		now  int64
		want Code
	}{
		{1_688_173_200, CodeEvidenceTCB},     // 2023-07-01T01:00:00Z
		{1_700_000_000, CodeEvidenceExpired}, // 2023-11-14
	} {
		m, _ := newWorld(t)
		if err := m.BeginBlock(BlockInfo{Height: 1, Time: c.now}); err != nil {
			t.Fatal(err)
		}
		tdx := &SetAttestationPolicy{Evidence: AttestTypeTDX, ExpiryBlocks: 10, TDXCollateral: sampleTDXCollateral(t),
			Measurements: []string{hex.EncodeToString(launchMeasurement("real-tdx"))}}
		for i, raw := range [][]byte{
			mustSign("root", 0, tdx),
			mustSign("alice", 0, &RegisterWorker{Address: testAddr("wanda"), Attestation: AttestTypeTDX, Measurement: scriptHash("worker v1"), Evidence: realEvidence(t, AttestTypeTDX)}),
		} {
			res, err := m.DeliverTx(raw)
			if err != nil {
				t.Fatal(err)
			}
			if want := []Code{CodeOK, c.want}[i]; res.Code != want {
				t.Errorf("block time %d, tx %d: %s (%s), want %s", c.now, i, res.Code, res.Log, want)
			}
		}
	}
}

// BenchmarkRegisterHardwareWorker is register_worker with SEV-SNP
// evidence and a pinned CRL as FinalizeBlock delivers it: decoding and
// signature of the transaction, evidence verification, state writes.
func BenchmarkRegisterHardwareWorker(b *testing.B) {
	const now = 1_700_000_010
	m, _ := newWorld(b)
	if err := m.BeginBlock(BlockInfo{Height: 1, Time: now}); err != nil {
		b.Fatal(err)
	}
	code := scriptHash("worker v1")
	snp := &SetAttestationPolicy{Evidence: AttestTypeSEVSNP, ExpiryBlocks: 10, CRL: chipCRL(b, "current", now),
		Measurements: []string{hex.EncodeToString(launchMeasurement("good"))}}
	if res, err := m.DeliverTx(mustSign("root", 0, snp)); err != nil || res.Code != CodeOK {
		b.Fatalf("policy: %v %+v", err, res)
	}
	ev := chipEvidence(b, "good", testPub("wanda"), code, false)
	txs := make([][]byte, b.N)
	for i := range txs {
		txs[i] = mustSign("alice", uint64(i), &RegisterWorker{Address: testAddr("wanda"), Attestation: AttestTypeSEVSNP, Measurement: code, Evidence: ev})
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for i := range b.N {
		if res, err := m.DeliverTx(txs[i]); err != nil || res.Code != CodeOK {
			b.Fatalf("register_worker: %v %+v", err, res)
		}
	}
	// Wall time on a shared machine is mostly waiting for a core; CPU time
	// per transaction is its cost.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N)/1000, "cpu-ms/op")
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
