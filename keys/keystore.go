package keys

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"filippo.io/age"
	"filippo.io/age/armor"
	"golang.org/x/term"
)

// DevMarker is the file that marks a key directory as a dev keystore,
// whose keys are plaintext.
const DevMarker = "UNENCRYPTED-DEV-KEYS"

const devMarkerText = `The keys in this directory are NOT ENCRYPTED.

They were written for a dev network (medchain up, medchain testnet): every
demo member's keys, in every node home, for anyone at the keyboard to use.
Never use them, or this directory, for real accounts. Keys created anywhere
without this file are encrypted under a passphrase.
`

// ErrPlaintext: a plaintext key outside a dev keystore.
var ErrPlaintext = errors.New("an unencrypted key outside a dev keystore (keys here must be encrypted: create them with `medchain keys new`; a dev network's key directory is marked by a file " + DevMarker + ")")

// Env variables that supply the keystore passphrase.
const (
	EnvPassphraseFile = "MEDCHAIN_KEY_PASSPHRASE_FILE"
	EnvPassphrase     = "MEDCHAIN_KEY_PASSPHRASE"
)

// MarkDev makes dir (created if needed) a dev keystore: keys saved in it
// are plaintext, with a warning.
func MarkDev(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, DevMarker), []byte(devMarkerText), 0o600)
}

// IsDev reports whether dir is a dev keystore.
func IsDev(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, DevMarker))
	return err == nil
}

// Passphrase supplies the keystore passphrase; confirm is set when a new
// key is being encrypted (a prompt then asks twice).
type Passphrase func(confirm bool) ([]byte, error)

// DefaultPassphrase is where Save and Load get the passphrase: the file
// named by MEDCHAIN_KEY_PASSPHRASE_FILE, else MEDCHAIN_KEY_PASSPHRASE, else
// a prompt on the terminal; with none of them, an error that says so.
var DefaultPassphrase Passphrase = FromEnvironment

// ErrNoPassphrase: no passphrase source is available.
var ErrNoPassphrase = errors.New("the key is encrypted and no passphrase was given: set " + EnvPassphraseFile + " (a file holding it) or " + EnvPassphrase + ", or run on a terminal to be asked")

// FromEnvironment is the default Passphrase.
func FromEnvironment(confirm bool) ([]byte, error) {
	if path := os.Getenv(EnvPassphraseFile); path != "" {
		return passphraseFile(path)
	}
	if p := os.Getenv(EnvPassphrase); p != "" {
		return []byte(p), nil
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		return prompt(confirm)
	}
	return nil, ErrNoPassphrase
}

// passphraseFile reads the first line of a file readable by its owner
// only.
func passphraseFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvPassphraseFile, err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s %s: permissions %v: the passphrase file must be readable by its owner only (chmod 600)", EnvPassphraseFile, path, st.Mode().Perm())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", EnvPassphraseFile, err)
	}
	defer f.Close()
	line, err := bufio.NewReader(io.LimitReader(f, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("%s: %w", EnvPassphraseFile, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return nil, fmt.Errorf("%s %s: the first line is empty", EnvPassphraseFile, path)
	}
	return []byte(line), nil
}

func prompt(confirm bool) ([]byte, error) {
	fd := int(os.Stdin.Fd())
	fmt.Fprint(os.Stderr, "keystore passphrase: ")
	p, err := term.ReadPassword(fd)
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	if len(p) == 0 {
		return nil, errors.New("empty passphrase")
	}
	if confirm {
		fmt.Fprint(os.Stderr, "again: ")
		q, err := term.ReadPassword(fd)
		fmt.Fprintln(os.Stderr)
		if err != nil {
			return nil, fmt.Errorf("read passphrase: %w", err)
		}
		if !bytes.Equal(p, q) {
			return nil, errors.New("the passphrases differ")
		}
	}
	return p, nil
}

// scryptWorkFactor is age's default (2^18: about a second and 256 MiB per
// try, which is what makes guessing expensive); tests lower it.
var scryptWorkFactor = 18

func encrypt(s secrets, pass []byte) (string, error) { return seal(s, pass) }

// seal encrypts v's JSON with age to the passphrase (scrypt), armored.
func seal(v any, pass []byte) (string, error) {
	r, err := age.NewScryptRecipient(string(pass))
	if err != nil {
		return "", err
	}
	r.SetWorkFactor(scryptWorkFactor)
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	defer clear(plain)
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, r)
	if err != nil {
		return "", err
	}
	if _, err := w.Write(plain); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	if err := aw.Close(); err != nil {
		return "", err
	}
	return buf.String(), nil
}

// ErrPassphrase: the passphrase does not open the key.
var ErrPassphrase = errors.New("wrong passphrase (or the key file was modified)")

func decrypt(armored string, pass []byte) (secrets, error) {
	var s secrets
	return s, unseal(armored, pass, &s)
}

// unseal decrypts what seal wrote into v.
func unseal(armored string, pass []byte, v any) error {
	id, err := age.NewScryptIdentity(string(pass))
	if err != nil {
		return err
	}
	r, err := age.Decrypt(armor.NewReader(strings.NewReader(armored)), id)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return ErrPassphrase
		}
		return fmt.Errorf("age_scrypt: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, 1<<12))
	if err != nil {
		return ErrPassphrase // the payload did not authenticate
	}
	defer clear(plain)
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("age_scrypt: the decrypted key does not parse")
	}
	return nil
}

// The cache of decrypted keys, by path and file hash.
var cache struct {
	sync.Mutex
	m map[string]cacheEntry
}

type cacheEntry struct {
	sum [sha256.Size]byte
	k   *Key
}

func cached(path string, sum [sha256.Size]byte) *Key {
	cache.Lock()
	defer cache.Unlock()
	if e, ok := cache.m[path]; ok && e.sum == sum {
		c := *e.k
		return &c
	}
	return nil
}

func remember(path string, sum [sha256.Size]byte, k *Key) {
	cache.Lock()
	defer cache.Unlock()
	if cache.m == nil {
		cache.m = map[string]cacheEntry{}
	}
	c := *k
	cache.m[path] = cacheEntry{sum: sum, k: &c}
}
