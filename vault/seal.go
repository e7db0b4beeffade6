package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// Chunks are sealed with AES-256-GCM under the version's data key. The
// nonce is 96 random bits per chunk (crypto/cipher's GCM with random
// nonces, which stores it in front of the ciphertext). A nonce derived
// from the chunk's identity would also be unique — each key seals each
// (column, chunk) once — but only as long as no code path ever seals a
// chunk twice (a retried write, a re-encoded chunk); random nonces make
// that mistake harmless, cost 12 bytes per 512 KiB chunk, and a version
// seals far fewer than the 2^32 messages random nonces allow per key.
//
// The associated data binds each chunk to exactly one place: the dataset,
// the version, the column and the chunk index. A chunk moved to another
// index, column, version or dataset fails to authenticate.

const (
	adChunk      = "medchain/vault/chunk/v1"
	adQuarantine = "medchain/vault/quarantine/v1"
	adReport     = "medchain/vault/ingest-report/v1"
	adRows       = "medchain/vault/rows/v1"
	macInfo      = "medchain/vault/manifest-mac/v1"
)

// newDataKey draws a fresh 256-bit data key.
func newDataKey() []byte {
	k := make([]byte, dataKeySize)
	rand.Read(k) // never fails (crypto/rand panics rather than return short)
	return k
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(b)
}

// appendLP appends a length-prefixed string, so that no two sequences of
// parts encode alike.
func appendLP(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// chunkAD is the associated data of one chunk.
func chunkAD(dst []byte, v versionID, col string, chunk int) []byte {
	dst = appendLP(dst[:0], adChunk)
	dst = appendLP(dst, v.dataset)
	dst = binary.BigEndian.AppendUint64(dst, v.version)
	dst = appendLP(dst, col)
	return binary.BigEndian.AppendUint64(dst, uint64(chunk))
}

func quarantineAD(v versionID) []byte {
	b := appendLP(nil, adQuarantine)
	b = appendLP(b, v.dataset)
	return binary.BigEndian.AppendUint64(b, v.version)
}

func reportAD(v versionID) []byte {
	b := appendLP(nil, adReport)
	b = appendLP(b, v.dataset)
	return binary.BigEndian.AppendUint64(b, v.version)
}

func rowsAD(v versionID) []byte {
	b := appendLP(nil, adRows)
	b = appendLP(b, v.dataset)
	return binary.BigEndian.AppendUint64(b, v.version)
}

// Sealed blobs are padded before sealing, so that their sizes, which
// anyone who can list the vault sees, do not give away the exact number
// of rows (a column of fixed-width values is a row count times its width):
// the plaintext is
//
//	le32(len(body)) ‖ body ‖ zeros
//
// padded to the next power of two, and to at least padMin bytes, so every
// column of a version under a few hundred rows looks the same and a larger
// one shows its size only to within a factor of two.
const padMin = 16 << 10

// pad frames and pads body into dst.
func pad(dst, body []byte) []byte {
	n := max(padMin, 4+len(body))
	size := 1
	for size < n {
		size <<= 1
	}
	dst = binary.LittleEndian.AppendUint32(dst[:0], uint32(len(body)))
	dst = append(dst, body...)
	return append(dst, make([]byte, size-len(dst))...)
}

// unpad returns the body of a padded plaintext; anything but the one
// encoding pad writes is an error.
func unpad(b []byte) ([]byte, error) {
	if len(b) < 4 || len(b)&(len(b)-1) != 0 || len(b) < padMin {
		return nil, errors.New("padding: wrong size")
	}
	n := binary.LittleEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) || (len(b) > padMin && 4+int(n) <= len(b)/2) {
		return nil, errors.New("padding: wrong length")
	}
	for _, c := range b[4+n:] {
		if c != 0 {
			return nil, errors.New("padding: not zeros")
		}
	}
	return b[4 : 4+n], nil
}

// errAuth is what a chunk that does not open means: it was modified, or it
// belongs somewhere else.
var errAuth = errors.New("does not authenticate under the data key (modified, or moved from another column, chunk or version)")

// manifestMAC authenticates a manifest's immutable content under a key
// derived from the data key, so that only a holder of the data key can
// produce a manifest that opens.
func manifestMAC(dataKey, body []byte) ([]byte, error) {
	k, err := hkdf.Key(sha256.New, dataKey, nil, macInfo, 32)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, k)
	m.Write(body)
	return m.Sum(nil), nil
}
