package audit

// An independent reference for the tests: the Merkle Tree Hash, audit paths
// and consistency proofs written directly from the recursive definitions in
// RFC 6962 section 2.1, with crypto/sha256 and nothing from
// transparency-dev/merkle. It is quadratic and only meant for small trees.

import "crypto/sha256"

// refLeafHash is MTH({d}) = SHA-256(0x00 || d).
func refLeafHash(d []byte) []byte {
	h := sha256.Sum256(append([]byte{0x00}, d...))
	return h[:]
}

// refNodeHash is SHA-256(0x01 || left || right).
func refNodeHash(left, right []byte) []byte {
	b := append(append([]byte{0x01}, left...), right...)
	h := sha256.Sum256(b)
	return h[:]
}

// refSplit is k, the largest power of two smaller than n (n > 1).
func refSplit(n int) int {
	k := 1
	for k<<1 < n {
		k <<= 1
	}
	return k
}

// refMTH is the Merkle Tree Hash of the entries D[n] (RFC 6962 2.1):
//
//	MTH({})    = SHA-256()
//	MTH({d0})  = SHA-256(0x00 || d0)
//	MTH(D[n])  = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))
func refMTH(d [][]byte) []byte {
	switch len(d) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return refLeafHash(d[0])
	}
	k := refSplit(len(d))
	return refNodeHash(refMTH(d[:k]), refMTH(d[k:]))
}

// refPath is the audit path PATH(m, D[n]) (RFC 6962 2.1.1):
//
//	PATH(0, {d0}) = {}
//	PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n])      for m < k
//	PATH(m, D[n]) = PATH(m - k, D[k:n]) : MTH(D[0:k])  for m >= k
func refPath(m int, d [][]byte) [][]byte {
	if len(d) <= 1 {
		return [][]byte{}
	}
	k := refSplit(len(d))
	if m < k {
		return append(refPath(m, d[:k]), refMTH(d[k:]))
	}
	return append(refPath(m-k, d[k:]), refMTH(d[:k]))
}

// refProof is the consistency proof PROOF(m, D[n]) (RFC 6962 2.1.2),
// extended with the empty proof for m == 0 and m == n.
func refProof(m int, d [][]byte) [][]byte {
	if m == 0 || m == len(d) {
		return [][]byte{}
	}
	return refSubproof(m, d, true)
}

// refSubproof is SUBPROOF(m, D[n], b):
//
//	SUBPROOF(m, D[m], true)  = {}
//	SUBPROOF(m, D[m], false) = {MTH(D[m])}
//	SUBPROOF(m, D[n], b)     = SUBPROOF(m, D[0:k], b) : MTH(D[k:n])          for m <= k
//	SUBPROOF(m, D[n], b)     = SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])  for m > k
func refSubproof(m int, d [][]byte, b bool) [][]byte {
	if m == len(d) {
		if b {
			return [][]byte{}
		}
		return [][]byte{refMTH(d)}
	}
	k := refSplit(len(d))
	if m <= k {
		return append(refSubproof(m, d[:k], b), refMTH(d[k:]))
	}
	return append(refSubproof(m-k, d[k:], false), refMTH(d[:k]))
}
