package ledger

// Hardware attestation of workers (SEV-SNP, TDX).
//
// The consortium's authorities pin, per evidence type, what they accept
// (set_attestation_policy): launch measurements, a minimum TCB, how many
// blocks evidence stays good for, and the revocation and TCB collateral
// evidence is checked against. register_worker then carries the worker's
// evidence, which every validator verifies the same way (package attest:
// no network, vendor roots embedded, "now" is the block time). A worker's
// evidence lapses ExpiryBlocks after it was verified, or when a
// certificate vouching for it expires; a lapsed worker, one whose TCB is
// below the current minimum, or one whose launch measurement is no longer
// pinned, is not admitted to a job whose policy demands hardware until it
// registers again with fresh evidence.

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/medchain/medchain/attest"
	"github.com/medchain/medchain/store"
)

// Attestation levels a policy can demand beyond software and hardware
// (either TEE): one TEE in particular.
const (
	AttestSEVSNP = AttestTypeSEVSNP
	AttestTDX    = AttestTypeTDX
)

// AttestationDemands are the values of Policy.Attestation.
var AttestationDemands = []string{AttestSoftware, AttestHardware, AttestSEVSNP, AttestTDX}

// verifiedTypes are the hardware types whose evidence this ledger verifies.
var verifiedTypes = []string{AttestTypeSEVSNP, AttestTypeTDX}

// hardwareVerifier verifies evidence against the vendor roots embedded in
// the attestation libraries. Tests of the ledger replace it with one that
// trusts a test-only AMD chain; nothing else does.
var hardwareVerifier = attest.Verifier{}

// MaxEvidenceExpiryBlocks bounds set_attestation_policy's expiry_blocks
// (about a year at one block a second).
const MaxEvidenceExpiryBlocks = 31_536_000

// SetAttestationPolicy pins what the consortium accepts of one type of
// hardware evidence. Signed by a consortium authority; it replaces the
// type's previous policy, and applies at once to every worker of the type
// (a lowered measurement list or a raised minimum TCB stops admitting the
// workers it no longer covers).
type SetAttestationPolicy struct {
	Evidence string `json:"evidence_type"` // sev-snp or tdx
	// Measurements are the accepted launch measurements (SEV-SNP
	// MEASUREMENT, TDX MR_TD), 96 hex digits each.
	Measurements []string `json:"measurements"`
	// MinTCB is the minimum TCB, in hex: SEV-SNP REPORTED_TCB as 8 bytes
	// (bootloader, TEE, 4 reserved, SNP, microcode), TDX TEE_TCB_SVN as 16.
	// Compared component by component; empty for none.
	MinTCB string `json:"min_tcb,omitempty"`
	// ExpiryBlocks is how many blocks verified evidence is good for.
	ExpiryBlocks int64 `json:"expiry_blocks"`
	// CRL is, for SEV-SNP, AMD's revocation list for the product line
	// (DER, signed by the ARK); empty leaves revocation unchecked.
	CRL []byte `json:"crl,omitempty"`
	// TDXCollateral is, for TDX, Intel's PCS collateral (TCB info, QE
	// identity, CRLs and their issuer chains); nil leaves TCB status and
	// revocation unchecked.
	TDXCollateral *attest.TDXCollateral `json:"tdx_collateral,omitempty"`
}

// TxSetAttestationPolicy is set_attestation_policy.
const TxSetAttestationPolicy TxType = "set_attestation_policy"

func (*SetAttestationPolicy) Type() TxType { return TxSetAttestationPolicy }

// AttestationPolicy is a pinned policy as stored.
type AttestationPolicy struct {
	SetAttestationPolicy
	Height int64 `json:"set_height"`
}

// KeyAttestationPolicy is the pinned policy of an evidence type.
func KeyAttestationPolicy(typ string) []byte { return []byte("s/attestpolicy/" + typ) }

// GetAttestationPolicy reads the pinned policy of an evidence type.
func GetAttestationPolicy(r store.Reader, typ string) (*AttestationPolicy, error) {
	return getOne[AttestationPolicy](r, KeyAttestationPolicy(typ))
}

// tcbLen is the length of each type's TCB.
var tcbLen = map[string]int{AttestTypeSEVSNP: 8, AttestTypeTDX: 16}

func (c *txCtx) setAttestationPolicy(m *SetAttestationPolicy) ([]Event, error) {
	p, err := c.params()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(p.Authorities, c.addr) {
		return nil, errf(CodeUnauthorized, "only consortium authorities may pin attestation policy; %s is not one", c.addr)
	}
	if _, err := m.policy(); err != nil {
		return nil, err
	}
	if err := putJSON(c.s, KeyAttestationPolicy(m.Evidence), AttestationPolicy{SetAttestationPolicy: *m, Height: c.height}); err != nil {
		return nil, err
	}
	return ev("set_attestation_policy", "type", m.Evidence, "measurements", fmt.Sprint(len(m.Measurements))), nil
}

// policy checks the message and gives it in the verifier's terms.
func (m *SetAttestationPolicy) policy() (attest.Policy, error) {
	var p attest.Policy
	if err := oneOf("msg.evidence_type", m.Evidence, verifiedTypes); err != nil {
		return p, err
	}
	if len(m.Measurements) == 0 || len(m.Measurements) > 64 {
		return p, errf(CodeInvalidField, "msg.measurements: %d, want 1 to 64", len(m.Measurements))
	}
	for i, s := range m.Measurements {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 48 || s != hex.EncodeToString(b) {
			return p, errf(CodeInvalidField, "msg.measurements[%d]: want 96 lower-case hex digits (a 48-byte launch measurement)", i)
		}
		if slices.ContainsFunc(p.Measurements, func(x []byte) bool { return bytes.Equal(x, b) }) {
			return p, errf(CodeInvalidField, "msg.measurements[%d]: listed twice", i)
		}
		p.Measurements = append(p.Measurements, b)
	}
	if m.MinTCB != "" {
		b, err := hex.DecodeString(m.MinTCB)
		if err != nil || len(b) != tcbLen[m.Evidence] || m.MinTCB != hex.EncodeToString(b) {
			return p, errf(CodeInvalidField, "msg.min_tcb: want %d lower-case hex digits for %s", 2*tcbLen[m.Evidence], m.Evidence)
		}
		p.MinTCB = b
	}
	if m.ExpiryBlocks <= 0 || m.ExpiryBlocks > MaxEvidenceExpiryBlocks {
		return p, errf(CodeInvalidField, "msg.expiry_blocks: %d, want 1 to %d", m.ExpiryBlocks, MaxEvidenceExpiryBlocks)
	}
	switch m.Evidence {
	case AttestTypeSEVSNP:
		if m.TDXCollateral != nil {
			return p, errf(CodeInvalidField, "msg.tdx_collateral: only for tdx")
		}
		if len(m.CRL) > 0 {
			if _, err := x509.ParseRevocationList(m.CRL); err != nil {
				return p, errf(CodeInvalidField, "msg.crl: not a DER certificate revocation list")
			}
			p.CRL = m.CRL
		}
	case AttestTypeTDX:
		if len(m.CRL) > 0 {
			return p, errf(CodeInvalidField, "msg.crl: only for sev-snp (TDX CRLs are part of tdx_collateral)")
		}
		if tc := m.TDXCollateral; tc != nil {
			for _, f := range []struct {
				name string
				b    []byte
			}{
				{"tcb_info", tc.TCBInfo}, {"tcb_info_issuer_chain", tc.TCBInfoIssuerChain},
				{"qe_identity", tc.QEIdentity}, {"qe_identity_issuer_chain", tc.QEIdentityIssuerChain},
				{"pck_crl", tc.PCKCRL}, {"pck_crl_issuer_chain", tc.PCKCRLIssuerChain}, {"root_crl", tc.RootCRL},
			} {
				if len(f.b) == 0 {
					return p, errf(CodeInvalidField, "msg.tdx_collateral.%s: required", f.name)
				}
			}
			if !json.Valid(tc.TCBInfo) || !json.Valid(tc.QEIdentity) {
				return p, errf(CodeInvalidField, "msg.tdx_collateral: tcb_info and qe_identity must be the PCS's JSON")
			}
			p.TDX = tc
		}
	}
	return p, nil
}

// Result codes of refused evidence, one per attest.Kind.
var evidenceCodes = map[attest.Kind]Code{
	attest.Malformed:          CodeEvidenceMalformed,
	attest.BadSignature:       CodeEvidenceSignature,
	attest.Expired:            CodeEvidenceExpired,
	attest.Revoked:            CodeEvidenceRevoked,
	attest.DebugEnabled:       CodeEvidenceDebug,
	attest.UnknownMeasurement: CodeEvidenceMeasurement,
	attest.WrongReportData:    CodeEvidenceReportData,
	attest.LowTCB:             CodeEvidenceTCB,
}

// checkEvidence verifies a registration's evidence and records what it
// proves in w. Software carries none; SGX has no verifier here.
func (c *txCtx) checkEvidence(m *RegisterWorker, workerKey []byte, w *Worker) error {
	if !slices.Contains(verifiedTypes, m.Attestation) {
		v, ok := attestationVerifiers[m.Attestation]
		if !ok {
			return errf(CodeUnauthorized, "msg.attestation: this network has no verifier for %s evidence; register as software, sev-snp or tdx", m.Attestation)
		}
		return v.Verify(m.Evidence, m.Measurement, workerKey)
	}
	if len(m.Evidence) == 0 {
		return errf(CodeEvidenceMalformed, "msg.evidence: %s registration needs evidence", m.Attestation)
	}
	if e, err := attest.DecodeEvidence(m.Evidence); err != nil {
		return errf(CodeEvidenceMalformed, "msg.evidence: %v", err)
	} else if e.Type != m.Attestation {
		return errf(CodeEvidenceMalformed, "msg.evidence: %s evidence for a %s registration", e.Type, m.Attestation)
	}
	stored, err := GetAttestationPolicy(c.s, m.Attestation)
	if err != nil {
		return err
	}
	if stored == nil {
		return errf(CodeInvalidState, "msg.attestation: the consortium has pinned no %s policy (set_attestation_policy)", m.Attestation)
	}
	pol, err := stored.policy()
	if err != nil {
		return errf(CodeInternal, "stored %s attestation policy: %v", m.Attestation, err)
	}
	code, err := hex.DecodeString(m.Measurement)
	if err != nil {
		return errf(CodeInvalidField, "msg.measurement: not hex")
	}
	claims, err := hardwareVerifier.Verify(m.Evidence, pol, attest.ReportData(workerKey, code), time.Unix(c.now, 0).UTC())
	if err != nil {
		cd, ok := evidenceCodes[attest.KindOf(err)]
		if !ok {
			cd = CodeEvidenceMalformed
		}
		return errf(cd, "msg.evidence: %v", err)
	}
	w.LaunchMeasurement = hex.EncodeToString(claims.Measurement)
	w.TCB = hex.EncodeToString(claims.TCB)
	w.AttestedHeight = c.height
	w.EvidenceNotAfter = claims.NotAfter.Unix()
	return nil
}

// forDataset names the dataset whose policy a worker failed.
func forDataset(err error, dataset string) error {
	var e *Error
	if errors.As(err, &e) {
		return errf(e.Code, "dataset %q: %s", dataset, e.Msg)
	}
	return err
}

// AttestationSatisfies says whether a worker of type workerType can meet a
// policy's demand at all (before its evidence's currency is considered).
func AttestationSatisfies(demand, workerType string) bool {
	switch demand {
	case AttestSoftware, "":
		return true
	case AttestHardware:
		return slices.Contains(verifiedTypes, workerType)
	}
	return demand == workerType
}

// workerMeets checks that worker w may serve a site whose policy demands
// demand, now: the right type, evidence not lapsed (in blocks, or by a
// certificate's expiry at block time), its launch measurement still pinned
// and its TCB at or above the current minimum.
func (c *txCtx) workerMeets(demand string, w *Worker) error {
	if !AttestationSatisfies(demand, w.Attestation) {
		return errf(CodeUnauthorized, "the policy demands %s attestation; worker %s is %s", demand, w.Address, w.Attestation)
	}
	if demand == AttestSoftware || demand == "" {
		return nil
	}
	pol, err := GetAttestationPolicy(c.s, w.Attestation)
	if err != nil {
		return err
	}
	if pol == nil {
		return errf(CodeInvalidState, "no %s attestation policy is pinned", w.Attestation)
	}
	if lapse := w.AttestedHeight + pol.ExpiryBlocks; c.height > lapse {
		return errf(CodeExpired, "worker %s's %s evidence lapsed after height %d; it must register again with fresh evidence", w.Address, w.Attestation, lapse)
	}
	if c.now > w.EvidenceNotAfter {
		return errf(CodeExpired, "a certificate vouching for worker %s's evidence expired at %d (block time %d)", w.Address, w.EvidenceNotAfter, c.now)
	}
	if !slices.Contains(pol.Measurements, w.LaunchMeasurement) {
		return errf(CodeEvidenceMeasurement, "worker %s's launch measurement is no longer pinned", w.Address)
	}
	tcb, err := hex.DecodeString(w.TCB)
	if err != nil {
		return errf(CodeInternal, "worker %s: stored TCB is not hex", w.Address)
	}
	if pol.MinTCB != "" {
		min, err := hex.DecodeString(pol.MinTCB)
		if err != nil {
			return errf(CodeInternal, "stored %s policy: min_tcb is not hex", w.Attestation)
		}
		if !attest.TCBMeets(tcb, min) {
			return errf(CodeEvidenceTCB, "worker %s's TCB is below the consortium's current minimum", w.Address)
		}
	}
	return nil
}
