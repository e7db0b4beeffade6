package ledger

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/medchain/medchain/store"
)

// buildShareMsg builds the record-share transactions of scripts:
//
//	share_record share=NAME [recipient=NAME|link] [server=NAME] [expires=SECONDS | expiry=UNIX]
//	revoke_share share=NAME
//	close_share share=NAME [outcome=opened|locked]
//
// A share's hash is the SHA-256 of "share NAME" (hash=raw:HEX gives
// another), printed as #NAME. expires= is counted from the block's time
// (default one day).
func (r *scriptRunner) buildShareMsg(t *testing.T, typ TxType, a *args) Msg {
	name := a.str("share", "")
	hash := r.shareHash(name)
	if lit, ok := strings.CutPrefix(a.str("hash", ""), "raw:"); ok {
		hash = lit
	}
	switch typ {
	case TxShareRecord:
		recipient := a.str("recipient", ShareLink)
		if recipient != ShareLink {
			recipient = r.addr(recipient)
		}
		expiry := r.now + int64(a.u64("expires", 86400))
		if a.has("expiry") {
			expiry = int64(a.u64("expiry", 0))
		}
		return &ShareRecord{Hash: hash, Recipient: recipient, Server: r.addr(a.str("server", "alice")), Expiry: expiry}
	case TxRevokeShare:
		return &RevokeShare{Hash: hash}
	}
	return &CloseShare{Hash: hash, Outcome: a.str("outcome", ShareOpened)}
}

// shareHash is the hash of the share called name, remembered so output
// prints it as #name.
func (r *scriptRunner) shareHash(name string) string {
	h := sha256.Sum256([]byte("share " + name))
	hash := hex.EncodeToString(h[:])
	if r.names == nil {
		r.names = map[string]string{}
	}
	if _, ok := r.names[hash]; !ok {
		r.names[hash] = "#" + name
		r.repl = nil
	}
	return hash
}

// printShares prints the shares of patients (shares NAME …), as the
// patient lists them, with their state at the latest block's time.
func (r *scriptRunner) printShares(t *testing.T, out *strings.Builder, st store.Reader, words []string) {
	for _, w := range words {
		ss, err := ListSharesOf(memIterator{r.db}, r.addr(w))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(out, "shares %s: %d\n", w, len(ss))
		for _, s := range ss {
			g, err := GetShare(st, s.Hash)
			if err != nil || g == nil || *g != s {
				t.Fatalf("share %s: the patient's copy differs from the share (%v)", s.Hash, err)
			}
			fmt.Fprintf(out, "  %s to=%s server=%s expiry=%d %s created=%d closed=%d\n", r.readable(s.Hash),
				r.readable(s.Recipient), r.readable(s.Server), s.Expiry, s.ShareState(r.now), s.Created, s.Closed)
		}
	}
}

// memIterator lists a memory store's committed keys, as a node's store does.
type memIterator struct{ db *store.Mem }

func (m memIterator) Iterate(prefix []byte, fn func(key, value []byte) bool) error {
	for _, k := range m.db.Keys(prefix) {
		v, err := m.db.Get(k)
		if err != nil {
			return err
		}
		if !fn(k, v) {
			break
		}
	}
	return nil
}
