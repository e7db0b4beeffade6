package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/node"
)

// The client commands talk to a node through package client only. Each
// prints a readable summary, or with --json the API's objects.

// clientOpts are the flags shared by every client command.
type clientOpts struct {
	timeout time.Duration
	genesis string
}

// addClientCommands adds the transaction and query commands.
func addClientCommands(root *cobra.Command, g *globals) {
	o := &clientOpts{}
	root.PersistentFlags().DurationVar(&o.timeout, "timeout", time.Minute, "give up on a client command after this long")
	root.PersistentFlags().StringVar(&o.genesis, "genesis", "", "verify against the chain id and validators of this genesis file (default: <home>/config/genesis.json when --node is not given)")
	e := &env{g: g, o: o}
	root.AddCommand(
		keysCmd(e), statusCmd(e), accountCmd(e), orgCmd(e), transferCmd(e), datasetCmd(e),
		consentCmd(e), accessCmd(e), txCmd(e), stateCmd(e), auditCmd(e),
	)
	addJobCommands(root, e)
	addResultCommands(root, e)
	root.AddCommand(modelCmd(e), analysisCmd(e))
	root.AddCommand(deviceCmd(e))
	root.AddCommand(dealCmd(e))
}

// env is what client commands share: the global flags and helpers over them.
type env struct {
	g *globals
	o *clientOpts
}

func (e *env) keysDir() string { return node.KeysDir(e.g.home) }

// apiAddr is --node, else the API address in <home>/medchain.json, else the default.
func (e *env) apiAddr() string {
	if e.g.api != "" {
		return e.g.api
	}
	if s, err := node.LoadSettings(e.g.home); err == nil && s.API != "" {
		return s.API
	}
	return "127.0.0.1:8080"
}

// client builds the API client. Verification is pinned to a genesis file's
// chain id and validator set when one is named, or when the home's own node
// is used and the home has one.
func (e *env) client() (*client.Client, error) {
	c := client.New(e.apiAddr())
	gen := e.o.genesis
	if gen == "" && e.g.api == "" {
		if p := filepath.Join(e.g.home, "config", "genesis.json"); fileExists(p) {
			gen = p
		}
	}
	if gen != "" {
		chainID, vals, err := client.ValidatorSet(gen)
		if err != nil {
			return nil, fmt.Errorf("genesis: %w", err)
		}
		c.ChainID, c.Trusted = chainID, vals
	}
	return c, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func (e *env) ctx(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, e.o.timeout)
}

func (e *env) key(name string) (*keys.Key, error) {
	if name == "" {
		return nil, fail("--from is required: the name of a key in %s", e.keysDir())
	}
	return keys.Load(e.keysDir(), name)
}

var addrRE = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)

// address resolves an account address or the name of a local key.
func (e *env) address(s string) (string, error) {
	if addrRE.MatchString(s) {
		return strings.ToLower(s), nil
	}
	k, err := keys.LoadPublic(e.keysDir(), s)
	if err != nil {
		return "", fmt.Errorf("%q is neither an address (40 hex digits) nor a usable key name: %w", s, err)
	}
	return k.Address, nil
}

// show prints v as JSON with --json, else calls human.
func (e *env) show(cmd *cobra.Command, v any, human func(w io.Writer)) error {
	w := cmd.OutOrStdout()
	if e.g.json {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	human(tw)
	return tw.Flush()
}

// query runs a read against the node and shows its answer.
func query[T any](e *env, cmd *cobra.Command, get func(ctx context.Context, c *client.Client) (T, error), human func(w io.Writer, v T)) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	ctx, cancel := e.ctx(cmd)
	defer cancel()
	v, err := get(ctx, c)
	if err != nil {
		return err
	}
	return e.show(cmd, v, func(w io.Writer) { human(w, v) })
}

// txFlags are the flags of every transaction command.
type txFlags struct {
	from string
	wait bool
}

func addTxFlags(cmd *cobra.Command, tf *txFlags) {
	cmd.Flags().StringVar(&tf.from, "from", "", "name of the signing key (in <home>/keys)")
	cmd.Flags().BoolVar(&tf.wait, "wait", true, "wait for the transaction to be committed and report its result")
}

// txOutput is what a transaction command prints with --json: the API's
// answer, and the object the transaction created where there is one.
type txOutput struct {
	*api.TxSubmitted
	Created any `json:"created,omitempty"`
}

// created finds what a committed transaction created, for the output.
type created func(ctx context.Context, c *client.Client, res *api.TxSubmitted) (v any, line string, err error)

// sendTx signs msg with --from, submits it, prints the result and returns
// an error (exit 1) when the committed transaction failed.
func (e *env) sendTx(cmd *cobra.Command, tf *txFlags, msg ledger.Msg, what created) error {
	key, err := e.key(tf.from)
	if err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	ctx, cancel := e.ctx(cmd)
	defer cancel()
	res, err := c.SignAndSubmit(ctx, key, msg, tf.wait)
	if err != nil {
		return err
	}
	out := txOutput{TxSubmitted: res}
	var line string
	if what != nil && res.Result != nil && res.Result.Code == ledger.CodeOK {
		if out.Created, line, err = what(ctx, c, res); err != nil {
			return err
		}
	}
	err = e.show(cmd, out, func(w io.Writer) {
		r := res.Result
		switch {
		case r == nil && tf.wait:
			fmt.Fprintf(w, "%s tx %s accepted but not committed yet; check with `medchain tx show %s`\n", msg.Type(), res.Hash, res.Hash)
		case r == nil:
			fmt.Fprintf(w, "%s tx %s accepted by the mempool\n", msg.Type(), res.Hash)
		default:
			fmt.Fprintf(w, "%s tx %s committed at height %d: code %d (%s): %s\n", msg.Type(), res.Hash, r.Height, r.Code, r.Code, r.Log)
			fmt.Fprintf(w, "audit entry %d\n", r.AuditIndex)
		}
		if line != "" {
			fmt.Fprintln(w, line)
		}
	})
	if err != nil {
		return err
	}
	return client.ResultError(res)
}

// parseExpiry reads a time as unix seconds, RFC 3339, or a duration from
// now ("720h"); "" is no expiry.
func parseExpiry(flag, s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.Unix(), nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(d).Unix(), nil
	}
	return 0, fail("--%s: %q is not unix seconds, an RFC 3339 time or a duration from now", flag, s)
}

func hexFlag(flag, s string, n int) ([]byte, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != n {
		return nil, fail("--%s: want %d bytes as hex", flag, n)
	}
	return b, nil
}

// possession returns the proof of possession for registering a key into
// org: made here with the local key keyName when given, else read from the
// hex flag (made by the key's holder with "medchain keys possession").
func (e *env) possession(cmd *cobra.Command, keyName, flag, hexProof, org string) ([]byte, error) {
	if keyName == "" {
		if hexProof == "" {
			return nil, fail("--%s is required with a hex public key: the key's holder makes it with `medchain keys possession NAME --org %s`", flag, org)
		}
		return hexFlag(flag, hexProof, ed25519.SignatureSize)
	}
	if hexProof != "" {
		return nil, fail("--%s: not with a local key, whose proof is made here", flag)
	}
	k, err := keys.Load(e.keysDir(), keyName)
	if err != nil {
		return nil, err
	}
	c, err := e.client()
	if err != nil {
		return nil, err
	}
	ctx, cancel := e.ctx(cmd)
	defer cancel()
	return c.Possession(ctx, k, org)
}

// pubKeys returns the signing and encryption public keys of a local key or
// of hex flags.
func (e *env) pubKeys(keyFlag, keyName, pubFlag, pubHex, encFlag, encHex string) (pub, enc []byte, err error) {
	switch {
	case keyName != "" && (pubHex != "" || encHex != ""):
		return nil, nil, fail("give --%s or --%s/--%s, not both", keyFlag, pubFlag, encFlag)
	case keyName != "":
		k, err := keys.Load(e.keysDir(), keyName)
		if err != nil {
			return nil, nil, err
		}
		return k.PubKey(), k.EncPub(), nil
	case pubHex == "" || encHex == "":
		return nil, nil, fail("give --%s KEYNAME, or both --%s and --%s", keyFlag, pubFlag, encFlag)
	}
	if pub, err = hexFlag(pubFlag, pubHex, 32); err != nil {
		return nil, nil, err
	}
	if enc, err = hexFlag(encFlag, encHex, 32); err != nil {
		return nil, nil, err
	}
	return pub, enc, nil
}

func uintArg(name, s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fail("%s: %q is not a non-negative integer", name, s)
	}
	return n, nil
}

func short(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
