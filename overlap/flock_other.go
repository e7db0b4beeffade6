//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package overlap

import "os"

// Without flock(2) only the in-process mutex serialises CheckAndRecord: a
// store directory must then be used by a single process.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) {}
