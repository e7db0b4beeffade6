package recordshare_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/recordshare"
)

func testKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("recordshare-test/" + name))
	return ed25519.NewKeyFromSeed(seed[:])
}

func pub(k ed25519.PrivateKey) []byte { return k.Public().(ed25519.PublicKey) }

var (
	now    = time.Unix(1_800_000_000, 0)
	server = ledger.Address(pub(testKey("st-mary")))
	expect = recordshare.Expect{Kind: recordshare.KindRecord, Chain: "medchain-test", Server: server}
)

func code(err error) ledger.Code { return ledger.CodeOf(err) }

// A request verifies with the signer's key, for the node, kind and chain it
// was signed for, until it expires; anything changed after signing, or a
// request for another node, chain or kind, or one expiring too far ahead,
// is refused with the code that says why.
func TestRequestVerify(t *testing.T) {
	k := testKey("patient")
	good := func() *recordshare.Signed {
		return recordshare.Sign(k, recordshare.KindRecord, "medchain-test", server, "", now)
	}
	if err := good().Verify(pub(k), expect, now); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		change func(s *recordshare.Signed)
		pub    []byte
		at     time.Time
		want   ledger.Code
	}{
		{"another key", nil, pub(testKey("other")), now, ledger.CodeUnauthorized},
		{"signer changed", func(s *recordshare.Signed) { s.Request.Signer = ledger.Address(pub(testKey("other"))) }, pub(testKey("other")), now, ledger.CodeBadSignature},
		{"nonce changed", func(s *recordshare.Signed) { s.Request.Nonce = strings.Repeat("0", 32) }, nil, now, ledger.CodeBadSignature},
		{"expiry moved", func(s *recordshare.Signed) { s.Request.Expires++ }, nil, now, ledger.CodeBadSignature},
		{"signature cut", func(s *recordshare.Signed) { s.Signature = s.Signature[:10] }, nil, now, ledger.CodeBadSignature},
		{"another chain", func(s *recordshare.Signed) { s.Request.Chain = "other" }, nil, now, ledger.CodeWrongChain},
		{"another node", func(s *recordshare.Signed) { s.Request.Server = ledger.Address(pub(testKey("northside"))) }, nil, now, ledger.CodeUnauthorized},
		{"another kind", func(s *recordshare.Signed) { s.Request.Kind = recordshare.KindOpen }, nil, now, ledger.CodeInvalidField},
		{"bad nonce", func(s *recordshare.Signed) { s.Request.Nonce = "xyz" }, nil, now, ledger.CodeInvalidField},
		{"a share named", func(s *recordshare.Signed) { s.Request.Share = strings.Repeat("ab", 32) }, nil, now, ledger.CodeInvalidField},
		{"expired", nil, nil, now.Add(recordshare.MaxRequestLife), ledger.CodeExpired},
		{"from the future", nil, nil, now.Add(-2 * time.Minute), ledger.CodeInvalidField},
	}
	for _, c := range cases {
		s := good()
		if c.change != nil {
			c.change(s)
		}
		p := c.pub
		if p == nil {
			p = pub(k)
		}
		err := s.Verify(p, expect, c.at)
		if code(err) != c.want {
			t.Errorf("%s: got %v, want %s", c.name, err, c.want)
		}
	}
}

// Two requests are never the same: each carries a fresh random nonce.
func TestRequestsAreFresh(t *testing.T) {
	k := testKey("patient")
	a := recordshare.Sign(k, recordshare.KindRecord, "c", server, "", now)
	b := recordshare.Sign(k, recordshare.KindRecord, "c", server, "", now)
	if a.Request.Nonce == b.Request.Nonce {
		t.Fatal("two requests share a nonce")
	}
}

// The share hash the ledger records commits to every part of the share,
// and to the node serving it: change any and the hash changes, so the node
// can hold the patient to what they recorded.
func TestShareHashBindsEverything(t *testing.T) {
	sh, _, err := recordshare.NewLinkShare([]byte(`{"format":"x"}`), "correct horse", now.Unix()+3600)
	if err != nil {
		t.Fatal(err)
	}
	base := sh.Hash(server)
	changes := map[string]func(s *recordshare.Share){
		"id":         func(s *recordshare.Share) { s.ID = strings.Repeat("0", 32) },
		"recipient":  func(s *recordshare.Share) { s.Recipient = server },
		"expiry":     func(s *recordshare.Share) { s.Expiry++ },
		"ciphertext": func(s *recordshare.Share) { s.Ciphertext = append([]byte{}, s.Ciphertext...); s.Ciphertext[0] ^= 1 },
		"salt":       func(s *recordshare.Share) { s.Salt = append([]byte{}, s.Salt...); s.Salt[0] ^= 1 },
		"verifier":   func(s *recordshare.Share) { s.Verifier = append([]byte{}, s.Verifier...); s.Verifier[0] ^= 1 },
	}
	for name, change := range changes {
		c := *sh
		change(&c)
		if c.Hash(server) == base {
			t.Errorf("changing the %s keeps the hash", name)
		}
	}
	if sh.Hash(ledger.Address(pub(testKey("northside")))) == base {
		t.Error("the hash does not bind the serving node")
	}
	if err := sh.Check(); err != nil {
		t.Fatal(err)
	}
}

// A link share opens with its passcode and the link's one-time key only.
func TestLinkShare(t *testing.T) {
	cp := &recordshare.Copy{Org: "st-mary", Originals: []recordshare.Original{{Dataset: "d", Version: 1, MediaType: "text/csv", Data: []byte("id\nA1\n")}}}
	if _, _, err := recordshare.NewLinkShare(nil, "short", 1); err == nil {
		t.Fatal("a five-character passcode was taken")
	}
	id, _ := age.GenerateX25519Identity()
	ct, err := recordshare.EncryptCopy(cp, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	got, err := recordshare.DecryptCopy(ct, id)
	if err != nil || string(got.Originals[0].Data) != "id\nA1\n" {
		t.Fatalf("copy round trip: %v", err)
	}
	sh, key, err := recordshare.NewLinkShare(ct, "correct horse", now.Unix()+60)
	if err != nil {
		t.Fatal(err)
	}
	if !sh.PasscodeMatches("correct horse") || sh.PasscodeMatches("correct horsf") || sh.PasscodeMatches("") {
		t.Fatal("passcode check")
	}
	l := recordshare.Link{URL: "http://node:8080", Share: sh.Hash(server), ID: sh.ID, Key: key.String(), Exp: sh.Expiry, Flag: "P"}
	parsed, err := recordshare.ParseLink(l.String())
	if err != nil || *parsed != l {
		t.Fatalf("link round trip: %+v, %v", parsed, err)
	}
	lid, err := parsed.Identity()
	if err != nil {
		t.Fatal(err)
	}
	// The share's ciphertext is the copy's ciphertext encrypted again to
	// the one-time key: only that key opens the outer layer.
	if _, err := recordshare.DecryptCopy(sh.Ciphertext, id); err == nil {
		t.Fatal("the share opened without the link's key")
	}
	inner, err := age.Decrypt(bytesReader(sh.Ciphertext), lid)
	if err != nil || inner == nil {
		t.Fatalf("the link's key does not open the share: %v", err)
	}
	for _, bad := range []string{"", "medchain-share:/!!", "https://x", recordshare.LinkPrefix + "e30"} {
		if _, err := recordshare.ParseLink(bad); err == nil {
			t.Errorf("ParseLink(%q) took it", bad)
		}
	}
}

// Check refuses a share the node must not hold: a link without a
// verifier, an account share with one, no ciphertext, a bad id.
func TestShareCheck(t *testing.T) {
	ok, _, _ := recordshare.NewLinkShare([]byte("x"), "correct horse", 1)
	cases := map[string]func(s *recordshare.Share){
		"no verifier":       func(s *recordshare.Share) { s.Verifier = nil },
		"account with salt": func(s *recordshare.Share) { s.Recipient = server },
		"no ciphertext":     func(s *recordshare.Share) { s.Ciphertext = nil },
		"bad id":            func(s *recordshare.Share) { s.ID = "zz" },
	}
	for name, change := range cases {
		s := *ok
		change(&s)
		var le *ledger.Error
		if err := s.Check(); !errors.As(err, &le) || le.Code != ledger.CodeInvalidField {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
