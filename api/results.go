package api

import (
	"errors"
	"io/fs"
	"net/http"
	"slices"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
)

// ResultSource is implemented by a backend that keeps encrypted job
// results (a node with a results store). Blob returns the ciphertext whose
// hex SHA-256 is hash, or an error wrapping fs.ErrNotExist.
type ResultSource interface {
	ResultBlob(hash string) ([]byte, error)
}

// ResultBlob is GET /v1/results/{job}/{dataset}: one site's encrypted
// result as the worker stored it. The ciphertext is encrypted (age, X25519)
// to the job's result key, so the endpoint needs no authentication; a
// client checks its SHA-256 against result_hash on the ledger before
// decrypting.
type ResultBlob struct {
	Job        uint64 `json:"job"`
	Dataset    string `json:"dataset"`
	ResultHash string `json:"result_hash"`
	Locator    string `json:"locator"`
	Worker     string `json:"worker"`
	Ciphertext []byte `json:"ciphertext"` // base64 in JSON
}

func (s *Server) getResult(r *http.Request) (any, error) {
	id, err := uintParam("job", r.PathValue("job"))
	if err != nil {
		return nil, err
	}
	dataset := r.PathValue("dataset")
	j, err := lookup(s, func(rd store.ReadWriter) (*ledger.Job, error) { return ledger.GetJob(rd, id) })
	if err != nil {
		return nil, err
	}
	if j == nil {
		return nil, notFound("no job %d", id)
	}
	i := slices.IndexFunc(j.Sites, func(st ledger.JobSite) bool { return st.Dataset == dataset })
	if i < 0 {
		return nil, notFound("job %d does not use dataset %q", id, dataset)
	}
	res := j.Sites[i].Result
	if res == nil {
		return nil, notFound("job %d has no result for %q yet", id, dataset)
	}
	src, ok := s.b.(ResultSource)
	if !ok {
		return nil, notFound("this node keeps no results")
	}
	b, err := src.ResultBlob(res.ResultHash)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, notFound("this node does not hold the result of job %d for %q (locator %s)", id, dataset, res.Locator)
	}
	if err != nil {
		return nil, err
	}
	return &ResultBlob{Job: id, Dataset: dataset, ResultHash: res.ResultHash, Locator: res.Locator, Worker: res.Worker, Ciphertext: b}, nil
}
