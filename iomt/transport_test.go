package iomt_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/iomt"
	"github.com/medchain/medchain/vocab"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testChain is the chain the tests' connection proofs are signed for.
const testChain = "chain-x"

func startBroker(t *testing.T, f *fixture) *iomt.Broker {
	b, err := iomt.StartBroker(f.g, iomt.BrokerConfig{Addr: "127.0.0.1:0", Log: quiet, ChainID: func() string { return testChain }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// pahoClient connects over MQTT 3.1.1 as the fixture's device id, proving
// its key.
func pahoClient(t *testing.T, f *fixture, addr, id string) paho.Client {
	c, err := deviceConn(f, "tcp://"+addr, id, id, f.keys[id], time.Now(), nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// deviceConn connects as device dev (client id clientID) with a proof by
// key made at the time given.
func deviceConn(_ *fixture, url, clientID, dev string, key ed25519.PrivateKey, at time.Time, tlsCfg *tls.Config) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetProtocolVersion(4).SetAutoReconnect(false).
		SetConnectRetry(false).SetTLSConfig(tlsCfg)
	if key != nil {
		user, pass := iomt.DeviceCredentials(testChain, clientID, dev, key, at)
		o.SetUsername(user).SetPassword(pass)
	}
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		return nil, fmt.Errorf("connect: timed out")
	}
	return c, tok.Error()
}

// MQTT 3.1.1: QoS 1 readings are acknowledged once stored; a refused one
// is acknowledged (3.1.1 has no reason codes) and its refusal published to
// the device's rejections topic; readings topics cannot be subscribed to.
func TestMQTT311(t *testing.T) {
	f := newFixture(t, 2)
	defer f.close()
	b := startBroker(t, f)
	c := pahoClient(t, f, b.Addr(), "dev-0000")
	notices := make(chan iomt.Rejection, 4)
	if tok := c.Subscribe(iomt.RejectionsTopic("dev-0000"), 1, func(_ paho.Client, m paho.Message) {
		var r iomt.Rejection
		json.Unmarshal(m.Payload(), &r)
		notices <- r
	}); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	for i := range 10 {
		s := f.reading("dev-0000", 70+float64(i))
		if tok := c.Publish(iomt.ReadingsTopic("dev-0000"), 1, false, s.Encode()); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
		// Acknowledged means stored: the store has it now.
		if n := len(f.stored()); n != i+1 {
			t.Fatalf("after the PUBACK of reading %d, %d stored", i+1, n)
		}
	}
	bad := f.reading("dev-0000", 400)
	c.Publish(iomt.ReadingsTopic("dev-0000"), 1, false, bad.Encode()).WaitTimeout(5 * time.Second)
	select {
	case r := <-notices:
		if r.Reason != device.Implausible || r.Seq != bad.Seq || r.Device != "dev-0000" {
			t.Fatalf("notice %+v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no rejection notice")
	}
	// Another device's key on this topic: the topic names the device.
	other := f.reading("dev-0001", 70)
	c.Publish(iomt.ReadingsTopic("dev-0000"), 1, false, other.Encode()).WaitTimeout(5 * time.Second)
	if r := <-notices; r.Reason != device.Malformed || r.Field != "device" {
		t.Fatalf("notice %+v", r)
	}
	if n := len(f.stored()); n != 10 {
		t.Fatalf("%d stored, want the 10 good readings", n)
	}
	// Nobody can subscribe to readings (here another device).
	spy := pahoClient(t, f, b.Addr(), "dev-0001")
	tok := spy.Subscribe("medchain/v1/devices/+/readings", 1, nil)
	tok.WaitTimeout(5 * time.Second)
	if st, ok := tok.(*paho.SubscribeToken); !ok || st.Result()["medchain/v1/devices/+/readings"] != 0x80 {
		t.Fatalf("subscription to readings: %v", tok.(*paho.SubscribeToken).Result())
	}
	for _, topic := range []string{"#", iomt.ReadingsTopic("dev-0000"), iomt.RejectionsTopic("dev-0000")} {
		tok := spy.Subscribe(topic, 1, nil)
		tok.WaitTimeout(5 * time.Second)
		if tok.(*paho.SubscribeToken).Result()[topic] != 0x80 {
			t.Fatalf("subscription to %s granted", topic)
		}
	}
}

// mqtt5 is a minimal MQTT 5 client over a raw connection, written with
// the broker's own packet codec, to see the PUBACK's reason code and
// reason string (the Go clients in reach speak 3.1.1 only).
type mqtt5 struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
}

func dial5(t *testing.T, addr, id string, key ed25519.PrivateKey) *mqtt5 {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &mqtt5{t: t, conn: conn, r: bufio.NewReader(conn)}
	user, pass := iomt.DeviceCredentials(testChain, id, id, key, time.Now())
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 5,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), ClientIdentifier: id, Clean: true, Keepalive: 30,
			UsernameFlag: true, Username: []byte(user), PasswordFlag: true, Password: []byte(pass)}})
	if pk := c.read(); pk.FixedHeader.Type != packets.Connack || pk.ReasonCode != 0 {
		t.Fatalf("connack %+v", pk)
	}
	return c
}

func (c *mqtt5) send(pk packets.Packet) {
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	}
	if err == nil {
		_, err = c.conn.Write(buf.Bytes())
	}
	if err != nil {
		c.t.Fatal(err)
	}
}

func (c *mqtt5) read() packets.Packet {
	c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	hb, err := c.r.ReadByte()
	if err != nil {
		c.t.Fatal(err)
	}
	pk := packets.Packet{ProtocolVersion: 5}
	if err := pk.FixedHeader.Decode(hb); err != nil {
		c.t.Fatal(err)
	}
	n, mult := 0, 1
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			c.t.Fatal(err)
		}
		n += int(b&127) * mult
		mult *= 128
		if b < 128 {
			break
		}
	}
	pk.FixedHeader.Remaining = n
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		c.t.Fatal(err)
	}
	switch pk.FixedHeader.Type {
	case packets.Connack:
		err = pk.ConnackDecode(body)
	case packets.Puback:
		err = pk.PubackDecode(body)
	default:
		c.t.Fatalf("unexpected packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return pk
}

// publish sends a QoS 1 reading and returns its PUBACK.
func (c *mqtt5) publish(id uint16, topic string, payload []byte) packets.Packet {
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, ProtocolVersion: 5,
		PacketID: id, TopicName: topic, Payload: payload})
	pk := c.read()
	if pk.FixedHeader.Type != packets.Puback || pk.PacketID != id {
		c.t.Fatalf("want the PUBACK of %d, got %+v", id, pk)
	}
	return pk
}

// MQTT 5: the PUBACK of a refused reading carries reason code 0x83 and
// the reason; a stored one, success.
func TestMQTT5ReasonCodes(t *testing.T) {
	f := newFixture(t, 1)
	defer f.close()
	b := startBroker(t, f)
	c := dial5(t, b.Addr(), "dev-0000", f.keys["dev-0000"])
	good := f.reading("dev-0000", 71)
	if pk := c.publish(1, iomt.ReadingsTopic("dev-0000"), good.Encode()); pk.ReasonCode != 0 {
		t.Fatalf("good reading: reason code %#x %q", pk.ReasonCode, pk.Properties.ReasonString)
	}
	if pk := c.publish(2, iomt.ReadingsTopic("dev-0000"), good.Encode()); pk.ReasonCode != 0x83 || pk.Properties.ReasonString != "replay" {
		t.Fatalf("replay: %#x %q", pk.ReasonCode, pk.Properties.ReasonString)
	}
	if pk := c.publish(3, iomt.ReadingsTopic("dev-0000"), []byte("{not json")); pk.ReasonCode != 0x83 || pk.Properties.ReasonString != "malformed" {
		t.Fatalf("garbage: %#x %q", pk.ReasonCode, pk.Properties.ReasonString)
	}
	if n := len(f.stored()); n != 1 {
		t.Fatalf("%d stored", n)
	}
}

// HTTP batches: one outcome per reading, in order; a body that is not a
// batch is refused whole.
func TestHTTPBatch(t *testing.T) {
	f := newFixture(t, 2)
	defer f.close()
	srv := httptest.NewServer(iomt.Handler(f.g))
	defer srv.Close()
	post := func(batch []json.RawMessage) []iomt.Outcome {
		t.Helper()
		body, _ := json.Marshal(batch)
		resp, err := http.Post(srv.URL+"/v1/devices/readings", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Results []iomt.Outcome }
		json.NewDecoder(resp.Body).Decode(&out)
		if resp.StatusCode != 200 || len(out.Results) != len(batch) {
			t.Fatalf("status %d, %d results for %d readings", resp.StatusCode, len(out.Results), len(batch))
		}
		return out.Results
	}
	var batch []json.RawMessage
	for i := range 30 {
		s := f.reading(devName(i%2), 60+float64(i))
		batch = append(batch, s.Encode())
	}
	for i, o := range post(batch) {
		if o.Status != "stored" {
			t.Fatalf("reading %d: %+v", i, o)
		}
	}
	// The readings of one batch are checked concurrently, so a reading and
	// its copy in the same batch race; here the copy comes later.
	bad := f.reading("dev-0000", 5)
	got := post([]json.RawMessage{bad.Encode(), batch[0], json.RawMessage(`{"device":"dev-0000"}`)})
	want := []iomt.Outcome{
		{Device: "dev-0000", Seq: bad.Seq, Status: "refused", Reason: device.Implausible},
		{Device: "dev-0000", Seq: 1, Status: "refused", Reason: device.Replay},
		{Device: "dev-0000", Status: "refused", Reason: device.Malformed, Field: "seq"},
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("result %d: %+v, want %+v", i, got[i], w)
		}
	}
	for _, b := range []string{"", "{}", "[]", "[1,2"} {
		resp, _ := http.Post(srv.URL+"/v1/devices/readings", "application/json", strings.NewReader(b))
		if resp.StatusCode != 400 {
			t.Errorf("body %q: status %d", b, resp.StatusCode)
		}
		resp.Body.Close()
	}
	if n := len(f.stored()); n != 30 {
		t.Fatalf("%d stored", n)
	}
	// Anyone may ask for the counts, and gets them as record bands only.
	resp, err := http.Get(srv.URL + "/v1/devices/ingest")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var banded iomt.BandedStats
	if err := json.Unmarshal(body, &banded); err != nil || banded.Stored != "<100" || len(banded.Refused) != 2 {
		t.Fatalf("ingest counts %s", body)
	}
	for _, exact := range []string{"30", ":1,", ":1}", ":0"} {
		if strings.Contains(string(body), exact) {
			t.Errorf("ingest counts carry an exact count (%s): %s", exact, body)
		}
	}
}

// ledgerFake records anchors as the ledger would (in order, numbered),
// failing the first submissions it is told to.
type ledgerFake struct {
	mu      sync.Mutex
	anchors map[uint64][32]byte
	bands   map[uint64]string
	last    uint64
	fail    int
}

func (l *ledgerFake) LastAnchor(context.Context) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last, nil
}

func (l *ledgerFake) SubmitAnchor(_ context.Context, seq uint64, root [32]byte, band string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail > 0 {
		l.fail--
		return fmt.Errorf("unreachable")
	}
	if seq != l.last+1 {
		return fmt.Errorf("anchor %d out of order (last %d)", seq, l.last)
	}
	l.anchors[seq], l.bands[seq], l.last = root, band, seq
	return nil
}

// The anchoring loop anchors what was stored each interval, retries what
// the ledger did not take, and after a restart submits the anchors marked
// in the store but missing from the ledger.
func TestAnchorLoop(t *testing.T) {
	f := newFixture(t, 3)
	l := &ledgerFake{anchors: map[uint64][32]byte{}, bands: map[uint64]string{}, fail: 2}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.g.Anchor(ctx, l, 20*time.Millisecond, quiet); close(done) }()
	var sent []device.Signed
	for i := range 30 {
		s := f.reading(devName(i%3), 70)
		if err := f.g.Submit(context.Background(), &s); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, s)
		time.Sleep(3 * time.Millisecond)
	}
	waitFor(t, func() bool {
		_, err := iomt.Prove(f.st, sent[29].Device, sent[29].Seq)
		return err == nil
	})
	cancel()
	<-done
	waitFor(t, func() bool { n, _ := l.LastAnchor(ctx); return n > 0 })
	for _, s := range sent {
		inc, err := iomt.Prove(f.st, s.Device, s.Seq)
		if err != nil {
			t.Fatal(err)
		}
		l.mu.Lock()
		root, onLedger := l.anchors[inc.AnchorSeq]
		l.mu.Unlock()
		if onLedger && root != inc.Root {
			t.Fatalf("anchor %d: the ledger's root differs from the store's", inc.AnchorSeq)
		}
	}
	// Crash between marker and transaction: cut with the loop stopped.
	extra := f.reading("dev-0000", 70)
	f.g.Submit(context.Background(), &extra)
	a, _ := f.g.Cut()
	f.close()
	f.open()
	defer f.close()
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go f.g.Anchor(ctx2, l, 20*time.Millisecond, quiet)
	waitFor(t, func() bool { n, _ := l.LastAnchor(ctx2); return n >= a.Seq })
	l.mu.Lock()
	defer l.mu.Unlock()
	for seq := uint64(1); seq <= l.last; seq++ {
		if _, ok := l.anchors[seq]; !ok {
			t.Fatalf("anchor %d missing on the ledger", seq)
		}
		if !slices.Contains(vocab.RecordBands, l.bands[seq]) {
			t.Fatalf("anchor %d: %q is not a record band", seq, l.bands[seq])
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
