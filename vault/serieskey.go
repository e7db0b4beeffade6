package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/medchain/medchain/vault/blob"
)

// SeriesKey is the key of the vault's device-reading time series (package
// vault/series): 32 random bytes, stored only wrapped with age to the
// institution's node key in <root>/series.key, created on first use. Like
// a dataset version's data key and the link tables' key — and unlike a key
// derived from the pseudonym secret — it needs a private key that is not in
// the vault, so a copy of the vault's files opens no reading.
func (v *Vault) SeriesKey(id *Identity) ([]byte, error) {
	if id == nil {
		return nil, errors.New("vault: series key: the institution's node key is required")
	}
	path := filepath.Join(v.root, "series.key")
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("vault: series key: %w", err)
	}
	defer f.Close()
	for try := 0; ; try++ { // a concurrent first use holds it for milliseconds
		err := flock(f)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrLocked) || try == 500 {
			return nil, fmt.Errorf("vault: series key: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		key := newDataKey()
		ws, err := wrapKey(key, []Recipient{id.Recipient()})
		if err != nil {
			return nil, fmt.Errorf("vault: series key: %w", err)
		}
		b, err := json.MarshalIndent(ws, "", " ")
		if err != nil {
			return nil, err
		}
		if err := blob.WriteFileAtomic(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("vault: series key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: series key: %w", err)
	}
	var ws []WrappedKey
	if err := json.Unmarshal(b, &ws); err != nil || len(ws) == 0 {
		return nil, fmt.Errorf("vault: series key: %w: series.key does not parse", ErrCorrupt)
	}
	key, err := unwrapKey(ws, id)
	if err != nil {
		return nil, fmt.Errorf("vault: series key: %w", err)
	}
	return key, nil
}
