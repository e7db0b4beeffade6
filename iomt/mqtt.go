package iomt

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/vocab"
)

// Topics. A device publishes its signed readings (JSON, device.Signed) to
// its readings topic, QoS 1 to be told they are stored; refusals are
// published to its rejections topic, and under MQTT 5 also given as the
// PUBACK's reason code (0x83, implementation specific) with the reason as
// the reason string. Nothing else can be published or subscribed to:
// readings are never routed to subscribers.
const (
	topicPrefix     = "medchain/v1/devices/"
	readingsSuffix  = "/readings"
	rejectedSuffix  = "/rejections"
	liveSuffix      = "/live"
	codeRefused     = 0x83 // MQTT 5 "implementation specific error"
	codeStoreFailed = 0x80 // MQTT 5 "unspecified error"
)

// LiveTopic is the topic a device's stored readings are published to, for
// followers the Authorizer allows (see Follow).
func LiveTopic(dev string) string { return topicPrefix + dev + liveSuffix }

// ReadingsTopic is the topic a device publishes its readings to.
func ReadingsTopic(dev string) string { return topicPrefix + dev + readingsSuffix }

// RejectionsTopic is the topic a device's refusals are published to.
func RejectionsTopic(dev string) string { return topicPrefix + dev + rejectedSuffix }

func deviceOf(topic, suffix string) (string, bool) {
	rest, ok := strings.CutPrefix(topic, topicPrefix)
	if !ok {
		return "", false
	}
	dev, ok := strings.CutSuffix(rest, suffix)
	return dev, ok && vocab.IsID(dev)
}

// Broker is the MQTT broker embedded in the node (mochi-mqtt, MQTT 3.1.1
// and 5 over TCP, or TLS).
type Broker struct {
	srv  *mqtt.Server
	ln   net.Listener
	stop chan struct{}
	done chan struct{}
}

// Rejection is what a refused device is told on its rejections topic.
type Rejection struct {
	Device string        `json:"device"`
	Seq    uint64        `json:"seq"`
	Reason device.Reason `json:"reason"`
	Field  string        `json:"field,omitempty"`
}

// BrokerConfig configures the broker.
type BrokerConfig struct {
	Addr    string // host:port; port 0 picks one
	Log     *slog.Logger
	ChainID func() string // the chain connection proofs are signed for
	// TLS, if set, makes the listener TLS (the node's certificate and key
	// from its settings); devices and followers then connect over TLS only.
	TLS *tls.Config
	// Followers, if set, lets the accounts it allows subscribe to devices'
	// live topics (see FollowerConnect); without it nobody follows over
	// MQTT.
	Followers Authorizer
}

// Connection proofs. Every client proves at CONNECT who it is, over the
// chain, its client id and the time (Unix milliseconds, within a minute of
// the node's clock), with an ed25519 key the ledger knows:
//
//   - a device: username its device id, password "<ms>:<hex signature of
//     DeviceConnect>" by the device's registered key. It may then publish
//     to its own readings topic and subscribe to its own rejections topic,
//     nothing else; an unknown or revoked device is refused at CONNECT.
//   - a follower: username "<account public key, hex>:<ms>", password the
//     hex signature of FollowerConnect by the account key. It may subscribe
//     to the live topic of each device the Authorizer lets it follow, and
//     publish nothing.
//
// The proof binds the client id, so a proof seen on the wire (use TLS)
// serves only to connect again as the same client within the minute —
// which takes that client's session over, but cannot sign a reading.

// DeviceConnect is what a device signs to connect.
func DeviceConnect(chainID, clientID, dev string, ms int64) []byte {
	return fmt.Appendf(nil, "medchain/device/connect-mqtt/v1\x00%s\x00%s\x00%s\x00%d", chainID, clientID, dev, ms)
}

// DeviceCredentials are the username and password device dev connects with
// as clientID at time now.
func DeviceCredentials(chainID, clientID, dev string, key ed25519.PrivateKey, now time.Time) (user, pass string) {
	ms := now.UnixMilli()
	sig := ed25519.Sign(key, DeviceConnect(chainID, clientID, dev, ms))
	return dev, fmt.Sprintf("%d:%s", ms, hex.EncodeToString(sig))
}

// FollowerConnect is what a follower signs to connect.
func FollowerConnect(chainID, clientID string, ms int64) []byte {
	return fmt.Appendf(nil, "medchain/device/follow-mqtt/v1\x00%s\x00%s\x00%d", chainID, clientID, ms)
}

// StartBroker listens and serves MQTT, handing each published reading to
// g. With followers, stored readings are also published to live topics
// for the followers it allows, and every follower is decided again each
// time the ledger changes: one no longer allowed to follow a device it
// subscribed to is disconnected (MQTT 5: reason 0x87, not authorised),
// and no reading is delivered to it meanwhile.
func StartBroker(g *Ingest, c BrokerConfig) (*Broker, error) {
	if c.ChainID == nil {
		return nil, errors.New("iomt: broker: ChainID is required")
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("iomt: mqtt listener: %w", err)
	}
	if c.TLS != nil {
		ln = tls.NewListener(ln, c.TLS)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumQos = 1
	caps.RetainAvailable = 0
	// Acknowledgements carry no properties of the publish.
	caps.Compatibilities.NoInheritedPropertiesOnAck = true
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Capabilities: caps, Logger: c.Log})
	h := &hook{g: g, srv: srv, chainID: c.ChainID}
	if c.Followers != nil {
		h.follow = &decisions{auth: c.Followers}
	}
	if err := srv.AddHook(h, nil); err != nil {
		ln.Close()
		return nil, err
	}
	if err := srv.AddListener(listeners.NewNet("mqtt", ln)); err != nil {
		ln.Close()
		return nil, err
	}
	if err := srv.Serve(); err != nil {
		ln.Close()
		return nil, err
	}
	b := &Broker{srv: srv, ln: ln, stop: make(chan struct{}), done: make(chan struct{})}
	if c.Followers == nil {
		close(b.done)
		return b, nil
	}
	g.setLive(func(r *device.Reading) {
		topic := LiveTopic(r.Device)
		if len(srv.Topics.Subscribers(topic).Subscriptions) == 0 {
			return
		}
		b, _ := json.Marshal(r)
		srv.Publish(topic, b, false, 0)
	})
	go func() {
		defer close(b.done)
		changed := c.Followers.Changed()
		for {
			select {
			case <-b.stop:
				return
			case <-changed:
			}
			changed = c.Followers.Changed()
			h.recheck()
		}
	}()
	return b, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// Close disconnects every client and stops the broker.
func (b *Broker) Close() error {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
	<-b.done
	return b.srv.Close()
}

type hook struct {
	mqtt.HookBase
	g       *Ingest
	srv     *mqtt.Server
	chainID func() string
	follow  *decisions // nil: no followers
}

func (h *hook) ID() string { return "medchain-iomt" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish}, []byte{b})
}

// OnConnectAuthenticate admits a device or a follower that proves its key
// (see DeviceConnect, FollowerConnect) and nobody else.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user, pass := string(pk.Connect.Username), string(pk.Connect.Password)
	if strings.Contains(user, ":") {
		_, ok := h.follower(cl.ID, user, pass)
		return ok
	}
	return h.device(cl.ID, user, pass)
}

// fresh reports whether a proof's time is within a minute of the node's.
func fresh(ms int64) bool {
	d := time.Since(time.UnixMilli(ms))
	return d <= streamSkew && d >= -streamSkew
}

// device checks a device's credentials against its registration.
func (h *hook) device(clientID, dev, pass string) bool {
	msText, sigHex, ok := strings.Cut(pass, ":")
	ms, err1 := strconv.ParseInt(msText, 10, 64)
	sig, err2 := hex.DecodeString(sigHex)
	if !ok || err1 != nil || err2 != nil || !vocab.IsID(dev) || !fresh(ms) {
		return false
	}
	info := h.g.cfg.Registry.Device(dev)
	if info == nil || info.Status == device.RevokedStatus {
		return false
	}
	return ed25519.Verify(info.Key, DeviceConnect(h.chainID(), clientID, dev, ms), sig)
}

// follower checks a follower's credentials and returns its account.
func (h *hook) follower(clientID, user, pass string) (string, bool) {
	if h.follow == nil {
		return "", false
	}
	keyHex, msText, ok := strings.Cut(user, ":")
	pub, err1 := hex.DecodeString(keyHex)
	sig, err2 := hex.DecodeString(pass)
	ms, err3 := strconv.ParseInt(msText, 10, 64)
	if !ok || err1 != nil || err2 != nil || err3 != nil || len(pub) != ed25519.PublicKeySize || !fresh(ms) {
		return "", false
	}
	if !ed25519.Verify(pub, FollowerConnect(h.chainID(), clientID, ms), sig) {
		return "", false
	}
	return vocab.Address(pub), true
}

// account is the address of a follower connection ("" for a device's),
// read again from the credentials checked at CONNECT.
func account(cl *mqtt.Client) string {
	keyHex, _, ok := strings.Cut(string(cl.Properties.Username), ":")
	pub, err := hex.DecodeString(keyHex)
	if !ok || err != nil || len(pub) != ed25519.PublicKeySize {
		return ""
	}
	return vocab.Address(pub)
}

// OnACLCheck allows a device to publish to its own readings topic and to
// subscribe to its own rejections topic, and a follower to subscribe to
// the live topics of the devices it may follow — all by exact name (no
// wildcards) — and nothing else. It also runs for every message the
// broker delivers, so a follower no longer allowed receives nothing more.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if acct := account(cl); acct != "" {
		dev, ok := deviceOf(topic, liveSuffix)
		return !write && ok && h.follow != nil && h.follow.may(context.Background(), acct, dev)
	}
	self := string(cl.Properties.Username)
	if write {
		return topic == ReadingsTopic(self)
	}
	return topic == RejectionsTopic(self)
}

// recheck decides every follower's subscriptions again (the ledger has
// changed) and disconnects a follower that may no longer follow one.
func (h *hook) recheck() {
	for _, cl := range h.srv.Clients.GetAll() {
		acct := account(cl)
		if acct == "" || cl.Closed() {
			continue
		}
		for filter := range cl.State.Subscriptions.GetAll() {
			dev, ok := deviceOf(filter, liveSuffix)
			if ok && !h.follow.may(context.Background(), acct, dev) {
				h.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
				break
			}
		}
	}
}

// OnPublish runs on the client's connection goroutine, before the broker
// sends the PUBACK: the reading is stored (synced) before it returns, so
// the PUBACK means stored. A reading is never routed to subscribers.
func (h *hook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil // the broker's own rejection notices
	}
	dev, _ := deviceOf(pk.TopicName, readingsSuffix)
	s, err := device.Decode(pk.Payload)
	if err == nil && s.Device != dev {
		err = &device.Rejection{Device: dev, Seq: s.Seq, Reason: device.Malformed, Field: "device"}
	}
	if err == nil {
		err = h.g.Submit(context.Background(), &s)
	}
	v5 := cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos > 0
	var rej *device.Rejection
	switch {
	case err == nil:
		return pk, packets.CodeSuccessIgnore
	case errors.As(err, &rej):
		notice, _ := json.Marshal(Rejection{Device: dev, Seq: rej.Seq, Reason: rej.Reason, Field: rej.Field})
		h.srv.Publish(RejectionsTopic(dev), notice, false, 0)
		if v5 {
			return pk, packets.Code{Code: codeRefused, Reason: string(rej.Reason)}
		}
		// MQTT 3.1.1's PUBACK has no reason code: it acknowledges
		// receipt, and the refusal went to the rejections topic.
		return pk, packets.CodeSuccessIgnore
	default:
		// Not stored: no success acknowledgement. Under MQTT 5 the PUBACK
		// says so; under 3.1.1 the connection is closed without one, and
		// the client sends the reading again when it reconnects.
		if v5 {
			return pk, packets.Code{Code: codeStoreFailed, Reason: "store_failed"}
		}
		cl.Stop(errors.New("iomt: reading not stored"))
		return pk, packets.ErrRejectPacket
	}
}
