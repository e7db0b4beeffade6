package ledger

import "fmt"

// Key layout. Every key the ledger writes is built here. State keys (under
// StatePrefix) are committed by the sparse Merkle tree; the other prefixes
// hold the tree's nodes, the audit log and per-height metadata, which are
// authenticated through their own roots in the app hash.
//
// Variable parts are identifiers validated by validID (no '/'), addresses
// (fixed-length hex) or fixed-width hex numbers, so two different objects
// can never map to the same key.
var (
	StatePrefix = []byte("s/")
	NodePrefix  = []byte("n/")
	AuditPrefix = []byte("a/")
	MetaPrefix  = []byte("m/")
)

func num(n uint64) string { return fmt.Sprintf("%016x", n) }

// KeyParams is the chain parameters key.
func KeyParams() []byte { return []byte("s/params") }

// KeyAccount is an account by address.
func KeyAccount(addr string) []byte { return []byte("s/acct/" + addr) }

// KeyOrg is an organisation by id.
func KeyOrg(id string) []byte { return []byte("s/org/" + id) }

// KeyDataset is a dataset by id.
func KeyDataset(id string) []byte { return []byte("s/ds/" + id) }

// KeyDatasetVersion is one version of a dataset.
func KeyDatasetVersion(id string, v uint64) []byte { return []byte("s/dsv/" + id + "/" + num(v)) }

// KeyPolicy is a dataset's policy.
func KeyPolicy(id string) []byte { return []byte("s/pol/" + id) }

// KeyConsentCount counts a patient's consents (the next sequence number).
func KeyConsentCount(patient string) []byte { return []byte("s/ccount/" + patient) }

// KeyConsent is one of a patient's consents.
func KeyConsent(patient string, seq uint64) []byte {
	return []byte("s/consent/" + patient + "/" + num(seq))
}

// KeyAccessCount counts access requests (the next request id).
func KeyAccessCount() []byte { return []byte("s/acount") }

// KeyAccess is an access request by id.
func KeyAccess(id uint64) []byte { return []byte("s/access/" + num(id)) }

// KeySupply is the total token supply, fixed at genesis.
func KeySupply() []byte { return []byte("s/supply") }

// KeyLast holds the latest commitment (height, roots, app hash).
func KeyLast() []byte { return []byte("m/last") }

// KeyCommitment holds the commitment made at a height.
func KeyCommitment(h int64) []byte { return []byte("m/h/" + num(uint64(h))) }

// KeyTxResult indexes a transaction's result by its hash (hex).
func KeyTxResult(hash string) []byte { return []byte("m/tx/" + hash) }

// KeyWorker is a registered compute worker by account address.
func KeyWorker(addr string) []byte { return []byte("s/worker/" + addr) }

// KeyJobCount counts jobs (the next job id).
func KeyJobCount() []byte { return []byte("s/jcount") }

// KeyJob is a job by id.
func KeyJob(id uint64) []byte { return []byte("s/job/" + num(id)) }

// KeyBudget is the privacy budget a dataset has spent (milli-epsilon).
func KeyBudget(dataset string) []byte { return []byte("s/budget/" + dataset) }

// KeyPool is a dataset's patient reward pool.
func KeyPool(dataset string) []byte { return []byte("s/pool/" + dataset) }

// KeyAccessGrant indexes the request that granted an account access to a
// dataset for a purpose (purposes are vocabulary words, without '/').
func KeyAccessGrant(dataset, requester, purpose string) []byte {
	return []byte("s/agrant/" + dataset + "/" + requester + "/" + purpose)
}

// KeyModel is a registered model by id.
func KeyModel(id string) []byte { return []byte("s/model/" + id) }

// KeyPrediction is one of a model's recorded predictions.
func KeyPrediction(model string, seq uint64) []byte {
	return []byte("s/pred/" + model + "/" + num(seq))
}

// KeyPredictionProof indexes a model's recorded predictions by the
// SHA-256 of their proof (lower-case hex), so a proof is recorded once.
func KeyPredictionProof(model, proofHash string) []byte {
	return []byte("s/predproof/" + model + "/" + proofHash)
}

// KeyOrgWorkers lists an organisation's registered workers, sorted.
func KeyOrgWorkers(org string) []byte { return []byte("s/orgworkers/" + org) }

// KeyStudyContribution is one site's (masked) contribution to a study:
// job (16 hex), round (8 hex), iteration (8 hex), dataset.
func KeyStudyContribution(job uint64, round, iteration uint32, dataset string) []byte {
	return []byte(fmt.Sprintf("s/scontrib/%016x/%08x/%08x/%s", job, round, iteration, dataset))
}

// KeyStudySum is a study's completed sum of one iteration.
func KeyStudySum(job uint64, iteration uint32) []byte {
	return []byte(fmt.Sprintf("s/ssum/%016x/%08x", job, iteration))
}
