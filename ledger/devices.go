package ledger

import (
	"regexp"
	"strconv"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/vocab"
)

// Medical devices (IoMT). An institution registers each device that
// streams readings to its node: the device's ed25519 public key (readings
// are signed with it), its kind, and the measurements it sends, coded. A
// device is active, suspended (its readings refused until reactivated) or
// revoked (for good). Which patient wears a device is the institution's
// private business, kept in its vault, never here; so is every reading.
//
// Each institution node anchors the readings it accepted: once per
// interval, anchor_readings records the RFC 6962 Merkle root of the
// readings stored since its previous anchor, numbered 1, 2, … per signing
// account, with the count as a record band, never exact. A reading's
// inclusion proof against its anchor shows it was accepted then.

// Device is a registered device.
type Device struct {
	ID           string        `json:"id"`
	Org          string        `json:"org"`
	PubKey       []byte        `json:"pub_key"` // ed25519, 32 bytes
	Kind         string        `json:"kind"`
	Measurements []Measurement `json:"measurements"`
	Status       string        `json:"status"`
	Registered   int64         `json:"registered"`
	Changed      int64         `json:"changed"` // height of the last status change
}

// Measurement is one quantity a device sends: LOINC (the code its readings
// carry) or IEEE 11073 MDC (descriptive), with its UCUM unit.
type Measurement struct {
	System string `json:"system"`
	Code   string `json:"code"`
	Unit   string `json:"unit"`
}

// Anchor is one anchor of a node's accepted readings.
type Anchor struct {
	Gateway string `json:"gateway"` // the signing institution account
	Org     string `json:"org"`
	Seq     uint64 `json:"seq"`
	Root    string `json:"root"` // hex, RFC 6962 root over the readings' leaf hashes
	Band    string `json:"band"` // record band of the number of readings
	Height  int64  `json:"height"`
	Time    int64  `json:"time"`
}

// Device statuses.
const (
	DeviceActive    = "active"
	DeviceSuspended = "suspended"
	DeviceRevoked   = "revoked"
)

// DeviceStatuses lists them.
var DeviceStatuses = []string{DeviceActive, DeviceSuspended, DeviceRevoked}

// DeviceKinds are the kinds of device a registration may name.
var DeviceKinds = []string{"bedside_monitor", "bp_cuff", "pulse_oximeter", "wearable", "glucose_meter", "thermometer", "scale"}

// MeasurementSystems are the code systems of measurements.
var MeasurementSystems = []string{"loinc", "mdc"}

// MaxMeasurements bounds a device's measurements.
const MaxMeasurements = 16

// RegisterDevice registers a device of the signer's organisation.
type RegisterDevice struct {
	ID           string        `json:"id"`
	PubKey       []byte        `json:"pub_key"`
	Kind         string        `json:"kind"`
	Measurements []Measurement `json:"measurements"`
}

// SetDeviceStatus suspends, reactivates or revokes a device.
type SetDeviceStatus struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// AnchorReadings records the next anchor of the signer's accepted
// readings.
type AnchorReadings struct {
	Seq  uint64 `json:"seq"`
	Root string `json:"root"`
	Band string `json:"band"`
}

// Transaction types of devices.
const (
	TxRegisterDevice  TxType = "register_device"
	TxSetDeviceStatus TxType = "set_device_status"
	TxAnchorReadings  TxType = "anchor_readings"
)

func (*RegisterDevice) Type() TxType  { return TxRegisterDevice }
func (*SetDeviceStatus) Type() TxType { return TxSetDeviceStatus }
func (*AnchorReadings) Type() TxType  { return TxAnchorReadings }

// KeyDevice is a device by id.
func KeyDevice(id string) []byte { return []byte("s/device/" + id) }

// KeyAnchor is one anchor of a gateway account.
func KeyAnchor(gateway string, seq uint64) []byte {
	return []byte("s/anchor/" + gateway + "/" + num(seq))
}

// KeyLastAnchor holds the number of a gateway account's latest anchor.
func KeyLastAnchor(gateway string) []byte { return []byte("s/anchorlast/" + gateway) }

// GetDevice reads a device.
func GetDevice(r store.Reader, id string) (*Device, error) { return getOne[Device](r, KeyDevice(id)) }

// ListDevices lists registered devices in id order that keep accepts (nil:
// all).
func ListDevices(it Iterator, keep func(*Device) bool) ([]Device, error) {
	return list(it, KeyDevice(""), keep)
}

// GetAnchor reads one anchor.
func GetAnchor(r store.Reader, gateway string, seq uint64) (*Anchor, error) {
	return getOne[Anchor](r, KeyAnchor(gateway, seq))
}

// GetLastAnchor reads the number of a gateway's latest anchor (0: none).
func GetLastAnchor(r store.Reader, gateway string) (uint64, error) {
	var n uint64
	_, err := getState(r, KeyLastAnchor(gateway), &n)
	return n, err
}

var (
	loincRE = regexp.MustCompile(`^[0-9]{1,7}-[0-9]$`)
	mdcRE   = regexp.MustCompile(`^(MDC_[A-Z0-9_]{1,60}|[0-9]{1,10})$`)
	ucumRE  = regexp.MustCompile(`^[!-~]{1,32}$`) // printable ASCII, no spaces
)

func validMeasurements(ms []Measurement) error {
	if len(ms) == 0 || len(ms) > MaxMeasurements {
		return errf(CodeInvalidField, "msg.measurements: name 1 to %d, got %d", MaxMeasurements, len(ms))
	}
	for i, m := range ms {
		field := func(f string) string { return "msg.measurements[" + strconv.Itoa(i) + "]." + f }
		if err := oneOf(field("system"), m.System, MeasurementSystems); err != nil {
			return err
		}
		re := mdcRE
		if m.System == "loinc" {
			re = loincRE
		}
		if !re.MatchString(m.Code) {
			return errf(CodeInvalidField, "%s: %q is not a %s code", field("code"), m.Code, m.System)
		}
		if !ucumRE.MatchString(m.Unit) {
			return errf(CodeInvalidField, "%s: %q is not a UCUM unit (1-32 printable characters, no spaces)", field("unit"), m.Unit)
		}
		for _, prev := range ms[:i] {
			if prev.System == m.System && prev.Code == m.Code {
				return errf(CodeInvalidField, "%s: %s %s listed twice", field("code"), m.System, m.Code)
			}
		}
	}
	return nil
}

func (c *txCtx) registerDevice(m *RegisterDevice) ([]Event, error) {
	if err := c.requireKind(KindInstitution); err != nil {
		return nil, err
	}
	if err := validID("msg.id", m.ID); err != nil {
		return nil, err
	}
	if err := validKeyBytes("msg.pub_key", m.PubKey); err != nil {
		return nil, err
	}
	if err := oneOf("msg.kind", m.Kind, DeviceKinds); err != nil {
		return nil, err
	}
	if err := validMeasurements(m.Measurements); err != nil {
		return nil, err
	}
	existing, err := GetDevice(c.s, m.ID)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		return nil, errf(CodeAlreadyExists, "msg.id: device %q is already registered", m.ID)
	}
	d := Device{ID: m.ID, Org: c.signer.Org, PubKey: m.PubKey, Kind: m.Kind, Measurements: m.Measurements,
		Status: DeviceActive, Registered: c.height, Changed: c.height}
	return ev("register_device", "device", d.ID, "org", d.Org, "kind", d.Kind), putState(c.s, KeyDevice(d.ID), d)
}

func (c *txCtx) setDeviceStatus(m *SetDeviceStatus) ([]Event, error) {
	if err := validID("msg.id", m.ID); err != nil {
		return nil, err
	}
	if err := oneOf("msg.status", m.Status, DeviceStatuses); err != nil {
		return nil, err
	}
	d, err := GetDevice(c.s, m.ID)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, errf(CodeNotFound, "msg.id: no device %q", m.ID)
	}
	if err := c.requireMember(d.Org); err != nil {
		return nil, err
	}
	switch {
	case d.Status == DeviceRevoked:
		return nil, errf(CodeInvalidState, "device %q is revoked; revocation is final (register a new id)", m.ID)
	case d.Status == m.Status:
		return nil, errf(CodeInvalidState, "device %q is already %s", m.ID, m.Status)
	}
	d.Status, d.Changed = m.Status, c.height
	return ev("set_device_status", "device", d.ID, "status", d.Status), putState(c.s, KeyDevice(d.ID), d)
}

func (c *txCtx) anchorReadings(m *AnchorReadings) ([]Event, error) {
	if err := c.requireKind(KindInstitution); err != nil {
		return nil, err
	}
	if err := validHash("msg.root", m.Root, true); err != nil {
		return nil, err
	}
	if err := oneOf("msg.band", m.Band, vocab.RecordBands); err != nil {
		return nil, err
	}
	last, err := GetLastAnchor(c.s, c.addr)
	if err != nil {
		return nil, err
	}
	if m.Seq <= last {
		return nil, errf(CodeAlreadyExists, "msg.seq: anchor %d of %s is already recorded (latest %d)", m.Seq, c.addr, last)
	}
	if m.Seq != last+1 {
		return nil, errf(CodeInvalidField, "msg.seq: anchors are numbered in order; want %d, got %d", last+1, m.Seq)
	}
	a := Anchor{Gateway: c.addr, Org: c.signer.Org, Seq: m.Seq, Root: m.Root, Band: m.Band, Height: c.height, Time: c.now}
	if err := putState(c.s, KeyAnchor(c.addr, m.Seq), a); err != nil {
		return nil, err
	}
	return ev("anchor_readings", "gateway", c.addr, "seq", strconv.FormatUint(m.Seq, 10), "band", m.Band), putState(c.s, KeyLastAnchor(c.addr), m.Seq)
}
