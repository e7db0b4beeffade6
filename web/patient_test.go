package web_test

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/receipts"
	"github.com/medchain/medchain/recordshare"
	"github.com/medchain/medchain/rewards"
	"github.com/medchain/medchain/vocab"
)

// fixedBytes is n deterministic bytes named by label, for vectors.
func fixedBytes(label string, n int) []byte {
	var out []byte
	for i := 0; len(out) < n; i++ {
		s := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", label, i)))
		out = append(out, s[:]...)
	}
	return out[:n]
}

// TestBrowserPatientCryptoLikeGo runs the patient portal's crypto in
// headless Chromium over vectors the Go packages make, and requires the
// same bytes: the wallets the browser derives from a patient secret are
// keys.PatientWallet's (keys/testdata/patient-wallets.json), its receipt
// key and tag are receipts.PatientKey's and TagFor's (and the worker's
// WorkerKey agrees), it finds its tag in a padded set holding it and not in
// one without it, the rewards and record requests it signs are the ones
// the Go packages sign and verify, and its share hashes are
// recordshare.Share.Hash's, its passcode verifier is the one the node checks
// and its link is one recordshare.ParseLink reads.
func TestBrowserPatientCryptoLikeGo(t *testing.T) {
	browser := chromium(t)
	walletJSON, err := os.ReadFile("../keys/testdata/patient-wallets.json")
	if err != nil {
		t.Fatal(err)
	}
	var wallets []struct {
		Secret      string `json:"patient_secret"`
		Institution string `json:"institution"`
		Seed        string `json:"ed25519_seed"`
		Address     string `json:"address"`
		X25519      string `json:"x25519_private"`
	}
	if err := json.Unmarshal(walletJSON, &wallets); err != nil || len(wallets) == 0 {
		t.Fatalf("wallet vectors: %v (%d)", err, len(wallets))
	}
	// The published vectors are keys.PatientWallet's own (checked here too,
	// so a change of the Go derivation cannot leave them stale).
	for _, w := range wallets {
		s, _ := hex.DecodeString(w.Secret)
		k, err := keys.PatientWallet(s, w.Institution, "v")
		if err != nil || k.Address() != w.Address {
			t.Fatalf("keys.PatientWallet(%s, %s) = %v %v, the vector says %s", w.Secret[:8], w.Institution, k.Address(), err, w.Address)
		}
	}

	type receiptVector struct {
		ChainID    string `json:"chain_id"`
		Job        uint64 `json:"job"`
		Dataset    string `json:"dataset"`
		PatientX   string `json:"patient_x25519"`
		WorkerPub  string `json:"worker_public"`
		SetWith    []byte `json:"set_with"`
		SetWithout []byte `json:"set_without"`
		key, tag   string
	}
	var rv []receiptVector
	for i, c := range []struct {
		chain   string
		job     uint64
		dataset string
	}{{"medchain-dev", 0, "st-mary-cvd"}, {"medchain-dev", 1, "st-mary-cvd"}, {"other-chain", 1, "st-mary-cvd"},
		{"medchain-dev", 1<<40 + 7, "northside-cvd"}, {"medchain-dev", 3, "a.b_c-d"}} {
		pk, _ := ecdh.X25519().NewPrivateKey(fixedBytes(fmt.Sprintf("patient%d", i), 32))
		wk, _ := ecdh.X25519().NewPrivateKey(fixedBytes(fmt.Sprintf("worker%d", i), 32))
		key, err := receipts.PatientKey(pk, wk.PublicKey().Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if wkey, _ := receipts.WorkerKey(wk, pk.PublicKey().Bytes()); wkey != key {
			t.Fatal("the worker's and the patient's receipt keys differ")
		}
		tag := receipts.TagFor(key, c.chain, c.job, c.dataset)
		with, err := receipts.Pad([]receipts.Tag{tag}, 99, bytes.NewReader(fixedBytes(fmt.Sprintf("pad%d", i), 99*16*2)))
		if err != nil {
			t.Fatal(err)
		}
		without, err := receipts.Pad(nil, 99, bytes.NewReader(fixedBytes(fmt.Sprintf("pad%d", i), 99*16*2)))
		if err != nil {
			t.Fatal(err)
		}
		rv = append(rv, receiptVector{ChainID: c.chain, Job: c.job, Dataset: c.dataset, PatientX: hex.EncodeToString(pk.Bytes()),
			WorkerPub: hex.EncodeToString(wk.PublicKey().Bytes()), SetWith: with, SetWithout: without,
			key: hex.EncodeToString(key[:]), tag: hex.EncodeToString(tag[:])})
	}

	seed := fixedBytes("patient-signing", 32)
	now := time.Now().Unix()
	reward := map[string]any{"seed": hex.EncodeToString(seed), "chain_id": "medchain-dev", "org": "st-mary", "action": "vouchers",
		"recipient": "1209bd56dd9ac661c822ed903d29c7b175f4386f", "unit": 8, "notes": 3, "id": hex.EncodeToString(fixedBytes("id", 32)), "time": now}
	record := map[string]any{"seed": hex.EncodeToString(seed), "kind": recordshare.KindRecord, "chain": "medchain-dev",
		"server": "aa09bd56dd9ac661c822ed903d29c7b175f438bb", "share": "", "now": now, "nonce": hex.EncodeToString(fixedBytes("nonce", 16))}
	// Shares: one to an account, one behind a link (salt and verifier).
	shares := []struct {
		Server string `json:"server"`
		recordshare.Share
	}{
		{"aa09bd56dd9ac661c822ed903d29c7b175f438bb", recordshare.Share{ID: hex.EncodeToString(fixedBytes("share-id", 16)),
			Recipient: "1209bd56dd9ac661c822ed903d29c7b175f4386f", Expiry: now + 3600, Ciphertext: fixedBytes("ciphertext", 300)}},
		{"aa09bd56dd9ac661c822ed903d29c7b175f438bb", recordshare.Share{ID: hex.EncodeToString(fixedBytes("link-id", 16)),
			Recipient: ledger.ShareLink, Expiry: 1 << 40, Ciphertext: fixedBytes("link ciphertext", 5000),
			Salt: fixedBytes("salt", 16), Verifier: fixedBytes("verifier", 32)}},
	}
	passcode := map[string]any{"passcode": "heron-blue-7", "salt": fixedBytes("passcode salt", 16)}
	oneTime, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	link := recordshare.Link{URL: "http://127.0.0.1:8080", Share: hex.EncodeToString(fixedBytes("share", 32)),
		ID: hex.EncodeToString(fixedBytes("link-id", 16)), Key: oneTime.String(), Exp: now + 86400, Flag: "P"}
	vectors, err := json.Marshal(map[string]any{"wallets": wallets, "receipts": rv, "reward": reward, "record": record, "shares": shares,
		"passcode": passcode, "link": link})
	if err != nil {
		t.Fatal(err)
	}

	text := vectorHarness(t, browser, "patient.json", vectors, "testdata/patient-vectors.html")
	var got struct {
		Wallets []struct {
			Address string `json:"address"`
			Seed    string `json:"ed25519_seed"`
			X25519  string `json:"x25519_private"`
		} `json:"wallets"`
		Receipts []struct {
			Key       string `json:"key"`
			Tag       string `json:"tag"`
			InWith    bool   `json:"in_with"`
			InWithout bool   `json:"in_without"`
		} `json:"receipts"`
		Reward   rewards.Request    `json:"reward"`
		Record   recordshare.Signed `json:"record"`
		Shares   []string           `json:"shares"`
		Verifier []byte             `json:"verifier"`
		Link     string             `json:"link"`
	}
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("%v in %s", err, text)
	}

	if len(got.Wallets) != len(wallets) {
		t.Fatalf("browser derived %d wallets, want %d", len(got.Wallets), len(wallets))
	}
	for i, w := range wallets {
		g := got.Wallets[i]
		if g.Address != w.Address || g.Seed != w.Seed || g.X25519 != w.X25519 {
			t.Errorf("wallet at %s: browser %+v, Go %s %s %s", w.Institution, g, w.Address, w.Seed, w.X25519)
		}
	}
	if len(got.Receipts) != len(rv) {
		t.Fatalf("browser made %d receipt tags, want %d", len(got.Receipts), len(rv))
	}
	for i, w := range rv {
		g := got.Receipts[i]
		if g.Key != w.key || g.Tag != w.tag {
			t.Errorf("receipt %d (job %d, %s): browser key %s tag %s, Go key %s tag %s", i, w.Job, w.Dataset, g.Key, g.Tag, w.key, w.tag)
		}
		if !g.InWith || g.InWithout {
			t.Errorf("receipt %d: the browser found its tag in the set holding it: %v, in the set without it: %v", i, g.InWith, g.InWithout)
		}
	}

	if len(got.Shares) != len(shares) {
		t.Fatalf("browser hashed %d shares, want %d", len(got.Shares), len(shares))
	}
	for i, sh := range shares {
		if want := sh.Hash(sh.Server); got.Shares[i] != want {
			t.Errorf("share %d (to %s): browser hash %s, recordshare.Share.Hash %s", i, sh.Recipient, got.Shares[i], want)
		}
	}

	// A link share's passcode check is the one the node applies, and the
	// link is one the clinician's client reads.
	sh := recordshare.Share{Salt: fixedBytes("passcode salt", 16), Verifier: got.Verifier}
	if !sh.PasscodeMatches("heron-blue-7") || sh.PasscodeMatches("heron-blue-8") {
		t.Errorf("the browser's passcode verifier %x: the right passcode matches %v, a wrong one %v", got.Verifier,
			sh.PasscodeMatches("heron-blue-7"), sh.PasscodeMatches("heron-blue-8"))
	}
	if l, err := recordshare.ParseLink(got.Link); err != nil || *l != link {
		t.Errorf("the browser's link %q reads as %+v (%v), want %+v", got.Link, l, err, link)
	}

	// The rewards request: the Go package verifies it and signs the same.
	priv := ed25519.NewKeyFromSeed(seed)
	if addr, err := got.Reward.Verify("medchain-dev", "st-mary", time.Unix(now, 0)); err != nil || addr != vocab.Address(priv.Public().(ed25519.PublicKey)) {
		t.Errorf("rewards.Request.Verify of the browser's request: %v (%s)", err, addr)
	}
	want := got.Reward
	want.Sign(priv)
	if !bytes.Equal(want.Signature, got.Reward.Signature) || want.Unit != 8 || want.Notes != 3 || want.Recipient == "" {
		t.Errorf("rewards request: browser signed %s, Go %s", base64.StdEncoding.EncodeToString(got.Reward.Signature), base64.StdEncoding.EncodeToString(want.Signature))
	}
	// The record request: recordshare verifies it as a node would.
	if err := got.Record.Verify(priv.Public().(ed25519.PublicKey), recordshare.Expect{Kind: recordshare.KindRecord, Chain: "medchain-dev",
		Server: "aa09bd56dd9ac661c822ed903d29c7b175f438bb"}, time.Unix(now, 0)); err != nil {
		t.Errorf("recordshare.Signed.Verify of the browser's request: %v (%+v)", err, got.Record.Request)
	}
	got.Record.Request.Nonce = hex.EncodeToString(fixedBytes("other", 16))
	if err := got.Record.Verify(priv.Public().(ed25519.PublicKey), recordshare.Expect{Kind: recordshare.KindRecord, Chain: "medchain-dev",
		Server: "aa09bd56dd9ac661c822ed903d29c7b175f438bb"}, time.Unix(now, 0)); err == nil {
		t.Error("a record request with its nonce changed still verifies: the check cannot fail")
	}
}
