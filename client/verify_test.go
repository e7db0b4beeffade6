package client_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/smt"
	"github.com/medchain/medchain/store"
)

func TestVerify(t *testing.T) {
	ctx := context.Background()
	lake, rita := key(t, "lakeview-admin"), key(t, "rita-researcher")
	c := client.New(tn.URL)
	res, err := c.SignAndSubmit(ctx, lake, &ledger.Transfer{To: rita.Address(), Amount: 7}, true)
	if err != nil || client.ResultError(res) != nil {
		t.Fatal(res, err)
	}

	for _, pinned := range []bool{false, true} {
		c := client.New(tn.URL)
		if pinned {
			trusted(t, c)
		}
		sc, err := c.VerifyStateProof(ctx, string(ledger.KeyAccount(rita.Address())))
		if err != nil {
			t.Fatal(err)
		}
		var a ledger.Account
		if err := ledger.DecodeState(sc.Value, &a); err != nil || a.Address != rita.Address() {
			t.Fatalf("proven value: %s", sc.Value)
		}
		h := sc.Header
		if h.Height != sc.Commitment.Height+1 || h.Signers != 1 || h.Validators != 1 || h.SignedPower != 10 || h.TotalPower != 10 || h.Pinned != pinned {
			t.Fatalf("header check: %+v", h)
		}
		if want := "app hash matches header"; !strings.Contains(sc.String(), want) {
			t.Fatalf("%q lacks %q", sc, want)
		}
		absent, err := c.VerifyStateProof(ctx, "s/acct/"+strings.Repeat("0", 40))
		if err != nil || absent.Value != nil || !strings.Contains(absent.String(), "absent") {
			t.Fatalf("absence: %v %v", absent, err)
		}

		ic, err := c.VerifyTxAudit(ctx, res.Hash)
		if err != nil {
			t.Fatal(err)
		}
		if ic.Index != res.Result.AuditIndex || ic.Height != res.Result.Height || ic.Entry.TxHash != res.Hash || ic.Entry.Type != ledger.TxTransfer {
			t.Fatalf("inclusion: %+v", ic)
		}
		want := fmt.Sprintf("entry %d included in log of size %d at height %d; app hash matches header %d signed by 1/1 validators (power 10/10)",
			ic.Index, ic.Size, ic.Height, ic.Height+1)
		if ic.String() != want {
			t.Fatalf("got  %q\nwant %q", ic, want)
		}
		if latest, err := c.VerifyAuditInclusion(ctx, ic.Index, 0); err != nil || latest.Size < ic.Size {
			t.Fatalf("latest inclusion: %+v %v", latest, err)
		}

		cc, err := c.VerifyAuditConsistency(ctx, 1, ic.Height)
		if err != nil {
			t.Fatal(err)
		}
		if cc.From.Height != 1 || cc.To.Height != ic.Height || cc.To.AuditSize != ic.Size || cc.FromHeader.Height != 2 {
			t.Fatalf("consistency: %+v", cc)
		}
		if _, err := c.VerifyAuditConsistency(ctx, res.Result.Height-1, res.Result.Height); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.New(tn.URL).VerifyTxAudit(ctx, strings.Repeat("0", 64)); !client.IsNotFound(err) {
		t.Fatalf("unknown tx: %v", err)
	}
}

// tamper is a man in the middle: it forwards to the node and lets a test
// rewrite the JSON answers of one path.
func tamper(t *testing.T, path string, rewrite func(t *testing.T, v map[string]any)) *client.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(tn.URL + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if strings.HasPrefix(r.URL.Path, path) && resp.StatusCode == http.StatusOK {
			var v map[string]any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Error(err)
			}
			rewrite(t, v)
			body, _ = json.Marshal(v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return client.New(srv.URL)
}

func flipHex(s any) string {
	b := []byte(s.(string))
	if b[0] == '0' {
		b[0] = '1'
	} else {
		b[0] = '0'
	}
	return string(b)
}

// flipBase64 flips one bit of the bytes a base64 string encodes and
// re-encodes them: still well-formed, but other bytes. (Flipping a bit of
// the text itself may make a character that is not base64 at all.)
func flipBase64(t *testing.T, s any) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s.(string))
	if err != nil || len(b) == 0 {
		t.Fatalf("not base64 of something: %q, %v", s, err)
	}
	b[0] ^= 1
	return base64.StdEncoding.EncodeToString(b)
}

// forgeState replaces a state proof with a self-consistent lie: the key
// holds other bytes, proven under a made-up state root whose commitment
// hashes correctly. Only the signed header can give it away.
func forgeState(t *testing.T, v map[string]any) {
	key := []byte(v["key"].(string))
	value := []byte(`{"balance":1000000000}`)
	mem := store.NewMem()
	tree := smt.New(mem, []byte("n/"))
	root, err := tree.Update(smt.Empty, []store.Change{{Key: key, Value: value}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := tree.Prove(root, key)
	if err != nil {
		t.Fatal(err)
	}
	var com ledger.Commitment
	cb, _ := json.Marshal(v["commitment"])
	json.Unmarshal(cb, &com)
	com.StateRoot = root
	com.AppHash = ledger.AppHash(root, com.AuditSize, com.AuditRoot)
	v["value"], v["proof"], v["commitment"] = value, p, com
}

// forgeHeader makes the header at its height carry another app hash, signed
// by a validator set the forger controls.
func forgeHeader(t *testing.T, v map[string]any) {
	raw, _ := json.Marshal(v["signed_header"])
	var sh cmttypes.SignedHeader
	if err := cmtjson.Unmarshal(raw, &sh); err != nil {
		t.Fatal(err)
	}
	pv := cmttypes.NewMockPV()
	pub, _ := pv.GetPubKey()
	vals := cmttypes.NewValidatorSet([]*cmttypes.Validator{cmttypes.NewValidator(pub, 10)})
	hdr := *sh.Header
	hdr.AppHash = bytes.Repeat([]byte{7}, 32)
	hdr.ValidatorsHash, hdr.NextValidatorsHash = vals.Hash(), vals.Hash()
	hdr.ProposerAddress = pub.Address()
	bid := cmttypes.BlockID{Hash: hdr.Hash(), PartSetHeader: sh.Commit.BlockID.PartSetHeader}
	vote, err := cmttypes.MakeVote(pv, hdr.ChainID, 0, hdr.Height, 0, cmttypes.PrecommitType, bid, hdr.Time)
	if err != nil {
		t.Fatal(err)
	}
	forged := cmttypes.SignedHeader{Header: &hdr, Commit: &cmttypes.Commit{Height: hdr.Height, BlockID: bid, Signatures: []cmttypes.CommitSig{vote.CommitSig()}}}
	shj, _ := cmtjson.Marshal(forged)
	vj, _ := cmtjson.Marshal(vals)
	v["signed_header"], v["validators"] = json.RawMessage(shj), json.RawMessage(vj)
}

func TestVerifyTampered(t *testing.T) {
	ctx := context.Background()
	lake, rita := key(t, "lakeview-admin"), key(t, "rita-researcher")
	// Two blocks with a transaction each, so the log before the second is
	// not empty and its consistency proof has hashes to tamper with.
	var res *api.TxSubmitted
	for range 2 {
		var err error
		res, err = client.New(tn.URL).SignAndSubmit(ctx, lake, &ledger.Transfer{To: rita.Address(), Amount: 1}, true)
		if err != nil || client.ResultError(res) != nil {
			t.Fatal(res, err)
		}
	}
	acct := string(ledger.KeyAccount(rita.Address()))
	stateProof := func(c *client.Client) error { _, err := c.VerifyStateProof(ctx, acct); return err }
	txAudit := func(c *client.Client) error { _, err := c.VerifyTxAudit(ctx, res.Hash); return err }
	consistency := func(c *client.Client) error {
		_, err := c.VerifyAuditConsistency(ctx, res.Result.Height-1, res.Result.Height)
		return err
	}
	header := func(mod func(h map[string]any)) func(t *testing.T, v map[string]any) {
		return func(t *testing.T, v map[string]any) {
			mod(v["signed_header"].(map[string]any)["header"].(map[string]any))
		}
	}
	cases := []struct {
		name    string
		path    string
		rewrite func(t *testing.T, v map[string]any)
		check   func(*client.Client) error
		pin     bool
		want    string
	}{
		{"state value", "/v1/state/proof", func(t *testing.T, v map[string]any) {
			v["value"] = []byte(`{"address":"` + rita.Address() + `","balance":999999999}`)
		}, stateProof, false, "value hash"},
		{"state absent", "/v1/state/proof", func(t *testing.T, v map[string]any) { v["value"] = nil }, stateProof, false, "absence"},
		{"state sibling", "/v1/state/proof", func(t *testing.T, v map[string]any) {
			sib := v["proof"].(map[string]any)["siblings"].([]any)
			sib[0] = flipHex(sib[0])
		}, stateProof, false, "invalid proof"},
		{"commitment app hash", "/v1/state/proof", func(t *testing.T, v map[string]any) {
			com := v["commitment"].(map[string]any)
			com["app_hash"] = flipHex(com["app_hash"])
		}, stateProof, false, "not app hash"},
		{"consistent lie", "/v1/state/proof", forgeState, stateProof, false, "but signed header"},
		{"header app hash", "/v1/headers/", header(func(h map[string]any) { h["app_hash"] = flipHex(h["app_hash"]) }), stateProof, false, "commit signs block"},
		{"header chain", "/v1/headers/", header(func(h map[string]any) { h["chain_id"] = "other" }), stateProof, false, "header belongs to another chain"},
		{"validators swapped", "/v1/headers/", func(t *testing.T, v map[string]any) {
			pub, _ := cmttypes.NewMockPV().GetPubKey()
			vj, _ := cmtjson.Marshal(cmttypes.NewValidatorSet([]*cmttypes.Validator{cmttypes.NewValidator(pub, 10)}))
			v["validators"] = json.RawMessage(vj)
		}, stateProof, false, "names validator set"},
		{"signature", "/v1/headers/", func(t *testing.T, v map[string]any) {
			sig := v["signed_header"].(map[string]any)["commit"].(map[string]any)["signatures"].([]any)[0].(map[string]any)
			sig["signature"] = flipBase64(t, sig["signature"])
		}, stateProof, false, "wrong signature (#0)"},
		{"forged chain, pinned", "/v1/headers/", forgeHeader, stateProof, true, "names validator set"},
		{"audit entry", "/v1/audit/inclusion", func(t *testing.T, v map[string]any) {
			v["raw"] = []byte(`{"tx_hash":"` + res.Hash + `"}`)
		}, txAudit, false, "invalid proof"},
		{"audit path", "/v1/audit/inclusion", func(t *testing.T, v map[string]any) {
			p := v["proof"].([]any)
			p[len(p)-1] = flipHex(p[len(p)-1])
		}, txAudit, false, "invalid proof"},
		{"audit root", "/v1/audit/inclusion", func(t *testing.T, v map[string]any) {
			com := v["commitment"].(map[string]any)
			com["audit_root"] = flipHex(com["audit_root"])
		}, txAudit, false, "invalid proof"},
		{"audit other entry", "/v1/audit/inclusion", func(t *testing.T, v map[string]any) { v["index"] = 0 }, txAudit, false, "asked for entry"},
		{"consistency proof", "/v1/audit/consistency", func(t *testing.T, v map[string]any) {
			p := v["proof"].([]any)
			p[0] = flipHex(p[0])
		}, consistency, false, "invalid proof"},
		{"consistency root", "/v1/audit/consistency", func(t *testing.T, v map[string]any) {
			to := v["to"].(map[string]any)
			to["audit_root"] = flipHex(to["audit_root"])
		}, consistency, false, "invalid proof"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := tamper(t, tc.path, tc.rewrite)
			if tc.pin {
				trusted(t, c)
			}
			err := tc.check(c)
			var e *client.Error
			if !errors.Is(err, client.ErrVerification) || !errors.As(err, &e) || e.Name != "verification_failed" {
				t.Fatalf("got %v, want a verification failure", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}

	// A node that invents a whole chain with its own validator keys passes
	// the unpinned check (the header names the forger's set, and it signed);
	// only pinning the validator set catches it, as the pinned case shows.
	c := tamper(t, "/v1/headers/", forgeHeader)
	sh, err := c.Header(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.VerifyHeader(sh, tn.ChainID(), nil); err != nil {
		t.Fatalf("forged but self-consistent header: %v", err)
	}
	if _, err := client.VerifyHeader(sh, tn.ChainID(), trusted(t, client.New(tn.URL)).Trusted); !errors.Is(err, client.ErrVerification) {
		t.Fatalf("pinned: %v", err)
	}
	if _, err := client.VerifyHeader(sh, "other-chain", nil); !errors.Is(err, client.ErrVerification) {
		t.Fatalf("other chain: %v", err)
	}
}
