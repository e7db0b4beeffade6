package vault

import (
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
// ledger's. The device link table maps device id → patient pseudonym (the
// same keyed hash the patient's rows carry, so device readings and dataset
// rows of one patient join), one table per organisation, kept like the
// patient link table and under the same key:
//
//	<root>/links/<org>.devices    AES-256-GCM sealed JSON, AD = device-links/v2 + org, 0600
//	<root>/links/<org>.key        the organisation's link-table key, wrapped with age (see Links)
//
// So, as for patient links, a copy of the vault's files (secret included)
// maps no device to a pseudonym: that takes a private key the key is
// wrapped to (the institution's node key), which is not in the vault.

const deviceLinksInfo = "medchain/vault/device-links/v2"

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

func deviceLinksAD(org string) []byte { return []byte(deviceLinksInfo + "\x00" + org) }

// DeviceLinks reads an organisation's device link table with id, which
// must be one of the keys the organisation's link-table key is wrapped to
// (ErrNotRecipient otherwise); an organisation that has linked no device
// has an empty one.
func (v *Vault) DeviceLinks(org string, id *Identity) (*DeviceLinks, error) {
	if !orgRE.MatchString(org) {
		return nil, fmt.Errorf("vault: device links: bad organisation id %q", org)
	}
	key, sealed, err := v.readTable(org, v.deviceLinksPath(org), "device links", id,
		fmt.Errorf("%w: the organisation's link-table key is missing", ErrCorrupt))
	if err != nil {
		return nil, err
	}
	if sealed == nil {
		return &DeviceLinks{Org: org}, nil
	}
	defer clear(key)
	return openDeviceLinks(org, key, sealed)
}

func openDeviceLinks(org string, key, sealed []byte) (*DeviceLinks, error) {
	aead, err := linksAEAD(key)
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
// patient); it returns the pseudonym it replaced ("" if none). id is the
// institution's node key, as for LinkPatient.
func (v *Vault) LinkDevice(org, device, pseudonym string, id *Identity) (string, error) {
	prev, err := v.LinkDevices(org, []DeviceLink{{Device: device, Pseudonym: pseudonym}}, id)
	if err != nil {
		return "", err
	}
	return prev[0], nil
}

// LinkDevices is LinkDevice for many links in one rewrite of the table
// (read, changed and rewritten atomically, under the lock the patient link
// table is written under, since both share the organisation's key).
func (v *Vault) LinkDevices(org string, links []DeviceLink, id *Identity) ([]string, error) {
	if !orgRE.MatchString(org) {
		return nil, fmt.Errorf("vault: device links: bad organisation id %q", org)
	}
	if id == nil {
		return nil, errors.New("vault: device links: the institution's node key is required")
	}
	for i, l := range links {
		if !vocab.IsID(l.Device) {
			return nil, fmt.Errorf("vault: device links: link %d: device: not an id (%s)", i, vocab.IDSyntax)
		}
		if l.Pseudonym == "" || len(l.Pseudonym) > 128 {
			return nil, fmt.Errorf("vault: device links: link %d: bad pseudonym", i)
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
	for try := 0; ; try++ { // another link being written holds it for milliseconds
		err := flock(f)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLocked) || try == 500 {
			return nil, fmt.Errorf("vault: device links of %s: %w", org, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	key, err := v.linksKey(org, id, nil)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	l := &DeviceLinks{Org: org}
	if sealed, err := os.ReadFile(v.deviceLinksPath(org)); err == nil {
		if l, err = openDeviceLinks(org, key, sealed); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("vault: device links of %s: %w", org, err)
	}
	prev := make([]string, len(links))
	for k, x := range links {
		i, ok := slices.BinarySearchFunc(l.Links, x.Device, cmpDevice)
		if ok {
			prev[k] = l.Links[i].Pseudonym
			l.Links[i].Pseudonym = x.Pseudonym
		} else {
			l.Links = slices.Insert(l.Links, i, x)
		}
	}
	plain, err := json.Marshal(l)
	if err != nil {
		return nil, err
	}
	aead, err := linksAEAD(key)
	if err != nil {
		return nil, err
	}
	if err := blob.WriteFileAtomic(v.deviceLinksPath(org), aead.Seal(nil, nil, plain, deviceLinksAD(org)), 0o600); err != nil {
		return nil, fmt.Errorf("vault: device links of %s: %w", org, err)
	}
	return prev, nil
}
