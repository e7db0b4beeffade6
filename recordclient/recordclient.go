// Package recordclient is the patient's and the clinician's side of "your
// record, and a second opinion" over the HTTP API: ask an institution's
// node for your own record, share it (to a clinician's account or as a
// link with a passcode), list and revoke your shares, and open a share.
// The protocol is package recordshare; the node's side package
// recordserver. Keys never leave this process: requests are signed here,
// copies decrypted here.
package recordclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/recordshare"
	"github.com/medchain/medchain/vault"
)

// Record is a patient's own record as their client received it.
type Record struct {
	Server     string            `json:"server"`
	Ciphertext []byte            `json:"-"`
	Copy       *recordshare.Copy `json:"copy"`
}

// MyRecord asks the node c talks to for k's own record: a fresh request
// signed by k, answered with every original the institution keeps of k,
// encrypted to k's account key and decrypted here.
func MyRecord(ctx context.Context, c *client.Client, k *keys.Key) (*Record, error) {
	info, err := c.RecordServer(ctx)
	if err != nil {
		return nil, err
	}
	chain, err := c.Chain(ctx)
	if err != nil {
		return nil, err
	}
	req := recordshare.Sign(k.Sign, recordshare.KindRecord, chain, info.Server, "", time.Now())
	ans, err := c.RequestRecord(ctx, req)
	if err != nil {
		return nil, err
	}
	cp, err := decrypt(ans.Ciphertext, k)
	if err != nil {
		return nil, err
	}
	return &Record{Server: ans.Server, Ciphertext: ans.Ciphertext, Copy: cp}, nil
}

func decrypt(ct []byte, k *keys.Key) (*recordshare.Copy, error) {
	id, err := vault.NewIdentity(k.Enc)
	if err != nil {
		return nil, err
	}
	return recordshare.DecryptCopy(ct, id.AgeIdentity())
}

// ShareOptions say how to share.
type ShareOptions struct {
	// To is the clinician's account address; empty means a link.
	To string
	// Passcode protects a link (at least recordshare.MinPasscode
	// characters); the serving node checks it.
	Passcode string
	// Expires is how long the share lives (at most 90 days).
	Expires time.Duration
}

// Shared is a share made.
type Shared struct {
	Hash      string `json:"hash"`
	Recipient string `json:"recipient"`
	Server    string `json:"server"`
	Expiry    int64  `json:"expiry"`
	Tx        string `json:"tx"`
	// Link is the share link (link shares only): it carries the one-time
	// key, so give it to the clinician only, and the passcode separately.
	Link string `json:"link,omitempty"`
}

// Share shares a copy of k's record (as MyRecord returned it) through the
// node c talks to: the copy is encrypted to the clinician's account key or
// to a new one-time key, the share is recorded on the ledger (share_record,
// signed by k) and then uploaded to the node, which checks it against the
// ledger.
func Share(ctx context.Context, c *client.Client, k *keys.Key, cp *recordshare.Copy, o ShareOptions) (*Shared, error) {
	if o.Expires <= 0 {
		return nil, errors.New("expires: a share needs a lifetime")
	}
	info, err := c.RecordServer(ctx)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(cp)
	if err != nil {
		return nil, err
	}
	expiry := time.Now().Add(o.Expires).Unix()
	var sh *recordshare.Share
	var link string
	if o.To != "" {
		if o.Passcode != "" {
			return nil, errors.New("passcode: a share to an account has none (its key protects it)")
		}
		acct, err := c.Account(ctx, o.To)
		if err != nil {
			return nil, fmt.Errorf("to: %w", err)
		}
		to, err := vault.NewRecipient(acct.EncKey)
		if err != nil {
			return nil, fmt.Errorf("to: the account's encryption key: %w", err)
		}
		if sh, err = recordshare.NewAccountShare(plain, o.To, to.AgeRecipient(), expiry); err != nil {
			return nil, err
		}
	} else {
		s, id, err := recordshare.NewLinkShare(plain, o.Passcode, expiry)
		if err != nil {
			return nil, err
		}
		sh = s
		link = recordshare.Link{URL: c.BaseURL(), Share: sh.Hash(info.Server), ID: sh.ID, Key: id.String(), Exp: expiry, Flag: "P"}.String()
	}
	hash := sh.Hash(info.Server)
	res, err := c.SignAndSubmit(ctx, k, &ledger.ShareRecord{Hash: hash, Recipient: sh.Recipient, Server: info.Server, Expiry: expiry}, true)
	if err == nil {
		err = client.ResultError(res)
	}
	if err != nil {
		return nil, fmt.Errorf("record the share on the ledger: %w", err)
	}
	up, err := c.PutShare(ctx, sh)
	if err != nil {
		return nil, fmt.Errorf("upload the share (recorded as %s; revoke it if you give up): %w", hash, err)
	}
	if up.Hash != hash {
		return nil, fmt.Errorf("the node filed the share as %s, not %s", up.Hash, hash)
	}
	return &Shared{Hash: hash, Recipient: sh.Recipient, Server: info.Server, Expiry: expiry, Tx: res.Hash, Link: link}, nil
}

// Revoke revokes one of k's shares before it is opened.
func Revoke(ctx context.Context, c *client.Client, k *keys.Key, hash string) (string, error) {
	res, err := c.SignAndSubmit(ctx, k, &ledger.RevokeShare{Hash: hash}, true)
	if err == nil {
		err = client.ResultError(res)
	}
	if err != nil {
		return "", err
	}
	return res.Hash, nil
}

// List lists a patient's shares as the ledger has them.
func List(ctx context.Context, c *client.Client, patient string) (*api.ShareList, error) {
	return c.Shares(ctx, patient)
}

// Opened is a share opened by its recipient.
type Opened struct {
	Share  string            `json:"share"`
	Server string            `json:"server"`
	Copy   *recordshare.Copy `json:"copy"`
}

// OpenLink opens a share link with its passcode, at the node the link
// names, and decrypts it with the link's one-time key.
func OpenLink(ctx context.Context, link, passcode string) (*Opened, error) {
	l, err := recordshare.ParseLink(link)
	if err != nil {
		return nil, err
	}
	id, err := l.Identity()
	if err != nil {
		return nil, err
	}
	ans, err := client.New(l.URL).OpenShare(ctx, l.Share, api.ShareOpen{ID: l.ID, Passcode: passcode})
	if err != nil {
		return nil, err
	}
	cp, err := recordshare.DecryptCopy(ans.Ciphertext, id)
	if err != nil {
		return nil, err
	}
	return &Opened{Share: l.Share, Server: ans.Server, Copy: cp}, nil
}

// OpenForAccount opens a share made to k's account, with a request signed
// by k, and decrypts it with k's key.
func OpenForAccount(ctx context.Context, c *client.Client, k *keys.Key, hash string) (*Opened, error) {
	sv, err := c.Share(ctx, hash)
	if err != nil {
		return nil, err
	}
	chain, err := c.Chain(ctx)
	if err != nil {
		return nil, err
	}
	req := recordshare.Sign(k.Sign, recordshare.KindOpen, chain, sv.Server, hash, time.Now())
	ans, err := c.OpenShare(ctx, hash, api.ShareOpen{Request: req})
	if err != nil {
		return nil, err
	}
	cp, err := decrypt(ans.Ciphertext, k)
	if err != nil {
		return nil, err
	}
	return &Opened{Share: hash, Server: ans.Server, Copy: cp}, nil
}
