package iomt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"

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
	codeRefused     = 0x83 // MQTT 5 "implementation specific error"
	codeStoreFailed = 0x80 // MQTT 5 "unspecified error"
)

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

// StartBroker listens on addr (host:port; port 0 picks one) and serves
// MQTT, handing each published reading to g.
func StartBroker(g *Ingest, addr string, log *slog.Logger) (*Broker, error) {
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
	if err := srv.AddHook(&hook{g: g, srv: srv}, nil); err != nil {
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
	return &Broker{srv: srv, ln: ln}, nil
}

// Addr is the address the broker listens on.
func (b *Broker) Addr() string { return b.ln.Addr().String() }

// Close disconnects every client and stops the broker.
func (b *Broker) Close() error { return b.srv.Close() }

type hook struct {
	mqtt.HookBase
	g   *Ingest
	srv *mqtt.Server
}

func (h *hook) ID() string { return "medchain-iomt" }

func (h *hook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPublish}, []byte{b})
}

// OnConnectAuthenticate lets any client connect: what a device publishes
// is trusted only through each reading's signature, and what it may
// subscribe to is refusals, which carry no patient data.
func (h *hook) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }

// OnACLCheck allows publishing to readings topics and subscribing to
// rejections topics, exactly (no wildcards), and nothing else.
func (h *hook) OnACLCheck(_ *mqtt.Client, topic string, write bool) bool {
	if write {
		_, ok := deviceOf(topic, readingsSuffix)
		return ok
	}
	_, ok := deviceOf(topic, rejectedSuffix)
	return ok
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
