package sandbox

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotInstalled: the worker has no module with that hash.
var ErrNotInstalled = errors.New("sandbox: no module with that hash is installed")

// Dir is a directory of modules a data holder installed for its worker,
// each in a file named <hex sha256>.wasm. A file whose bytes do not have
// its name's hash is refused (ErrHash), so a module cannot be swapped
// under an approved hash.
type Dir string

// Module reads the module with the given hash.
func (d Dir) Module(hash string) ([]byte, error) {
	if b, err := hex.DecodeString(hash); err != nil || len(b) != 32 {
		return nil, fmt.Errorf("sandbox: %q is not a hex SHA-256", hash)
	}
	wasm, err := os.ReadFile(filepath.Join(string(d), hash+".wasm"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotInstalled, hash)
	}
	if err != nil {
		return nil, err
	}
	if Hash(wasm) != hash {
		return nil, fmt.Errorf("%w: %s.wasm", ErrHash, hash)
	}
	return wasm, nil
}

// Install copies a module into the directory under its hash and returns
// the hash.
func (d Dir) Install(wasm []byte) (string, error) {
	h := Hash(wasm)
	if err := os.MkdirAll(string(d), 0o700); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(string(d), ".install-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(wasm); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	return h, os.Rename(tmp.Name(), filepath.Join(string(d), h+".wasm"))
}
