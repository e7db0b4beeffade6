package ledger

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/vocab"
)

// Usage receipts (issue 12): for every released contribution — a site's
// post_result, single-site or its share of a pooled study — the worker
// that posted it publishes a set of tags, one per included, linked patient,
// from a PRF keyed by the X25519 agreement between the patient's EncKey and
// the worker's (package receipts). Only the patient (and the worker) can
// compute a patient's tag for a job, and a tag for one job says nothing of
// the tag for another, so the set tells everyone else nothing.
//
// The set is padded with random tags to a size fixed by the ledger: the top
// of the record band of the dataset version the job was admitted on, which
// is already public. So the size is a function of public data alone: it
// says nothing of the cohort, and the worker has no choice of padding that
// could leak (a set of another size is refused). Tags are sorted, so their
// order says nothing either.
//
// A set is posted after the result, by the worker that posted the result,
// as companion transactions (post_receipts), in parts of at most
// ReceiptTagsPerPart tags so that a large band fits the transaction size
// limit: parts in order, each strictly ascending and above the previous
// part's last tag. The result itself is unchanged, so receipts add nothing
// to settlement and cannot hold a job up.

// ReceiptTagSize is the length of one tag: 128 bits, so that a random
// padding tag equals a patient's own with probability 2^-128 per tag.
const ReceiptTagSize = 16

// ReceiptTagsPerPart is the most tags a post_receipts carries (32 KiB of
// tags, about 44 KiB of base64: under MaxTxBytes with room for the rest).
const ReceiptTagsPerPart = 2048

// MaxReceiptParts bounds a post_receipts' part number (limits.go).
const MaxReceiptParts = 1024

// ReceiptSetSize is the number of tags a site's receipt set has for a
// dataset version of record band band, and false for a band whose sets the
// ledger does not keep (above 100 000 records a set would take megabytes
// of every node's state per job). It is part of the ledger's rules.
func ReceiptSetSize(band string) (int, bool) {
	switch band {
	case "<100", "100-999", "1k-10k", "10k-100k":
		return int(vocab.BandTop(band)), true
	}
	return 0, false
}

// ReceiptParts is the number of post_receipts parts of a set of n tags.
func ReceiptParts(n int) int { return (n + ReceiptTagsPerPart - 1) / ReceiptTagsPerPart }

// receiptPartTags is the number of tags part i of a set of n tags carries.
func receiptPartTags(n, i int) int {
	return min(ReceiptTagsPerPart, n-i*ReceiptTagsPerPart)
}

// TxPostReceipts is the type of PostReceipts.
const TxPostReceipts TxType = "post_receipts"

// PostReceipts is one part of a site's receipt set: Tags is the part's
// tags, ReceiptTagSize bytes each, concatenated in strictly ascending
// order.
type PostReceipts struct {
	Job     uint64 `json:"job"`
	Dataset string `json:"dataset"`
	Part    uint32 `json:"part"`
	Tags    []byte `json:"tags"`
}

func (*PostReceipts) Type() TxType { return TxPostReceipts }

// ReceiptSet is the ledger's record of a site's receipts: who posted them
// (the worker whose key the tags are keyed with), how many tags and parts
// the set has, how many parts are in, and the last tag so far (the next
// part must start above it). Complete is the height the last part arrived.
type ReceiptSet struct {
	_        struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Job      uint64   `json:"job"`
	Dataset  string   `json:"dataset"`
	Worker   string   `json:"worker"`
	Size     uint64   `json:"size"`
	Parts    uint32   `json:"parts"`
	Posted   uint32   `json:"posted"`
	Last     []byte   `json:"last_tag,omitempty"`
	Complete int64    `json:"complete_height,omitempty"`
}

func (c *txCtx) postReceipts(m *PostReceipts) ([]Event, error) {
	j, err := c.job(m.Job)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(j.Sites, func(s JobSite) bool { return s.Dataset == m.Dataset })
	if i < 0 {
		return nil, errf(CodeInvalidField, "msg.dataset: job %d does not use dataset %q", j.ID, m.Dataset)
	}
	site := j.Sites[i]
	if site.Result == nil {
		return nil, errf(CodeInvalidState, "msg.dataset: job %d has no result for %q; receipts follow the result", j.ID, m.Dataset)
	}
	if c.addr != site.Result.Worker {
		return nil, errf(CodeUnauthorized, "only %s, which posted the result, posts its receipts", site.Result.Worker)
	}
	v, err := GetDatasetVersion(c.s, site.Dataset, site.Version)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, errf(CodeInternal, "dataset %q version %d missing", site.Dataset, site.Version)
	}
	size, ok := ReceiptSetSize(v.RecordBand)
	if !ok {
		return nil, errf(CodeInvalidState, "msg.dataset: %q version %d is in band %s; receipts are kept for bands up to 10k-100k", site.Dataset, site.Version, v.RecordBand)
	}
	parts := ReceiptParts(size)
	if int(m.Part) >= parts {
		return nil, errf(CodeInvalidField, "msg.part: a set of %d tags has parts 0 to %d, got %d", size, parts-1, m.Part)
	}
	var set ReceiptSet
	found, err := getState(c.s, KeyReceiptSet(m.Job, m.Dataset), &set)
	if err != nil {
		return nil, err
	}
	if !found {
		set = ReceiptSet{Job: m.Job, Dataset: m.Dataset, Worker: c.addr, Size: uint64(size), Parts: uint32(parts)}
	}
	if set.Posted == set.Parts {
		return nil, errf(CodeAlreadyExists, "msg.part: job %d's receipts for %q are complete", j.ID, m.Dataset)
	}
	if m.Part != set.Posted {
		return nil, errf(CodeInvalidState, "msg.part: job %d's receipts for %q need part %d next, got %d", j.ID, m.Dataset, set.Posted, m.Part)
	}
	want := receiptPartTags(size, int(m.Part))
	if len(m.Tags) != want*ReceiptTagSize {
		return nil, errf(CodeInvalidField, "msg.tags: part %d of a set of %d tags holds %d tags of %d bytes (%d bytes), got %d bytes",
			m.Part, size, want, ReceiptTagSize, want*ReceiptTagSize, len(m.Tags))
	}
	prev := set.Last
	for k := 0; k < len(m.Tags); k += ReceiptTagSize {
		tag := m.Tags[k : k+ReceiptTagSize]
		if prev != nil && bytes.Compare(prev, tag) >= 0 {
			return nil, errf(CodeInvalidField, "msg.tags: tag %d is not above the one before it (tags are strictly ascending across the set)", k/ReceiptTagSize)
		}
		prev = tag
	}
	set.Last = slices.Clone(prev)
	set.Posted++
	if set.Posted == set.Parts {
		set.Complete = c.height
	}
	if err := putState(c.s, KeyReceiptPart(m.Job, m.Dataset, m.Part), m.Tags); err != nil {
		return nil, err
	}
	return ev("post_receipts", "job", fmt.Sprint(j.ID), "dataset", m.Dataset, "part", fmt.Sprint(m.Part)),
		putState(c.s, KeyReceiptSet(m.Job, m.Dataset), set)
}

// KeyReceiptSet is a site's receipt set record.
func KeyReceiptSet(job uint64, dataset string) []byte {
	return []byte("s/rcpt/" + num(job) + "/" + dataset)
}

// prefixReceiptSet lists every receipt set, by job then dataset.
var prefixReceiptSet = []byte("s/rcpt/")

// KeyReceiptPart is one part of a site's receipt set (its tags).
func KeyReceiptPart(job uint64, dataset string, part uint32) []byte {
	return []byte("s/rcptpart/" + num(job) + "/" + dataset + "/" + num(uint64(part)))
}

// GetReceiptSet reads a site's receipt set record.
func GetReceiptSet(r store.Reader, job uint64, dataset string) (*ReceiptSet, error) {
	return getOne[ReceiptSet](r, KeyReceiptSet(job, dataset))
}

// GetReceiptTags reads every tag of a complete receipt set, concatenated in
// order; nil if the set is missing or incomplete.
func GetReceiptTags(r store.Reader, job uint64, dataset string) ([]byte, error) {
	set, err := GetReceiptSet(r, job, dataset)
	if err != nil || set == nil || set.Posted != set.Parts {
		return nil, err
	}
	out := make([]byte, 0, set.Size*ReceiptTagSize)
	for p := range set.Parts {
		var part []byte
		found, err := getState(r, KeyReceiptPart(job, dataset, p), &part)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, errf(CodeInternal, "receipts of job %d %q: part %d missing", job, dataset, p)
		}
		out = append(out, part...)
	}
	return out, nil
}

// ListReceiptSets lists receipt sets of jobs from job `from` on, in job
// then dataset order.
func ListReceiptSets(it Iterator, from uint64, keep func(*ReceiptSet) bool) ([]ReceiptSet, error) {
	return list(it, prefixReceiptSet, func(s *ReceiptSet) bool {
		return s.Job >= from && (keep == nil || keep(s))
	})
}
