package iomt

import (
	"bytes"
	"context"
	"crypto/ed25519"
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
// and 5 over TCP).
type Broker struct {
	srv *mqtt.Server
	ln  net.Listener
}

// Rejection is what a refused device is told on its rejections topic.
type Rejection struct {
	Device string        `json:"device"`
	Seq    uint64        `json:"seq"`
	Reason device.Reason `json:"reason"`
	Field  string        `json:"field,omitempty"`
}

// Follow lets authorised accounts subscribe to devices' live topics over
// MQTT. A follower connects with username "<account public key, hex>:<Unix
// ms>" and as password the hex ed25519 signature of
// FollowerConnect(chain id, client id, ms), within a minute of the node's
// clock; it may then subscribe, by exact name, to the live topic of each
// device Auth lets it follow. A connection without username is a
// device's: it may publish readings and follow nothing.
type Follow struct {
	Auth    Authorizer
	ChainID func() string
}

// FollowerConnect is what a follower signs to connect.
func FollowerConnect(chainID, clientID string, ms int64) []byte {
	return fmt.Appendf(nil, "medchain/device/follow-mqtt/v1\x00%s\x00%s\x00%d", chainID, clientID, ms)
}

// StartBroker listens on addr (host:port; port 0 picks one) and serves
// MQTT, handing each published reading to g. With follow, stored readings
// are also published to live topics for the followers it allows.
func StartBroker(g *Ingest, addr string, log *slog.Logger, follow *Follow) (*Broker, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("iomt: mqtt listener: %w", err)
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumQos = 1
	caps.RetainAvailable = 0
	// Acknowledgements carry no properties of the publish.
	caps.Compatibilities.NoInheritedPropertiesOnAck = true
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Capabilities: caps, Logger: log})
	h := &hook{g: g, srv: srv, follow: follow}
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
	if follow != nil {
		g.setLive(func(r *device.Reading) {
			topic := LiveTopic(r.Device)
			if len(srv.Topics.Subscribers(topic).Subscriptions) == 0 {
				return
			}
			b, _ := json.Marshal(r)
			srv.Publish(topic, b, false, 0)
		})
	}
	return &Broker{srv: srv, ln: ln}, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// Close disconnects every client and stops the broker.
func (b *Broker) Close() error { return b.srv.Close() }

type hook struct {
	mqtt.HookBase
	g      *Ingest
	srv    *mqtt.Server
	follow *Follow
}

func (h *hook) ID() string { return "medchain-iomt" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish}, []byte{b})
}

// OnConnectAuthenticate lets any client connect without a username: what
// a device publishes is trusted only through each reading's signature,
// and what it may subscribe to is refusals, which carry no patient data.
// A client with a username is a follower and must prove its account key.
func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	if len(pk.Connect.Username) == 0 {
		return true
	}
	_, ok := h.follower(cl.ID, string(pk.Connect.Username), string(pk.Connect.Password))
	return ok
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
	if !ok || err1 != nil || err2 != nil || err3 != nil || len(pub) != ed25519.PublicKeySize {
		return "", false
	}
	if d := time.Since(time.UnixMilli(ms)); d > streamSkew || d < -streamSkew {
		return "", false
	}
	if !ed25519.Verify(pub, FollowerConnect(h.follow.ChainID(), clientID, ms), sig) {
		return "", false
	}
	return vocab.Address(pub), true
}

// OnACLCheck allows publishing to readings topics, subscribing to
// rejections topics, and, for followers, subscribing to the live topics
// of the devices they may follow — all by exact name (no wildcards) —
// and nothing else.
func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if write {
		_, ok := deviceOf(topic, readingsSuffix)
		return ok
	}
	if _, ok := deviceOf(topic, rejectedSuffix); ok {
		return true
	}
	dev, ok := deviceOf(topic, liveSuffix)
	if !ok || len(cl.Properties.Username) == 0 || h.follow == nil {
		return false
	}
	// The credentials were checked at CONNECT; the address is read again
	// from them.
	keyHex, _, _ := strings.Cut(string(cl.Properties.Username), ":")
	pub, err := hex.DecodeString(keyHex)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return false
	}
	allowed, err := h.follow.Auth.MayFollow(context.Background(), vocab.Address(pub), dev)
	return err == nil && allowed
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
