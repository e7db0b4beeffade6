// Package recordserver is an institution node's side of "your record, and
// a second opinion" (package recordshare): it answers a patient's signed
// request for their own record with every original the institution keeps
// of them, encrypted to the patient's account key; it holds the shares
// patients make of those copies, checks a link's passcode with a limit on
// wrong attempts, and releases a share once — after the ledger has
// recorded the opening (close_share), so a revocation the patient
// committed first always wins.
//
// What it keeps on disk, in its directory: the nonces of the requests it
// served (until they expire, so a request is good once), and each share
// uploaded to it (ciphertext it cannot read — encrypted to the recipient
// or to the link's one-time key — and the passcode's argon2id verifier),
// with the count of wrong passcodes. A share's file is removed once it
// is opened or locked, or when a request finds it revoked or expired. Nothing it writes or logs and
// no error it returns carries a patient id, a pseudonym or a record.
package recordserver

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/recordshare"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/blob"
	"github.com/medchain/medchain/vocab"
)

// Ledger is what the server needs of the ledger.
type Ledger interface {
	// Account reads a registered account (nil if none).
	Account(addr string) (*ledger.Account, error)
	// Share reads a share (nil if none).
	Share(hash string) (*ledger.Share, error)
	// CloseShare submits close_share signed by the serving account and
	// waits for its commit; a refusal is a *ledger.Error with its code.
	CloseShare(ctx context.Context, hash, outcome string) error
}

// Vault is what the server reads of the institution's vault.
type Vault interface {
	// Links is the organisation's pseudonym → wallet table.
	Links() (*vault.Links, error)
	// Originals are the originals filed under the pseudonyms.
	Originals(pseudonyms []string) ([]vault.Original, error)
}

// Config sets up a Server.
type Config struct {
	Chain  string // the chain's id
	Server string // the institution account the node serves records as
	Org    string // its organisation
	Ledger Ledger
	Vault  Vault
	Dir    string // where nonces and shares are kept
	// MaxAttempts is how many wrong passcodes lock a link share
	// (default DefaultMaxAttempts).
	MaxAttempts int
	Now         func() time.Time // default time.Now
}

// DefaultMaxAttempts is how many wrong passcodes lock a link share by
// default: SMART Health Links servers lock after a handful; ten guesses
// of a six-character passcode is a chance of about one in 10⁸ or less.
const DefaultMaxAttempts = 5

// Server serves records and shares.
type Server struct {
	c      Config
	mu     sync.Mutex // nonces, share files
	nonces map[string]int64
	nf     *os.File
	// compactAt is the number of remembered nonces at which the expired
	// ones are dropped and the file rewritten (twice the live ones then).
	compactAt int
	closes    sync.Mutex // one close_share in flight: the account's nonces are sequential
}

// New opens a server over its directory.
func New(c Config) (*Server, error) {
	if c.Ledger == nil || c.Vault == nil || c.Dir == "" || c.Server == "" {
		return nil, errors.New("recordserver: ledger, vault, directory and serving account are required")
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Join(c.Dir, "shares"), 0o700); err != nil {
		return nil, fmt.Errorf("recordserver: %w", err)
	}
	s := &Server{c: c, nonces: map[string]int64{}, compactAt: 4096}
	if err := s.loadNonces(); err != nil {
		return nil, err
	}
	return s, nil
}

// Close releases the nonce file.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nf == nil {
		return nil
	}
	err := s.nf.Close()
	s.nf = nil
	return err
}

// ServerAccount is the institution account the server serves as.
func (s *Server) ServerAccount() string { return s.c.Server }

// Org is the organisation of the serving account.
func (s *Server) Org() string { return s.c.Org }

func refuse(c ledger.Code, format string, args ...any) error {
	return &ledger.Error{Code: c, Msg: fmt.Sprintf(format, args...)}
}

// nonceRecord is one line of the nonce file.
type nonceRecord struct {
	Nonce   string `json:"n"`
	Expires int64  `json:"e"`
}

func (s *Server) noncePath() string { return filepath.Join(s.c.Dir, "nonces") }

// loadNonces reads the nonces still unexpired and rewrites the file with
// them only, so it holds minutes of requests, not all of them.
func (s *Server) loadNonces() error {
	now := s.c.Now().Unix()
	b, err := os.ReadFile(s.noncePath())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recordserver: nonces: %w", err)
	}
	var keep []byte
	for len(b) > 0 {
		line := b
		if i := indexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		var r nonceRecord
		if json.Unmarshal(line, &r) != nil { // a torn last line after a crash
			continue
		}
		if r.Expires > now {
			s.nonces[r.Nonce] = r.Expires
			keep = append(append(keep, line...), '\n')
		}
	}
	if err := blob.WriteFileAtomic(s.noncePath(), keep, 0o600); err != nil {
		return fmt.Errorf("recordserver: nonces: %w", err)
	}
	f, err := os.OpenFile(s.noncePath(), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("recordserver: nonces: %w", err)
	}
	s.nf = f
	return nil
}

// compactNonces drops the expired nonces and rewrites the file with the
// live ones. Called with s.mu held.
func (s *Server) compactNonces(now int64) error {
	var keep []byte
	for k, e := range s.nonces {
		if e <= now {
			delete(s.nonces, k)
			continue
		}
		line, _ := json.Marshal(nonceRecord{Nonce: k, Expires: e})
		keep = append(append(keep, line...), '\n')
	}
	s.compactAt = max(4096, 2*len(s.nonces))
	if s.nf != nil {
		s.nf.Close()
		s.nf = nil
	}
	if err := blob.WriteFileAtomic(s.noncePath(), keep, 0o600); err != nil {
		return fmt.Errorf("recordserver: nonces: %w", err)
	}
	f, err := os.OpenFile(s.noncePath(), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("recordserver: nonces: %w", err)
	}
	s.nf = f
	return nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// useNonce records a request's nonce, durably, or refuses a replay.
func (s *Server) useNonce(r *recordshare.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.c.Now().Unix()
	key := r.Signer + "/" + r.Nonce
	if _, seen := s.nonces[key]; seen {
		return refuse(ledger.CodeBadNonce, "request.nonce: this request was served already; sign a new one")
	}
	if len(s.nonces) >= s.compactAt { // forget the expired ones from time to time, on disk too
		if err := s.compactNonces(now); err != nil {
			return err
		}
	}
	line, _ := json.Marshal(nonceRecord{Nonce: key, Expires: r.Expires})
	if s.nf == nil {
		return errors.New("recordserver: closed")
	}
	if _, err := s.nf.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("recordserver: nonces: %w", err)
	}
	if err := s.nf.Sync(); err != nil {
		return fmt.Errorf("recordserver: nonces: %w", err)
	}
	s.nonces[key] = r.Expires
	return nil
}

// verified checks a signed request of kind against the signer's
// registered key and the nonces served.
func (s *Server) verified(req *recordshare.Signed, kind string) (*ledger.Account, error) {
	if req == nil {
		return nil, refuse(ledger.CodeInvalidField, "request: required")
	}
	r := &req.Request
	if !vocab.IsAddress(r.Signer) {
		return nil, refuse(ledger.CodeInvalidField, "request.signer: not an address")
	}
	acct, err := s.c.Ledger.Account(r.Signer)
	if err != nil {
		return nil, err
	}
	if acct == nil {
		return nil, refuse(ledger.CodeUnknownAccount, "request.signer: no account %s", r.Signer)
	}
	if err := req.Verify(acct.PubKey, recordshare.Expect{Kind: kind, Chain: s.c.Chain, Server: s.c.Server}, s.c.Now()); err != nil {
		return nil, err
	}
	if err := s.useNonce(r); err != nil {
		return nil, err
	}
	return acct, nil
}

// Record answers a patient's signed request for their own record: every
// original the institution keeps of the patients linked to the signer's
// wallet, encrypted to the signer's account key.
func (s *Server) Record(ctx context.Context, req *recordshare.Signed) ([]byte, error) {
	acct, err := s.verified(req, recordshare.KindRecord)
	if err != nil {
		return nil, err
	}
	if acct.Kind != ledger.KindPatient {
		return nil, refuse(ledger.CodeUnauthorized, "request.signer: a %s account; only a patient asks for their own record", acct.Kind)
	}
	links, err := s.c.Vault.Links()
	if err != nil {
		return nil, err
	}
	var ps []string
	for _, l := range links.Links {
		if l.Wallet == acct.Address {
			ps = append(ps, l.Pseudonym)
		}
	}
	if len(ps) == 0 {
		return nil, refuse(ledger.CodeNotFound, "no record of %s here: the institution has not linked this account to a patient", acct.Address)
	}
	docs, err := s.c.Vault.Originals(ps)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, refuse(ledger.CodeNotFound, "no original record of %s is kept here", acct.Address)
	}
	to, err := vault.NewRecipient(acct.EncKey)
	if err != nil {
		return nil, refuse(ledger.CodeInvalidField, "the account's encryption key: %v", err)
	}
	c := &recordshare.Copy{Org: s.c.Org, Server: s.c.Server, Made: s.c.Now().Unix()}
	for _, d := range docs {
		c.Originals = append(c.Originals, recordshare.Original(d))
	}
	return recordshare.EncryptCopy(c, to.AgeRecipient())
}

// stored is a share as the server keeps it.
type stored struct {
	Share    recordshare.Share `json:"share"`
	Attempts int               `json:"wrong_attempts"`
}

func (s *Server) sharePath(hash string) string { return filepath.Join(s.c.Dir, "shares", hash+".json") }

func (s *Server) load(hash string) (*stored, error) {
	b, err := os.ReadFile(s.sharePath(hash))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, refuse(ledger.CodeNotFound, "share %s is not held by this node (was it uploaded?)", hash)
	}
	if err != nil {
		return nil, fmt.Errorf("recordserver: share %s: %w", hash, err)
	}
	var st stored
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("recordserver: share %s: does not parse", hash)
	}
	return &st, nil
}

func (s *Server) save(hash string, st *stored) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := blob.WriteFileAtomic(s.sharePath(hash), b, 0o600); err != nil {
		return fmt.Errorf("recordserver: share %s: %w", hash, err)
	}
	return nil
}

func (s *Server) drop(hash string) { os.Remove(s.sharePath(hash)) }

// ledgerShare reads the share hash names and checks it is served here.
func (s *Server) ledgerShare(hash string) (*ledger.Share, error) {
	if b, err := hex.DecodeString(hash); err != nil || len(b) != 32 {
		return nil, refuse(ledger.CodeInvalidField, "share: want a share hash (64 hex digits)")
	}
	sh, err := s.c.Ledger.Share(hash)
	if err != nil {
		return nil, err
	}
	if sh == nil {
		return nil, refuse(ledger.CodeNotFound, "no share %s on the ledger", hash)
	}
	if sh.Server != s.c.Server {
		return nil, refuse(ledger.CodeNotFound, "share %s is served by %s, not this node (%s)", hash, sh.Server, s.c.Server)
	}
	return sh, nil
}

// PutShare takes a share a patient recorded on the ledger (share_record
// naming this node's account): its hash must be the ledger's, and the
// share still active. It returns the hash.
func (s *Server) PutShare(ctx context.Context, sh *recordshare.Share) (string, error) {
	if sh == nil {
		return "", refuse(ledger.CodeInvalidField, "share: required")
	}
	if err := sh.Check(); err != nil {
		return "", err
	}
	hash := sh.Hash(s.c.Server)
	ls, err := s.ledgerShare(hash)
	if errors.Is(err, &ledger.Error{Code: ledger.CodeNotFound}) {
		return "", refuse(ledger.CodeNotFound, "share %s: no share_record of this share naming this node's account %s is on the ledger; record it first", hash, s.c.Server)
	}
	if err != nil {
		return "", err
	}
	if err := ledger.ShareRefusal(ls, s.c.Now().Unix()); err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := os.Stat(s.sharePath(hash)); err == nil {
		return hash, nil // the same bytes again (the hash says so): idempotent
	}
	return hash, s.save(hash, &stored{Share: *sh})
}

// open releases a share once the ledger has recorded its opening.
func (s *Server) open(ctx context.Context, hash string, st *stored) ([]byte, error) {
	if err := s.closeShare(ctx, hash, ledger.ShareOpened); err != nil {
		return nil, err
	}
	s.drop(hash)
	return st.Share.Ciphertext, nil
}

func (s *Server) closeShare(ctx context.Context, hash, outcome string) error {
	s.closes.Lock()
	defer s.closes.Unlock()
	err := s.c.Ledger.CloseShare(ctx, hash, outcome)
	switch ledger.CodeOf(err) {
	case ledger.CodeShareRevoked, ledger.CodeShareClosed, ledger.CodeShareLocked, ledger.CodeExpired:
		s.drop(hash) // revoked, opened, locked or expired meanwhile: it never opens again
	}
	return err
}

// active checks the ledger's share is still active; a share that is not
// is forgotten here.
func (s *Server) active(ls *ledger.Share) error {
	if err := ledger.ShareRefusal(ls, s.c.Now().Unix()); err != nil {
		s.mu.Lock()
		s.drop(ls.Hash)
		s.mu.Unlock()
		return err
	}
	return nil
}

// gone explains a share file that is not here: a share opened, locked or
// revoked while this request was on its way is refused for that reason,
// not as unknown.
func (s *Server) gone(hash string, err error) error {
	if ls, lerr := s.c.Ledger.Share(hash); lerr == nil && ls != nil {
		if r := ledger.ShareRefusal(ls, s.c.Now().Unix()); r != nil {
			return r
		}
	}
	return err
}

// OpenLink opens a link share with the share's id (from the link) and its
// passcode. A wrong id is refused as if the share were not here, and is
// not counted: the hash is public, the id only in the link. A wrong
// passcode counts against the share; the MaxAttempts-th locks it for good
// (close_share locked).
func (s *Server) OpenLink(ctx context.Context, hash, id, passcode string) ([]byte, error) {
	ls, err := s.ledgerShare(hash)
	if err != nil {
		return nil, err
	}
	if ls.Recipient != ledger.ShareLink {
		return nil, refuse(ledger.CodeUnauthorized, "share %s is made to an account: its recipient opens it with a signed request", hash)
	}
	if err := s.active(ls); err != nil {
		return nil, err
	}
	s.mu.Lock()
	st, err := s.load(hash)
	if err != nil {
		s.mu.Unlock()
		return nil, s.gone(hash, err)
	}
	if !st.Share.IDMatches(id) {
		s.mu.Unlock()
		return nil, refuse(ledger.CodeNotFound, "share %s: no share with that id is held by this node (is the link complete?)", hash)
	}
	if st.Attempts >= s.c.MaxAttempts {
		s.mu.Unlock()
		return nil, refuse(ledger.CodeShareLocked, "share %s is locked after %d wrong passcodes", hash, st.Attempts)
	}
	if !st.Share.PasscodeMatches(passcode) {
		st.Attempts++
		err := s.save(hash, st)
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if left := s.c.MaxAttempts - st.Attempts; left > 0 {
			return nil, refuse(ledger.CodeWrongPasscode, "wrong passcode for share %s: %d attempt(s) left", hash, left)
		}
		if err := s.closeShare(ctx, hash, ledger.ShareLocked); err != nil {
			return nil, err
		}
		s.drop(hash)
		return nil, refuse(ledger.CodeShareLocked, "wrong passcode for share %s: %d wrong passcodes lock it for good", hash, s.c.MaxAttempts)
	}
	s.mu.Unlock()
	return s.open(ctx, hash, st)
}

// OpenAccount opens a share made to an account, on that account's signed
// request.
func (s *Server) OpenAccount(ctx context.Context, req *recordshare.Signed) ([]byte, error) {
	if req == nil {
		return nil, refuse(ledger.CodeInvalidField, "request: required")
	}
	ls, err := s.ledgerShare(req.Request.Share)
	if err != nil {
		return nil, err
	}
	if ls.Recipient == ledger.ShareLink {
		return nil, refuse(ledger.CodeUnauthorized, "share %s is a link: open it with the link and its passcode", ls.Hash)
	}
	if ls.Recipient != req.Request.Signer {
		return nil, refuse(ledger.CodeUnauthorized, "share %s is not made to %s", ls.Hash, req.Request.Signer)
	}
	if _, err := s.verified(req, recordshare.KindOpen); err != nil {
		return nil, err
	}
	if err := s.active(ls); err != nil {
		return nil, err
	}
	s.mu.Lock()
	st, err := s.load(ls.Hash)
	s.mu.Unlock()
	if err != nil {
		return nil, s.gone(ls.Hash, err)
	}
	return s.open(ctx, ls.Hash, st)
}
