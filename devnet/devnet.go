// Package devnet keeps the dev network that `medchain up` creates in a
// home on its first run, so that a first run that fails or is killed part
// way never leaves a home the next run mistakes for a finished network.
//
// A first run is only done when the node has started and (unless the
// network has no demo data) the demo data is seeded. Until then the home
// carries a marker, written before anything else and naming what was in
// the home before (usually nothing). A first run that fails before its
// node runs removes what it created at once (Remove), so the next run is a
// first run again, with that run's flags. One that is killed leaves the
// marker, and the next run sees the home as Incomplete: if the node never
// ran, the network is recreated; if it ran (it may hold transactions), it
// is kept and the first run's unfinished work — seeding the demo data — is
// done again (package seed skips what is done). Either way the run says
// so. Nothing that was in the home before the first run is ever removed.
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
	// Demo says the network is to have the demo data.
	Demo bool `json:"demo"`
	// Started says the node has run: from then on the network may hold
	// transactions, and it is never removed.
	Started bool `json:"started"`
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
	m := marker{Demo: o.Demo}
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
	// The marker goes first: whatever happens after, the home is either
	// without any of the network's files or marked.
	if err := writeMarker(home, m); err != nil {
		return err
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

// writeMarker writes the marker by rename, so it is whole or absent.
func writeMarker(home string, m marker) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := markerPath(home) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("devnet: %w", err)
	}
	if err := os.Rename(tmp, markerPath(home)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("devnet: %w", err)
	}
	return nil
}

func readMarker(home string) (marker, error) {
	var m marker
	b, err := os.ReadFile(markerPath(home))
	if err != nil {
		return m, fmt.Errorf("devnet: %s is not an unfinished first run: %w", home, err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("devnet: %s: %w", markerPath(home), err)
	}
	return m, nil
}

// Started records that the node of an unfinished first run has run: from
// now on the network is kept (Remove refuses it) and a later run finishes
// the first run instead of recreating the network.
func Started(home string) error {
	m, err := readMarker(home)
	if err != nil {
		return err
	}
	if m.Started {
		return nil
	}
	m.Started = true
	return writeMarker(home, m)
}

// Complete marks the first run of home done: from now on it is Ready.
func Complete(home string) error {
	err := os.Remove(markerPath(home))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("devnet: %w", err)
	}
	return nil
}

// ErrStarted is returned by Remove for a network whose node has run.
var ErrStarted = errors.New("the network's node has run: it may hold transactions, and is kept")

// Remove undoes an unfinished first run whose node never ran: it removes
// every entry of home that the first run created (the home too, if the
// first run created it) and keeps what was there before. It refuses a home
// without a marker, so a finished network is never removed, and one whose
// node has run (ErrStarted).
func Remove(home string) error {
	m, err := readMarker(home)
	if err != nil {
		return err
	}
	if m.Started {
		return fmt.Errorf("devnet: %s: %w", home, ErrStarted)
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
	Resumed    Outcome = iota // the home holds a finished network: run it
	Created                   // a new network was created: this is its first run
	Recreated                 // an unfinished first run whose node never ran was undone and the network created anew
	Unfinished                // the node of an unfinished first run has run: run it and finish the first run
)

// Plan is what Prepare did, and what the run must still do.
type Plan struct {
	Outcome Outcome
	// Demo says the first run must seed the demo data (after Created,
	// Recreated or Unfinished): as the network was created, whatever this
	// run's flags say.
	Demo bool
}

// Prepare readies home for `medchain up`: a Ready home is left as it is;
// an Incomplete one whose node never ran is removed (Remove) and created
// again, one whose node ran is kept to finish its first run; an Absent one
// is created. Unless the outcome is Resumed, the caller runs the first
// run: Started once the node runs, Complete once it is done, or Remove if
// the node did not start.
func Prepare(home string, o node.NetOptions) (Plan, error) {
	st, err := Inspect(home)
	if err != nil {
		return Plan{}, err
	}
	out := Created
	switch st {
	case Ready:
		return Plan{Outcome: Resumed}, nil
	case Incomplete:
		m, err := readMarker(home)
		if err != nil {
			return Plan{}, err
		}
		if m.Started {
			return Plan{Outcome: Unfinished, Demo: m.Demo}, nil
		}
		if err := Remove(home); err != nil {
			return Plan{}, fmt.Errorf("remove the unfinished dev network in %s: %w", home, err)
		}
		out = Recreated
	}
	if err := Create(home, o); err != nil {
		return Plan{}, fmt.Errorf("create dev network in %s: %w", home, err)
	}
	return Plan{Outcome: out, Demo: o.Demo}, nil
}
