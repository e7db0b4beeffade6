// Package devnet keeps the dev network that `medchain up` creates in a
// home on its first run, so that a first run that fails or is killed part
// way never leaves a home the next run mistakes for a finished network.
//
// A first run is only done when the node has started and (unless the
// network has no demo data) the demo data is seeded. Until then the home
// carries a marker, written before anything else and naming what was in
// the home before (usually nothing). A first run that fails removes what it
// created at once (Remove); one that is killed leaves the marker, and the
// next run sees the home as Incomplete and recreates it, saying so.
// Nothing that was in the home before the first run is ever removed.
package devnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/medchain/medchain/node"
)

// State is what a home holds, as far as `up` is concerned.
type State int

// The states of a home.
const (
	Absent     State = iota // no node: the next `up` creates the network
	Incomplete              // a first run began and did not finish: recreate
	Ready                   // a network whose first run finished: resume it
)

func (s State) String() string {
	switch s {
	case Absent:
		return "absent"
	case Incomplete:
		return "incomplete"
	case Ready:
		return "ready"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// MarkerName is the marker's file name in the home.
const MarkerName = "up-incomplete.json"

// marker is what the marker file records: enough to undo the first run.
type marker struct {
	// HomeCreated says the first run created the home directory itself;
	// then all of it is the first run's.
	HomeCreated bool `json:"home_created"`
	// Kept are the home's entries from before the first run, never
	// removed.
	Kept []string `json:"kept"`
}

func markerPath(home string) string { return filepath.Join(home, MarkerName) }

// Inspect says what home holds. A home with a marker is Incomplete
// whether or not the network's files were all written.
func Inspect(home string) (State, error) {
	_, err := os.Stat(markerPath(home))
	switch {
	case err == nil:
		return Incomplete, nil
	case !errors.Is(err, os.ErrNotExist):
		return 0, fmt.Errorf("devnet: %w", err)
	}
	if node.Initialized(home) {
		return Ready, nil
	}
	return Absent, nil
}

// Create writes a new one-validator network into home, marked incomplete
// until Complete. If writing it fails, what was written is removed again
// and the error returned.
func Create(home string, o node.NetOptions) error {
	m := marker{}
	entries, err := os.ReadDir(home)
	switch {
	case errors.Is(err, os.ErrNotExist):
		m.HomeCreated = true
	case err != nil:
		return fmt.Errorf("devnet: home %s: %w", home, err)
	}
	for _, e := range entries {
		m.Kept = append(m.Kept, e.Name())
	}
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("devnet: home %s: %w", home, err)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	// The marker goes first and by rename: whatever happens after, the
	// home is either without any of the network's files or marked.
	tmp := markerPath(home) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	if err := os.Rename(tmp, markerPath(home)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("devnet: %w", err)
	}
	o.Validators = 1
	if err := node.CreateNetwork([]string{home}, o); err != nil {
		if rerr := Remove(home); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	return nil
}

// Complete marks the first run of home done: from now on it is Ready.
func Complete(home string) error {
	err := os.Remove(markerPath(home))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("devnet: %w", err)
	}
	return nil
}

// Remove undoes an incomplete first run: it removes every entry of home
// that the first run created (the home too, if the first run created it)
// and keeps what was there before. It refuses a home without a marker, so
// a finished network is never removed.
func Remove(home string) error {
	b, err := os.ReadFile(markerPath(home))
	if err != nil {
		return fmt.Errorf("devnet: %s is not an incomplete first run: %w", home, err)
	}
	var m marker
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("devnet: %s: %w", markerPath(home), err)
	}
	entries, err := os.ReadDir(home)
	if err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	for _, e := range entries {
		// The marker goes last, so that an interrupted Remove is retried.
		if e.Name() == MarkerName || slices.Contains(m.Kept, e.Name()) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(home, e.Name())); err != nil {
			return fmt.Errorf("devnet: %w", err)
		}
	}
	if m.HomeCreated {
		if err := os.RemoveAll(home); err != nil {
			return fmt.Errorf("devnet: %w", err)
		}
		return nil
	}
	return Complete(home)
}

// Outcome is what Prepare did.
type Outcome int

// What Prepare can do.
const (
	Resumed   Outcome = iota // the home holds a finished network: run it
	Created                  // a new network was created: this is its first run
	Recreated                // an unfinished first run was undone and the network created anew
)

// Prepare readies home for `medchain up`: a Ready home is left as it is,
// an Incomplete one is removed (Remove) and created again, an Absent one
// is created. After Created or Recreated the caller runs the first run and
// calls Complete when it is done, or Remove if it failed.
func Prepare(home string, o node.NetOptions) (Outcome, error) {
	st, err := Inspect(home)
	if err != nil {
		return 0, err
	}
	out := Created
	switch st {
	case Ready:
		return Resumed, nil
	case Incomplete:
		if err := Remove(home); err != nil {
			return 0, fmt.Errorf("remove the unfinished dev network in %s: %w", home, err)
		}
		out = Recreated
	}
	if err := Create(home, o); err != nil {
		return 0, fmt.Errorf("create dev network in %s: %w", home, err)
	}
	return out, nil
}
