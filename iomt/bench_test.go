package iomt_test

import (
	"context"
	"crypto/ed25519"
	"flag"
	"syscall"
	"testing"
	"time"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/iomt"
)

var (
	benchDevices  = flag.Int("iomt.devices", 1000, "BenchmarkMQTT: simulated devices")
	benchHz       = flag.Float64("iomt.hz", 5, "BenchmarkMQTT: readings per second per device")
	benchDuration = flag.Duration("iomt.duration", 10*time.Second, "BenchmarkMQTT: how long to stream")
)

// simFixture registers and links the simulator's devices in a fixture.
func simFixture(b *testing.B, n int) (*fixture, []iomt.SimDevice) {
	f := newFixture(b, 0)
	devs := iomt.SimDevices("sim", "bench", n)
	for _, d := range devs {
		f.reg.set(d.ID, &device.Info{Key: d.Key.Public().(ed25519.PublicKey), Status: device.Active, Codes: []string{"8867-4", "8480-6"}})
	}
	links := map[string]string{}
	for _, d := range devs {
		links[d.ID] = "psn-" + d.ID
	}
	f.g.Close()
	f.st.Close()
	f.linksOverride = mapLinks(links)
	f.realClock = true
	f.open()
	return f, devs
}

type mapLinks map[string]string

func (m mapLinks) Pseudonym(d string) (string, bool) { p, ok := m[d]; return p, ok }

// BenchmarkMQTT is the load: devices × Hz signed readings over
// MQTT QoS 1 (paho clients, one connection per device, in this process:
// the load generator shares the machine) into the embedded broker, every
// reading verified, group-committed to the sealed series store and synced
// before its PUBACK. It reports acknowledged readings per second and the
// p50/p99 acknowledgement latency. -iomt.hz=0 sends closed-loop (each
// device sends its next reading when the last is acknowledged): the
// saturation throughput. Run with -benchtime=1x.
func BenchmarkMQTT(b *testing.B) {
	f, devs := simFixture(b, *benchDevices)
	defer f.close()
	br, err := iomt.StartBroker(f.g, iomt.BrokerConfig{Addr: "127.0.0.1:0", Log: quiet, ChainID: func() string { return testChain }})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	for b.Loop() {
		cpu0 := cpuTime()
		rep, err := iomt.Simulate(context.Background(), iomt.SimConfig{Broker: br.Addr(), ChainID: testChain, Devices: devs, Hz: *benchHz, Duration: *benchDuration})
		if err != nil {
			b.Fatal(err)
		}
		if rep.Lost > 0 || rep.Refused > 0 {
			b.Errorf("%d lost, %d refused (%v)", rep.Lost, rep.Refused, rep.Reasons)
		}
		b.ReportMetric(rep.PerSecond, "readings/s")
		b.ReportMetric(rep.P50Ms, "p50_ms")
		b.ReportMetric(rep.P99Ms, "p99_ms")
		b.ReportMetric(rep.MaxMs, "max_ms")
		// CPU time of this process (broker, checks, store and the load
		// generator's signing) per acknowledged reading: what the figures
		// above would come to on an otherwise idle machine.
		b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(max(rep.Acked, 1)), "cpu_us/reading")
		b.Log(rep)
	}
}

// cpuTime is the user and system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
