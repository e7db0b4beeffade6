// Package receipts makes and recognises private usage receipts: a tag per
// (patient, job, dataset) that only the patient and the data holder's
// worker can compute, published in a set padded with random tags.
//
// A tag is HMAC-SHA256 under a key both sides derive from the X25519
// agreement between the patient's encryption key and the worker's (HKDF,
// bound to both public keys), over the chain, the job and the dataset,
// truncated to TagSize bytes. Without one of the two private keys a tag is
// indistinguishable from random bytes, and tags of the same patient for two
// jobs are unrelated: a set tells a reader who holds every ledger byte
// nothing but its size, which the ledger fixes from public data. A patient
// recognises their own tag; they cannot compute anyone else's.
//
// The package is pure: keys and randomness in, bytes out.
package receipts

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// TagSize is the length of a tag (ledger.ReceiptTagSize).
const TagSize = 16

// Tag is one receipt tag.
type Tag [TagSize]byte

// Key is the PRF key shared by one patient and one worker.
type Key [32]byte

const (
	keyInfo = "medchain/receipts/v1/key"
	tagInfo = "medchain/receipts/v1/tag"
)

// ErrKey is matched by errors about a key that cannot be agreed with.
var ErrKey = errors.New("receipts: unusable key")

// WorkerKey is the worker's side of the key it shares with a patient.
func WorkerKey(worker *ecdh.PrivateKey, patientEnc []byte) (Key, error) {
	return derive(worker, patientEnc, worker.PublicKey().Bytes(), patientEnc)
}

// PatientKey is the patient's side of the key they share with a worker.
func PatientKey(patient *ecdh.PrivateKey, workerEnc []byte) (Key, error) {
	return derive(patient, workerEnc, workerEnc, patient.PublicKey().Bytes())
}

func derive(priv *ecdh.PrivateKey, peer, workerPub, patientPub []byte) (Key, error) {
	pub, err := ecdh.X25519().NewPublicKey(peer)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrKey, err)
	}
	secret, err := priv.ECDH(pub) // refuses a peer of small order (all-zero secret)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %v", ErrKey, err)
	}
	// Binding both public keys makes the key one pair's, in one role.
	info := make([]byte, 0, len(keyInfo)+64)
	info = append(append(append(info, keyInfo...), workerPub...), patientPub...)
	k, err := hkdf.Key(sha256.New, secret, nil, string(info), len(Key{}))
	if err != nil {
		return Key{}, err
	}
	return Key(k), nil
}

// TagFor is the tag of a patient's records used in a job's site.
func TagFor(k Key, chainID string, job uint64, dataset string) Tag {
	m := hmac.New(sha256.New, k[:])
	m.Write([]byte(tagInfo))
	m.Write([]byte{0})
	m.Write([]byte(chainID))
	m.Write([]byte{0})
	m.Write(binary.BigEndian.AppendUint64(nil, job))
	m.Write([]byte(dataset))
	var t Tag
	copy(t[:], m.Sum(nil))
	return t
}

// ErrTooMany is returned by Pad when there are more tags than the set's
// size.
var ErrTooMany = errors.New("receipts: more tags than the set holds")

// Pad returns the set of exactly size tags: the given ones (duplicates
// merged) and random ones from rand, sorted ascending and concatenated, as
// the ledger takes them. Random tags that collide with others are drawn
// again, so the set is strictly ascending.
func Pad(tags []Tag, size int, rand io.Reader) ([]byte, error) {
	set := slices.Clone(tags)
	slices.SortFunc(set, compare)
	set = slices.Compact(set)
	if len(set) > size {
		return nil, fmt.Errorf("%w: %d tags, the set holds %d", ErrTooMany, len(set), size)
	}
	for len(set) < size {
		extra := make([]Tag, size-len(set))
		for i := range extra {
			if _, err := io.ReadFull(rand, extra[i][:]); err != nil {
				return nil, fmt.Errorf("receipts: padding: %w", err)
			}
		}
		set = append(set, extra...)
		slices.SortFunc(set, compare)
		set = slices.Compact(set)
	}
	out := make([]byte, 0, size*TagSize)
	for _, t := range set {
		out = append(out, t[:]...)
	}
	return out, nil
}

func compare(a, b Tag) int { return bytes.Compare(a[:], b[:]) }

// Contains reports whether a sorted set (as Pad returns it) holds t.
func Contains(set []byte, t Tag) bool {
	n := len(set) / TagSize
	lo, hi := 0, n
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch bytes.Compare(set[mid*TagSize:(mid+1)*TagSize], t[:]) {
		case 0:
			return true
		case -1:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return false
}

// Scanner recognises one patient's receipts. It remembers the key of each
// worker it has seen, so that a scan of many jobs costs one X25519
// agreement per worker and one HMAC per job site.
type Scanner struct {
	priv    *ecdh.PrivateKey
	chainID string
	keys    map[string]Key // by the worker's encryption key
}

// NewScanner returns the scanner of the patient whose X25519 key is priv.
func NewScanner(priv *ecdh.PrivateKey, chainID string) *Scanner {
	return &Scanner{priv: priv, chainID: chainID, keys: map[string]Key{}}
}

// Recognises reports whether the set of a job's site, keyed with the
// worker's encryption key workerEnc, holds the patient's tag.
func (s *Scanner) Recognises(workerEnc []byte, job uint64, dataset string, set []byte) (bool, error) {
	k, ok := s.keys[string(workerEnc)]
	if !ok {
		var err error
		if k, err = PatientKey(s.priv, workerEnc); err != nil {
			return false, err
		}
		s.keys[string(workerEnc)] = k
	}
	return Contains(set, TagFor(k, s.chainID, job, dataset)), nil
}
