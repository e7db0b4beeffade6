package recordclient_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
	"github.com/medchain/medchain/normalize"
	"github.com/medchain/medchain/patientlink"
	"github.com/medchain/medchain/recordclient"
	"github.com/medchain/medchain/recordshare"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// The test network: one validator of the demo network whose node serves
// records as St Mary's admin account, locking a link share after three
// wrong passcodes. St Mary's ingests the repository's Synthea sample
// (real-looking names, addresses, ids: the identifiers planted) and links
// patient-1's wallet to one of its patients.
var (
	tn      *apitest.Node
	planted []string // identifiers of the Synthea patients
	bundle  []byte   // patient-1's bundle, as ingested
)

const synthea = "../testdata/synthea"

func TestMain(m *testing.M) {
	var err error
	tn, err = apitest.StartWith(node.Options{Records: &node.RecordOptions{Account: "st-mary-admin", MaxAttempts: 3}})
	if err == nil {
		err = setUp()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		if tn != nil {
			tn.Stop()
		}
		os.Exit(1)
	}
	code := m.Run()
	tn.Stop()
	os.Exit(code)
}

// setUp ingests the Synthea bundles into the node's vault, keeping their
// originals, and links patient-1 to the first of them.
func setUp() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	admin, err := tn.Key("st-mary-admin")
	if err != nil {
		return err
	}
	patient, err := tn.Key("patient-1")
	if err != nil {
		return err
	}
	c := client.New(tn.URL)
	open := func() (*vault.Vault, error) { return vaultcfg.Open(filepath.Join(tn.Home, "vault")) }
	v, err := open()
	if err != nil {
		return err
	}
	secret, err := v.Secret()
	if err != nil {
		return err
	}
	nodeID, err := vault.NodeIdentity(admin.Enc)
	if err != nil {
		return err
	}
	oid, err := vault.OriginalsIdentity(admin.Enc)
	if err != nil {
		return err
	}
	orig := oid.Recipient()
	cfg := normalize.DefaultConfig()
	cfg.RefDate = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := ingest.Run(ctx, v, nodeID, secret, ingest.ClientLedger{Client: c, Key: admin}, ingest.Options{
		Source: synthea, Format: ingest.FHIR, Normalize: cfg, Dataset: "synthea", Title: "Synthea sample", Originals: &orig,
	}); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	files, _ := filepath.Glob(filepath.Join(synthea, "*.json"))
	var first string
	for _, f := range files {
		base := filepath.Base(f)
		if strings.HasPrefix(base, "hospitalInformation") || strings.HasPrefix(base, "practitionerInformation") {
			continue
		}
		// Given_Family_uuid.json: the names as the bundle has them
		// ("Stamm704") and the patient's id. (Names without Synthea's
		// digits are too short to search ciphertext for: "Todd" turns up
		// in base64 by chance.)
		planted = append(planted, strings.Split(strings.TrimSuffix(base, ".json"), "_")...)
		if first == "" {
			first = f
		}
	}
	if bundle, err = os.ReadFile(first); err != nil {
		return err
	}
	id := strings.Split(strings.TrimSuffix(filepath.Base(first), ".json"), "_")[2]
	_, err = patientlink.Link(ctx, c, open, patientlink.Request{Institution: admin.Address(), Dataset: "synthea",
		PatientID: id, Wallet: patient.Address(), Node: nodeID})
	if err != nil {
		return fmt.Errorf("link: %w", err)
	}
	return nil
}

func key(t testing.TB, name string) *keys.Key {
	t.Helper()
	k, err := tn.Key(name)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// wantCode checks err is the API's refusal with code.
func wantCode(t *testing.T, what string, err error, code ledger.Code, status int) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != uint32(code) || ce.Status != status {
		t.Fatalf("%s: got %v, want %s (HTTP %d)", what, err, code, status)
	}
	if ce.Message == "" {
		t.Fatalf("%s: refused without a reason", what)
	}
}

// A patient asks for their own record with a request they sign, and gets
// the original bundle, byte for byte, encrypted to their key. The same
// request again is refused (replay), as are requests that are stale,
// signed by another key, or for another node.
func TestMyRecord(t *testing.T) {
	c := client.New(tn.URL)
	p1 := key(t, "patient-1")
	rec, err := recordclient.MyRecord(ctx(t), c, p1)
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Copy.Originals) != 1 || !bytes.Equal(rec.Copy.Originals[0].Data, bundle) || rec.Copy.Org != "st-mary" {
		t.Fatalf("copy: %d originals, org %q", len(rec.Copy.Originals), rec.Copy.Org)
	}
	// Only patient-1's key opens it.
	if _, err := recordshare.DecryptCopy(rec.Ciphertext, mustIdentity(t, key(t, "patient-2"))); err == nil {
		t.Fatal("another patient's key opened the copy")
	}

	info, err := c.RecordServer(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	req := recordshare.Sign(p1.Sign, recordshare.KindRecord, apitest.ChainID, info.Server, "", time.Now())
	if _, err := c.RequestRecord(ctx(t), req); err != nil {
		t.Fatal(err)
	}
	_, err = c.RequestRecord(ctx(t), req)
	wantCode(t, "replayed request", err, ledger.CodeBadNonce, http.StatusConflict)

	stale := recordshare.Sign(p1.Sign, recordshare.KindRecord, apitest.ChainID, info.Server, "", time.Now().Add(-10*time.Minute))
	_, err = c.RequestRecord(ctx(t), stale)
	wantCode(t, "stale request", err, ledger.CodeExpired, http.StatusBadRequest)

	forged := recordshare.Sign(key(t, "patient-2").Sign, recordshare.KindRecord, apitest.ChainID, info.Server, "", time.Now())
	forged.Request.Signer = p1.Address()
	_, err = c.RequestRecord(ctx(t), forged)
	wantCode(t, "request signed by another key", err, ledger.CodeBadSignature, http.StatusForbidden)

	elsewhere := recordshare.Sign(p1.Sign, recordshare.KindRecord, apitest.ChainID, key(t, "northside-admin").Address(), "", time.Now())
	_, err = c.RequestRecord(ctx(t), elsewhere)
	wantCode(t, "request for another institution", err, ledger.CodeUnauthorized, http.StatusForbidden)

	// A patient the institution has not linked has no record here.
	_, err = recordclient.MyRecord(ctx(t), c, key(t, "patient-2"))
	wantCode(t, "unlinked patient", err, ledger.CodeNotFound, http.StatusNotFound)
}

func mustIdentity(t testing.TB, k *keys.Key) *age.X25519Identity {
	t.Helper()
	id, err := vault.NewIdentity(k.Enc)
	if err != nil {
		t.Fatal(err)
	}
	return id.AgeIdentity()
}

func myCopy(t *testing.T) *recordshare.Copy {
	t.Helper()
	rec, err := recordclient.MyRecord(ctx(t), client.New(tn.URL), key(t, "patient-1"))
	if err != nil {
		t.Fatal(err)
	}
	return rec.Copy
}

func shareLink(t *testing.T, passcode string, expires time.Duration) *recordclient.Shared {
	t.Helper()
	sh, err := recordclient.Share(ctx(t), client.New(tn.URL), key(t, "patient-1"), myCopy(t),
		recordclient.ShareOptions{Passcode: passcode, Expires: expires})
	if err != nil {
		t.Fatal(err)
	}
	if sh.Link == "" || sh.Recipient != ledger.ShareLink {
		t.Fatalf("link share: %+v", sh)
	}
	return sh
}

// The clinician opens a link share before it expires, with the passcode;
// a wrong passcode is refused and says how many attempts are left; a
// share opens once.
func TestLinkShareOpens(t *testing.T) {
	sh := shareLink(t, "blue-heron-42", time.Hour)
	// The hash is public on the ledger; without the link's id nobody can
	// spend the share's attempts.
	for range 5 {
		_, err := client.New(tn.URL).OpenShare(ctx(t), sh.Hash, api.ShareOpen{Passcode: "guess-guess"})
		wantCode(t, "a guess with the hash alone", err, ledger.CodeNotFound, http.StatusNotFound)
	}
	_, err := recordclient.OpenLink(ctx(t), sh.Link, "blue-heron-41")
	wantCode(t, "wrong passcode", err, ledger.CodeWrongPasscode, http.StatusUnauthorized)
	if !strings.Contains(err.Error(), "2 attempt(s) left") {
		t.Fatalf("wrong passcode: %v", err)
	}
	got, err := recordclient.OpenLink(ctx(t), sh.Link, "blue-heron-42")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Copy.Originals) != 1 || !bytes.Equal(got.Copy.Originals[0].Data, bundle) {
		t.Fatal("the clinician's copy is not the patient's record")
	}
	_, err = recordclient.OpenLink(ctx(t), sh.Link, "blue-heron-42")
	wantCode(t, "second opening", err, ledger.CodeShareClosed, http.StatusGone)

	// Without the link's key, the passcode opens nothing: the node holds
	// only ciphertext to the one-time key.
	l, _ := recordshare.ParseLink(sh.Link)
	other, _ := recordshare.ParseLink(shareLink(t, "blue-heron-43", time.Hour).Link)
	l.Key = other.Key
	if _, err := recordclient.OpenLink(ctx(t), l.String(), "blue-heron-42"); err == nil {
		t.Fatal("opened with another link's key")
	}
}

// A share to a clinician's account opens only on that account's signed
// request.
func TestAccountShareOpens(t *testing.T) {
	c := client.New(tn.URL)
	rita := key(t, "rita-researcher")
	sh, err := recordclient.Share(ctx(t), c, key(t, "patient-1"), myCopy(t),
		recordclient.ShareOptions{To: rita.Address(), Expires: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	_, err = recordclient.OpenForAccount(ctx(t), c, key(t, "audrey-auditor"), sh.Hash)
	wantCode(t, "another account", err, ledger.CodeUnauthorized, http.StatusForbidden)
	_, err = c.OpenShare(ctx(t), sh.Hash, api.ShareOpen{Passcode: "anything"})
	wantCode(t, "an account share opened as a link", err, ledger.CodeUnauthorized, http.StatusForbidden)
	got, err := recordclient.OpenForAccount(ctx(t), c, rita, sh.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Copy.Originals[0].Data, bundle) {
		t.Fatal("the clinician's copy is not the patient's record")
	}
	_, err = recordclient.OpenForAccount(ctx(t), c, rita, sh.Hash)
	wantCode(t, "second opening", err, ledger.CodeShareClosed, http.StatusGone)
}

// Revoked before it is opened, a share does not open; nor does one past
// its expiry; and the passcode's attempt limit locks a share for good.
func TestShareRefusals(t *testing.T) {
	c := client.New(tn.URL)
	p1 := key(t, "patient-1")

	revoked := shareLink(t, "revoke-me-1", time.Hour)
	if _, err := recordclient.Revoke(ctx(t), c, p1, revoked.Hash); err != nil {
		t.Fatal(err)
	}
	_, err := recordclient.OpenLink(ctx(t), revoked.Link, "revoke-me-1")
	wantCode(t, "revoked", err, ledger.CodeShareRevoked, http.StatusGone)

	// Five seconds: enough for share_record to commit before the expiry
	// on a loaded machine.
	expiring := shareLink(t, "expire-me-1", 5*time.Second)
	time.Sleep(time.Until(time.Unix(mustShare(t, c, expiring.Hash).Expiry, 0)) + time.Second)
	_, err = recordclient.OpenLink(ctx(t), expiring.Link, "expire-me-1")
	wantCode(t, "expired", err, ledger.CodeExpired, http.StatusBadRequest)

	locked := shareLink(t, "lock-me-123", time.Hour)
	for i := range 2 {
		_, err = recordclient.OpenLink(ctx(t), locked.Link, fmt.Sprintf("guess-%d", i))
		wantCode(t, "wrong passcode", err, ledger.CodeWrongPasscode, http.StatusUnauthorized)
	}
	_, err = recordclient.OpenLink(ctx(t), locked.Link, "guess-2")
	wantCode(t, "third wrong passcode", err, ledger.CodeShareLocked, http.StatusGone)
	_, err = recordclient.OpenLink(ctx(t), locked.Link, "lock-me-123")
	wantCode(t, "right passcode after the lock", err, ledger.CodeShareLocked, http.StatusGone)

	// The patient cannot revoke what is no longer active.
	_, err = recordclient.Revoke(ctx(t), c, p1, locked.Hash)
	wantCode(t, "revoke a locked share", err, ledger.CodeShareLocked, 0)

	// The patient sees each share and what became of it.
	list, err := recordclient.List(ctx(t), c, p1.Address())
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, s := range list.Shares {
		states[s.Hash] = s.State
	}
	for h, want := range map[string]string{revoked.Hash: ledger.ShareRevoked, expiring.Hash: ledger.ShareExpired, locked.Hash: ledger.ShareLocked} {
		if states[h] != want {
			t.Errorf("share %s: state %q, want %q", h, states[h], want)
		}
	}
}

// Every byte the network wrote — the ledger's store, CometBFT's blocks
// and logs, the node's and workers' logs, the served shares and nonces,
// the vault — and every answer about shares, after records were served,
// shared, opened, refused and revoked: none holds a name or id of the
// Synthea patients. (The vault's originals are sealed: a plaintext
// name there would be a leak too.) The ledger's share records hold the
// hash, accounts, expiry and state, and the share events are there.
func TestNothingIdentifyingWritten(t *testing.T) {
	c := client.New(tn.URL)
	p1 := key(t, "patient-1")
	// Make sure there is something of each kind to find.
	sh := shareLink(t, "scan-me-123", time.Hour)
	if _, err := recordclient.OpenLink(ctx(t), sh.Link, "wrong-one"); err == nil {
		t.Fatal("wrong passcode opened")
	}
	opened, err := recordclient.OpenLink(ctx(t), sh.Link, "scan-me-123")
	if err != nil {
		t.Fatal(err)
	}
	// The identifiers did travel (the scan below would find them in any
	// plaintext copy): the clinician's copy holds them.
	for _, p := range planted[:3] {
		if !bytes.Contains(opened.Copy.Originals[0].Data, []byte(p)) {
			t.Fatalf("the planted %q is not in the record shared; the scan would prove nothing", p)
		}
	}
	// The share is an event on the ledger, with its hash, recipient and
	// expiry.
	rec, err := c.Tx(ctx(t), sh.Tx)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := client.EventAttr(rec, "share_record", "share"); got != sh.Hash {
		t.Fatalf("share_record event: share %q, want %s", got, sh.Hash)
	}
	if got, _ := client.EventAttr(rec, "share_record", "recipient"); got != ledger.ShareLink {
		t.Fatalf("share_record event: recipient %q", got)
	}
	list, err := recordclient.List(ctx(t), c, p1.Address())
	if err != nil {
		t.Fatal(err)
	}
	answers, _ := json.Marshal(list)
	view, err := c.Share(ctx(t), sh.Hash)
	if err != nil {
		t.Fatal(err)
	}
	if view.State != ledger.ShareOpened || view.Recipient != ledger.ShareLink || view.Owner != p1.Address() || view.Closed <= view.Created {
		t.Fatalf("share on the ledger: %+v", view)
	}
	b, _ := json.Marshal(view)
	answers = append(answers, b...)
	// The opening is a close_share transaction of the serving account,
	// found through the audit log.
	st, err := c.Status(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var closed *ledger.TxRecord
	for i := int64(st.Commitment.AuditSize) - 1; i >= 0 && closed == nil; i-- {
		e, err := c.AuditEntry(ctx(t), uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if e.Entry.Type != ledger.TxCloseShare || e.Entry.Code != ledger.CodeOK || e.Entry.Signer != view.Server {
			continue
		}
		rec, err := c.Tx(ctx(t), e.Entry.TxHash)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := client.EventAttr(rec, "close_share", "share"); got == sh.Hash {
			closed = rec
			b, _ := json.Marshal(e)
			answers = append(answers, b...)
		}
	}
	if closed == nil {
		t.Fatal("no close_share of the share in the audit log")
	}
	if got, _ := client.EventAttr(closed, "close_share", "outcome"); got != ledger.ShareOpened {
		t.Fatalf("close_share outcome %q", got)
	}
	b, _ = json.Marshal(closed)
	answers = append(answers, b...)
	for _, p := range planted {
		if bytes.Contains(answers, []byte(p)) {
			t.Errorf("an API answer holds %q", p)
		}
	}
	scanned := 0
	err = filepath.WalkDir(tn.Home, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil // a socket or a file removed meanwhile
		}
		scanned++
		for _, p := range planted {
			if bytes.Contains(data, []byte(p)) {
				t.Errorf("%s holds %q", strings.TrimPrefix(path, tn.Home), p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if scanned < 20 {
		t.Fatalf("scanned only %d files", scanned)
	}
}

// BenchmarkRecordRequest is a patient's record request, round trip: sign,
// POST, the node's checks (signature, nonce, durable nonce record), link
// table and originals read, age encryption to the patient, decryption.
func BenchmarkRecordRequest(b *testing.B) {
	c := client.New(tn.URL)
	p1 := key(b, "patient-1")
	for b.Loop() {
		if _, err := recordclient.MyRecord(context.Background(), c, p1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShareOpen opens a link share: the passcode's argon2id check,
// close_share signed and committed (a block: 100 ms on the test network),
// the ciphertext released and decrypted with the link's key. Making the
// share (share_record committed, upload) is outside the timing.
func BenchmarkShareOpen(b *testing.B) {
	c := client.New(tn.URL)
	p1 := key(b, "patient-1")
	rec, err := recordclient.MyRecord(context.Background(), c, p1)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		sh, err := recordclient.Share(context.Background(), c, p1, rec.Copy, recordclient.ShareOptions{Passcode: "bench-mark-1", Expires: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := recordclient.OpenLink(context.Background(), sh.Link, "bench-mark-1"); err != nil {
			b.Fatal(err)
		}
	}
}

func mustShare(t *testing.T, c *client.Client, hash string) *api.ShareView {
	t.Helper()
	v, err := c.Share(ctx(t), hash)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
