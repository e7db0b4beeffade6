// Package reqsig signs and verifies HTTP API requests with an account's
// ed25519 key, for the routes that answer only to a particular account (a
// patient's own consents, an institution's view of the consents that
// concern it).
//
// A signed request carries one header:
//
//	Authorization: MedchainSig key=<base64 ed25519 public key>,time=<unix seconds>,nonce=<32 hex digits>,sig=<base64 signature>
//
// and the signature is ed25519 over Message: a domain string, the chain id,
// the method, the host, the request target (escaped path and query, as
// sent), the time, the nonce and the SHA-256 of the body, one per line.
// Binding the chain and the host means a captured request is good for
// nothing at another chain or another node; binding the target means it
// answers that one question only.
//
// Replay: a verifier (Guard) accepts a request only within Skew of its own
// clock, and remembers every nonce it accepted until that window has
// passed, so a request is served at most once.
//
// The package is pure apart from Guard's clock and memory: Message, Sign
// and Verify are deterministic functions of their inputs, so another
// implementation (the web app's, in TypeScript) can be held to the same
// bytes with test vectors (testdata/vectors.json).
package reqsig

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Scheme is the Authorization scheme of a signed request.
const Scheme = "MedchainSig"

// Header is the header that carries the signature.
const Header = "Authorization"

// domain separates request signatures from every other thing an account
// key signs (transactions sign "medchain/tx/v1"...).
const domain = "medchain/request/v1"

// NonceLen is the nonce's length in bytes (hex encoded on the wire).
const NonceLen = 16

// Request is what a signature covers.
type Request struct {
	ChainID string
	Method  string // "GET"
	Host    string // host[:port] the request is sent to
	Target  string // escaped path and query: url.URL.RequestURI()
	Time    int64  // unix seconds
	Nonce   string // NonceLen random bytes, lower-case hex
	Body    []byte // nil for a GET
}

// Kind says why a request's signature was not accepted.
type Kind int

const (
	Missing      Kind = iota + 1 // no Authorization header of the scheme
	Malformed                    // the header does not parse
	BadSignature                 // the signature does not verify
	Stale                        // its time is outside the verifier's window
	Replayed                     // its nonce was already accepted
	Busy                         // the verifier's memory of nonces is full
)

// Error is the one error type of this package.
type Error struct {
	Kind Kind
	Msg  string
}

func (e *Error) Error() string { return e.Msg }

func errf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Msg: fmt.Sprintf(format, args...)}
}

// Message is the byte string that is signed. No field may hold a newline,
// so the lines cannot be shifted to forge another request's message.
func Message(r *Request) ([]byte, error) {
	for _, f := range [][2]string{{"chain id", r.ChainID}, {"method", r.Method}, {"host", r.Host}, {"target", r.Target}, {"nonce", r.Nonce}} {
		if f[1] == "" || strings.ContainsAny(f[1], "\r\n") {
			return nil, errf(Malformed, "request signature: the %s is empty or holds a line break", f[0])
		}
	}
	if n, err := hex.DecodeString(r.Nonce); err != nil || len(n) != NonceLen || r.Nonce != strings.ToLower(r.Nonce) {
		return nil, errf(Malformed, "request signature: nonce: want %d lower-case hex digits", 2*NonceLen)
	}
	body := sha256.Sum256(r.Body)
	return []byte(strings.Join([]string{domain, r.ChainID, r.Method, r.Host, r.Target,
		strconv.FormatInt(r.Time, 10), r.Nonce, hex.EncodeToString(body[:])}, "\n")), nil
}

// Auth is a parsed Authorization header.
type Auth struct {
	PubKey ed25519.PublicKey
	Time   int64
	Nonce  string
	Sig    []byte
}

// Sign signs r with key and returns the Authorization header's value.
func Sign(key ed25519.PrivateKey, r *Request) (string, error) {
	msg, err := Message(r)
	if err != nil {
		return "", err
	}
	sig := ed25519.Sign(key, msg)
	pub := key.Public().(ed25519.PublicKey)
	return fmt.Sprintf("%s key=%s,time=%d,nonce=%s,sig=%s", Scheme,
		base64.StdEncoding.EncodeToString(pub), r.Time, r.Nonce, base64.StdEncoding.EncodeToString(sig)), nil
}

// Parse reads an Authorization header's value ("" → Missing).
func Parse(header string) (*Auth, error) {
	if header == "" {
		return nil, errf(Missing, "no request signature (header %s: %s key=…,time=…,nonce=…,sig=…)", Header, Scheme)
	}
	scheme, rest, _ := strings.Cut(header, " ")
	if scheme != Scheme {
		return nil, errf(Missing, "header %s: scheme %q is not %s", Header, scheme, Scheme)
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || v == "" {
			return nil, errf(Malformed, "header %s: %q is not name=value", Header, part)
		}
		if _, dup := fields[k]; dup {
			return nil, errf(Malformed, "header %s: %s given twice", Header, k)
		}
		fields[k] = v
	}
	for _, k := range []string{"key", "time", "nonce", "sig"} {
		if fields[k] == "" {
			return nil, errf(Malformed, "header %s: %s is missing", Header, k)
		}
	}
	if len(fields) != 4 {
		return nil, errf(Malformed, "header %s: want exactly key, time, nonce and sig", Header)
	}
	var a Auth
	pub, err := base64.StdEncoding.DecodeString(fields["key"])
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return nil, errf(Malformed, "header %s: key: want a base64 ed25519 public key (%d bytes)", Header, ed25519.PublicKeySize)
	}
	a.PubKey = pub
	if a.Time, err = strconv.ParseInt(fields["time"], 10, 64); err != nil {
		return nil, errf(Malformed, "header %s: time: want unix seconds", Header)
	}
	a.Nonce = fields["nonce"]
	if a.Sig, err = base64.StdEncoding.DecodeString(fields["sig"]); err != nil || len(a.Sig) != ed25519.SignatureSize {
		return nil, errf(Malformed, "header %s: sig: want a base64 ed25519 signature (%d bytes)", Header, ed25519.SignatureSize)
	}
	return &a, nil
}

// Verify checks that a signs r (whose Time and Nonce are taken from a).
// It says nothing about freshness: Guard.Check does.
func Verify(a *Auth, r Request) error {
	r.Time, r.Nonce = a.Time, a.Nonce
	msg, err := Message(&r)
	if err != nil {
		return err
	}
	if !ed25519.Verify(a.PubKey, msg, a.Sig) {
		return errf(BadSignature, "request signature does not verify (signed for another chain, host, method, path or time, or by another key)")
	}
	return nil
}
