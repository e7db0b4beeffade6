package analysis

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTileSize measures LocalStep on 250,000 rows × 20 features for
// several tile sizes (CPU time is reported too: it is steadier than wall
// time on a shared machine).
func BenchmarkTileSize(b *testing.B) {
	const n, q = 250_000, 20
	rng := rand.New(rand.NewPCG(1, 1))
	d := &Design{n: n, y: make([]float64, n), x: make([][]float64, q), binary: true}
	for j := range d.x {
		d.x[j] = make([]float64, n)
		for i := range d.x[j] {
			d.x[j][i] = rng.NormFloat64()
		}
	}
	for i := range d.y {
		if rng.IntN(3) == 0 {
			d.y[i], d.events = 1, d.events+1
		}
	}
	beta := make([]float64, q+1)
	for j := range beta {
		beta[j] = 0.01 * float64(j)
	}
	old := tileRows
	defer func() { tileRows = old }()
	for _, tile := range []int{64, 256, 512, 1024, 2048} {
		b.Run(fmt.Sprint(tile), func(b *testing.B) {
			tileRows = tile
			c0 := cpuTime()
			for b.Loop() {
				if _, err := LocalStep(d, beta, Logit); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}
