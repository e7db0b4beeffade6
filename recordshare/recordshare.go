// Package recordshare is the protocol by which a patient gets a copy of
// their own record from an institution and shares it with a clinician for
// a second opinion. It is pure: signed requests, the share commitment the
// ledger records, links, passcode verifiers and the encryption of copies;
// no network, no disk, no clock (callers pass the time).
//
// A record request is signed by the patient's ed25519 account key over a
// domain tag and the request: kind, chain, the serving institution
// account, the signer, a random nonce and an expiry at most MaxRequestLife
// ahead. The serving node checks all of them and remembers the nonce until
// the expiry, so a request is good once, at one node, for minutes.
//
// A share is the copy re-encrypted with age (X25519) either to the
// clinician's registered account key or to a one-time key generated for
// the share and carried only in its link (as SMART Health Links carry
// theirs), with a passcode the serving node checks — it holds only a
// salted argon2id verifier — and an expiry. Its hash (Hash) commits to the
// serving account, the share's random id, recipient, expiry, the
// ciphertext's SHA-256 and the passcode verifier: that hash is what the
// ledger records, and the node accepts an upload only if it matches.
package recordshare

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/argon2"

	"github.com/medchain/medchain/ledger"
)

// Request kinds.
const (
	KindRecord = "record" // a patient asks for their own record
	KindOpen   = "open"   // a recipient account opens a share made to it
)

// MaxRequestLife bounds how far ahead a request may expire, and so how
// long a serving node must remember its nonce.
const MaxRequestLife = 5 * time.Minute

// clockSkew is how far ahead of the node's clock a request's expiry may
// be beyond MaxRequestLife: the patient's clock may run ahead.
const clockSkew = time.Minute

const requestDomain = "medchain/record-request/v1\x00"

// Request is what a patient (or a share's recipient account) signs.
type Request struct {
	Kind    string `json:"kind"`
	Chain   string `json:"chain"`
	Server  string `json:"server"` // the institution account whose node is asked
	Signer  string `json:"signer"`
	Share   string `json:"share,omitempty"` // KindOpen: the share's hash
	Nonce   string `json:"nonce"`           // 32 hex digits, random
	Expires int64  `json:"expires"`         // unix seconds
}

// Signed is a request with its signature.
type Signed struct {
	Request   Request `json:"request"`
	Signature []byte  `json:"signature"`
}

func (r *Request) signBytes() []byte {
	b, _ := json.Marshal(r) // a struct of strings and an int always encodes
	return append([]byte(requestDomain), b...)
}

// Sign makes a fresh request of kind to server: signer is the key's
// address, the nonce random, the expiry MaxRequestLife after now.
func Sign(key ed25519.PrivateKey, kind, chain, server, share string, now time.Time) *Signed {
	var n [16]byte
	rand.Read(n[:])
	r := Request{Kind: kind, Chain: chain, Server: server, Signer: ledger.Address(key.Public().(ed25519.PublicKey)),
		Share: share, Nonce: hex.EncodeToString(n[:]), Expires: now.Add(MaxRequestLife).Unix()}
	return &Signed{Request: r, Signature: ed25519.Sign(key, r.signBytes())}
}

// Expect is what a serving node requires of a request.
type Expect struct {
	Kind   string
	Chain  string
	Server string
}

// Verify checks a request against what the node expects, the signer's
// registered public key and the node's time. It does not check the nonce
// (the node remembers those; see Nonces).
func (s *Signed) Verify(pub []byte, want Expect, now time.Time) error {
	r := &s.Request
	switch {
	case r.Kind != want.Kind:
		return &ledger.Error{Code: ledger.CodeInvalidField, Msg: fmt.Sprintf("request.kind: %q, want %q", r.Kind, want.Kind)}
	case r.Chain != want.Chain:
		return &ledger.Error{Code: ledger.CodeWrongChain, Msg: fmt.Sprintf("request.chain: signed for %q, this is %q", r.Chain, want.Chain)}
	case r.Server != want.Server:
		return &ledger.Error{Code: ledger.CodeUnauthorized, Msg: fmt.Sprintf("request.server: signed for %s, this node serves %s", r.Server, want.Server)}
	}
	if n, err := hex.DecodeString(r.Nonce); err != nil || len(n) != 16 {
		return &ledger.Error{Code: ledger.CodeInvalidField, Msg: "request.nonce: want 32 hex digits"}
	}
	if r.Kind == KindOpen {
		if b, err := hex.DecodeString(r.Share); err != nil || len(b) != 32 {
			return &ledger.Error{Code: ledger.CodeInvalidField, Msg: "request.share: want a share hash (64 hex digits)"}
		}
	} else if r.Share != "" {
		return &ledger.Error{Code: ledger.CodeInvalidField, Msg: "request.share: only a request to open a share names one"}
	}
	if len(pub) != ed25519.PublicKeySize || ledger.Address(pub) != r.Signer {
		return &ledger.Error{Code: ledger.CodeUnauthorized, Msg: fmt.Sprintf("request.signer: %s is not the key's address", r.Signer)}
	}
	if !ed25519.Verify(pub, r.signBytes(), s.Signature) {
		return &ledger.Error{Code: ledger.CodeBadSignature, Msg: "request.signature: not the signer's signature of this request"}
	}
	if now.Unix() >= r.Expires {
		return &ledger.Error{Code: ledger.CodeExpired, Msg: fmt.Sprintf("request.expires: the request expired at %d; sign a new one", r.Expires)}
	}
	if r.Expires > now.Add(MaxRequestLife+clockSkew).Unix() {
		return &ledger.Error{Code: ledger.CodeInvalidField, Msg: fmt.Sprintf("request.expires: more than %s ahead", MaxRequestLife)}
	}
	return nil
}

// Copy is a patient's record as the institution sends it, encrypted to the
// patient: every original the institution keeps of them.
type Copy struct {
	Format    string     `json:"format"`
	Org       string     `json:"org"`    // the institution's organisation
	Server    string     `json:"server"` // the institution account that served it
	Made      int64      `json:"made"`   // unix seconds
	Originals []Original `json:"originals"`
}

// Original is one record as the institution ingested it (vault.Original).
type Original struct {
	Dataset   string `json:"dataset"`
	Version   uint64 `json:"version"`
	MediaType string `json:"media_type"` // application/fhir+json, text/csv
	Data      []byte `json:"data"`
}

// CopyFormat names the format of Copy.
const CopyFormat = "medchain/record-copy/v1"

// maxCopy bounds a decrypted copy.
const maxCopy = 256 << 20

// Encrypt encrypts plaintext to an age recipient.
func Encrypt(plain []byte, to age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, to)
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

// EncryptCopy encrypts a copy to a recipient (the patient's account key
// as an age recipient: vault.NewRecipient(Account.EncKey)).
func EncryptCopy(c *Copy, to age.Recipient) ([]byte, error) {
	c.Format = CopyFormat
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return Encrypt(plain, to)
}

// DecryptCopy opens a copy with an age identity (the patient's, the
// recipient account's, or a link's one-time key).
func DecryptCopy(ciphertext []byte, id age.Identity) (*Copy, error) {
	r, err := age.Decrypt(bytes.NewReader(ciphertext), id)
	if err != nil {
		return nil, fmt.Errorf("decrypt the record: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, maxCopy+1))
	if err != nil {
		return nil, fmt.Errorf("decrypt the record: %w", err)
	}
	if len(plain) > maxCopy {
		return nil, fmt.Errorf("decrypt the record: larger than %d MiB", maxCopy>>20)
	}
	var c Copy
	if err := json.Unmarshal(plain, &c); err != nil {
		return nil, fmt.Errorf("the record: %w", err)
	}
	if c.Format != CopyFormat {
		return nil, fmt.Errorf("the record: format %q, want %q", c.Format, CopyFormat)
	}
	return &c, nil
}

// Share is a share as its serving node holds it.
type Share struct {
	ID         string `json:"id"`        // 32 hex digits, random
	Recipient  string `json:"recipient"` // an account address, or ledger.ShareLink
	Expiry     int64  `json:"expiry"`    // unix seconds
	Ciphertext []byte `json:"ciphertext"`
	// Salt and Verifier check a link's passcode: argon2id(passcode, salt).
	Salt     []byte `json:"salt,omitempty"`
	Verifier []byte `json:"verifier,omitempty"`
}

const hashDomain = "medchain/record-share/v1"

// Hash is the share's commitment, as the ledger records it (share_record),
// for the serving institution account server.
func (s *Share) Hash(server string) string {
	h := sha256.New()
	field := func(b []byte) {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		h.Write(b)
	}
	field([]byte(hashDomain))
	field([]byte(server))
	field([]byte(s.ID))
	field([]byte(s.Recipient))
	field(binary.BigEndian.AppendUint64(nil, uint64(s.Expiry)))
	c := sha256.Sum256(s.Ciphertext)
	field(c[:])
	field(s.Salt)
	field(s.Verifier)
	return hex.EncodeToString(h.Sum(nil))
}

// Check checks a share's form (not its hash, which needs the ledger).
func (s *Share) Check() error {
	bad := func(f, format string, args ...any) error {
		return &ledger.Error{Code: ledger.CodeInvalidField, Msg: "share." + f + ": " + fmt.Sprintf(format, args...)}
	}
	if b, err := hex.DecodeString(s.ID); err != nil || len(b) != 16 {
		return bad("id", "want 32 hex digits")
	}
	if len(s.Ciphertext) == 0 || len(s.Ciphertext) > MaxCiphertext {
		return bad("ciphertext", "want 1 to %d bytes, got %d", MaxCiphertext, len(s.Ciphertext))
	}
	if s.Recipient == ledger.ShareLink {
		if len(s.Salt) != saltSize || len(s.Verifier) != verifierSize {
			return bad("verifier", "a link share needs a %d-byte salt and a %d-byte passcode verifier", saltSize, verifierSize)
		}
	} else if len(s.Salt) != 0 || len(s.Verifier) != 0 {
		return bad("verifier", "a share to an account has no passcode")
	}
	return nil
}

// MaxCiphertext bounds a share's ciphertext.
const MaxCiphertext = 32 << 20

const (
	saltSize     = 16
	verifierSize = 32
)

// MinPasscode is the shortest passcode a link share takes.
const MinPasscode = 6

// verifier is argon2id(passcode, salt) with RFC 9106's second recommended
// parameter set scaled down to 19 MiB (OWASP's minimum): the node stores
// only this, and an attacker who copies the node's store still needs the
// link's key to read anything.
func verifier(passcode string, salt []byte) []byte {
	return argon2.IDKey([]byte(passcode), salt, 2, 19*1024, 1, verifierSize)
}

// IDMatches says whether id is the share's (in constant time: the id is
// the link's secret).
func (s *Share) IDMatches(id string) bool {
	return subtle.ConstantTimeCompare([]byte(id), []byte(s.ID)) == 1
}

// PasscodeMatches says whether passcode is the share's.
func (s *Share) PasscodeMatches(passcode string) bool {
	return subtle.ConstantTimeCompare(verifier(passcode, s.Salt), s.Verifier) == 1
}

// NewAccountShare makes a share of plain (a Copy's JSON) to the account
// recipient, encrypted to its key (to).
func NewAccountShare(plain []byte, recipient string, to age.Recipient, expiry int64) (*Share, error) {
	ct, err := Encrypt(plain, to)
	if err != nil {
		return nil, err
	}
	return &Share{ID: randomID(), Recipient: recipient, Expiry: expiry, Ciphertext: ct}, nil
}

// NewLinkShare makes a link share of plain: encrypted to a new one-time
// key, returned for the link, with a passcode verifier.
func NewLinkShare(plain []byte, passcode string, expiry int64) (*Share, *age.X25519Identity, error) {
	if len(passcode) < MinPasscode {
		return nil, nil, fmt.Errorf("passcode: at least %d characters", MinPasscode)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, nil, err
	}
	ct, err := Encrypt(plain, id.Recipient())
	if err != nil {
		return nil, nil, err
	}
	salt := make([]byte, saltSize)
	rand.Read(salt)
	return &Share{ID: randomID(), Recipient: ledger.ShareLink, Expiry: expiry, Ciphertext: ct,
		Salt: salt, Verifier: verifier(passcode, salt)}, id, nil
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// LinkPrefix starts every share link.
const LinkPrefix = "medchain-share:/"

// Link is what a share link carries: where the share is, its hash, its
// id, the one-time key and the expiry. Whoever has the link and the
// passcode can open the share once; the link alone opens nothing. The id
// is secret to the link (the ledger has only the hash): the node counts
// passcode attempts only from someone who shows it, so nobody who merely
// reads the ledger can lock a patient's share by guessing.
type Link struct {
	URL   string `json:"url"`   // the serving node's API
	Share string `json:"share"` // the share's hash
	ID    string `json:"id"`    // the share's random id
	Key   string `json:"key"`   // the one-time age identity (AGE-SECRET-KEY-1…)
	Exp   int64  `json:"exp"`   // unix seconds
	Flag  string `json:"flag"`  // "P": a passcode is required
}

// String is the link's text form: LinkPrefix and base64url of its JSON.
func (l Link) String() string {
	b, _ := json.Marshal(l)
	return LinkPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// ParseLink reads a link's text form.
func ParseLink(s string) (*Link, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), LinkPrefix)
	if !ok {
		return nil, fmt.Errorf("share link: does not start with %q", LinkPrefix)
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("share link: not base64url: %v", err)
	}
	var l Link
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("share link: %v", err)
	}
	if l.URL == "" || len(l.Share) != 64 || len(l.ID) != 32 || l.Key == "" {
		return nil, fmt.Errorf("share link: url, share, id and key are required")
	}
	return &l, nil
}

// Identity is the link's one-time key.
func (l *Link) Identity() (*age.X25519Identity, error) {
	id, err := age.ParseX25519Identity(l.Key)
	if err != nil {
		return nil, fmt.Errorf("share link: key: %v", err)
	}
	return id, nil
}
