package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/medchain/medchain/store"
)

// buildDeviceMsg builds the device transactions of scripts:
//
//	register_device id=ID [key=NAME] [kind=K] [measurements=(SYSTEM:CODE:UNIT, …)]
//	set_device_status id=ID status=S
//	anchor_readings seq=N [root=HEX | readings=TEXT] [band=B]
//
// A device's key is the test key of NAME (default: the device id). An
// anchor's root is the SHA-256 of readings= (default "readings N") unless
// root= gives it.
func (r *scriptRunner) buildDeviceMsg(t *testing.T, typ TxType, a *args) Msg {
	switch typ {
	case TxRegisterDevice:
		id := a.str("id", "")
		m := &RegisterDevice{ID: id, PubKey: r.key(t, a.str("key", id), false), Kind: a.str("kind", "bp_cuff")}
		for _, s := range a.list("measurements", "loinc:8480-6:mm[Hg]", "loinc:8462-4:mm[Hg]", "loinc:8867-4:/min") {
			p := strings.SplitN(s, ":", 3)
			for len(p) < 3 {
				p = append(p, "")
			}
			m.Measurements = append(m.Measurements, Measurement{System: p[0], Code: p[1], Unit: p[2]})
		}
		return m
	case TxSetDeviceStatus:
		return &SetDeviceStatus{ID: a.str("id", ""), Status: a.str("status", "")}
	}
	seq := a.u64("seq", 0)
	root := sha256.Sum256([]byte(a.str("readings", fmt.Sprintf("readings %d", seq))))
	return &AnchorReadings{Seq: seq, Root: a.str("root", hex.EncodeToString(root[:])), Band: a.str("band", "<100")}
}

// printDevices prints devices (device ID …) and a gateway's anchors
// (anchors NAME).
func (r *scriptRunner) printDevices(t *testing.T, out *strings.Builder, st store.Reader, cmd string, words []string) {
	for _, w := range words {
		if cmd == "anchors" {
			addr := r.addr(w)
			last, err := GetLastAnchor(st, addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(out, "anchors %s: %d\n", w, last)
			for seq := uint64(1); seq <= last; seq++ {
				a, err := GetAnchor(st, addr, seq)
				if err != nil || a == nil {
					t.Fatalf("anchor %d of %s: %v", seq, w, err)
				}
				fmt.Fprintf(out, "  #%d org=%s root=%.8s… band=%s height=%d\n", a.Seq, a.Org, a.Root, a.Band, a.Height)
			}
			continue
		}
		d, err := GetDevice(st, w)
		if err != nil {
			t.Fatal(err)
		}
		if d == nil {
			fmt.Fprintf(out, "device %s: none\n", w)
			continue
		}
		var ms []string
		for _, m := range d.Measurements {
			ms = append(ms, m.System+":"+m.Code+" ("+m.Unit+")")
		}
		fmt.Fprintf(out, "device %s: %s org=%s %s registered=%d changed=%d key=%s\n  measurements=(%s)\n", d.ID, d.Kind, d.Org,
			d.Status, d.Registered, d.Changed, r.readable(Address(d.PubKey)), strings.Join(ms, ", "))
	}
}
