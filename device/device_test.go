package device_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"math"
	"strings"
	"testing"

	"github.com/medchain/medchain/device"
	"pgregory.net/rapid"
)

// A fixed key, so that signatures are reproducible (ed25519 is
// deterministic).
var key = ed25519.NewKeyFromSeed([]byte("medchain device test key 32 byte"))

const now = int64(1_780_000_000_000) // 2026-05-28, in Unix milliseconds

func reading(seq uint64) device.Reading {
	return device.Reading{Device: "cuff-0001", Seq: seq, Time: now - 1000, Code: "8480-6", Value: 128, Unit: "mm[Hg]"}
}

func active() *device.Info {
	return &device.Info{Key: key.Public().(ed25519.PublicKey), Status: device.Active, Codes: []string{"8480-6", "8462-4", "8867-4"}}
}

// The canonical encoding is a format: devices outside this repository sign
// it. This vector pins it.
func TestCanonicalVector(t *testing.T) {
	r := reading(7)
	const want = "001a6d6564636861696e2f6465766963652f72656164696e672f7631" + // domain
		"0009637566662d30303031" + // device
		"0000000000000007" + // seq
		"0000019e70448418" + // time
		"0006383438302d36" + // code
		"4060000000000000" + // value 128
		"00066d6d5b48675d" // unit
	if got := hex.EncodeToString(r.Canonical()); got != want {
		t.Fatalf("canonical encoding\n got %s\nwant %s", got, want)
	}
}

func TestSignVerifyAndTamper(t *testing.T) {
	s := device.Sign(reading(1), key)
	if !s.Verify(key.Public().(ed25519.PublicKey)) {
		t.Fatal("a reading signed by the device does not verify")
	}
	other := ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)
	if s.Verify(other) {
		t.Fatal("verified under another key")
	}
	for name, change := range map[string]func(*device.Signed){
		"device": func(s *device.Signed) { s.Device = "cuff-0002" },
		"seq":    func(s *device.Signed) { s.Seq++ },
		"time":   func(s *device.Signed) { s.Time++ },
		"code":   func(s *device.Signed) { s.Code = "8462-4" },
		"value":  func(s *device.Signed) { s.Value = math.Nextafter(s.Value, 0) },
		"unit":   func(s *device.Signed) { s.Unit = "kPa" },
		"sig":    func(s *device.Signed) { s.Sig = append([]byte{}, s.Sig...); s.Sig[0] ^= 1 },
	} {
		c := s
		change(&c)
		if c.Verify(key.Public().(ed25519.PublicKey)) {
			t.Errorf("a reading with its %s changed still verifies", name)
		}
		if c.LeafHash() == s.LeafHash() {
			t.Errorf("a reading with its %s changed has the same leaf", name)
		}
	}
}

func TestJSONRoundTrip(t *testing.T) {
	s := device.Sign(device.Reading{Device: "ox-1", Seq: 3, Time: now, Code: "8867-4", Value: 71.30000000000001, Unit: "/min"}, key)
	got, err := device.Decode(s.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Verify(key.Public().(ed25519.PublicKey)) || got.Value != s.Value {
		t.Fatal("a decoded reading does not verify: the JSON form lost bits of the value")
	}
}

func TestDecodeMalformed(t *testing.T) {
	s := device.Sign(reading(1), key)
	good := string(s.Encode())
	for _, tc := range []struct{ msg, field string }{
		{`{"device":`, "message"},
		{`{"device":"cuff-1","seq":"x"}`, "seq"},
		{strings.Replace(good, `"seq":1`, `"seq":0`, 1), "seq"},
		{strings.Replace(good, `"device":"cuff-0001"`, `"device":"Jane Doe"`, 1), "device"},
		{strings.Replace(good, `"unit":"mm[Hg]"`, `"unit":""`, 1), "unit"},
		{strings.Replace(good, `"time":`, `"time":-`, 1), "time"},
	} {
		_, err := device.Decode([]byte(tc.msg))
		r, ok := err.(*device.Rejection)
		if !ok || r.Reason != device.Malformed || r.Field != tc.field {
			t.Errorf("%s: got %v, want malformed in field %s", tc.msg, err, tc.field)
			continue
		}
		if strings.Contains(err.Error(), "Jane") {
			t.Errorf("the rejection echoes the input: %v", err)
		}
	}
}

// Each check refuses with its own reason, and the message never carries
// the value.
func TestCheckReasons(t *testing.T) {
	p := device.DefaultPolicy()
	signed := func(change func(*device.Reading)) device.Signed {
		r := reading(10)
		change(&r)
		return device.Sign(r, key)
	}
	same := func(*device.Reading) {}
	suspended, revoked := active(), active()
	suspended.Status, revoked.Status = device.SuspendedStatus, device.RevokedStatus
	seen := &device.Window{}
	seen.Mark(10)
	ahead := &device.Window{}
	ahead.Mark(10 + device.WindowSize)
	forged := signed(same)
	forged.Value = 140
	for _, tc := range []struct {
		name string
		s    device.Signed
		info *device.Info
		w    *device.Window
		want device.Reason
	}{
		{"unknown device", signed(same), nil, &device.Window{}, device.UnknownDevice},
		{"suspended", signed(same), suspended, &device.Window{}, device.Suspended},
		{"revoked", signed(same), revoked, &device.Window{}, device.Revoked},
		{"bad signature", forged, active(), &device.Window{}, device.BadSignature},
		{"replay", signed(same), active(), seen, device.Replay},
		{"stale", signed(same), active(), ahead, device.StaleSequence},
		{"too old", signed(func(r *device.Reading) { r.Time = now - 10*60*1000 }), active(), &device.Window{}, device.TooOld},
		{"from future", signed(func(r *device.Reading) { r.Time = now + 60*1000 }), active(), &device.Window{}, device.FromFuture},
		{"unregistered code", signed(func(r *device.Reading) { r.Code = "2339-0"; r.Unit = "mg/dL" }), active(), &device.Window{}, device.UnregisteredCode},
		{"unknown unit", signed(func(r *device.Reading) { r.Unit = "bar" }), active(), &device.Window{}, device.UnknownUnit},
		{"implausible", signed(func(r *device.Reading) { r.Value = 999 }), active(), &device.Window{}, device.Implausible},
		{"malformed", signed(func(r *device.Reading) { r.Code = "" }), active(), &device.Window{}, device.Malformed},
	} {
		_, err := p.Check(&tc.s, tc.info, tc.w, now)
		if got := device.ReasonOf(err); got != tc.want {
			t.Errorf("%s: reason %q, want %q (%v)", tc.name, got, tc.want, err)
		}
		if err != nil && (strings.Contains(err.Error(), "999") || strings.Contains(err.Error(), "140")) {
			t.Errorf("%s: the message carries the value: %v", tc.name, err)
		}
	}
	// A registered code the normalize tables do not know is unknown_code.
	odd := active()
	odd.Codes = append(odd.Codes, "59408-5")
	s := signed(func(r *device.Reading) { r.Code = "59408-5"; r.Unit = "%" })
	if _, err := p.Check(&s, odd, &device.Window{}, now); device.ReasonOf(err) != device.UnknownCode {
		t.Errorf("SpO2: %v, want unknown_code", err)
	}
	// And a good reading passes, converted to the field's unit.
	s = signed(func(r *device.Reading) { r.Value = 16; r.Unit = "kPa" })
	if v, err := p.Check(&s, active(), &device.Window{}, now); err != nil || math.Abs(v-120.01) > 0.01 {
		t.Fatalf("a good reading: %g, %v", v, err)
	}
}

// The window accepts each sequence number at most once, and accepts every
// number not seen that is within WindowSize of the newest: checked against
// a plain set of everything accepted.
func TestWindowModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var w device.Window
		accepted := map[uint64]bool{}
		var top uint64
		for _, seq := range rapid.SliceOf(rapid.Uint64Range(1, 2000)).Draw(t, "seqs") {
			want := device.Reason("")
			switch {
			case seq+device.WindowSize <= top:
				want = device.StaleSequence // whether or not it was seen: the window no longer knows
			case accepted[seq]:
				want = device.Replay
			}
			if got := w.Check(seq); got != want {
				t.Fatalf("seq %d (top %d): %q, want %q", seq, top, got, want)
			}
			if want == "" {
				w.Mark(seq)
				accepted[seq] = true
				top = max(top, seq)
			}
			if w.Top() != top {
				t.Fatalf("top %d, want %d", w.Top(), top)
			}
		}
	})
}
