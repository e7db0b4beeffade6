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
	if max > 0 && max <= 1<<32 {
		b, err := syscall.Mmap(-1, 0, int(max), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
		if err == nil {
			return &mmapMemory{buf: b}
		}
	}
	// A memory of no pages, or no address space to spare: a Go slice
	// (wazero must get a memory; a nil one would crash the worker).
	return &sliceMemory{buf: make([]byte, 0, capacity), max: max}
}

type sliceMemory struct {
	buf []byte
	max uint64
}

func (m *sliceMemory) Reallocate(size uint64) []byte {
	if size > m.max {
		return nil
	}
	if size <= uint64(cap(m.buf)) {
		m.buf = m.buf[:size]
	} else {
		m.buf = append(m.buf[:cap(m.buf)], make([]byte, size-uint64(cap(m.buf)))...)
	}
	return m.buf
}

func (m *sliceMemory) Free() { m.buf = nil }

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
