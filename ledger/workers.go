package ledger

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/medchain/medchain/store"
)

// Attestation types a worker can register with.
const (
	AttestTypeSoftware = "software"
	AttestTypeSGX      = "sgx"
	AttestTypeSEVSNP   = "sev-snp"
	AttestTypeTDX      = "tdx"
)

// AttestationTypes lists them.
var AttestationTypes = []string{AttestTypeSoftware, AttestTypeSGX, AttestTypeSEVSNP, AttestTypeTDX}

// AttestationVerifier checks a worker's attestation evidence for its
// measurement and key. It must be deterministic: every validator runs it.
type AttestationVerifier interface {
	Verify(evidence []byte, measurement string, workerKey []byte) error
}

// softwareAttestation is the honest attestation of a machine without a
// TEE: it proves nothing about the machine, so it carries no evidence; the
// measurement is what the institution declares it runs.
type softwareAttestation struct{}

func (softwareAttestation) Verify(evidence []byte, _ string, _ []byte) error {
	if len(evidence) != 0 {
		return errf(CodeInvalidField, "msg.evidence: software attestation carries no evidence")
	}
	return nil
}

// attestationVerifiers are the non-hardware attestation types this network
// can check. SEV-SNP and TDX evidence is verified against the consortium's
// pinned policy and the block time (checkEvidence, attestation.go); SGX has
// no verifier and is refused rather than accepted unchecked.
var attestationVerifiers = map[string]AttestationVerifier{
	AttestTypeSoftware: softwareAttestation{},
}

// Worker is a registered compute worker.
type Worker struct {
	Address      string `json:"address"`
	Org          string `json:"org"`
	Attestation  string `json:"attestation"`
	Measurement  string `json:"measurement"` // hex SHA-256 of the worker binary and analysis code
	EvidenceHash string `json:"evidence_hash,omitempty"`
	Registered   int64  `json:"registered_height"`
	// What verified hardware evidence (sev-snp, tdx) proves, and when it
	// was verified (attestation.go).
	LaunchMeasurement string `json:"launch_measurement,omitempty"` // hex SEV-SNP MEASUREMENT / TDX MR_TD
	TCB               string `json:"tcb,omitempty"`                // hex, as the policy's min_tcb
	AttestedHeight    int64  `json:"attested_height,omitempty"`
	EvidenceNotAfter  int64  `json:"evidence_not_after,omitempty"` // unix seconds: the first certificate to expire
}

// RegisterWorker registers (or re-registers, e.g. after an upgrade changes
// its measurement) a worker account of the signer's organisation.
type RegisterWorker struct {
	Address     string `json:"address"`
	Attestation string `json:"attestation"`
	Measurement string `json:"measurement"`
	Evidence    []byte `json:"evidence,omitempty"`
}

func (*RegisterWorker) Type() TxType { return TxRegisterWorker }

func (c *txCtx) registerWorker(m *RegisterWorker) ([]Event, error) {
	if err := validAddress("msg.address", m.Address); err != nil {
		return nil, err
	}
	target, err := getAccount(c.s, m.Address)
	if err != nil {
		return nil, err
	}
	if target == nil {
		return nil, errf(CodeUnknownAccount, "msg.address: no account %s", m.Address)
	}
	if target.Kind != KindWorker {
		return nil, errf(CodeInvalidField, "msg.address: %s is a %s account, not a worker", m.Address, target.Kind)
	}
	o, err := c.org(target.Org)
	if err != nil {
		return nil, err
	}
	if err := c.requireAdmin(o); err != nil {
		return nil, err
	}
	if err := oneOf("msg.attestation", m.Attestation, AttestationTypes); err != nil {
		return nil, err
	}
	if err := validHash("msg.measurement", m.Measurement, true); err != nil {
		return nil, err
	}
	if len(m.Evidence) > 16<<10 {
		return nil, errf(CodeInvalidField, "msg.evidence: %d bytes, limit %d", len(m.Evidence), 16<<10)
	}
	w := Worker{Address: m.Address, Org: target.Org, Attestation: m.Attestation, Measurement: m.Measurement, Registered: c.height}
	if err := c.checkEvidence(m, target.PubKey, &w); err != nil {
		return nil, err
	}
	if len(m.Evidence) > 0 {
		h := sha256.Sum256(m.Evidence)
		w.EvidenceHash = hex.EncodeToString(h[:])
	}
	if err := c.indexWorker(target.Org, m.Address); err != nil {
		return nil, err
	}
	return ev("register_worker", "worker", m.Address, "org", w.Org, "attestation", w.Attestation), putJSON(c.s, KeyWorker(m.Address), w)
}

// KeyWorker is a registered compute worker by account address.
func KeyWorker(addr string) []byte { return []byte("s/worker/" + addr) }

// prefixWorker lists every worker.
var prefixWorker = KeyWorker("")

// KeyOrgWorkers lists an organisation's registered workers, sorted.
func KeyOrgWorkers(org string) []byte { return []byte("s/orgworkers/" + org) }

// GetWorker reads a registered worker.
func GetWorker(r store.Reader, addr string) (*Worker, error) {
	return getOne[Worker](r, KeyWorker(addr))
}

// ListWorkers lists registered workers in address order.
func ListWorkers(it Iterator, keep func(*Worker) bool) ([]Worker, error) {
	return list(it, prefixWorker, keep)
}
