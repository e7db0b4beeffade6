package device

// WindowSize is how far behind the newest accepted sequence number a
// reading may still arrive: readings of one device can overtake each other
// (QoS 1 redelivery, a batch sent while the stream goes on), so a strict
// "greater than the last" rule would refuse honest readings. Within the
// window each number is accepted once (a bitmap, as IPsec's anti-replay
// window); below it every number is refused.
const WindowSize = 256

// Window is one device's replay window. The zero value has seen nothing.
type Window struct {
	top  uint64                  // newest accepted sequence number (0: none)
	seen [WindowSize / 64]uint64 // bit i: top-i was accepted
}

// Top is the newest accepted sequence number, 0 if none.
func (w *Window) Top() uint64 { return w.top }

// Check says why seq cannot be accepted now ("" if it can).
func (w *Window) Check(seq uint64) Reason {
	switch {
	case seq == 0:
		return Malformed
	case seq > w.top:
		return ""
	case w.top-seq >= WindowSize:
		return StaleSequence
	case w.bit(w.top - seq):
		return Replay
	}
	return ""
}

func (w *Window) bit(i uint64) bool { return w.seen[i/64]&(1<<(i%64)) != 0 }

// Mark records seq as accepted. Marking a number Check refuses is a no-op.
func (w *Window) Mark(seq uint64) {
	if w.Check(seq) != "" {
		return
	}
	if seq > w.top {
		w.shift(seq - w.top)
		w.top = seq
	}
	i := w.top - seq
	w.seen[i/64] |= 1 << (i % 64)
}

// shift moves the bitmap n places older, dropping what falls out.
func (w *Window) shift(n uint64) {
	if n >= WindowSize {
		w.seen = [WindowSize / 64]uint64{}
		return
	}
	words, bits := n/64, n%64
	for i := len(w.seen) - 1; i >= 0; i-- {
		var v uint64
		if j := i - int(words); j >= 0 {
			v = w.seen[j] << bits
			if bits > 0 && j > 0 {
				v |= w.seen[j-1] >> (64 - bits)
			}
		}
		w.seen[i] = v
	}
}
