package vault

import (
	"crypto/aes"
	"crypto/cipher"
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
//	<root>/links/<org>.links    AES-256-GCM sealed JSON, AD = org, 0600
//	<root>/links/<org>.key      the table's key, wrapped with age, 0600
//
// The table maps pseudonym → wallet address. It is sealed under its own
// random 32-byte key, which is stored only wrapped with age (X25519) to
// the institution's node key (NodeIdentity of the institution account's
// key) and to the compute workers it is shared with — never derived from
// the pseudonym secret. So a copy of the vault's files, secret and links/
// included, maps no pseudonym to a wallet: that takes one of those
// private keys, which are not in the vault. (The secret alone still
// recomputes pseudonyms from patient ids; that is what it is for.) The
// compute worker reads the table with its own key to find the consents
// that govern each row: a row whose pseudonym is not linked has no
// consents, and the dataset's consent model decides (opt-out includes it,
// opt-in excludes it).

const linksInfo = "medchain/vault/patient-links/v2"

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

func (v *Vault) linksKeyPath(org string) string { return filepath.Join(v.root, "links", org+".key") }

func linksAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(b)
}

func linksAD(org string) []byte { return []byte(linksInfo + "\x00" + org) }

// ErrLinksFormat: a link table written by an older medchain, sealed under
// a key derived from the pseudonym secret (which anyone holding a copy of
// the vault could derive). It is not read; re-link the patients.
var ErrLinksFormat = errors.New("link table of an older format (its key was derived from the vault secret): remove it and re-link the patients")

// readLinksKey reads org's wrapped table key; nil, nil if there is none.
func (v *Vault) readLinksKey(org string) ([]WrappedKey, error) {
	b, err := os.ReadFile(v.linksKeyPath(org))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: patient links of %s: %w", org, err)
	}
	var ws []WrappedKey
	if err := json.Unmarshal(b, &ws); err != nil || len(ws) == 0 {
		return nil, fmt.Errorf("vault: patient links of %s: %w: %s.key does not parse", org, ErrCorrupt, org)
	}
	return ws, nil
}

// Links reads an organisation's link table with id, which must be one of
// the keys the table's key is wrapped to (ErrNotRecipient otherwise); an
// organisation that has linked nobody has an empty one.
func (v *Vault) Links(org string, id *Identity) (*Links, error) {
	if !orgRE.MatchString(org) {
		return nil, fmt.Errorf("vault: patient links: bad organisation id %q", org)
	}
	key, sealed, err := v.readTable(org, v.linksPath(org), "patient links", id, ErrLinksFormat)
	if err != nil {
		return nil, err
	}
	if sealed == nil {
		return &Links{Org: org}, nil
	}
	defer clear(key)
	return openLinks(org, key, sealed)
}

// readTable reads one of org's sealed tables (patient or device links) and
// the organisation's table key, unwrapped with id. sealed is nil when the
// table does not exist yet (the organisation has linked nothing); noKey is
// the error for a table whose key file is missing.
func (v *Vault) readTable(org, path, what string, id *Identity, noKey error) (key, sealed []byte, err error) {
	sealed, err = os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("vault: %s of %s: %w", what, org, err)
	}
	ws, err := v.readLinksKey(org)
	if err != nil {
		return nil, nil, err
	}
	if ws == nil {
		return nil, nil, fmt.Errorf("vault: %s of %s: %w", what, org, noKey)
	}
	if key, err = unwrapKey(ws, id); err != nil {
		return nil, nil, fmt.Errorf("vault: %s of %s: %w", what, org, err)
	}
	return key, sealed, nil
}

func openLinks(org string, key, sealed []byte) (*Links, error) {
	aead, err := linksAEAD(key)
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
// org's link table, and returns the wallet the pseudonym was linked to
// before ("" if none). id is the institution's node key: the table's key
// is created wrapped to it, and id must be able to open an existing one.
// share are the further keys that may read the table (the institution's
// compute workers); they are added to its key's recipients, never removed.
func (v *Vault) LinkPatient(org, pseudonym, wallet string, id *Identity, share ...Recipient) (string, error) {
	prev, err := v.LinkPatients(org, []Link{{Pseudonym: pseudonym, Wallet: wallet}}, id, share...)
	if err != nil {
		return "", err
	}
	return prev[0], nil
}

// LinkPatients is LinkPatient for many links in one rewrite of the table
// (read, changed and rewritten atomically under a lock). It returns, per
// link, the wallet it replaced.
func (v *Vault) LinkPatients(org string, links []Link, id *Identity, share ...Recipient) ([]string, error) {
	if !orgRE.MatchString(org) {
		return nil, fmt.Errorf("vault: patient links: bad organisation id %q", org)
	}
	if id == nil {
		return nil, errors.New("vault: patient links: the institution's node key is required")
	}
	for i, l := range links {
		if !vocab.IsAddress(l.Wallet) {
			return nil, fmt.Errorf("vault: patient links: link %d: wallet must be a 40-hex-digit lower-case address", i)
		}
		if l.Pseudonym == "" || len(l.Pseudonym) > 128 {
			return nil, fmt.Errorf("vault: patient links: link %d: bad pseudonym", i)
		}
	}
	if err := os.MkdirAll(filepath.Join(v.root, "links"), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(v.linksPath(org)+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Another link being written holds the lock for milliseconds: wait.
	for try := 0; ; try++ {
		err := flock(f)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLocked) || try == 500 {
			return nil, fmt.Errorf("vault: patient links of %s: %w", org, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	key, err := v.linksKey(org, id, share)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	l := &Links{Org: org}
	if sealed, err := os.ReadFile(v.linksPath(org)); err == nil {
		if l, err = openLinks(org, key, sealed); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("vault: patient links of %s: %w", org, err)
	}
	prev := make([]string, len(links))
	for i, x := range links {
		prev[i] = l.Set(x.Pseudonym, x.Wallet)
	}
	plain, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	aead, err := linksAEAD(key)
	if err != nil {
		return nil, err
	}
	sealed := aead.Seal(nil, nil, plain, linksAD(org))
	if err := blob.WriteFileAtomic(v.linksPath(org), sealed, 0o600); err != nil {
		return nil, fmt.Errorf("vault: patient links of %s: %w", org, err)
	}
	return prev, nil
}

// linksKey returns org's table key, creating it (wrapped to id and share)
// if the organisation has none, and adding to its recipients those of
// share it lacks. The key file is written before any table sealed under a
// new key, so a table never exists without its key.
func (v *Vault) linksKey(org string, id *Identity, share []Recipient) ([]byte, error) {
	ws, err := v.readLinksKey(org)
	if err != nil {
		return nil, err
	}
	var key []byte
	var rs []Recipient
	if ws == nil {
		if _, err := os.Stat(v.linksPath(org)); err == nil {
			return nil, fmt.Errorf("vault: patient links of %s: %w", org, ErrLinksFormat)
		}
		key = newDataKey()
	} else {
		if key, err = unwrapKey(ws, id); err != nil {
			return nil, fmt.Errorf("vault: patient links of %s: %w", org, err)
		}
		for _, w := range ws {
			r, err := ParseRecipient(w.Recipient)
			if err != nil {
				return nil, fmt.Errorf("vault: patient links of %s: %w: %s.key: bad recipient", org, ErrCorrupt, org)
			}
			rs = append(rs, r)
		}
	}
	n := len(rs)
	for _, r := range append([]Recipient{id.Recipient()}, share...) {
		if !slices.ContainsFunc(rs, func(x Recipient) bool { return x.s == r.s }) {
			rs = append(rs, r)
		}
	}
	if ws != nil && len(rs) == n {
		return key, nil
	}
	nws, err := wrapKey(key, rs)
	if err != nil {
		return nil, fmt.Errorf("vault: patient links of %s: %w", org, err)
	}
	b, err := json.MarshalIndent(nws, "", " ")
	if err != nil {
		return nil, err
	}
	if err := blob.WriteFileAtomic(v.linksKeyPath(org), b, 0o600); err != nil {
		return nil, fmt.Errorf("vault: patient links of %s: %w", org, err)
	}
	return key, nil
}
