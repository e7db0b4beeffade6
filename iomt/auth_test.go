package iomt_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/iomt"
	"github.com/medchain/medchain/vocab"
)

// Devices prove their registered key at CONNECT; anything else is refused
// before it can publish or subscribe, and a connected device may publish
// to its own readings topic only.
func TestMQTTDeviceAuth(t *testing.T) {
	f := newFixture(t, 3)
	defer f.close()
	f.reg.set("dev-0002", &device.Info{Key: f.keys["dev-0002"].Public().(ed25519.PublicKey), Status: device.RevokedStatus})
	b := startBroker(t, f)
	url := "tcp://" + b.Addr()
	stranger := ed25519.NewKeyFromSeed([]byte("a key the ledger does not know!!"))

	refused := map[string]func() (paho.Client, error){
		"no credentials": func() (paho.Client, error) { return deviceConn(f, url, "dev-0000", "dev-0000", nil, time.Now(), nil) },
		"another key": func() (paho.Client, error) {
			return deviceConn(f, url, "dev-0000", "dev-0000", f.keys["dev-0001"], time.Now(), nil)
		},
		"unknown device": func() (paho.Client, error) {
			return deviceConn(f, url, "dev-0099", "dev-0099", stranger, time.Now(), nil)
		},
		"revoked device": func() (paho.Client, error) {
			return deviceConn(f, url, "dev-0002", "dev-0002", f.keys["dev-0002"], time.Now(), nil)
		},
		"stale proof": func() (paho.Client, error) {
			return deviceConn(f, url, "dev-0000", "dev-0000", f.keys["dev-0000"], time.Now().Add(-2*time.Minute), nil)
		},
		"another chain": func() (paho.Client, error) {
			user, pass := iomt.DeviceCredentials("chain-y", "dev-0000", "dev-0000", f.keys["dev-0000"], time.Now())
			c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("dev-0000").SetProtocolVersion(4).
				SetAutoReconnect(false).SetUsername(user).SetPassword(pass))
			tok := c.Connect()
			tok.WaitTimeout(10 * time.Second)
			return c, tok.Error()
		},
		"proof for another client id": func() (paho.Client, error) {
			user, pass := iomt.DeviceCredentials(testChain, "dev-0000", "dev-0000", f.keys["dev-0000"], time.Now())
			c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("thief").SetProtocolVersion(4).
				SetAutoReconnect(false).SetUsername(user).SetPassword(pass))
			tok := c.Connect()
			tok.WaitTimeout(10 * time.Second)
			return c, tok.Error()
		},
	}
	for name, connect := range refused {
		if c, err := connect(); err == nil {
			c.Disconnect(0)
			t.Errorf("%s: connected", name)
		}
	}

	// A proven device publishes to its own topic; to another device's
	// topic it is disconnected (MQTT 3.1.1 has no refusing PUBACK) and
	// nothing is stored.
	c := pahoClient(t, f, b.Addr(), "dev-0000")
	own := f.reading("dev-0000", 70)
	if tok := c.Publish(iomt.ReadingsTopic("dev-0000"), 1, false, own.Encode()); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("own topic: %v", tok.Error())
	}
	theirs := f.reading("dev-0001", 71)
	c.Publish(iomt.ReadingsTopic("dev-0001"), 1, false, theirs.Encode()).WaitTimeout(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for c.IsConnectionOpen() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if c.IsConnectionOpen() {
		t.Error("a device publishing to another device's topic stays connected")
	}
	if got := f.stored(); len(got) != 1 || got[0].Device != "dev-0000" {
		t.Fatalf("stored %d readings, want only the device's own", len(got))
	}
}

// selfSigned makes a TLS certificate for 127.0.0.1, valid for an hour, and
// a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "medchain test broker"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// With TLS the broker speaks TLS only: a device that trusts the
// certificate streams as over TCP; a plain connection gets nowhere.
func TestMQTTTLS(t *testing.T) {
	f := newFixture(t, 1)
	defer f.close()
	cert, pool := selfSigned(t)
	b, err := iomt.StartBroker(f.g, iomt.BrokerConfig{Addr: "127.0.0.1:0", Log: quiet, ChainID: func() string { return testChain },
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, err := deviceConn(f, "tls://"+b.Addr(), "dev-0000", "dev-0000", f.keys["dev-0000"], time.Now(), &tls.Config{RootCAs: pool})
	if err != nil {
		t.Fatalf("TLS connect: %v", err)
	}
	defer c.Disconnect(100)
	s := f.reading("dev-0000", 72)
	if tok := c.Publish(iomt.ReadingsTopic("dev-0000"), 1, false, s.Encode()); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish over TLS: %v", tok.Error())
	}
	if n := len(f.stored()); n != 1 {
		t.Fatalf("%d stored", n)
	}
	if c, err := deviceConn(f, "tcp://"+b.Addr(), "dev-0000b", "dev-0000", f.keys["dev-0000"], time.Now(), nil); err == nil {
		c.Disconnect(0)
		t.Fatal("a plain TCP connection was accepted by the TLS broker")
	}
	if c, err := deviceConn(f, "tls://"+b.Addr(), "dev-0000c", "dev-0000", f.keys["dev-0000"], time.Now(), &tls.Config{}); err == nil {
		c.Disconnect(0)
		t.Fatal("a client that does not trust the certificate connected")
	}
}

// ledgerSwitch is an Authorizer whose answers change like the ledger's: set
// and revoke take effect as a block does, closing the Changed channel.
type ledgerSwitch struct {
	mu      sync.Mutex
	allowed map[[2]string]bool
	changed chan struct{}
}

func newLedgerSwitch() *ledgerSwitch {
	return &ledgerSwitch{allowed: map[[2]string]bool{}, changed: make(chan struct{})}
}

func (l *ledgerSwitch) MayFollow(_ context.Context, account, dev string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.allowed[[2]string{account, dev}], nil
}

func (l *ledgerSwitch) Changed() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

// block commits a change: account may (or may no longer) follow dev.
func (l *ledgerSwitch) block(account, dev string, allowed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.allowed[[2]string{account, dev}] = allowed
	close(l.changed)
	l.changed = make(chan struct{})
}

// A follower whose permission ends (a consent revoked, an account
// suspended: the ledger changes) is cut off at that block: the stream
// ends with "event: revoked" and carries nothing stored after it; a block
// that changes nothing for it leaves it streaming.
func TestStreamRevoked(t *testing.T) {
	f := newFixture(t, 1)
	defer f.close()
	clinician := ed25519.NewKeyFromSeed([]byte("clinician key seed 32 bytes long"))
	acct := vocab.Address(clinician.Public().(ed25519.PublicKey))
	auth := newLedgerSwitch()
	auth.block(acct, "dev-0000", true)
	srv := httptest.NewServer(iomt.StreamHandler(f.g, auth, func() string { return testChain }))
	defer srv.Close()
	resp, err := http.Get(streamURL(srv.URL, testChain, "dev-0000", clinician, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	rd := bufio.NewReader(resp.Body)
	submit := func(v float64) {
		s := f.reading("dev-0000", v)
		if err := f.g.Submit(context.Background(), &s); err != nil {
			t.Fatal(err)
		}
	}
	submit(70)
	if ev := nextEvent(t, rd); !strings.Contains(ev, `"value":70`) {
		t.Fatalf("event %q", ev)
	}
	auth.block("someone else", "dev-0000", true) // a block that changes nothing for this follower
	submit(71)
	if ev := nextEvent(t, rd); !strings.Contains(ev, `"value":71`) {
		t.Fatalf("event after an unrelated block %q", ev)
	}
	auth.block(acct, "dev-0000", false)
	rest := make(chan string, 1)
	go func() {
		b, _ := readAll(rd)
		rest <- b
	}()
	select {
	case b := <-rest:
		if !strings.Contains(b, "event: revoked") {
			t.Fatalf("stream ended without the revoked event: %q", b)
		}
		if strings.Contains(b, "event: reading") {
			t.Fatalf("a reading after the revocation: %q", b)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream is still open after the revocation")
	}
	submit(72) // after: nobody receives it
}

func readAll(rd *bufio.Reader) (string, error) {
	var sb strings.Builder
	_, err := rd.WriteTo(&sb)
	return sb.String(), err
}

// The same over MQTT: at the block that ends the permission the follower
// is disconnected, and receives nothing stored after it.
func TestMQTTFollowerRevoked(t *testing.T) {
	f := newFixture(t, 1)
	defer f.close()
	clinician := ed25519.NewKeyFromSeed([]byte("clinician key seed 32 bytes long"))
	acct := vocab.Address(clinician.Public().(ed25519.PublicKey))
	auth := newLedgerSwitch()
	auth.block(acct, "dev-0000", true)
	b, err := iomt.StartBroker(f.g, iomt.BrokerConfig{Addr: "127.0.0.1:0", Log: quiet, ChainID: func() string { return testChain }, Followers: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	c, ok := followerClient(t, b.Addr(), "f-1", clinician, testChain)
	if !ok {
		t.Fatal("the follower could not connect")
	}
	got := make(chan float64, 10)
	if code := subscribeCode(c, iomt.LiveTopic("dev-0000"), func(_ paho.Client, m paho.Message) {
		var r device.Reading
		json.Unmarshal(m.Payload(), &r)
		got <- r.Value
	}); code != 0 {
		t.Fatalf("live topic refused: %#x", code)
	}
	submit := func(v float64) {
		s := f.reading("dev-0000", v)
		if err := f.g.Submit(context.Background(), &s); err != nil {
			t.Fatal(err)
		}
	}
	submit(80)
	select {
	case v := <-got:
		if v != 80 {
			t.Fatalf("got %g", v)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no live reading")
	}
	auth.block(acct, "dev-0000", false)
	deadline := time.Now().Add(10 * time.Second)
	for c.IsConnectionOpen() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if c.IsConnectionOpen() {
		t.Fatal("the follower is still connected after the revocation")
	}
	submit(81)
	select {
	case v := <-got:
		t.Fatalf("received %g after the revocation", v)
	case <-time.After(300 * time.Millisecond):
	}
}

// The stream over a WebSocket: the same signed request and the same
// decision; readings as JSON messages; at the block that ends the
// permission, a "revoked" message and a policy-violation close. A request
// not allowed is refused at the handshake (403) with no message.
func TestWebSocketStream(t *testing.T) {
	f := newFixture(t, 1)
	defer f.close()
	clinician := ed25519.NewKeyFromSeed([]byte("clinician key seed 32 bytes long"))
	stranger := ed25519.NewKeyFromSeed([]byte("stranger key seed 32 bytes long!"))
	acct := vocab.Address(clinician.Public().(ed25519.PublicKey))
	auth := newLedgerSwitch()
	auth.block(acct, "dev-0000", true)
	srv := httptest.NewServer(iomt.StreamHandler(f.g, auth, func() string { return testChain }))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	_, resp, err := websocket.Dial(ctx, streamURL(srv.URL, testChain, "dev-0000", stranger, time.Now()), nil)
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("a stranger's WebSocket: %v (%v)", err, resp)
	}
	c, _, err := websocket.Dial(ctx, streamURL(srv.URL, testChain, "dev-0000", clinician, time.Now()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	submit := func(v float64) {
		s := f.reading("dev-0000", v)
		if err := f.g.Submit(context.Background(), &s); err != nil {
			t.Fatal(err)
		}
	}
	type message struct {
		Event   string
		Reading *device.Reading
	}
	// The subscription starts once the handshake is answered; a reading
	// submitted right after may race it, so submit until one arrives.
	got := make(chan message, 16)
	var readErr error
	go func() {
		defer close(got)
		for {
			var m message
			if readErr = wsjson.Read(ctx, c, &m); readErr != nil {
				return
			}
			got <- m
		}
	}()
	var m message
	for v := 90.0; m.Event == ""; v++ {
		submit(v)
		select {
		case m = <-got:
		case <-time.After(100 * time.Millisecond):
		}
	}
	if m.Event != "reading" || m.Reading == nil || m.Reading.Device != "dev-0000" {
		t.Fatalf("first message %+v", m)
	}
	// Drain what was sent before the revocation.
	for len(got) > 0 {
		<-got
	}
	auth.block(acct, "dev-0000", false)
	var last message
	for m := range got {
		last = m
	}
	if last.Event != "revoked" {
		t.Fatalf("the last message %+v, want revoked", last)
	}
	if websocket.CloseStatus(readErr) != websocket.StatusPolicyViolation {
		t.Fatalf("close: %v", readErr)
	}
}

// A stream outlives the server's write timeout (the node's API has one):
// a reading stored after it has passed still arrives, over SSE and over a
// WebSocket.
func TestStreamOutlivesWriteTimeout(t *testing.T) {
	f := newFixture(t, 1)
	defer f.close()
	clinician := ed25519.NewKeyFromSeed([]byte("clinician key seed 32 bytes long"))
	auth := allowList{vocab.Address(clinician.Public().(ed25519.PublicKey)): "dev-0000"}
	srv := httptest.NewUnstartedServer(iomt.StreamHandler(f.g, auth, func() string { return testChain }))
	srv.Config.WriteTimeout, srv.Config.ReadTimeout = 500*time.Millisecond, 500*time.Millisecond
	srv.Start()
	defer srv.Close()
	resp, err := http.Get(streamURL(srv.URL, testChain, "dev-0000", clinician, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, streamURL(srv.URL, testChain, "dev-0000", clinician, time.Now()), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	time.Sleep(time.Second)
	s := f.reading("dev-0000", 77)
	if err := f.g.Submit(context.Background(), &s); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, bufio.NewReader(resp.Body)); !strings.Contains(ev, `"value":77`) {
		t.Fatalf("SSE event %q", ev)
	}
	var m struct{ Event string }
	if err := wsjson.Read(ctx, ws, &m); err != nil || m.Event != "reading" {
		t.Fatalf("WebSocket: %+v %v", m, err)
	}
}
