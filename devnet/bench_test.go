package devnet_test

import (
	"path/filepath"
	"testing"

	"github.com/medchain/medchain/devnet"
)

// BenchmarkCreateRemove is what a failed first run costs on disk: write a
// one-validator network with the demo genesis (keys generated), then
// remove it.
func BenchmarkCreateRemove(b *testing.B) {
	o := opts
	o.Demo = true
	dir := b.TempDir()
	for b.Loop() {
		home := filepath.Join(dir, "home")
		if err := devnet.Create(home, o); err != nil {
			b.Fatal(err)
		}
		if err := devnet.Remove(home); err != nil {
			b.Fatal(err)
		}
	}
}
