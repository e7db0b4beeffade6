package ledger

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	cmted "github.com/cometbft/cometbft/crypto/ed25519"
)

// MaxTxBytes bounds a transaction's encoded size.
const MaxTxBytes = 64 << 10

// TxType names a transaction type. The name is bound into the signature.
type TxType string

// Msg is a transaction body. Each feature file declares its messages (field
// names are the JSON wire names), and registry.go binds each to its handler.
type Msg interface {
	Type() TxType
}

// Payload is the signed part of a transaction.
type Payload struct {
	ChainID string          `json:"chain_id"`
	Type    TxType          `json:"type"`
	Signer  []byte          `json:"signer"` // ed25519 public key
	Nonce   uint64          `json:"nonce"`
	Msg     json.RawMessage `json:"msg"`
}

// envelope is the wire form: the payload exactly as signed, and the signature.
type envelope struct {
	Payload   json.RawMessage `json:"payload"`
	Signature []byte          `json:"signature"`
}

// Tx is a decoded, not yet verified transaction.
type Tx struct {
	Payload   Payload
	Msg       Msg
	Signature []byte
	raw       []byte // payload bytes exactly as on the wire
	Hash      [32]byte
	addr      string // Address(Payload.Signer), derived once (Signer)
}

// newTx assembles a decoded transaction from its parts and its bytes. The
// signer's address is derived here, once: a node asks for it at every
// mempool check, in the proposal and several times in the block.
func newTx(p Payload, msg Msg, sig, payload, data []byte) *Tx {
	return &Tx{Payload: p, Msg: msg, Signature: sig, raw: payload, Hash: sha256.Sum256(data), addr: Address(p.Signer)}
}

// Address is the account address of a signing key: hex of the first 20
// bytes of its SHA-256.
func Address(pub []byte) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:20])
}

// Signer returns the signer's address.
func (t *Tx) Signer() string {
	if t.addr != "" {
		return t.addr
	}
	return Address(t.Payload.Signer)
}

// signDomain separates medchain transaction signatures from any other use
// of the same key.
const signDomain = "medchain/tx/v1"

// SignBytes is what a transaction's signature covers: a domain tag, the
// chain id and the type (so a signature cannot be replayed on another chain
// or reinterpreted as another type), then the payload bytes exactly as sent.
func SignBytes(chainID string, t TxType, payload []byte) []byte {
	b := make([]byte, 0, len(signDomain)+len(chainID)+len(t)+len(payload)+3)
	b = append(b, signDomain...)
	b = append(b, 0)
	b = append(b, chainID...)
	b = append(b, 0)
	b = append(b, t...)
	b = append(b, 0)
	return append(b, payload...)
}

// strictUnmarshal decodes JSON rejecting unknown fields and trailing data.
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

func isJSONObject(raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{'
}

// DecodeTx parses a wire transaction strictly and accepts only its
// canonical encoding (canonical.go): exact-case keys, no duplicate or
// unknown ones at any depth, no trailing bytes, and bytes equal to the
// re-encoding of what they decode to. It does not check the signature or
// the chain; Verify does. Every number is range-checked (limits.go).
func DecodeTx(data []byte) (*Tx, error) {
	tx, err := decodeCanonical(data)
	if err != nil {
		return nil, err
	}
	if tx.Payload.Nonce > MaxSafeInteger {
		return nil, errf(CodeInvalidField, "payload.nonce: %d is out of range (0 to %d)", tx.Payload.Nonce, uint64(MaxSafeInteger))
	}
	if err := checkLimits(tx.Payload.Type, tx.Msg); err != nil {
		return nil, err
	}
	return tx, nil
}

// decodeCanonical is DecodeTx without the numeric limits: the encoding
// rules alone.
func decodeCanonical(data []byte) (*Tx, error) {
	if len(data) > MaxTxBytes {
		return nil, errf(CodeOversize, "transaction is %d bytes, limit %d", len(data), MaxTxBytes)
	}
	if t := decodeDirect(data); t != nil {
		return t, nil
	}
	if t := decodeFast(data); t != nil {
		return t, nil
	}
	return decodeStrict(data)
}

// decodeStrict decodes each level with unknown fields and trailing data
// refused, so that a transaction that is not canonical gets the error that
// names its first fault.
func decodeStrict(data []byte) (*Tx, error) {
	var env envelope
	if err := strictUnmarshal(data, &env); err != nil {
		return nil, errf(CodeMalformed, "envelope: %v", err)
	}
	if err := checkKeys(data, "envelope"); err != nil {
		return nil, err
	}
	if !isJSONObject(env.Payload) {
		return nil, errf(CodeMalformed, "payload: must be a JSON object")
	}
	var p Payload
	if err := strictUnmarshal(env.Payload, &p); err != nil {
		return nil, errf(CodeMalformed, "payload: %v", err)
	}
	msg := newMsg(p.Type)
	if msg == nil {
		return nil, errf(CodeUnknownType, "payload.type: unknown transaction type %q", p.Type)
	}
	if !isJSONObject(p.Msg) {
		return nil, errf(CodeMalformed, "payload.msg: must be a JSON object")
	}
	if err := strictUnmarshal(p.Msg, msg); err != nil {
		return nil, errf(CodeMalformed, "payload.msg (%s): %v", p.Type, err)
	}
	if len(p.Signer) != ed25519.PublicKeySize {
		return nil, errf(CodeMalformed, "payload.signer: want a %d-byte ed25519 key, got %d bytes", ed25519.PublicKeySize, len(p.Signer))
	}
	if len(env.Signature) != ed25519.SignatureSize {
		return nil, errf(CodeMalformed, "signature: want %d bytes, got %d", ed25519.SignatureSize, len(env.Signature))
	}
	if err := canonicalize(data, &env, &p, msg); err != nil {
		return nil, err
	}
	return newTx(p, msg, env.Signature, env.Payload, data), nil
}

// decodeFast is DecodeTx's path for what it accepts, a transaction in
// canonical form, and returns nil for anything else. It decodes each level
// with json.Unmarshal, which is cheaper than the strict decoder because it
// does not look for unknown fields or trailing data, and then applies the
// same key and re-encoding checks. Bytes equal to the re-encoding of what
// they decode to contain no unknown field, no trailing data and nothing
// else the strict decoder refuses, so this accepts exactly what the strict
// path accepts, with the same result; on nil, DecodeTx decodes again,
// strictly, to name the fault as it always has.
func decodeFast(data []byte) *Tx {
	var env envelope
	if json.Unmarshal(data, &env) != nil || checkKeys(data, "envelope") != nil || !isJSONObject(env.Payload) {
		return nil
	}
	var p Payload
	if json.Unmarshal(env.Payload, &p) != nil || !isJSONObject(p.Msg) {
		return nil
	}
	msg := newMsg(p.Type)
	if msg == nil || json.Unmarshal(p.Msg, msg) != nil {
		return nil
	}
	if len(p.Signer) != ed25519.PublicKeySize || len(env.Signature) != ed25519.SignatureSize || canonicalize(data, &env, &p, msg) != nil {
		return nil
	}
	return newTx(p, msg, env.Signature, env.Payload, data)
}

// decodeDirect is the fast path for the transactions nodes see nearly
// always: canonical, with chain id and type in plain printable ASCII. It
// reads the envelope and payload by position, without a JSON decoder —
// the canonical layout fixes their keys, order and the lengths of the
// signature and signer — decodes the message with json.Unmarshal, and then
// applies exactly decodeFast's checks (the keys, the signer and signature
// lengths, the re-encoding of every level compared with the bytes). So it
// accepts only bytes decodeFast accepts, with the same result (the
// re-encoding of what it read is the input, and that decodes to what it
// read); for anything else it returns nil and the JSON paths decide.
func decodeDirect(data []byte) *Tx {
	const (
		envHead = `{"payload":`
		sigHead = `,"signature":"`
		sigLen  = 88 // padded base64 of a 64-byte signature
		keyLen  = 44 // padded base64 of a 32-byte key
	)
	n := len(data)
	if n < len(envHead)+len(sigHead)+sigLen+2 || string(data[:len(envHead)]) != envHead || string(data[n-2:]) != `"}` {
		return nil
	}
	sigAt := n - 2 - sigLen
	if string(data[sigAt-len(sigHead):sigAt]) != sigHead {
		return nil
	}
	// One copy: the decoded transaction is cached and outlives data.
	data = bytes.Clone(data)
	payload := data[len(envHead) : sigAt-len(sigHead)]
	sig := decodeBase64(data[sigAt:n-2], ed25519.SignatureSize)
	if sig == nil {
		return nil
	}
	var p Payload
	var ok bool
	rest := payload
	var chain, typ, signer []byte
	if rest, ok = bytes.CutPrefix(rest, []byte(`{"chain_id":"`)); !ok {
		return nil
	}
	if chain, rest, ok = plainString(rest); !ok {
		return nil
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"type":"`)); !ok {
		return nil
	}
	if typ, rest, ok = plainString(rest); !ok {
		return nil
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"signer":"`)); !ok || len(rest) < keyLen+1 || rest[keyLen] != '"' {
		return nil
	}
	signer, rest = rest[:keyLen], rest[keyLen+1:]
	if p.Signer = decodeBase64(signer, ed25519.PublicKeySize); p.Signer == nil {
		return nil
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"nonce":`)); !ok {
		return nil
	}
	digits := 0
	for digits < len(rest) && rest[digits] >= '0' && rest[digits] <= '9' {
		digits++
	}
	nonce, err := strconv.ParseUint(string(rest[:digits]), 10, 64)
	if err != nil {
		return nil
	}
	if rest, ok = bytes.CutPrefix(rest[digits:], []byte(`,"msg":`)); !ok || len(rest) < 2 || rest[len(rest)-1] != '}' {
		return nil
	}
	p.ChainID, p.Type, p.Nonce, p.Msg = string(chain), TxType(typ), nonce, rest[:len(rest)-1]
	if !isJSONObject(p.Msg) {
		return nil
	}
	msg := newMsg(p.Type)
	if msg == nil || json.Unmarshal(p.Msg, msg) != nil {
		return nil
	}
	env := envelope{Payload: payload, Signature: sig}
	if checkKeys(data, "envelope") != nil || canonicalize(data, &env, &p, msg) != nil {
		return nil
	}
	return newTx(p, msg, sig, payload, data)
}

// decodeBase64 decodes standard base64 that must hold exactly size bytes,
// or returns nil. The buffer is sized for whatever the text could hold
// (unpadded text decodes to more than size), as Decode requires.
func decodeBase64(text []byte, size int) []byte {
	b := make([]byte, base64.StdEncoding.DecodedLen(len(text)))
	n, err := base64.StdEncoding.Decode(b, text)
	if err != nil || n != size {
		return nil
	}
	return b[:n:n]
}

// plainString reads a JSON string body up to its closing quote when it is
// printable ASCII that JSON writes without escapes, and returns it and what
// follows the quote; ok is false for anything else (the JSON paths handle
// those).
func plainString(b []byte) (s, rest []byte, ok bool) {
	for i, c := range b {
		switch {
		case c == '"':
			return b[:i], b[i+1:], true
		case c < 0x20 || c > 0x7e || c == '\\' || c == '<' || c == '>' || c == '&':
			return nil, nil, false
		}
	}
	return nil, nil, false
}

// Verify checks the chain id and the signature.
func (t *Tx) Verify(chainID string) error {
	if t.Payload.ChainID != chainID {
		return errf(CodeWrongChain, "payload.chain_id: signed for chain %q, this is %q", t.Payload.ChainID, chainID)
	}
	// CometBFT's ed25519 verifies under ZIP-215 rules (as its own votes
	// do) and caches expanded public keys, which halves the cost for the
	// repeat signers a ledger sees. Every node runs the same rules, so the
	// outcome is deterministic.
	if !cmted.PubKey(t.Payload.Signer).VerifySignature(SignBytes(chainID, t.Payload.Type, t.raw), t.Signature) {
		return errf(CodeBadSignature, "signature: does not verify for signer %s", t.Signer())
	}
	return nil
}

// DecodeAndVerify is DecodeTx followed by Verify: what CheckTx does.
func DecodeAndVerify(data []byte, chainID string) (*Tx, error) {
	t, err := DecodeTx(data)
	if err != nil {
		return nil, err
	}
	if err := t.Verify(chainID); err != nil {
		return nil, err
	}
	return t, nil
}

// SignTx builds and signs a wire transaction, in its canonical encoding:
// each level is json.Marshal of its value, which is the only form DecodeTx
// accepts.
func SignTx(key ed25519.PrivateKey, chainID string, nonce uint64, msg Msg) ([]byte, error) {
	body, err := canonicalMsg(msg)
	if err != nil {
		return nil, fmt.Errorf("encode msg: %w", err)
	}
	p := Payload{ChainID: chainID, Type: msg.Type(), Signer: key.Public().(ed25519.PublicKey), Nonce: nonce, Msg: body}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	sig := ed25519.Sign(key, SignBytes(chainID, msg.Type(), payload))
	return json.Marshal(envelope{Payload: payload, Signature: sig})
}

// TxHash is the hash CometBFT and medchain use to name a transaction.
func TxHash(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}
