package iomt

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/ledger"
)

// The device simulator: N devices, each with its own MQTT connection,
// publishing signed readings at F Hz with QoS 1 and timing each
// acknowledgement. Values follow a per-device random walk around a
// plausible resting level (heart rate 55–95 /min, systolic 105–150 mm[Hg]),
// so that analyses downstream see realistic series.

// SimDevice is one simulated device.
type SimDevice struct {
	ID  string
	Key ed25519.PrivateKey
}

// SimDevices derives n devices (ids prefix-0000, prefix-0001, …) with keys
// derived from seed, so a simulation can be set up once and run again.
func SimDevices(prefix, seed string, n int) []SimDevice {
	out := make([]SimDevice, n)
	for i := range out {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		s := sha256.Sum256([]byte("medchain/simulator/v1\x00" + seed + "\x00" + id))
		out[i] = SimDevice{ID: id, Key: ed25519.NewKeyFromSeed(s[:])}
	}
	return out
}

// SimMeasurements are what simulated devices register: heart rate and
// systolic pressure.
var SimMeasurements = []ledger.Measurement{{System: "loinc", Code: "8867-4", Unit: "/min"}, {System: "loinc", Code: "8480-6", Unit: "mm[Hg]"}}

// SimConfig is one simulation run.
type SimConfig struct {
	Broker  string // host:port
	ChainID string // the chain the devices' connection proofs are signed for
	// TLS, if set, connects over TLS with this configuration (the
	// broker's CA in RootCAs).
	TLS      *tls.Config
	Devices  []SimDevice
	Hz       float64 // per device; 0: each device sends as soon as its last reading is acknowledged (saturation)
	Duration time.Duration
	// FirstSeq is each device's first sequence number (a device resumes
	// after its last one; 0 starts at the current time in milliseconds,
	// which is always past what an earlier run used).
	FirstSeq uint64
	// OnAck, if set, is called (from the device's goroutine) for every
	// reading whose PUBACK arrived.
	OnAck func(dev string, seq uint64)
}

// SimReport is what a run measured.
type SimReport struct {
	Devices   int                      `json:"devices"`
	Hz        float64                  `json:"hz"`
	Seconds   float64                  `json:"seconds"`
	Sent      uint64                   `json:"sent"`
	Acked     uint64                   `json:"acked"`   // PUBACK received, not refused: stored
	Refused   uint64                   `json:"refused"` // refusal notices received
	Lost      uint64                   `json:"lost"`    // sent, no PUBACK before the end
	PerSecond float64                  `json:"per_second"`
	P50Ms     float64                  `json:"p50_ms"`
	P99Ms     float64                  `json:"p99_ms"`
	MaxMs     float64                  `json:"max_ms"`
	Reasons   map[device.Reason]uint64 `json:"reasons,omitempty"`
	LastSeq   map[string]uint64        `json:"-"`
}

func (r *SimReport) String() string {
	return fmt.Sprintf("%d devices × %g Hz for %.1f s: sent %d, stored %d, refused %d, lost %d; %.0f readings/s; ack latency p50 %.1f ms, p99 %.1f ms, max %.1f ms",
		r.Devices, r.Hz, r.Seconds, r.Sent, r.Acked-min(r.Acked, r.Refused), r.Refused, r.Lost, r.PerSecond, r.P50Ms, r.P99Ms, r.MaxMs)
}

// Simulate runs the devices until the duration ends or ctx does.
func Simulate(ctx context.Context, c SimConfig) (*SimReport, error) {
	if len(c.Devices) == 0 || c.Duration <= 0 || c.Hz < 0 {
		return nil, fmt.Errorf("iomt: simulate: want devices, a positive duration and a non-negative rate")
	}
	first := c.FirstSeq
	if first == 0 {
		first = uint64(time.Now().UnixMilli())
	}
	rep := &SimReport{Devices: len(c.Devices), Hz: c.Hz, Reasons: map[device.Reason]uint64{}, LastSeq: map[string]uint64{}}
	var mu sync.Mutex
	var lat []time.Duration
	clients := make([]paho.Client, len(c.Devices))
	// Connect everyone first, so the timed part measures readings only.
	scheme := "tcp://"
	if c.TLS != nil {
		scheme = "tls://"
	}
	for i, d := range c.Devices {
		user, pass := DeviceCredentials(c.ChainID, d.ID, d.ID, d.Key, time.Now())
		o := paho.NewClientOptions().AddBroker(scheme + c.Broker).SetClientID(d.ID).SetProtocolVersion(4).
			SetUsername(user).SetPassword(pass).SetTLSConfig(c.TLS).
			SetAutoReconnect(false).SetCleanSession(true).SetWriteTimeout(30 * time.Second)
		cl := paho.NewClient(o)
		if tok := cl.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			for _, x := range clients[:i] {
				x.Disconnect(0)
			}
			return nil, fmt.Errorf("iomt: simulate: connect %s: %v", d.ID, tok.Error())
		}
		tok := cl.Subscribe(RejectionsTopic(d.ID), 0, func(_ paho.Client, m paho.Message) {
			var r Rejection
			if json.Unmarshal(m.Payload(), &r) == nil {
				mu.Lock()
				rep.Refused++
				rep.Reasons[r.Reason]++
				mu.Unlock()
			}
		})
		tok.WaitTimeout(30 * time.Second)
		clients[i] = cl
	}
	defer func() {
		for _, cl := range clients {
			cl.Disconnect(100)
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, c.Duration)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i, d := range c.Devices {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(i), first))
			hr, sbp := 55+rng.Float64()*40, 105+rng.Float64()*45
			var period time.Duration
			if c.Hz > 0 {
				period = time.Duration(float64(time.Second) / c.Hz)
			}
			// Spread the devices over the first period.
			next := time.Now().Add(time.Duration(rng.Int64N(int64(max(period, time.Millisecond)))))
			var mine []time.Duration
			var sent, acked, lost uint64
			seq := first
			for k := 0; ; k++ {
				if period > 0 {
					wait := time.Until(next)
					select {
					case <-ctx.Done():
					case <-time.After(wait):
					}
					next = next.Add(period)
				}
				if ctx.Err() != nil {
					break
				}
				code, unit, v := "8867-4", "/min", hr
				if k%5 == 4 {
					code, unit, v = "8480-6", "mm[Hg]", sbp
				}
				hr = math.Min(140, math.Max(45, hr+rng.NormFloat64()*0.8))
				sbp = math.Min(190, math.Max(95, sbp+rng.NormFloat64()*0.5))
				s := device.Sign(device.Reading{Device: d.ID, Seq: seq, Time: time.Now().UnixMilli(), Code: code,
					Value: math.Round(v*10) / 10, Unit: unit}, d.Key)
				seq++
				t0 := time.Now()
				tok := clients[i].Publish(ReadingsTopic(d.ID), 1, false, s.Encode())
				sent++
				if tok.WaitTimeout(30*time.Second) && tok.Error() == nil {
					acked++
					mine = append(mine, time.Since(t0))
					if c.OnAck != nil {
						c.OnAck(d.ID, s.Seq)
					}
				} else {
					lost++
				}
			}
			mu.Lock()
			rep.Sent += sent
			rep.Acked += acked
			rep.Lost += lost
			rep.LastSeq[d.ID] = seq - 1
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	time.Sleep(200 * time.Millisecond) // let the last refusal notices arrive
	mu.Lock()
	defer mu.Unlock()
	rep.PerSecond = float64(rep.Acked) / rep.Seconds
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / 1e6 }
		rep.P50Ms, rep.P99Ms, rep.MaxMs = q(0.5), q(0.99), q(1)
	}
	return rep, nil
}
