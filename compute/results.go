package compute

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"filippo.io/age"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/blob"
)

// ResultFormat names the result envelope's format.
const ResultFormat = "medchain/result/v1"

// Result is what a requester decrypts: the released output of one site of a
// job, with what it was computed on. Release holds only what the output
// controls let out (an outputctl *Release value).
type Result struct {
	Format       string          `json:"format"`
	Job          uint64          `json:"job"`
	Dataset      string          `json:"dataset"`
	Version      uint64          `json:"version"`
	ContentRoot  string          `json:"content_root"`
	Analysis     string          `json:"analysis"`
	Purpose      string          `json:"purpose"`
	ConsentModel string          `json:"consent_model"`
	ConsentAsOf  int64           `json:"consent_as_of_height"` // the job's admission height
	Worker       string          `json:"worker"`
	Measurement  string          `json:"measurement"`
	MinCohort    uint64          `json:"min_cohort"`
	EpsilonMilli uint64          `json:"epsilon_milli"`
	Release      json.RawMessage `json:"release"`
	ReleaseKind  ReleaseKind     `json:"release_kind"`
}

// ReleaseKind names what a result's release holds, and so how to decode it.
type ReleaseKind string

// Release kinds.
const (
	KindCount                   ReleaseKind = "count"                     // outputctl.CountRelease
	KindCrosstab                ReleaseKind = "crosstab"                  // outputctl.CrosstabRelease
	KindDescription             ReleaseKind = "description"               // descriptive statistics
	KindRegression              ReleaseKind = "regression"                // outputctl.RegressionRelease
	KindPrivateRegression       ReleaseKind = "private_regression"        // outputctl.PrivateRegressionRelease
	KindPooledRegression        ReleaseKind = "pooled_regression"         // PooledRelease
	KindPooledPrivateRegression ReleaseKind = "pooled_private_regression" // PooledPrivateRelease
	KindTrees                   ReleaseKind = "boosted_trees"             // outputctl.TreesRelease
	KindSurvival                ReleaseKind = "survival"                  // outputctl.SurvivalRelease
	KindPooledSurvival          ReleaseKind = "pooled_survival"           // outputctl.SurvivalRelease of a study (a Cox model, no curves)
)

// IsRegression says whether a release holds a fitted regression (with its
// model under "regression"), single-site or pooled, exact or private.
func (k ReleaseKind) IsRegression() bool {
	switch k {
	case KindRegression, KindPrivateRegression, KindPooledRegression, KindPooledPrivateRegression:
		return true
	}
	return false
}

// ResultsDir is where a node home keeps encrypted results.
func ResultsDir(home string) string { return filepath.Join(home, "results") }

// ResultStore holds encrypted results, addressed by the SHA-256 of the
// ciphertext (the result hash posted on the ledger); file names are those
// hashes and nothing else.
type ResultStore struct{ d *blob.Dir }

// OpenResultStore opens (creating) a results store directory.
func OpenResultStore(dir string) (*ResultStore, error) {
	d, err := blob.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	return &ResultStore{d: d}, nil
}

// ErrNoResult: the store has no blob with that hash.
var ErrNoResult = fmt.Errorf("no such result in this node's store: %w", fs.ErrNotExist)

// Put stores a ciphertext and returns its hash (hex SHA-256).
func (s *ResultStore) Put(ciphertext []byte) (string, error) {
	a, err := s.d.Put(ciphertext)
	if err != nil {
		return "", err
	}
	return a.String(), nil
}

// Get returns the bytes stored under this hash as they are, without
// re-hashing them: the node only carries results, and the requester checks
// the hash against the ledger (FetchResult), which is the check that
// matters since the requester need not trust the node.
func (s *ResultStore) Get(hash string) ([]byte, error) {
	a, err := blob.ParseAddr(strings.ToLower(hash))
	if err != nil {
		return nil, fmt.Errorf("result hash: %w", err)
	}
	b, err := os.ReadFile(s.d.Path(a))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoResult
	}
	return b, err
}

// Path is the file of a stored result (for tests and operators).
func (s *ResultStore) Path(hash string) string {
	a, _ := blob.ParseAddr(hash)
	return s.d.Path(a)
}

// Locator is the locator posted for a stored result: its address in the
// node's results store. The API serves it at /v1/results/{job}/{dataset}.
func Locator(hash string) string { return "results:sha256:" + hash }

// HashHex is the hex SHA-256 of b.
func HashHex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// EncryptResult encrypts a result to the requester's raw X25519 key.
func EncryptResult(r *Result, resultKey []byte) ([]byte, error) {
	rc, err := vault.NewRecipient(resultKey)
	if err != nil {
		return nil, fmt.Errorf("result key: %w", err)
	}
	plain, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, rc.AgeRecipient())
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecryptResult opens a result with the requester's key.
func DecryptResult(ciphertext []byte, k *keys.Key) (*Result, error) {
	id, err := vault.NewIdentity(k.Enc)
	if err != nil {
		return nil, err
	}
	rd, err := age.Decrypt(bytes.NewReader(ciphertext), id.AgeIdentity())
	if err != nil {
		return nil, fmt.Errorf("decrypt result with %s's key: %w", k.Name, err)
	}
	plain, err := io.ReadAll(io.LimitReader(rd, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("decrypt result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(plain, &r); err != nil {
		return nil, fmt.Errorf("result: %w", err)
	}
	if r.Format != ResultFormat {
		return nil, fmt.Errorf("result: format %q, want %q", r.Format, ResultFormat)
	}
	return &r, nil
}
