// Package node runs a medchain node: the ledger application inside a real
// CometBFT node in the same process, its on-disk stores, and the HTTP API.
// It also writes the home directories of dev networks and testnets.
package node

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	cmtcrypto "github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
)

// Settings are medchain's own per-node settings, in <home>/medchain.json.
type Settings struct {
	API string `json:"api"` // listen address of the HTTP API
	// HTTP holds the API server's timeouts, connection cap and rate limits
	// (HTTPSettings); absent fields take the defaults, so it is kept raw
	// and read over DefaultHTTP at start.
	HTTP json.RawMessage `json:"http,omitempty"`
}

// Paths inside a node home.
func settingsPath(home string) string { return filepath.Join(home, "medchain.json") }

// KeysDir is where a home keeps account keys: an encrypted keystore, or
// in the homes CreateNetwork writes, a dev keystore of plaintext keys
// (keys.MarkDev).
func KeysDir(home string) string { return filepath.Join(home, "keys") }

// LogPath is where the node writes CometBFT's log.
func LogPath(home string) string { return filepath.Join(home, "node.log") }

// Initialized reports whether home holds a node.
func Initialized(home string) bool {
	_, err := os.Stat(settingsPath(home))
	return err == nil
}

// LoadSettings reads <home>/medchain.json.
func LoadSettings(home string) (Settings, error) {
	var s Settings
	b, err := os.ReadFile(settingsPath(home))
	if err != nil {
		return s, fmt.Errorf("node home %s: %w (create one with `medchain up` or `medchain testnet`)", home, err)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s: %w", settingsPath(home), err)
	}
	return s, nil
}

func saveSettings(home string, s Settings) error {
	b, _ := json.MarshalIndent(s, "", "  ")
	return writeFileAtomic(settingsPath(home), append(b, '\n'), 0o600)
}

// writeFileAtomic writes via a temporary file and rename, so a crash never
// leaves a half-written file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// NetOptions describe a network to create.
type NetOptions struct {
	ChainID    string
	Validators int
	Demo       bool          // seed demo organisations, accounts and balances
	BlockTime  time.Duration // target block interval (timeout_commit)
	// Ports: node i listens for p2p on P2PBase+10i, CometBFT RPC on +1 and
	// the medchain API on +2, all on 127.0.0.1. For a single node, API,
	// RPC and P2P below override.
	PortBase int
	API      string
	RPC      string
	P2P      string
}

// DefaultBlockTime is the dev network's block interval.
const DefaultBlockTime = 500 * time.Millisecond

func cometConfig(home, moniker string, o NetOptions) *cfg.Config {
	c := cfg.DefaultConfig()
	c.SetRoot(home)
	c.Moniker = moniker
	c.DBBackend = "pebbledb"
	c.LogLevel = "info"
	c.Consensus.TimeoutCommit = o.BlockTime
	c.Consensus.TimeoutPropose = 2 * time.Second
	c.P2P.AddrBookStrict = false
	c.P2P.AllowDuplicateIP = true
	c.RPC.ListenAddress = "tcp://" + o.RPC
	c.P2P.ListenAddress = "tcp://" + o.P2P
	c.P2P.ExternalAddress = o.P2P
	c.P2P.PexReactor = false
	c.Instrumentation.Prometheus = false
	// medchain indexes transactions itself (GET /v1/txs/{hash}, in the app
	// store); CometBFT's own indexer would do the work twice. Set
	// tx_index.indexer = "kv" or "psql" in config.toml to have it, or start
	// the node with Options.PsqlConn (`--psql-conn`) to feed PostgreSQL
	// (docs/indexer.md).
	c.TxIndex.Indexer = "null"
	c.Mempool.Size = 50000
	c.Mempool.MaxTxsBytes = 1 << 30
	c.Mempool.CacheSize = 100000
	return c
}

type member struct {
	name    string
	kind    ledger.AccountKind
	org     string
	balance uint64
	admin   bool
}

// demoMembers are the organisations and people of the embedded demo.
var demoOrgs = []ledger.GenesisOrg{
	{ID: "consortium", Name: "medchain consortium office", Kind: ledger.OrgRegulator},
	{ID: "st-mary", Name: "St Mary's Hospital", Kind: ledger.OrgHospital},
	{ID: "northside", Name: "Northside General Hospital", Kind: ledger.OrgHospital},
	{ID: "lakeview", Name: "Lakeview Clinical Laboratory", Kind: ledger.OrgLab},
	{ID: "acme-pharma", Name: "Acme Pharma Research", Kind: ledger.OrgPharma},
}

var demoMembers = []member{
	{"consortium-admin", ledger.KindInstitution, "consortium", 0, true},
	{"st-mary-admin", ledger.KindInstitution, "st-mary", 100_000, true},
	{"northside-admin", ledger.KindInstitution, "northside", 100_000, true},
	{"lakeview-admin", ledger.KindInstitution, "lakeview", 100_000, true},
	{"acme-admin", ledger.KindInstitution, "acme-pharma", 100_000, true},
	{"rita-researcher", ledger.KindResearcher, "acme-pharma", 1_000_000, false},
	{"audrey-auditor", ledger.KindAuditor, "consortium", 0, false},
	{"patient-1", ledger.KindPatient, "", 0, false},
	{"patient-2", ledger.KindPatient, "", 0, false},
	{"patient-3", ledger.KindPatient, "", 0, false},
}

// demoGenesis makes keys for the demo members, saves them in keysDirs and
// returns the genesis that registers them.
func demoGenesis(keysDirs []string) (ledger.Genesis, error) {
	var g ledger.Genesis
	admins := map[string][]string{}
	for _, m := range demoMembers {
		k, err := keys.Generate(m.name)
		if err != nil {
			return g, err
		}
		for _, d := range keysDirs {
			if err := k.Save(d); err != nil {
				return g, err
			}
		}
		g.Accounts = append(g.Accounts, ledger.GenesisAccount{PubKey: k.PubKey(), EncKey: k.EncPub(), Kind: m.kind, Org: m.org, Balance: m.balance})
		if m.admin {
			admins[m.org] = append(admins[m.org], k.Address())
		}
		if m.name == "consortium-admin" {
			g.Authorities = append(g.Authorities, k.Address())
		}
	}
	for _, o := range demoOrgs {
		o.Admins = admins[o.ID]
		g.Orgs = append(g.Orgs, o)
	}
	return g, nil
}

// minimalGenesis has one authority (the "operator" key) so that a network
// started without demo data can still admit organisations.
func minimalGenesis(keysDirs []string) (ledger.Genesis, error) {
	k, err := keys.Generate("operator")
	if err != nil {
		return ledger.Genesis{}, err
	}
	for _, d := range keysDirs {
		if err := k.Save(d); err != nil {
			return ledger.Genesis{}, err
		}
	}
	return ledger.Genesis{
		Authorities: []string{k.Address()},
		Orgs:        []ledger.GenesisOrg{{ID: "consortium", Name: "medchain consortium office", Kind: ledger.OrgRegulator, Admins: []string{k.Address()}}},
		Accounts:    []ledger.GenesisAccount{{PubKey: k.PubKey(), EncKey: k.EncPub(), Kind: ledger.KindInstitution, Org: "consortium"}},
	}, nil
}

// CreateNetwork writes the homes of a network of o.Validators validators.
// With one validator, homes[0] is used as given; with several, node i's
// home is homes[i].
func CreateNetwork(homes []string, o NetOptions) error {
	if o.Validators < 1 || len(homes) != o.Validators {
		return fmt.Errorf("need one home per validator (%d validators, %d homes)", o.Validators, len(homes))
	}
	if o.ChainID == "" {
		o.ChainID = "medchain-dev"
	}
	if o.BlockTime == 0 {
		o.BlockTime = DefaultBlockTime
	}
	for _, h := range homes {
		if Initialized(h) {
			return fmt.Errorf("%s already holds a node", h)
		}
	}
	type nodeFiles struct {
		c   *cfg.Config
		pv  *privval.FilePV
		nk  *p2p.NodeKey
		set Settings
	}
	var nodes []nodeFiles
	var vals []cmttypes.GenesisValidator
	for i, h := range homes {
		oi := o
		if o.Validators > 1 || o.PortBase != 0 {
			base := o.PortBase
			if base == 0 {
				base = 26600
			}
			p := base + 10*i
			oi.P2P, oi.RPC, oi.API = fmt.Sprintf("127.0.0.1:%d", p), fmt.Sprintf("127.0.0.1:%d", p+1), fmt.Sprintf("127.0.0.1:%d", p+2)
		}
		if oi.P2P == "" {
			oi.P2P = "127.0.0.1:26656"
		}
		if oi.RPC == "" {
			oi.RPC = "127.0.0.1:26657"
		}
		if oi.API == "" {
			oi.API = "127.0.0.1:8080"
		}
		c := cometConfig(h, fmt.Sprintf("node%d", i), oi)
		for _, d := range []string{filepath.Join(h, "config"), filepath.Join(h, "data")} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return err
			}
		}
		pv, err := privval.GenFilePV(c.PrivValidatorKeyFile(), c.PrivValidatorStateFile(), func() (cmtcrypto.PrivKey, error) { return ed25519.GenPrivKey(), nil })
		if err != nil {
			return err
		}
		pv.Save()
		nk, err := p2p.LoadOrGenNodeKey(c.NodeKeyFile())
		if err != nil {
			return err
		}
		pub, err := pv.GetPubKey()
		if err != nil {
			return err
		}
		vals = append(vals, cmttypes.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: 10, Name: c.Moniker})
		nodes = append(nodes, nodeFiles{c: c, pv: pv, nk: nk, set: Settings{API: oi.API}})
	}
	var keysDirs []string
	for _, h := range homes {
		// A dev or test network's keys are plaintext, every member's in
		// every home, and marked so (package keys).
		if err := keys.MarkDev(KeysDir(h)); err != nil {
			return err
		}
		keysDirs = append(keysDirs, KeysDir(h))
	}
	var g ledger.Genesis
	var err error
	if o.Demo {
		g, err = demoGenesis(keysDirs)
	} else {
		g, err = minimalGenesis(keysDirs)
	}
	if err != nil {
		return err
	}
	appState, err := ledger.MarshalGenesis(g)
	if err != nil {
		return err
	}
	doc := &cmttypes.GenesisDoc{
		GenesisTime:     time.Now().UTC().Truncate(time.Second),
		ChainID:         o.ChainID,
		InitialHeight:   1,
		ConsensusParams: cmttypes.DefaultConsensusParams(),
		Validators:      vals,
		AppState:        appState,
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return err
	}
	for i, n := range nodes {
		var peers []string
		for j, m := range nodes {
			if j != i {
				peers = append(peers, fmt.Sprintf("%s@%s", m.nk.ID(), m.c.P2P.ExternalAddress))
			}
		}
		n.c.P2P.PersistentPeers = strings.Join(peers, ",")
		cfg.WriteConfigFile(filepath.Join(homes[i], "config", "config.toml"), n.c)
		if err := doc.SaveAs(n.c.GenesisFile()); err != nil {
			return err
		}
		if err := saveSettings(homes[i], n.set); err != nil {
			return err
		}
	}
	return nil
}
