package device_test

import (
	"crypto/ed25519"
	"fmt"
	"testing"

	"github.com/medchain/medchain/device"
)

func BenchmarkSign(b *testing.B) {
	r := reading(1)
	for b.Loop() {
		device.Sign(r, key)
	}
}

// BenchmarkCheck is the whole per-reading cost before storage: decoding
// the JSON message and every check, the signature included.
func BenchmarkCheck(b *testing.B) {
	p := device.DefaultPolicy()
	info := active()
	var w device.Window
	msgs := make([][]byte, 1024)
	for i := range msgs {
		s := device.Sign(reading(uint64(i+1)), key)
		msgs[i] = s.Encode()
	}
	i := 0
	for b.Loop() {
		s, err := device.Decode(msgs[i%len(msgs)])
		if err != nil {
			b.Fatal(err)
		}
		w = device.Window{}
		if _, err := p.Check(&s, info, &w, now); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkVerify(b *testing.B) {
	s := device.Sign(reading(1), key)
	pub := key.Public().(ed25519.PublicKey)
	for b.Loop() {
		if !s.Verify(pub) {
			b.Fatal("does not verify")
		}
	}
}

// BenchmarkVerifyBatch verifies batches of valid readings from distinct
// devices; the ns/reading metric compares with BenchmarkVerify.
func BenchmarkVerifyBatch(b *testing.B) {
	for _, n := range []int{16, 64, 256} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			keys := make([]ed25519.PublicKey, n)
			readings := make([]*device.Signed, n)
			for i := range n {
				seed := make([]byte, 32)
				seed[0], seed[1] = byte(i), byte(i>>8)
				priv := ed25519.NewKeyFromSeed(seed)
				keys[i] = priv.Public().(ed25519.PublicKey)
				s := device.Sign(reading(uint64(i+1)), priv)
				readings[i] = &s
			}
			for b.Loop() {
				for _, ok := range device.VerifyBatch(keys, readings) {
					if !ok {
						b.Fatal("a valid reading refused")
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/reading")
		})
	}
}
