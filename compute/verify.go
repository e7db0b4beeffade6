package compute

import (
	"context"
	"fmt"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

// FetchResult downloads one site's encrypted result through the API, checks
// that its SHA-256 is the result hash the worker posted on the ledger, and,
// with a key, decrypts it. It returns the ciphertext too.
func FetchResult(ctx context.Context, c *client.Client, j *ledger.Job, dataset string, k *keys.Key) (*Result, []byte, error) {
	site, err := resultSite(j, dataset)
	if err != nil {
		return nil, nil, err
	}
	blob, err := c.Result(ctx, j.ID, site.Dataset)
	if err != nil {
		return nil, nil, err
	}
	if got := HashHex(blob.Ciphertext); got != site.Result.ResultHash {
		return nil, nil, fmt.Errorf("job %d %s: the downloaded result hashes to %s, the ledger's result hash is %s: refusing it", j.ID, site.Dataset, got, site.Result.ResultHash)
	}
	if k == nil {
		return nil, blob.Ciphertext, nil
	}
	r, err := DecryptResult(blob.Ciphertext, k)
	if err != nil {
		return nil, blob.Ciphertext, err
	}
	if r.Job != j.ID || r.Dataset != site.Dataset || r.ContentRoot != site.ContentRoot || r.Measurement != site.Result.Measurement || r.Worker != site.Result.Worker {
		return r, blob.Ciphertext, fmt.Errorf("job %d %s: the decrypted result names job %d %s root %s worker %s, which is not what the ledger binds", j.ID, site.Dataset, r.Job, r.Dataset, r.ContentRoot, r.Worker)
	}
	return r, blob.Ciphertext, nil
}

func resultSite(j *ledger.Job, dataset string) (*ledger.JobSite, error) {
	for i := range j.Sites {
		s := &j.Sites[i]
		if s.Dataset == dataset {
			if s.Result == nil {
				return nil, fmt.Errorf("job %d: no result posted for %s yet", j.ID, dataset)
			}
			return s, nil
		}
	}
	return nil, fmt.Errorf("job %d does not use dataset %q", j.ID, dataset)
}

// Check is one verification step.
type Check struct {
	Dataset string `json:"dataset"`
	What    string `json:"what"`
	OK      bool   `json:"ok"`
	Detail  string `json:"detail"`
}

// VerifyJob checks every posted result of a job against the ledger: the
// stored ciphertext hashes to the posted result hash; the posting worker is
// a registered worker of the site's organisation with the measurement the
// result records; the content root the result binds is the root the ledger
// publishes for the dataset version. (The ledger itself checked the
// worker's signature and these bindings when it accepted post_result.) With
// a key, the decrypted result must name the same job, dataset, root,
// worker and measurement.
func VerifyJob(ctx context.Context, c *client.Client, j *ledger.Job, k *keys.Key) ([]Check, bool, error) {
	var out []Check
	all := true
	add := func(ds, what string, ok bool, format string, args ...any) {
		out = append(out, Check{Dataset: ds, What: what, OK: ok, Detail: fmt.Sprintf(format, args...)})
		all = all && ok
	}
	for _, s := range j.Sites {
		if s.Result == nil {
			add(s.Dataset, "result posted", false, "no result posted (job is %s)", j.Status)
			continue
		}
		r := s.Result
		if _, ct, err := FetchResult(ctx, c, j, s.Dataset, nil); err != nil {
			add(s.Dataset, "result hash", false, "%v", err)
		} else {
			add(s.Dataset, "result hash", true, "sha256 of the %d-byte ciphertext = %s, as posted at height %d", len(ct), r.ResultHash, r.Posted)
		}
		w, err := c.Worker(ctx, r.Worker)
		switch {
		case client.IsNotFound(err):
			add(s.Dataset, "worker registration", false, "%s is not a registered worker", r.Worker)
		case err != nil:
			return out, false, err
		case w.Org != s.Org:
			add(s.Dataset, "worker registration", false, "%s is a worker of %s, the dataset is held by %s", r.Worker, w.Org, s.Org)
		case w.Measurement != r.Measurement:
			add(s.Dataset, "worker registration", false, "%s is registered with measurement %s, the result records %s (re-registered since?)", r.Worker, w.Measurement, r.Measurement)
		default:
			add(s.Dataset, "worker registration", true, "%s is a %s-attested worker of %s with measurement %s", r.Worker, w.Attestation, w.Org, w.Measurement)
		}
		dv, err := c.DatasetVersion(ctx, s.Dataset, s.Version)
		switch {
		case client.IsNotFound(err):
			add(s.Dataset, "content root", false, "version %d is not on the ledger", s.Version)
		case err != nil:
			return out, false, err
		case dv.ContentRoot != s.ContentRoot:
			add(s.Dataset, "content root", false, "the job bound root %s, the ledger publishes %s for version %d", s.ContentRoot, dv.ContentRoot, s.Version)
		default:
			add(s.Dataset, "content root", true, "%s = the root of %s version %d published at height %d", s.ContentRoot, s.Dataset, s.Version, dv.Published)
		}
		if k != nil {
			if res, _, err := FetchResult(ctx, c, j, s.Dataset, k); err != nil {
				add(s.Dataset, "decrypted result", false, "%v", err)
			} else {
				add(s.Dataset, "decrypted result", true, "opens with %s's key and names job %d, %s, root, worker and measurement as on the ledger (%s release)", k.Name, res.Job, res.Dataset, res.ReleaseKind)
			}
		}
	}
	return out, all, nil
}
