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
	"slices"
	"strings"
	"time"

	"github.com/medchain/medchain/vault/blob"
	"github.com/medchain/medchain/vocab"
)

// Device links. A medical device streams readings signed with its own
// key; which patient wears it is the institution's business, never the
// ledger's. The link table maps device id → patient pseudonym (the same
// keyed hash the patient's rows carry, so device readings and dataset rows
// of one patient join), one table per organisation, kept like the patient
// link table:
//
//	<root>/links/<org>.devices    AES-256-GCM sealed JSON, 0600
//
// sealed under a key derived (HKDF-SHA256, "medchain/vault/device-links/v1")
// from the vault's secret, with the organisation as associated data.

const deviceLinksInfo = "medchain/vault/device-links/v1"

// DeviceLinks is an organisation's device → pseudonym table.
type DeviceLinks struct {
	Org   string       `json:"org"`
	Links []DeviceLink `json:"links"` // sorted by device, unique
}

// DeviceLink is one device's link.
type DeviceLink struct {
	Device    string `json:"device"`
	Pseudonym string `json:"pseudonym"`
}

func cmpDevice(x DeviceLink, d string) int { return strings.Compare(x.Device, d) }

// Pseudonym is the pseudonym of the patient a device is linked to.
func (l *DeviceLinks) Pseudonym(device string) (string, bool) {
	i, ok := slices.BinarySearchFunc(l.Links, device, cmpDevice)
	if !ok {
		return "", false
	}
	return l.Links[i].Pseudonym, true
}

func (v *Vault) deviceLinksPath(org string) string {
	return filepath.Join(v.root, "links", org+".devices")
}

func (v *Vault) deviceLinksAEAD() (cipher.AEAD, error) {
	secret, err := v.Secret()
	if err != nil {
		return nil, err
	}
	key, err := hkdf.Key(sha256.New, secret, nil, deviceLinksInfo, 32)
	if err != nil {
		return nil, err
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCMWithRandomNonce(b)
}

func deviceLinksAD(org string) []byte { return []byte(deviceLinksInfo + "\x00" + org) }

// DeviceLinks reads an organisation's device link table; an organisation
// that has linked no device has an empty one.
func (v *Vault) DeviceLinks(org string) (*DeviceLinks, error) {
	if !orgRE.MatchString(org) {
		return nil, fmt.Errorf("vault: device links: bad organisation id %q", org)
	}
	sealed, err := os.ReadFile(v.deviceLinksPath(org))
	if errors.Is(err, fs.ErrNotExist) {
		return &DeviceLinks{Org: org}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: device links of %s: %w", org, err)
	}
	aead, err := v.deviceLinksAEAD()
	if err != nil {
		return nil, err
	}
	plain, err := aead.Open(nil, nil, sealed, deviceLinksAD(org))
	if err != nil {
		return nil, fmt.Errorf("vault: device links of %s: %w: %w", org, ErrCorrupt, errAuth)
	}
	var l DeviceLinks
	if err := json.Unmarshal(plain, &l); err != nil || l.Org != org {
		return nil, fmt.Errorf("vault: device links of %s: %w: not a device link table of %s", org, ErrCorrupt, org)
	}
	if !slices.IsSortedFunc(l.Links, func(a, b DeviceLink) int { return strings.Compare(a.Device, b.Device) }) {
		return nil, fmt.Errorf("vault: device links of %s: %w: links out of order", org, ErrCorrupt)
	}
	return &l, nil
}

// LinkDevice records that device is worn by the patient with this
// pseudonym, replacing an earlier link (a device handed to another
// patient); it returns the pseudonym it replaced ("" if none). The table
// is read, changed and rewritten atomically under a lock.
func (v *Vault) LinkDevice(org, device, pseudonym string) (string, error) {
	if !orgRE.MatchString(org) {
		return "", fmt.Errorf("vault: device links: bad organisation id %q", org)
	}
	if !vocab.IsID(device) {
		return "", fmt.Errorf("vault: device links: device: not an id (%s)", vocab.IDSyntax)
	}
	if pseudonym == "" || len(pseudonym) > 128 {
		return "", errors.New("vault: device links: bad pseudonym")
	}
	if err := os.MkdirAll(filepath.Join(v.root, "links"), 0o700); err != nil {
		return "", err
	}
	f, err := os.OpenFile(v.deviceLinksPath(org)+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for try := 0; ; try++ { // another link being written holds it for milliseconds
		err := flock(f)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLocked) || try == 500 {
			return "", fmt.Errorf("vault: device links of %s: %w", org, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	l, err := v.DeviceLinks(org)
	if err != nil {
		return "", err
	}
	var prev string
	i, ok := slices.BinarySearchFunc(l.Links, device, cmpDevice)
	if ok {
		prev = l.Links[i].Pseudonym
		l.Links[i].Pseudonym = pseudonym
	} else {
		l.Links = slices.Insert(l.Links, i, DeviceLink{Device: device, Pseudonym: pseudonym})
	}
	plain, err := json.Marshal(l)
	if err != nil {
		return "", err
	}
	aead, err := v.deviceLinksAEAD()
	if err != nil {
		return "", err
	}
	if err := blob.WriteFileAtomic(v.deviceLinksPath(org), aead.Seal(nil, nil, plain, deviceLinksAD(org)), 0o600); err != nil {
		return "", fmt.Errorf("vault: device links of %s: %w", org, err)
	}
	return prev, nil
}
