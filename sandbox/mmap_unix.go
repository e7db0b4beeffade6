//go:build unix

package sandbox

import (
	"syscall"

	"github.com/tetratelabs/wazero/experimental"
)

// mmapAllocator backs a module's memory with one anonymous mapping of its
// maximum size, touched only as the module grows into it: growing never
// copies the memory (wazero's default reallocates and copies the whole
// memory at every memory.grow, and Go's runtime grows in many steps), and
// the pages are returned to the system when the instance closes instead of
// waiting for the collector.
type mmapAllocator struct{}

func (mmapAllocator) Allocate(capacity, max uint64) experimental.LinearMemory {
	b, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return nil
	}
	return &mmapMemory{buf: b}
}

type mmapMemory struct{ buf []byte }

func (m *mmapMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	return m.buf[:size]
}

func (m *mmapMemory) Free() {
	if m.buf != nil {
		_ = syscall.Munmap(m.buf)
		m.buf = nil
	}
}

var allocator experimental.MemoryAllocator = mmapAllocator{}
