package zk

import (
	"crypto/sha512"
	"encoding/binary"
	"hash"
)

// transcript is the Fiat–Shamir transcript: one running SHA-512 over framed
// operations. Every operation is
//
//	op (1 byte) ‖ uint32be(len(label)) ‖ label ‖ uint64be(len(data)) ‖ data
//
// with op 0x01 for an absorbed message (data = the message) and op 0x02
// for a challenge (no data field). A challenge is SHA-512 of everything
// so far, reduced mod ℓ; the challenge operation itself stays in the
// state, so later challenges depend on it. The framing makes the byte
// stream an unambiguous encoding of the sequence of operations.
type transcript struct {
	h hash.Hash
}

const (
	opMessage   = 0x01
	opChallenge = 0x02
)

func newTranscript(protocol string) *transcript {
	t := &transcript{h: sha512.New()}
	t.appendMessage("protocol", []byte(protocol))
	return t
}

func (t *transcript) frame(op byte, label string) {
	var hdr [5]byte
	hdr[0] = op
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(label)))
	t.h.Write(hdr[:])
	t.h.Write([]byte(label))
}

func (t *transcript) appendMessage(label string, msg []byte) {
	t.frame(opMessage, label)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(msg)))
	t.h.Write(n[:])
	t.h.Write(msg)
}

func (t *transcript) appendUint64(label string, v uint64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	t.appendMessage(label, b[:])
}

func (t *transcript) appendElement(label string, e *element) {
	t.appendMessage(label, e.enc[:])
}

func (t *transcript) appendScalar(label string, s *scalar) {
	b := scalarBytes(s)
	t.appendMessage(label, b[:])
}

func (t *transcript) challenge(label string) scalar {
	t.frame(opChallenge, label)
	var out [64]byte
	t.h.Sum(out[:0])
	var s scalar
	s.SetReduced(&out)
	return s
}
