package node_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/iomt"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/vault"
)

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A real one-validator node with device ingestion: a device registered
// on the ledger and linked in the vault streams over MQTT; every reading
// it was told is stored proves against an anchor the validators signed; a
// tampered reading does not; suspension stops its readings; and nothing of
// a reading — value, pseudonym, device key — is in the clear in any file
// the node wrote (ledger, logs, vault).
func TestDevicesEndToEnd(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	err := node.CreateNetwork([]string{home}, node.NetOptions{ChainID: "medchain-test", Validators: 1, Demo: true,
		BlockTime: 100 * time.Millisecond, API: freeAddr(t), RPC: freeAddr(t), P2P: freeAddr(t)})
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.Start(home, node.Options{Devices: &node.DeviceOptions{Gateway: "st-mary-admin", MQTT: "127.0.0.1:0", AnchorEvery: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			n.Stop()
		}
	}()
	ctx := context.Background()
	c := client.New("http://" + n.APIAddr())
	admin, err := keys.Load(node.KeysDir(home), "st-mary-admin")
	if err != nil {
		t.Fatal(err)
	}
	seed := []byte("planted device seed 32 bytes!!!!")
	devKey := ed25519.NewKeyFromSeed(seed)
	submit := func(m ledger.Msg) {
		t.Helper()
		res, err := c.SignAndSubmit(ctx, admin, m, true)
		if err == nil {
			err = client.ResultError(res)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	submit(&ledger.RegisterDevice{ID: "cuff-1", PubKey: devKey.Public().(ed25519.PublicKey), Kind: "bp_cuff",
		Measurements: []ledger.Measurement{{System: "loinc", Code: "8867-4", Unit: "/min"}}})
	v, err := vault.Open(filepath.Join(home, "vault"))
	if err != nil {
		t.Fatal(err)
	}
	const pseudonym = "psn-planted-5150"
	nodeID, err := vault.NodeIdentity(admin.Enc) // the gateway's key: the node opens the link tables with it
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.LinkDevice("st-mary", "cuff-1", pseudonym, nodeID); err != nil {
		t.Fatal(err)
	}

	// Who may follow the device live: St Mary's clinicians (its
	// institution accounts) and the patient it is linked to; not a
	// researcher, not another patient.
	patient, _ := keys.Load(node.KeysDir(home), "patient-1")
	if _, err := v.LinkPatient("st-mary", pseudonym, patient.Address(), nodeID); err != nil {
		t.Fatal(err)
	}
	// A clinician of St Mary's: an institution account of its own.
	clinician, err := keys.Generate("st-mary-clinician")
	if err != nil {
		t.Fatal(err)
	}
	if err := clinician.Save(node.KeysDir(home)); err != nil {
		t.Fatal(err)
	}
	submit(&ledger.RegisterAccount{PubKey: clinician.PubKey(), EncKey: clinician.EncPub(), Kind: ledger.KindInstitution,
		Org: "st-mary", Possession: ledger.ProvePossession(clinician.Sign, n.ChainID(), "st-mary")})
	follow := func(name string) *http.Response {
		t.Helper()
		k, err := keys.Load(node.KeysDir(home), name)
		if err != nil {
			t.Fatal(err)
		}
		ms := time.Now().UnixMilli()
		sig := ed25519.Sign(k.Sign, iomt.StreamRequest(n.ChainID(), "cuff-1", ms))
		resp, err := http.Get(fmt.Sprintf("http://%s/v1/devices/cuff-1/stream?key=%x&ts=%d&sig=%x", n.APIAddr(), k.PubKey(), ms, sig))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for name, want := range map[string]int{"rita-researcher": 403, "patient-2": 403, "northside-admin": 403, "patient-1": 200, "st-mary-clinician": 200} {
		resp := follow(name)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s following cuff-1: status %d, want %d", name, resp.StatusCode, want)
		}
	}
	// The patient denies direct-care use to St Mary's: its clinicians may
	// no longer follow; the patient still may. Then the deny is revoked.
	patientTx := func(m ledger.Msg) *api.TxSubmitted {
		t.Helper()
		res, err := c.SignAndSubmit(ctx, patient, m, true)
		if err == nil {
			err = client.ResultError(res)
		}
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := patientTx(&ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeInstitution, ID: "st-mary"}, Provision: ledger.Deny,
		Purposes: []string{"clinical"}})
	for name, want := range map[string]int{"st-mary-admin": 403, "patient-1": 200} {
		resp := follow(name)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("after the deny, %s following cuff-1: status %d, want %d", name, resp.StatusCode, want)
		}
	}
	seqText, _ := client.EventAttr(res.Result, "give_consent", "seq")
	seq, _ := strconv.ParseUint(seqText, 10, 64)
	patientTx(&ledger.RevokeConsent{Seq: seq})

	live := follow("st-mary-admin")
	defer live.Body.Close()
	if live.StatusCode != 200 {
		t.Fatalf("the clinician may not follow: %d", live.StatusCode)
	}
	liveLines := bufio.NewReader(live.Body)

	// Both clinicians follow; the second is suspended below.
	live2 := follow("st-mary-clinician")
	defer live2.Body.Close()
	if live2.StatusCode != 200 {
		t.Fatalf("the second clinician may not follow: %d", live2.StatusCode)
	}
	live2Lines := bufio.NewReader(live2.Body)

	// The device proves its registered key when it connects.
	user, pass := iomt.DeviceCredentials(n.ChainID(), "cuff-1", "cuff-1", devKey, time.Now())
	o := paho.NewClientOptions().AddBroker("tcp://" + n.MQTTAddr()).SetClientID("cuff-1").SetProtocolVersion(4).
		SetUsername(user).SetPassword(pass)
	mc := paho.NewClient(o)
	if tok := mc.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer mc.Disconnect(100)
	const value = 88.8125 // planted: searched for below
	var sent []device.Signed
	for i := range 20 {
		r := device.Reading{Device: "cuff-1", Seq: uint64(i + 1), Time: time.Now().UnixMilli(), Code: "8867-4", Value: value, Unit: "/min"}
		s := device.Sign(r, devKey)
		if tok := mc.Publish(iomt.ReadingsTopic("cuff-1"), 1, false, s.Encode()); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		sent = append(sent, s)
	}
	if st := n.DeviceStats(); st.Stored != 20 {
		t.Fatalf("stats %+v, want 20 stored", st)
	}
	for _, lines := range []*bufio.Reader{liveLines, live2Lines} {
		for got := 0; got < 20; {
			line, err := lines.ReadString('\n')
			if err != nil {
				t.Fatalf("live stream after %d readings: %v", got, err)
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok {
				var r device.Reading
				if err := json.Unmarshal([]byte(data), &r); err != nil || r.Device != "cuff-1" || r.Value != value || r.Seq != uint64(got+1) {
					t.Fatalf("live event %q", data)
				}
				got++
			}
		}
	}

	// Streams already open end at the block that ends their permission:
	// the patient denies direct care to St Mary's (both clinicians' streams
	// end), and, once that is revoked, an admin suspends the second
	// clinician (its stream ends, the first clinician's does not).
	ended := func(lines *bufio.Reader, who string) {
		t.Helper()
		rest := make(chan string, 1)
		go func() {
			var sb strings.Builder
			lines.WriteTo(&sb)
			rest <- sb.String()
		}()
		select {
		case b := <-rest:
			if !strings.Contains(b, "event: revoked") || strings.Contains(b, "event: reading") {
				t.Fatalf("%s's stream ended with %q", who, b)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s's stream is still open", who)
		}
	}
	res = patientTx(&ledger.GiveConsent{Scope: ledger.Scope{Kind: ledger.ScopeInstitution, ID: "st-mary"}, Provision: ledger.Deny,
		Purposes: []string{"clinical"}})
	ended(liveLines, "st-mary-admin")
	ended(live2Lines, "st-mary-clinician")
	seqText, _ = client.EventAttr(res.Result, "give_consent", "seq")
	seq, _ = strconv.ParseUint(seqText, 10, 64)
	patientTx(&ledger.RevokeConsent{Seq: seq})
	live.Body.Close()
	live2.Body.Close()
	live = follow("st-mary-admin")
	defer live.Body.Close()
	live2 = follow("st-mary-clinician")
	defer live2.Body.Close()
	if live.StatusCode != 200 || live2.StatusCode != 200 {
		t.Fatalf("after the deny was revoked: %d, %d", live.StatusCode, live2.StatusCode)
	}
	liveLines, live2Lines = bufio.NewReader(live.Body), bufio.NewReader(live2.Body)
	submit(&ledger.SetAccountStatus{Address: clinician.Address(), Status: ledger.AccountSuspended})
	ended(live2Lines, "the suspended clinician")
	if resp := follow("st-mary-clinician"); resp.StatusCode != 403 {
		t.Errorf("a suspended clinician starts following: %d", resp.StatusCode)
	}
	// The first clinician still streams: the next reading reaches it.
	next := device.Sign(device.Reading{Device: "cuff-1", Seq: 21, Time: time.Now().UnixMilli(), Code: "8867-4", Value: value, Unit: "/min"}, devKey)
	if tok := mc.Publish(iomt.ReadingsTopic("cuff-1"), 1, false, next.Encode()); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	sent = append(sent, next)
	for {
		line, err := liveLines.ReadString('\n')
		if err != nil {
			t.Fatalf("the first clinician's stream after the suspension: %v", err)
		}
		if strings.HasPrefix(line, "data: ") {
			break
		}
	}
	live.Body.Close()

	// Every acknowledged reading is provable against a committed anchor
	// (once the anchor interval has passed and the anchor is in a block).
	var vr *iomt.Verified
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := openSeries(home)
		if err != nil {
			t.Fatal(err)
		}
		vr, err = iomt.VerifyReading(ctx, c, st, admin.Address(), "cuff-1", 21)
		st.Close()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reading 21 never verified: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if vr.Anchor.Band != "<100" || vr.State.Header == nil {
		t.Fatalf("anchor %+v", vr.Anchor)
	}
	st, err := openSeries(home)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sent {
		inc, err := iomt.Prove(st, s.Device, s.Seq)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := iomt.VerifyInclusion(ctx, c, admin.Address(), inc); err != nil {
			t.Fatalf("seq %d: %v", s.Seq, err)
		}
		inc.Reading.Value++
		if _, err := iomt.VerifyInclusion(ctx, c, admin.Address(), inc); !errors.Is(err, iomt.ErrVerify) {
			t.Fatalf("seq %d tampered: %v, want a verification failure", s.Seq, err)
		}
	}
	st.Close()

	// Suspended on the ledger: its readings are refused.
	submit(&ledger.SetDeviceStatus{ID: "cuff-1", Status: ledger.DeviceSuspended})
	time.Sleep(600 * time.Millisecond) // the registry's cache
	s := device.Sign(device.Reading{Device: "cuff-1", Seq: 22, Time: time.Now().UnixMilli(), Code: "8867-4", Value: 70, Unit: "/min"}, devKey)
	mc.Publish(iomt.ReadingsTopic("cuff-1"), 1, false, s.Encode()).WaitTimeout(10 * time.Second)
	if st := n.DeviceStats(); st.Stored != 21 || len(st.Refused) != 1 || st.Refused[0].Reason != device.Suspended {
		t.Fatalf("stats after suspension %+v", st)
	}

	// Privacy: no file of the home holds the value, the pseudonym or the
	// key in the clear (the series store and link table are sealed).
	stopped = true
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}
	valueBits := binary.BigEndian.AppendUint64(nil, math.Float64bits(value))
	needles := map[string][]byte{"value": []byte("88.8125"), "value bits": valueBits, "pseudonym": []byte(pseudonym),
		"device seed": seed, "device private key": devKey[:32]}
	filepath.WalkDir(home, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for what, b := range needles {
			if bytes.Contains(data, b) {
				t.Errorf("%s found in %s", what, strings.TrimPrefix(path, home))
			}
		}
		return nil
	})
}
