package federated

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20"

	"github.com/medchain/medchain/zk"
)

// Session names one masked sum: every mask is bound to all of it, so no mask
// is ever used twice — a new round (after a dropout or a flag), a new
// iteration or a new phase draws fresh masks from the same pair secret.
type Session struct {
	ChainID   string
	Job       uint64
	Round     uint32
	Iteration uint32
	Phase     string
}

// Peer is one participant of a round: its site (the dataset it contributes)
// and the X25519 public key of the worker registered for it.
type Peer struct {
	Site string
	Key  []byte
}

// ErrBadPeers: the participant list is not one a mask can be drawn for.
var ErrBadPeers = errors.New("federated: bad participant list")

// maskDomain separates medchain's pairwise masks from every other use of
// the workers' X25519 keys (results are age-encrypted to the same keys).
const maskDomain = "medchain/secagg/v1"

// Masks are one site's pairwise masks for a session: Values is added to the
// site's encoded contribution mod 2⁶⁴ and Blindings are the blinding factors
// of its Pedersen commitments. Summed over every participant of the round,
// both vanish: for each pair (a, b) with a before b in the round's order, a
// adds the pair's stream and b subtracts it.
type Masks struct {
	Values    []uint64
	Blindings []zk.Scalar
}

// PairMasks derives the masks of the site at index self of peers for n
// values. priv is that site's worker key; peers lists the round's
// participants in the round's order (the job's site order), self included.
//
// For each other participant the X25519 shared secret is expanded with
// HKDF-SHA256 (salt maskDomain, info binding chain, job, round, iteration,
// phase and the ordered pair of sites) into two ChaCha20 keys, one for the
// value masks (8 bytes each) and one for the blindings (64 bytes each,
// reduced mod ℓ). The key stream of a fresh key with a zero nonce is a
// pseudorandom function of the key, and the key is never reused.
func PairMasks(priv *ecdh.PrivateKey, self int, peers []Peer, s Session, n int) (*Masks, error) {
	if self < 0 || self >= len(peers) || len(peers) < 2 {
		return nil, fmt.Errorf("%w: site %d of %d participants (a masked sum needs two or more)", ErrBadPeers, self, len(peers))
	}
	if n < 0 {
		return nil, fmt.Errorf("federated: %d values", n)
	}
	for i := range peers {
		for j := range i {
			if peers[i].Site == peers[j].Site {
				return nil, fmt.Errorf("%w: site %q named twice", ErrBadPeers, peers[i].Site)
			}
		}
	}
	m := &Masks{Values: make([]uint64, n), Blindings: make([]zk.Scalar, n)}
	vbuf := make([]byte, 8*n)
	bbuf := make([]byte, 64)
	for k, p := range peers {
		if k == self {
			continue
		}
		pub, err := ecdh.X25519().NewPublicKey(p.Key)
		if err != nil {
			return nil, fmt.Errorf("%w: site %q: worker key: %v", ErrBadPeers, p.Site, err)
		}
		shared, err := priv.ECDH(pub) // refuses low-order points (all-zero secret)
		if err != nil {
			return nil, fmt.Errorf("%w: site %q: key agreement: %v", ErrBadPeers, p.Site, err)
		}
		lo, hi := peers[self].Site, p.Site
		add := self < k // the earlier site of the pair adds, the later subtracts
		if !add {
			lo, hi = hi, lo
		}
		vs, err := pairStream(shared, s, lo, hi, "values")
		if err != nil {
			return nil, err
		}
		clear(vbuf)
		vs.XORKeyStream(vbuf, vbuf)
		bs, err := pairStream(shared, s, lo, hi, "blindings")
		if err != nil {
			return nil, err
		}
		for j := range n {
			v := binary.LittleEndian.Uint64(vbuf[8*j:])
			clear(bbuf)
			bs.XORKeyStream(bbuf, bbuf)
			b := zk.ScalarFromUniform([64]byte(bbuf))
			if add {
				m.Values[j] += v
				m.Blindings[j] = m.Blindings[j].Add(b)
			} else {
				m.Values[j] -= v
				m.Blindings[j] = m.Blindings[j].Sub(b)
			}
		}
		clear(shared)
	}
	return m, nil
}

// pairStream is the ChaCha20 key stream of one pair, session and purpose.
func pairStream(shared []byte, s Session, lo, hi, purpose string) (*chacha20.Cipher, error) {
	info := sessionBytes(s, lo, hi, purpose)
	key, err := hkdf.Key(sha256.New, shared, []byte(maskDomain), string(info), chacha20.KeySize)
	if err != nil {
		return nil, err
	}
	return chacha20.NewUnauthenticatedCipher(key, make([]byte, chacha20.NonceSize))
}

// sessionBytes encodes a session unambiguously: every string is length
// prefixed, every number fixed width.
func sessionBytes(s Session, parts ...string) []byte {
	var b []byte
	str := func(v string) {
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	str(s.ChainID)
	b = binary.BigEndian.AppendUint64(b, s.Job)
	b = binary.BigEndian.AppendUint32(b, s.Round)
	b = binary.BigEndian.AppendUint32(b, s.Iteration)
	str(s.Phase)
	for _, p := range parts {
		str(p)
	}
	return b
}

// ProofContext is what a site's bounds proof is bound to: the session and
// the site, so a proof cannot be replayed for another site, round,
// iteration or job.
func ProofContext(s Session, site string) []byte {
	return append([]byte("medchain/secagg/bounds/v1\x00"), sessionBytes(s, site)...)
}

// Apply masks an encoded contribution: (v + mask) mod 2⁶⁴ for each value.
func (m *Masks) Apply(values []int64) ([]uint64, error) {
	if len(values) != len(m.Values) {
		return nil, fmt.Errorf("federated: %d values, masks for %d", len(values), len(m.Values))
	}
	out := make([]uint64, len(values))
	for j, v := range values {
		out[j] = uint64(v) + m.Values[j]
	}
	return out, nil
}

// Sum adds masked vectors mod 2⁶⁴ and reads the result as signed integers:
// the sum of the unmasked contributions once every participant's vector is
// in (and each contribution's proven bounds keep the true sum inside int64).
func Sum(masked [][]uint64) ([]int64, error) {
	if len(masked) == 0 {
		return nil, fmt.Errorf("federated: nothing to sum")
	}
	sum := make([]uint64, len(masked[0]))
	for i, v := range masked {
		if len(v) != len(sum) {
			return nil, fmt.Errorf("federated: vector %d has %d values, vector 0 has %d", i, len(v), len(sum))
		}
		for j, x := range v {
			sum[j] += x
		}
	}
	out := make([]int64, len(sum))
	for j, x := range sum {
		out[j] = int64(x)
	}
	return out, nil
}
