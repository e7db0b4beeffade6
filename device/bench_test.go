package device_test

import (
	"crypto/ed25519"
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
