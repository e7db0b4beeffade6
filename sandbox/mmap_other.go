//go:build !unix

package sandbox

import "github.com/tetratelabs/wazero/experimental"

// allocator is wazero's default where there is no mmap.
var allocator experimental.MemoryAllocator
