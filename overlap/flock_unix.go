//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package overlap

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive flock(2) on f, waiting for other holders
// (other processes, or other Stores in this one) to let go.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}

func unlockFile(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
