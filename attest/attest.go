// Package attest verifies hardware attestation evidence from AMD SEV-SNP
// and Intel TDX confidential VMs, for the ledger's register_worker.
//
// Every validator runs the verification inside FinalizeBlock, so it must
// give the same verdict on the same bytes everywhere: it never touches the
// network (the vendor roots are the ones embedded in go-sev-guest and
// go-tdx-guest; revocation lists and TCB collateral come from the
// consortium's pinned Policy), and "now" is the block time passed in by
// the caller, never the clock.
//
// Verification is two steps, kept apart so each refusal has its own Kind:
// the evidence is authentic (parse, certificate validity at now, signature
// chain to the vendor root, revocation), then its claims meet the policy
// (debug off, launch measurement pinned, report data binding the worker's
// key and code measurement, TCB at or above the minimum).
package attest

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"encoding/json"
	"time"
)

// Evidence types, spelled as the ledger's attestation types.
const (
	TypeSEVSNP = "sev-snp"
	TypeTDX    = "tdx"
)

// Evidence is what a worker presents: the signed report and the
// certificate the vendor issued to its chip. For SEV-SNP, Report is the
// 1184-byte ATTESTATION_REPORT and Cert the VCEK (DER) from AMD's KDS; for
// TDX, Report is the version-4 quote, which carries its own PCK chain, and
// Cert is empty. Revocation lists and TCB collateral are not taken from
// the worker: a worker could choose an old list from before its own
// revocation, so they come from the consortium's pinned Policy.
type Evidence struct {
	Type   string `json:"type"`
	Report []byte `json:"report"`
	Cert   []byte `json:"cert,omitempty"`
}

// maxEvidence bounds what is decoded; the ledger refuses larger evidence
// before it gets here, this keeps the package safe on its own.
const maxEvidence = 16 << 10

// Encode gives the evidence's wire form (JSON, byte fields in base64).
func (e Evidence) Encode() []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(err) // only byte slices and strings: cannot fail
	}
	return b
}

// DecodeEvidence reads the wire form strictly: no unknown fields, no
// trailing data, a known type.
func DecodeEvidence(raw []byte) (Evidence, error) {
	var e Evidence
	if len(raw) > maxEvidence {
		return e, errorf(Malformed, "evidence: %d bytes, limit %d", len(raw), maxEvidence)
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil {
		return e, errorf(Malformed, "evidence: %v", err)
	}
	if d.More() {
		return e, errorf(Malformed, "evidence: data after the JSON object")
	}
	switch e.Type {
	case TypeSEVSNP:
		if len(e.Cert) == 0 {
			return e, errorf(Malformed, "evidence.cert: SEV-SNP evidence needs the chip's VCEK certificate")
		}
	case TypeTDX:
		if len(e.Cert) != 0 {
			return e, errorf(Malformed, "evidence.cert: a TDX quote carries its own PCK chain; leave cert empty")
		}
	default:
		return e, errorf(Malformed, "evidence.type: %q is not %s or %s", e.Type, TypeSEVSNP, TypeTDX)
	}
	if len(e.Report) == 0 {
		return e, errorf(Malformed, "evidence.report: empty")
	}
	return e, nil
}

// Claims are what verified evidence says about the machine, kept by the
// ledger with the worker so that a later rise of the minimum TCB can be
// applied without the evidence.
type Claims struct {
	Type string
	// Measurement is the launch measurement: SEV-SNP MEASUREMENT or TDX
	// MR_TD, 48 bytes.
	Measurement []byte
	// TCB is the platform's security version: SEV-SNP REPORTED_TCB as 8
	// bytes (bootloader, TEE, reserved×4, SNP, microcode), TDX TEE_TCB_SVN
	// as 16 bytes. Compared component by component, never as a number.
	TCB []byte
	// NotAfter is the earliest expiry among the certificates that vouch
	// for the evidence; the evidence cannot be accepted after it.
	NotAfter time.Time
}

// ReportDataDomain separates medchain's binding from any other use of the
// 64-byte report data field.
const ReportDataDomain = "medchain/worker-attestation/v1"

// ReportData is the value a worker puts in the report's 64-byte
// REPORT_DATA: SHA-512 over the domain, the worker's ledger key and its
// code measurement, each length-prefixed. Evidence bound this way cannot be
// replayed for another key or another code measurement.
func ReportData(workerKey, measurement []byte) [64]byte {
	h := sha512.New()
	for _, part := range [][]byte{[]byte(ReportDataDomain), workerKey, measurement} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(part)))
		h.Write(n[:])
		h.Write(part)
	}
	var out [64]byte
	h.Sum(out[:0])
	return out
}

// Policy is what the consortium pins for one evidence type: the launch
// measurements it accepts, the minimum TCB, and the collateral against
// which evidence is checked. Its zero value accepts no measurement.
type Policy struct {
	// Measurements are the accepted launch measurements (48 bytes each).
	Measurements [][]byte
	// MinTCB is the component-wise minimum TCB, in the form of
	// Claims.TCB (8 bytes for SEV-SNP, 16 for TDX); empty means none.
	MinTCB []byte
	// CRL is, for SEV-SNP, AMD's revocation list for the product (DER,
	// signed by the ARK); empty means revocation is not checked.
	CRL []byte
	// TDX is, for TDX, Intel's collateral; nil means the quote's
	// signature chain is checked but not its TCB status or revocation.
	TDX *TDXCollateral
}

// TDXCollateral is Intel PCS collateral for one platform family, as the
// PCS serves it: the bodies verbatim, the issuer chains as PEM (the PCS
// sends them URL-escaped in a response header).
type TDXCollateral struct {
	TCBInfo               []byte `json:"tcb_info"`
	TCBInfoIssuerChain    []byte `json:"tcb_info_issuer_chain"`
	QEIdentity            []byte `json:"qe_identity"`
	QEIdentityIssuerChain []byte `json:"qe_identity_issuer_chain"`
	PCKCRL                []byte `json:"pck_crl"`
	PCKCRLIssuerChain     []byte `json:"pck_crl_issuer_chain"`
	RootCRL               []byte `json:"root_crl"`
}

// TCBMeets says whether a TCB meets a minimum, component by component. A
// minimum of another length than the TCB is never met.
func TCBMeets(tcb, min []byte) bool {
	if len(min) == 0 {
		return true
	}
	if len(tcb) != len(min) {
		return false
	}
	for i := range min {
		if tcb[i] < min[i] {
			return false
		}
	}
	return true
}
