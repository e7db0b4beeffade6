package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	cmtversion "github.com/cometbft/cometbft/api/cometbft/version/v1"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/cometbft/cometbft/version"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/api/apitest"
	"github.com/medchain/medchain/client"
)

// lightVector is one signed header as the node serves it, with what
// CometBFT's Go code computes of it: the header hash, the validator set
// hash, each signature's sign bytes (empty for an absent one) and the
// verdict of client.VerifyHeader (CometBFT's VerifyCommitLightAllSignatures
// and SignedHeader.ValidateBasic).
type lightVector struct {
	Name           string            `json:"name"`
	ChainID        string            `json:"chain_id"`
	Trusted        string            `json:"trusted_validators_hash"`
	Served         *api.SignedHeader `json:"served"`
	HeaderHash     string            `json:"header_hash"`
	ValidatorsHash string            `json:"validators_hash"`
	SignBytes      []string          `json:"sign_bytes"`
	GoErr          string            `json:"go_error"`
}

// goView computes, with CometBFT's types, what the browser must agree with.
func goView(t *testing.T, name, chainID string, trusted *cmttypes.ValidatorSet, sh *api.SignedHeader) lightVector {
	t.Helper()
	v := lightVector{Name: name, ChainID: chainID, Trusted: hex.EncodeToString(trusted.Hash()), Served: sh}
	var h cmttypes.SignedHeader
	if err := cmtjson.Unmarshal(sh.SignedHeader, &h); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var vals cmttypes.ValidatorSet
	if err := cmtjson.Unmarshal(sh.Validators, &vals); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	v.HeaderHash = strings.ToLower(h.Header.Hash().String())
	v.ValidatorsHash = hex.EncodeToString(vals.Hash())
	for i, s := range h.Commit.Signatures {
		if s.BlockIDFlag == cmttypes.BlockIDFlagAbsent {
			v.SignBytes = append(v.SignBytes, "")
			continue
		}
		v.SignBytes = append(v.SignBytes, hex.EncodeToString(h.Commit.VoteSignBytes(chainID, int32(i))))
	}
	// The browser requires the served set to be the one the header names
	// and the trusted one; Go checks each in turn.
	if _, err := client.VerifyHeader(sh, chainID, nil); err != nil {
		v.GoErr = err.Error()
	} else if _, err := client.VerifyHeader(sh, chainID, trusted); err != nil {
		v.GoErr = err.Error()
	}
	return v
}

// tamper edits the served JSON of a signed header.
func tamper(t *testing.T, sh *api.SignedHeader, edit func(hdr, commit, vals map[string]any)) *api.SignedHeader {
	t.Helper()
	var s, vs map[string]any
	if err := json.Unmarshal(sh.SignedHeader, &s); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(sh.Validators, &vs); err != nil {
		t.Fatal(err)
	}
	edit(s["header"].(map[string]any), s["commit"].(map[string]any), vs)
	a, _ := json.Marshal(s)
	b, _ := json.Marshal(vs)
	return &api.SignedHeader{Height: sh.Height, SignedHeader: a, Validators: b}
}

func flipHex(s string) string { return fmt.Sprintf("%x", s[0]^1)[1:] + s[1:] }

// syntheticCommit builds, with CometBFT's types and mock validators, a
// signed header of four validators of unequal power at a height and round
// a single-validator dev node never shows: one validator absent and, when
// nilVote, one voting nil (its vote's sign bytes carry no block id).
func syntheticCommit(t *testing.T, chainID string, nilVote bool) *api.SignedHeader {
	t.Helper()
	pvs := make([]cmttypes.MockPV, 4)
	var vals []*cmttypes.Validator
	for i := range pvs {
		pvs[i] = cmttypes.NewMockPV()
		vals = append(vals, pvs[i].ExtractIntoValidator(int64(10*(i+1))))
	}
	set := cmttypes.NewValidatorSet(vals)
	hash := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	hdr := &cmttypes.Header{
		Version: cmtversion.Consensus{Block: version.BlockProtocol, App: 3}, ChainID: chainID, Height: 300_007,
		Time:           time.Date(2026, 12, 7, 4, 25, 9, 123456789, time.UTC),
		LastBlockID:    cmttypes.BlockID{Hash: hash("last"), PartSetHeader: cmttypes.PartSetHeader{Total: 3, Hash: hash("parts")}},
		LastCommitHash: hash("lc"), DataHash: hash("data"), ValidatorsHash: set.Hash(), NextValidatorsHash: set.Hash(),
		ConsensusHash: hash("cons"), AppHash: hash("app"), LastResultsHash: hash("res"), EvidenceHash: hash("ev"),
		ProposerAddress: set.GetProposer().Address,
	}
	bid := cmttypes.BlockID{Hash: hdr.Hash(), PartSetHeader: cmttypes.PartSetHeader{Total: 2, Hash: hash("block parts")}}
	commit := &cmttypes.Commit{Height: hdr.Height, Round: 2, BlockID: bid}
	for i, v := range set.Validators {
		var pv cmttypes.MockPV
		for _, p := range pvs {
			if pk, _ := p.GetPubKey(); bytes.Equal(pk.Bytes(), v.PubKey.Bytes()) {
				pv = p
			}
		}
		switch {
		case v.VotingPower == 10: // the weakest is absent
			commit.Signatures = append(commit.Signatures, cmttypes.NewCommitSigAbsent())
			continue
		case nilVote && v.VotingPower == 30:
			vote := &cmttypes.Vote{Type: cmttypes.PrecommitType, Height: hdr.Height, Round: 2, Timestamp: hdr.Time.Add(time.Duration(i) * 1001 * time.Microsecond),
				ValidatorAddress: v.Address, ValidatorIndex: int32(i)}
			p := vote.ToProto()
			if err := pv.SignVote(chainID, p, false); err != nil {
				t.Fatal(err)
			}
			commit.Signatures = append(commit.Signatures, cmttypes.CommitSig{BlockIDFlag: cmttypes.BlockIDFlagNil, ValidatorAddress: v.Address, Timestamp: vote.Timestamp, Signature: p.Signature})
			continue
		}
		vote := &cmttypes.Vote{Type: cmttypes.PrecommitType, Height: hdr.Height, Round: 2, BlockID: bid,
			Timestamp: hdr.Time.Add(time.Duration(i) * 1001 * time.Microsecond), ValidatorAddress: v.Address, ValidatorIndex: int32(i)}
		p := vote.ToProto()
		if err := pv.SignVote(chainID, p, false); err != nil {
			t.Fatal(err)
		}
		commit.Signatures = append(commit.Signatures, cmttypes.CommitSig{BlockIDFlag: cmttypes.BlockIDFlagCommit, ValidatorAddress: v.Address, Timestamp: vote.Timestamp, Signature: p.Signature})
	}
	sh, err := cmtjson.Marshal(cmttypes.SignedHeader{Header: hdr, Commit: commit})
	if err != nil {
		t.Fatal(err)
	}
	vs, err := cmtjson.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return &api.SignedHeader{Height: hdr.Height, SignedHeader: sh, Validators: vs}
}

// TestBrowserVerifiesValidatorSignatures holds the web app's light-client
// code (web/app/src/lightclient.ts) to CometBFT's: on headers a real node
// signed and on a four-validator commit made with CometBFT's types (one
// validator absent; then one voting nil, leaving too little power), the
// browser computes the same header hash, validator set hash and vote sign
// bytes as CometBFT, accepts exactly what client.VerifyHeader accepts, and
// refuses a flipped signature, a changed app hash, a changed voting power,
// another chain id and a set other than the trusted one.
func TestBrowserVerifiesValidatorSignatures(t *testing.T) {
	browser := chromium(t)
	n, err := apitest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := n.WaitHeight(ctx, 4); err != nil {
		t.Fatal(err)
	}
	c := client.New(n.URL)
	var vectors []lightVector
	add := func(name, chainID string, trusted *cmttypes.ValidatorSet, sh *api.SignedHeader) {
		vectors = append(vectors, goView(t, name, chainID, trusted, sh))
	}
	setOf := func(sh *api.SignedHeader) *cmttypes.ValidatorSet {
		var vals cmttypes.ValidatorSet
		if err := cmtjson.Unmarshal(sh.Validators, &vals); err != nil {
			t.Fatal(err)
		}
		return &vals
	}
	var real *api.SignedHeader
	for h := int64(1); h <= 3; h++ {
		sh, err := c.Header(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		add(fmt.Sprintf("node header %d", h), apitest.ChainID, setOf(sh), sh)
		real = sh
	}
	trusted := setOf(real)
	add("node: flipped signature", apitest.ChainID, trusted, tamper(t, real, func(_, commit, _ map[string]any) {
		s := commit["signatures"].([]any)[0].(map[string]any)
		b, _ := base64.StdEncoding.DecodeString(s["signature"].(string))
		b[5] ^= 1
		s["signature"] = base64.StdEncoding.EncodeToString(b)
	}))
	add("node: changed app hash", apitest.ChainID, trusted, tamper(t, real, func(hdr, _, _ map[string]any) {
		hdr["app_hash"] = flipHex(hdr["app_hash"].(string))
	}))
	add("node: changed voting power", apitest.ChainID, trusted, tamper(t, real, func(_, _, vals map[string]any) {
		v := vals["validators"].([]any)[0].(map[string]any)
		v["voting_power"] = "11"
	}))
	add("node: another chain id", "medchain-other", trusted, real)

	three := syntheticCommit(t, "synthetic-chain", false)
	add("synthetic: 3 of 4 sign (power 90/100)", "synthetic-chain", setOf(three), three)
	add("synthetic: flipped signature", "synthetic-chain", setOf(three), tamper(t, three, func(_, commit, _ map[string]any) {
		s := commit["signatures"].([]any)[0].(map[string]any)
		b, _ := base64.StdEncoding.DecodeString(s["signature"].(string))
		b[40] ^= 0x80
		s["signature"] = base64.StdEncoding.EncodeToString(b)
	}))
	other := syntheticCommit(t, "synthetic-chain", false)
	add("synthetic: not the trusted set", "synthetic-chain", setOf(three), other)
	short := syntheticCommit(t, "synthetic-chain", true)
	add("synthetic: 2 sign, 1 nil, 1 absent (power 60/100)", "synthetic-chain", setOf(short), short)

	raw, err := json.Marshal(vectors)
	if err != nil {
		t.Fatal(err)
	}
	text := vectorHarness(t, browser, "lightclient.json", raw, "testdata/lightclient.html")
	var got []struct {
		Name           string
		HeaderHash     string   `json:"header_hash"`
		ValidatorsHash string   `json:"validators_hash"`
		SignBytes      []string `json:"sign_bytes"`
		Verdict        string
	}
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		t.Fatalf("%v: %s", err, text)
	}
	if len(got) != len(vectors) {
		t.Fatalf("the browser answered %d vectors of %d", len(got), len(vectors))
	}
	accepted, refused := 0, 0
	for i, w := range vectors {
		g := got[i]
		if g.HeaderHash != w.HeaderHash {
			t.Errorf("%s: header hash %s in the browser, %s in CometBFT", w.Name, g.HeaderHash, w.HeaderHash)
		}
		if g.ValidatorsHash != w.ValidatorsHash {
			t.Errorf("%s: validator set hash %s in the browser, %s in CometBFT", w.Name, g.ValidatorsHash, w.ValidatorsHash)
		}
		if fmt.Sprint(g.SignBytes) != fmt.Sprint(w.SignBytes) {
			t.Errorf("%s: sign bytes\n browser  %v\n cometbft %v", w.Name, g.SignBytes, w.SignBytes)
		}
		ok := strings.HasPrefix(g.Verdict, "ok ")
		switch {
		case ok && w.GoErr != "":
			t.Errorf("%s: the browser accepts (%s), Go refuses: %s", w.Name, g.Verdict, w.GoErr)
		case !ok && w.GoErr == "":
			t.Errorf("%s: the browser refuses (%s), Go accepts", w.Name, g.Verdict)
		case ok:
			accepted++
		default:
			refused++
		}
		t.Logf("%s: browser %s | go %q", w.Name, g.Verdict, w.GoErr)
	}
	// The genuine headers (three of the node's, one synthetic) pass; each
	// forgery and the under-signed commit fail.
	if accepted != 4 || refused != 7 {
		t.Errorf("accepted %d and refused %d, want 4 and 7", accepted, refused)
	}
}
