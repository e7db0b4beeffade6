package keys

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// A patient secret is kept beside the keystore's keys, in its own
// directory (so listing keys does not take it for one), under the same
// protection: encrypted with age under the keystore passphrase, or
// plaintext with a warning in a dev keystore only.

// PatientSecretsDir is where the patient secrets of keystore dir live.
func PatientSecretsDir(dir string) string { return filepath.Join(dir, "patient-secrets") }

type secretFile struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // secretKind
	// A dev keystore's plaintext secret.
	Warning string `json:"warning,omitempty"`
	Secret  []byte `json:"patient_secret,omitempty"`
	// A keystore's secret, encrypted with age to the passphrase.
	Encrypted string `json:"age_scrypt,omitempty"`
}

const secretKind = "medchain-patient-secret"

type sealedSecret struct {
	Secret []byte `json:"patient_secret"`
}

// SavePatientSecret keeps secret as the patient secret name of keystore
// dir, encrypted under the passphrase pass supplies (plaintext, with a
// warning, in a dev keystore). It never overwrites one.
func SavePatientSecret(dir, name string, secret []byte, pass Passphrase) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("patient secret name %q: use letters, digits, . _ - (max 64)", name)
	}
	if len(secret) != PatientSecretSize {
		return fmt.Errorf("patient secret: want %d bytes, got %d", PatientSecretSize, len(secret))
	}
	sdir := PatientSecretsDir(dir)
	if err := os.MkdirAll(sdir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(sdir, name+".json")
	f := secretFile{Name: name, Kind: secretKind}
	if IsDev(dir) {
		f.Warning, f.Secret = devWarning, secret
	} else {
		p, err := pass(true)
		if err != nil {
			return fmt.Errorf("patient secret %q: %w", name, err)
		}
		if f.Encrypted, err = seal(sealedSecret{secret}, p); err != nil {
			return fmt.Errorf("patient secret %q: %w", name, err)
		}
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("patient secret %q already exists in %s", name, sdir)
	}
	if err != nil {
		return err
	}
	if _, err := out.Write(append(b, '\n')); err != nil {
		out.Close()
		os.Remove(path)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(path)
		return err
	}
	return out.Close()
}

// LoadPatientSecret reads the patient secret name of keystore dir, asking
// pass for the passphrase of an encrypted one.
func LoadPatientSecret(dir, name string, pass Passphrase) ([]byte, error) {
	if !nameRE.MatchString(name) {
		return nil, fmt.Errorf("patient secret name %q: use letters, digits, . _ - (max 64)", name)
	}
	path := filepath.Join(PatientSecretsDir(dir), name+".json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: patient secret %q in %s (create it with `medchain patient keys init %s`)", ErrNotFound, name, PatientSecretsDir(dir), name)
	}
	if err != nil {
		return nil, err
	}
	var f secretFile
	if err := json.Unmarshal(b, &f); err != nil || f.Kind != secretKind {
		return nil, fmt.Errorf("%s: not a medchain patient secret", path)
	}
	var s []byte
	switch {
	case f.Encrypted != "":
		if len(f.Secret) != 0 {
			return nil, fmt.Errorf("%s: holds both an encrypted and a plaintext secret", path)
		}
		p, err := pass(false)
		if err != nil {
			return nil, fmt.Errorf("patient secret %q (%s): %w", name, path, err)
		}
		var sealed sealedSecret
		if err := unseal(f.Encrypted, p, &sealed); err != nil {
			return nil, fmt.Errorf("patient secret %q (%s): %w", name, path, err)
		}
		s = sealed.Secret
	case !IsDev(dir):
		return nil, fmt.Errorf("%s: %w", path, ErrPlaintext)
	default:
		s = f.Secret
	}
	if len(s) != PatientSecretSize {
		return nil, fmt.Errorf("%s: patient_secret: want %d bytes, got %d", path, PatientSecretSize, len(s))
	}
	return s, nil
}

// ListPatientSecrets names the patient secrets of keystore dir, sorted.
func ListPatientSecrets(dir string) ([]string, error) {
	entries, err := os.ReadDir(PatientSecretsDir(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".json"); ok && !e.IsDir() && nameRE.MatchString(n) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}
