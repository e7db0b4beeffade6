package iomt_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/iomt"
	"github.com/medchain/medchain/vocab"
)

// allowList lets listed accounts follow listed devices: the consumer's
// interface, implemented for the test (the node's reads the ledger).
type allowList map[string]string // account → device

func (a allowList) MayFollow(_ context.Context, account, dev string) (bool, error) {
	return a[account] == dev, nil
}

// Changed: a fixed list never changes.
func (allowList) Changed() <-chan struct{} { return nil }

func streamURL(base, chain, dev string, key ed25519.PrivateKey, at time.Time) string {
	ms := at.UnixMilli()
	sig := ed25519.Sign(key, iomt.StreamRequest(chain, dev, ms))
	return fmt.Sprintf("%s/v1/devices/%s/stream?key=%x&ts=%d&sig=%s", base, dev,
		[]byte(key.Public().(ed25519.PublicKey)), ms, hex.EncodeToString(sig))
}

// An authorised follower receives the device's readings as they are
// stored; anyone else is refused before anything is sent.
func TestStream(t *testing.T) {
	f := newFixture(t, 2)
	defer f.close()
	clinician := ed25519.NewKeyFromSeed([]byte("clinician key seed 32 bytes long"))
	stranger := ed25519.NewKeyFromSeed([]byte("stranger key seed 32 bytes long!"))
	auth := allowList{vocab.Address(clinician.Public().(ed25519.PublicKey)): "dev-0000"}
	srv := httptest.NewServer(iomt.StreamHandler(f.g, auth, func() string { return "chain-x" }))
	defer srv.Close()

	resp, err := http.Get(streamURL(srv.URL, "chain-x", "dev-0000", clinician, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	if line, _ := rd.ReadString('\n'); !strings.HasPrefix(line, ": following") {
		t.Fatalf("first line %q", line)
	}
	want := []float64{71, 72.5, 74}
	for _, v := range want {
		s := f.reading("dev-0000", v)
		if err := f.g.Submit(context.Background(), &s); err != nil {
			t.Fatal(err)
		}
	}
	other := f.reading("dev-0001", 99) // another device: not in this stream
	f.g.Submit(context.Background(), &other)
	for _, v := range want {
		ev := nextEvent(t, rd)
		var r device.Reading
		if err := json.Unmarshal([]byte(ev), &r); err != nil || r.Value != v || r.Device != "dev-0000" {
			t.Fatalf("event %q, want value %g", ev, v)
		}
	}

	for name, u := range map[string]string{
		"stranger":      streamURL(srv.URL, "chain-x", "dev-0000", stranger, time.Now()),
		"other device":  streamURL(srv.URL, "chain-x", "dev-0001", clinician, time.Now()),
		"other chain":   streamURL(srv.URL, "chain-y", "dev-0000", clinician, time.Now()),
		"stale request": streamURL(srv.URL, "chain-x", "dev-0000", clinician, time.Now().Add(-5*time.Minute)),
		"no signature":  srv.URL + "/v1/devices/dev-0000/stream",
	} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 && resp.StatusCode != 403 {
			t.Errorf("%s: status %d", name, resp.StatusCode)
		}
		if strings.Contains(string(body), "reading") && strings.Contains(string(body), "value") {
			t.Errorf("%s: got readings: %s", name, body)
		}
	}
}

func nextEvent(t *testing.T, rd *bufio.Reader) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			return strings.TrimSpace(data)
		}
	}
	t.Fatal("no event")
	return ""
}

// followerClient connects over MQTT 3.1.1 as the account of key; ok is
// false if the broker refused the credentials.
func followerClient(t *testing.T, addr, id string, key ed25519.PrivateKey, chain string) (paho.Client, bool) {
	ms := time.Now().UnixMilli()
	sig := ed25519.Sign(key, iomt.FollowerConnect(chain, id, ms))
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetProtocolVersion(4).SetAutoReconnect(false).
		SetUsername(fmt.Sprintf("%x:%d", []byte(key.Public().(ed25519.PublicKey)), ms)).SetPassword(hex.EncodeToString(sig))
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, false
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, true
}

func subscribeCode(c paho.Client, topic string, cb paho.MessageHandler) byte {
	tok := c.Subscribe(topic, 0, cb)
	tok.WaitTimeout(10 * time.Second)
	return tok.(*paho.SubscribeToken).Result()[topic]
}

// MQTT followers: an account the Authorizer allows, proven at CONNECT,
// may subscribe to the device's live topic and receives its readings as
// stored; a wildcard, another device, a device connection or a bad proof
// get nothing.
func TestMQTTFollowers(t *testing.T) {
	f := newFixture(t, 2)
	defer f.close()
	clinician := ed25519.NewKeyFromSeed([]byte("clinician key seed 32 bytes long"))
	auth := allowList{vocab.Address(clinician.Public().(ed25519.PublicKey)): "dev-0000"}
	b, err := iomt.StartBroker(f.g, iomt.BrokerConfig{Addr: "127.0.0.1:0", Log: quiet, ChainID: func() string { return testChain }, Followers: auth})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	if _, ok := followerClient(t, b.Addr(), "f-bad", clinician, "chain-y"); ok {
		t.Fatal("a follower proven for another chain connected")
	}
	c, ok := followerClient(t, b.Addr(), "f-1", clinician, "chain-x")
	if !ok {
		t.Fatal("the follower could not connect")
	}
	got := make(chan device.Reading, 10)
	if code := subscribeCode(c, iomt.LiveTopic("dev-0000"), func(_ paho.Client, m paho.Message) {
		var r device.Reading
		json.Unmarshal(m.Payload(), &r)
		got <- r
	}); code != 0 {
		t.Fatalf("live topic refused: %#x", code)
	}
	for _, topic := range []string{iomt.LiveTopic("dev-0001"), "medchain/v1/devices/+/live", "#"} {
		if code := subscribeCode(c, topic, nil); code != 0x80 {
			t.Errorf("%s granted to the follower", topic)
		}
	}
	dev := pahoClient(t, f, b.Addr(), "dev-0000")
	if code := subscribeCode(dev, iomt.LiveTopic("dev-0000"), nil); code != 0x80 {
		t.Error("a device connection may follow")
	}
	for _, v := range []float64{61, 62} {
		s := f.reading("dev-0000", v)
		if tok := dev.Publish(iomt.ReadingsTopic("dev-0000"), 1, false, s.Encode()); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
	}
	for _, v := range []float64{61, 62} {
		select {
		case r := <-got:
			if r.Value != v || r.Device != "dev-0000" {
				t.Fatalf("live reading %+v, want %g", r, v)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no live reading")
		}
	}
}
