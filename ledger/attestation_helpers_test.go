package ledger

import (
	"crypto/sha512"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/medchain/medchain/attest"
	"github.com/medchain/medchain/attest/attesttest"
)

// The ledger's tests verify hardware evidence with AMD's and Intel's real
// roots plus one test-only AMD chain (attesttest), whose chip signs
// SEV-SNP reports bound to the scripts' worker keys: real AMD-signed
// evidence cannot be bound to a test key, and its guest is a debug one.
// The chain's certificates are valid from 2023-01-01, before every script
// block time.
var testChip = func() *attesttest.SNP {
	chip, err := attesttest.NewSNP(time.Date(2023, time.January, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		panic(err)
	}
	v, err := chip.VerifierWithAMD()
	if err != nil {
		panic(err)
	}
	hardwareVerifier = v
	return chip
}()

// launchMeasurement names a 48-byte launch measurement in tests: "real-snp"
// and "real-tdx" are those of the real evidence in attest/testdata, any
// other name the SHA-384 of "launch " + name.
func launchMeasurement(name string) []byte {
	switch name {
	case "real-snp":
		b, _ := hex.DecodeString("b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01")
		return b
	case "real-tdx":
		b, _ := hex.DecodeString("6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb")
		return b
	}
	h := sha512.Sum384([]byte("launch " + name))
	return h[:]
}

func readAttestData(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile("../attest/testdata/" + path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// realEvidence is the real SEV-SNP (AMD Milan, debug guest) or TDX
// evidence of attest/testdata, in the wire form.
func realEvidence(t testing.TB, typ string) []byte {
	if typ == AttestTypeSEVSNP {
		return attest.Evidence{Type: typ, Report: readAttestData(t, "sev-snp/attestation.bin"), Cert: readAttestData(t, "sev-snp/vcek.testcer")}.Encode()
	}
	return attest.Evidence{Type: typ, Report: readAttestData(t, "tdx/tdx_prod_quote_SPR_E4.dat")}.Encode()
}

// sampleTDXCollateral is Intel's sample PCS collateral (attest/testdata/tdx),
// current from 2023-06-18 to 2023-07-18.
func sampleTDXCollateral(t testing.TB) *attest.TDXCollateral {
	rd := func(n string) []byte { return readAttestData(t, "tdx/"+n) }
	return &attest.TDXCollateral{
		TCBInfo: rd("sample_tcbInfo_response"), TCBInfoIssuerChain: rd("tcb_info_issuer_chain.pem"),
		QEIdentity: rd("sample_qeIdentity_response"), QEIdentityIssuerChain: rd("qe_identity_issuer_chain.pem"),
		PCKCRL: rd("pckcrl"), PCKCRLIssuerChain: rd("pck_crl_issuer_chain.pem"), RootCRL: rd("rootcrl.der"),
	}
}

// chipEvidence is SEV-SNP evidence from the test chip: a non-debug guest
// with the named launch measurement, bound to the worker key and code
// measurement (hex) given.
func chipEvidence(t testing.TB, launch string, workerKey []byte, codeMeasurement string, debug bool) []byte {
	t.Helper()
	code, err := hex.DecodeString(codeMeasurement)
	if err != nil {
		t.Fatal(err)
	}
	var r attesttest.Report
	r.ReportData = attest.ReportData(workerKey, code)
	copy(r.Measurement[:], launchMeasurement(launch))
	r.Debug = debug
	ev, err := testChip.Evidence(r)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// chipCRL is a CRL from the test chain's ARK, current around the block
// time now ("current", "revoked": listing the chip's VCEK) or a month
// stale ("stale").
func chipCRL(t testing.TB, kind string, now int64) []byte {
	t.Helper()
	at := time.Unix(now, 0).UTC()
	from, to, revoke := at.AddDate(0, -1, 0), at.AddDate(0, 1, 0), false
	switch kind {
	case "current":
	case "revoked":
		revoke = true
	case "stale":
		from, to = at.AddDate(0, -2, 0), at.AddDate(0, -1, 0)
	default:
		t.Fatalf("crl=%s: want current, revoked or stale", kind)
	}
	der, err := testChip.CRL(from, to, revoke)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// buildAttestationMsgs builds set_attestation_policy, and register_worker's
// evidence, from script arguments:
//
//	set_attestation_policy [type=sev-snp|tdx] [measurements=(NAME, …)]
//	    [min_tcb=HEX] [expiry=BLOCKS] [crl=current|revoked|stale]
//	    [tdx_collateral=sample]
//
//	register_worker … evidence=chip [launch=NAME] [debug=true] [bind=NAME]
//	    [bind_measurement=HEX] [flip=BYTE]
//	register_worker … evidence=real-snp | evidence=real-tdx
//
// evidence=chip is the test chip's report, bound by default to the
// worker's key and the registration's code measurement; bind= binds it to
// another name's key instead. flip= flips the low bit of that byte of the
// report. Any other evidence= value is sent as its bytes.
func (r *scriptRunner) buildAttestationPolicy(t *testing.T, a *args) *SetAttestationPolicy {
	m := &SetAttestationPolicy{Evidence: a.str("type", AttestTypeSEVSNP), MinTCB: a.str("min_tcb", ""),
		ExpiryBlocks: int64(a.u64("expiry", 100))}
	for _, n := range a.list("measurements", "good") {
		m.Measurements = append(m.Measurements, hex.EncodeToString(launchMeasurement(n)))
	}
	if a.has("crl") {
		m.CRL = chipCRL(t, a.str("crl", ""), r.now)
	}
	if a.str("tdx_collateral", "") == "sample" {
		m.TDXCollateral = sampleTDXCollateral(t)
	}
	return m
}

func (r *scriptRunner) buildEvidence(t *testing.T, a *args, worker, codeMeasurement string) []byte {
	switch e := a.str("evidence", ""); e {
	case "chip":
		ev := chipEvidence(t, a.str("launch", "good"), r.key(t, a.str("bind", worker), false), a.str("bind_measurement", codeMeasurement), a.boolean("debug", false))
		if a.has("flip") {
			dec, err := attest.DecodeEvidence(ev)
			if err != nil {
				t.Fatal(err)
			}
			dec.Report[a.u64("flip", 0)] ^= 1
			ev = dec.Encode()
		}
		return ev
	case "real-snp":
		return realEvidence(t, AttestTypeSEVSNP)
	case "real-tdx":
		return realEvidence(t, AttestTypeTDX)
	default:
		return []byte(e)
	}
}
