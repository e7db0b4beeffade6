package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/medchain/medchain/vault/blob"
	"github.com/medchain/medchain/vocab"
)

// Patient links. Rows in the vault carry pseudonyms (a keyed hash of the
// source patient id); consents on the ledger are given by a patient's
// wallet address. An institution that knows which wallet belongs to which
// of its patients records it in a link table, one per organisation:
//
//	<root>/links/<org>.links    AES-256-GCM sealed JSON, 0600
//
// The table maps pseudonym → wallet address. It is sealed under a key
// derived (HKDF-SHA256, "medchain/vault/patient-links/v1") from the vault's
// pseudonym secret, with the organisation as associated data, so a copy of
// the file alone (a backup, a misplaced directory) reveals neither which
// wallets are patients here nor their pseudonyms; anyone holding the
// secret can open it, as they can recompute pseudonyms anyway. The compute
// worker reads it to find the consents that govern each row: a row whose
// pseudonym is not linked has no consents, and the dataset's consent model
// decides (opt-out includes it, opt-in excludes it).

const linksInfo = "medchain/vault/patient-links/v1"

var orgRE = regexp.MustCompile(`^[a-z0-9._-]{1,64}$`)

// Links is an organisation's pseudonym → wallet table.
type Links struct {
	Org   string `json:"org"`
	Links []Link `json:"links"` // sorted by pseudonym, unique
}

// Link is one patient's link.
type Link struct {
	Pseudonym string `json:"pseudonym"`
	Wallet    string `json:"wallet"` // ledger address, 40 lower-case hex digits
}

// Wallet returns the wallet linked to a pseudonym.
func (l *Links) Wallet(pseudonym string) (string, bool) {
	i, ok := slices.BinarySearchFunc(l.Links, pseudonym, func(x Link, p string) int { return strings.Compare(x.Pseudonym, p) })
	if !ok {
		return "", false
	}
	return l.Links[i].Wallet, true
}

// decodeLinks decodes a link table's plaintext: fast in the form
// json.Marshal writes, by encoding/json otherwise.
func decodeLinks(plain []byte) (Links, error) {
	if l, ok := parseLinks(plain); ok {
		return l, nil
	}
	var l Links
	err := json.Unmarshal(plain, &l)
	return l, err
}

// parseLinks decodes a link table in the exact form json.Marshal writes it
// ({"org":…,"links":[{"pseudonym":…,"wallet":…},…]}, strings of printable
// ASCII without escapes, which is what pseudonyms, wallets and
// organisation ids are) without allocating per link: the strings share one
// copy of the plaintext. Anything else is not ok, and the caller falls
// back to encoding/json, which decodes such strings to the same values.
// At a million links this takes tens of milliseconds instead of a second.
func parseLinks(plain []byte) (Links, bool) {
	s := string(plain)
	str := func() (string, bool) { // a JSON string without escapes; s is past the opening quote
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c == '"':
				v := s[:i]
				s = s[i+1:]
				return v, true
			case c < 0x20 || c > 0x7e || c == '\\':
				return "", false
			}
		}
		return "", false
	}
	lit := func(p string) bool {
		if !strings.HasPrefix(s, p) {
			return false
		}
		s = s[len(p):]
		return true
	}
	var l Links
	var ok bool
	if !lit(`{"org":"`) {
		return l, false
	}
	if l.Org, ok = str(); !ok {
		return l, false
	}
	if lit(`,"links":null}`) {
		return l, s == ""
	}
	if !lit(`,"links":[`) {
		return l, false
	}
	l.Links = make([]Link, 0, strings.Count(s, `{"pseudonym":"`))
	if lit(`]}`) {
		return l, s == ""
	}
	for {
		var x Link
		if !lit(`{"pseudonym":"`) {
			return l, false
		}
		if x.Pseudonym, ok = str(); !ok || !lit(`,"wallet":"`) {
			return l, false
		}
		if x.Wallet, ok = str(); !ok || !lit(`}`) {
			return l, false
		}
		l.Links = append(l.Links, x)
		if lit(`]}`) {
			return l, s == ""
		}
		if !lit(`,`) {
			return l, false
		}
	}
}

// Set links a pseudonym to a wallet, replacing an earlier link; it returns
// the wallet it replaced ("" if none).
func (l *Links) Set(pseudonym, wallet string) string {
	i, ok := slices.BinarySearchFunc(l.Links, pseudonym, func(x Link, p string) int { return strings.Compare(x.Pseudonym, p) })
	if ok {
		prev := l.Links[i].Wallet
		l.Links[i].Wallet = wallet
		return prev
	}
	l.Links = slices.Insert(l.Links, i, Link{Pseudonym: pseudonym, Wallet: wallet})
	return ""
}

func (v *Vault) linksPath(org string) string { return filepath.Join(v.root, "links", org+".links") }

func (v *Vault) linksAEAD() (cipher.AEAD, error) {
	secret, err := v.Secret()
	if err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, secret, nil, linksInfo, 32)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(b)
}

func linksAD(org string) []byte { return []byte(linksInfo + "\x00" + org) }

// Links reads an organisation's link table; an organisation that has
// linked nobody has an empty one.
func (v *Vault) Links(org string) (*Links, error) {
	if !orgRE.MatchString(org) {
		return nil, fmt.Errorf("vault: patient links: bad organisation id %q", org)
	}
	sealed, err := os.ReadFile(v.linksPath(org))
	if errors.Is(err, fs.ErrNotExist) {
		return &Links{Org: org}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: patient links of %s: %w", org, err)
	}
	aead, err := v.linksAEAD()
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, nil, sealed, linksAD(org))
	if err != nil {
		return nil, fmt.Errorf("vault: patient links of %s: %w: %w", org, ErrCorrupt, errAuth)
	}
	l, err := decodeLinks(plain)
	if err != nil || l.Org != org {
		return nil, fmt.Errorf("vault: patient links of %s: %w: not a link table of %s", org, ErrCorrupt, org)
	}
	if !slices.IsSortedFunc(l.Links, func(a, b Link) int { return strings.Compare(a.Pseudonym, b.Pseudonym) }) {
		return nil, fmt.Errorf("vault: patient links of %s: %w: links out of order", org, ErrCorrupt)
	}
	return &l, nil
}

// LinkPatient records that the patient with this pseudonym owns wallet, in
// org's link table (read, changed and rewritten atomically under a lock).
// It returns the wallet the pseudonym was linked to before ("" if none).
func (v *Vault) LinkPatient(org, pseudonym, wallet string) (string, error) {
	if !orgRE.MatchString(org) {
		return "", fmt.Errorf("vault: patient links: bad organisation id %q", org)
	}
	if !vocab.IsAddress(wallet) {
		return "", fmt.Errorf("vault: patient links: wallet must be a 40-hex-digit lower-case address")
	}
	if pseudonym == "" || len(pseudonym) > 128 {
		return "", fmt.Errorf("vault: patient links: bad pseudonym")
	}
	if err := os.MkdirAll(filepath.Join(v.root, "links"), 0o700); err != nil {
		return "", err
	}
	f, err := os.OpenFile(v.linksPath(org)+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	// Another link being written holds the lock for milliseconds: wait.
	for try := 0; ; try++ {
		err := flock(f)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLocked) || try == 500 {
			return "", fmt.Errorf("vault: patient links of %s: %w", org, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	l, err := v.Links(org)
	if err != nil {
		return "", err
	}
	prev := l.Set(pseudonym, wallet)
	plain, err := json.Marshal(l)
	if err != nil {
		return "", err
	}
	aead, err := v.linksAEAD()
	if err != nil {
		return "", err
	}
	sealed := aead.Seal(nil, nil, plain, linksAD(org))
	if err := blob.WriteFileAtomic(v.linksPath(org), sealed, 0o600); err != nil {
		return "", fmt.Errorf("vault: patient links of %s: %w", org, err)
	}
	return prev, nil
}
