package zkmodel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/zk"
)

// Opening is the secret opening of a committed model, as its owner keeps
// it. It reveals the weights and lets whoever holds it prove predictions:
// it is written only-owner-readable and never sent anywhere.
type Opening struct {
	Model      string        `json:"model"`
	ChainID    string        `json:"chain_id"`
	Commitment zk.Commitment `json:"commitment"`
	Opening    zk.Opening    `json:"opening"`
}

// Check says whether the opening is that of model m as registered: the
// same commitment, which it opens, at the same scale.
func (o *Opening) Check(m *ledger.Model) error {
	if m.Commitment != o.Commitment.String() {
		return fmt.Errorf("the opening is for commitment %s, but model %q is registered with %s", o.Commitment, m.ID, m.Commitment)
	}
	if err := o.Opening.Matches(o.Commitment); err != nil {
		return fmt.Errorf("the opening does not open its commitment: %w", err)
	}
	if uint(m.Scale) != o.Opening.Scale {
		return fmt.Errorf("model %q is registered at scale %d, the opening is at scale %d", m.ID, m.Scale, o.Opening.Scale)
	}
	return nil
}

// Openings is the directory where a home keeps the openings of the models
// committed from it (<home>/models), one file ID.opening.json each.
type Openings struct{ Dir string }

// Path is where the opening of model id is kept.
func (s Openings) Path(id string) string { return filepath.Join(s.Dir, id+".opening.json") }

// ErrOpeningExists is returned by Save for a model whose opening is kept
// already.
var ErrOpeningExists = errors.New("an opening of this model is kept already")

// Save writes a new opening file (0600, synced) and returns its path. It
// never overwrites one: an opening lost is a model whose predictions can
// never be proven.
func (s Openings) Save(o *Opening) (string, error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return "", err
	}
	path := s.Path(o.Model)
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return "", fmt.Errorf("%s exists: model %q was committed from this home already (move the file away to commit a new model under that id): %w", path, o.Model, ErrOpeningExists)
	}
	if err != nil {
		return "", err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return "", err
	}
	return path, f.Close()
}

// Discard removes the opening of a model the ledger refused: its
// commitment is not registered, and the opening is of no use.
func (s Openings) Discard(id string) error { return os.Remove(s.Path(id)) }

// Load reads the opening of model id from path, or from the directory if
// path is "".
func (s Openings) Load(id, path string) (*Opening, error) {
	if path == "" {
		path = s.Path(id)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no opening for model %q at %s: only the model's owner can prove its predictions", id, path)
	}
	if err != nil {
		return nil, err
	}
	var o Opening
	if err := strictJSON(bytes.NewReader(b), &o); err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if o.Model != id {
		return nil, fmt.Errorf("%s is the opening of model %q, not %q", path, o.Model, id)
	}
	return &o, nil
}

// WritePredictionFile writes a prediction file only its owner can read:
// it holds the patient's quantised inputs.
func WritePredictionFile(path string, pf *client.PredictionFile) error {
	b, err := json.MarshalIndent(pf, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	// A file that existed keeps its mode through O_TRUNC: make it 0600.
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
