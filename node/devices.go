package node

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/iomt"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/series"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// DeviceOptions turn on medical-device ingestion (package iomt).
type DeviceOptions struct {
	// Gateway is the name of the key in <home>/keys that signs this
	// node's anchors: an institution account, whose organisation's
	// devices (and device links) the node serves.
	Gateway string
	// MQTT is the broker's listen address ("" = no broker; HTTP batches
	// are served on the API either way).
	MQTT string
	// AnchorEvery is the anchoring interval (default 1 s).
	AnchorEvery time.Duration
	// MQTTCert and MQTTKey, if both set, are PEM files of the certificate
	// (chain) and private key the broker serves TLS with; it then takes
	// TLS connections only.
	MQTTCert, MQTTKey string
}

// SeriesDir is where a home keeps its device readings.
func SeriesDir(home string) string { return filepath.Join(home, "vault", "series") }

// devices is the running device ingestion of a node.
type devices struct {
	ingest *iomt.Ingest
	store  *series.Store
	broker *iomt.Broker
	stop   context.CancelFunc
	done   chan struct{}
	log    *os.File
}

func (n *Node) startDevices(o DeviceOptions, mux *http.ServeMux) error {
	gw, err := keys.Load(KeysDir(n.home), o.Gateway)
	if err != nil {
		return fmt.Errorf("device gateway key: %w", err)
	}
	// Genesis accounts become readable with the first block: on a new
	// network, wait for it.
	var acct *ledger.Account
	for try := 0; ; try++ {
		var height int64
		err = n.app.View(func(r store.ReadWriter, c ledger.Commitment) error {
			height = c.Height
			acct, err = ledger.GetAccount(r, gw.Address())
			return err
		})
		if err != nil {
			return err
		}
		if acct != nil || height > 0 || try == 300 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if acct == nil || acct.Kind != ledger.KindInstitution {
		return fmt.Errorf("device gateway key %s: not a registered institution account", o.Gateway)
	}
	v, err := vaultcfg.Open(filepath.Join(n.home, "vault"))
	if err != nil {
		return err
	}
	// The gateway's node key opens the organisation's link tables and the
	// series key.
	nodeID, err := vault.NodeIdentity(gw.Enc)
	if err != nil {
		return err
	}
	skey, err := v.SeriesKey(nodeID)
	if err != nil {
		return err
	}
	d := &devices{done: make(chan struct{})}
	if d.store, err = series.Open(SeriesDir(n.home), skey, series.Options{}); err != nil {
		return err
	}
	n.devices = d
	if d.log, err = os.OpenFile(filepath.Join(n.home, "devices.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(d.log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	d.ingest, err = iomt.New(iomt.Config{
		Store:    d.store,
		Registry: &ledgerRegistry{n: n, org: acct.Org, cache: map[string]cachedDevice{}},
		Links:    func() (iomt.Links, error) { return v.DeviceLinks(acct.Org, nodeID) },
		Policy:   device.DefaultPolicy(),
	})
	if err != nil {
		return err
	}
	h := iomt.Handler(d.ingest)
	mux.Handle(iomt.RouteReadings, h)
	mux.Handle(iomt.RouteIngest, h)
	fw := &followers{n: n, v: v, id: nodeID, org: acct.Org}
	mux.Handle(iomt.RouteStream, iomt.StreamHandler(d.ingest, fw, n.ChainID))
	if o.MQTT != "" {
		bc := iomt.BrokerConfig{Addr: o.MQTT, Log: log, ChainID: n.ChainID, Followers: fw}
		if (o.MQTTCert == "") != (o.MQTTKey == "") {
			return errors.New("mqtt TLS: give both the certificate and the key file")
		}
		if o.MQTTCert != "" {
			cert, err := tls.LoadX509KeyPair(o.MQTTCert, o.MQTTKey)
			if err != nil {
				return fmt.Errorf("mqtt TLS: %w", err)
			}
			bc.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		}
		if d.broker, err = iomt.StartBroker(d.ingest, bc); err != nil {
			return err
		}
	}
	every := o.AnchorEvery
	if every <= 0 {
		every = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.stop = cancel
	al := &anchorLedger{n: n, key: gw, c: client.New("http://" + n.APIAddr())}
	go func() {
		defer close(d.done)
		d.ingest.Anchor(ctx, al, every, log)
	}()
	return nil
}

// MQTTAddr is the address of the node's MQTT broker ("" if none).
func (n *Node) MQTTAddr() string {
	if n.devices == nil || n.devices.broker == nil {
		return ""
	}
	return n.devices.broker.Addr()
}

// DeviceStats are the node's ingestion counts (nil without ingestion).
func (n *Node) DeviceStats() *iomt.Stats {
	if n.devices == nil || n.devices.ingest == nil {
		return nil
	}
	s := n.devices.ingest.Stats()
	return &s
}

func (d *devices) close() error {
	var errs []error
	if d.broker != nil {
		errs = append(errs, d.broker.Close())
	}
	if d.stop != nil {
		d.stop()
		<-d.done
	}
	if d.ingest != nil {
		d.ingest.Close()
	}
	if d.store != nil {
		errs = append(errs, d.store.Close())
	}
	if d.log != nil {
		errs = append(errs, d.log.Close())
	}
	return errors.Join(errs...)
}

// ledgerRegistry reads devices from the node's committed state. A device
// of another organisation is unknown here: each node serves its own
// organisation's devices. Lookups are cached for half a second, so a
// suspension or revocation takes effect within that of its commit.
type ledgerRegistry struct {
	n     *Node
	org   string
	mu    sync.Mutex
	cache map[string]cachedDevice
}

type cachedDevice struct {
	info *device.Info
	at   time.Time
}

const registryTTL = 500 * time.Millisecond

func (r *ledgerRegistry) Device(id string) *device.Info {
	r.mu.Lock()
	c, ok := r.cache[id]
	r.mu.Unlock()
	if ok && time.Since(c.at) < registryTTL {
		return c.info
	}
	var d *ledger.Device
	err := r.n.app.View(func(st store.ReadWriter, _ ledger.Commitment) error {
		var err error
		d, err = ledger.GetDevice(st, id)
		return err
	})
	if err != nil {
		return nil // the store failed: refuse rather than guess
	}
	var info *device.Info
	if d != nil && d.Org == r.org {
		info = deviceInfo(d)
	}
	r.mu.Lock()
	if d != nil || len(r.cache) < 100_000 { // unknown ids are not cached without bound
		r.cache[id] = cachedDevice{info, time.Now()}
	}
	r.mu.Unlock()
	return info
}

// deviceInfo is what the checks need of a ledger registration.
func deviceInfo(d *ledger.Device) *device.Info {
	info := &device.Info{Key: ed25519.PublicKey(d.PubKey)}
	switch d.Status {
	case ledger.DeviceActive:
		info.Status = device.Active
	case ledger.DeviceSuspended:
		info.Status = device.SuspendedStatus
	default:
		info.Status = device.RevokedStatus
	}
	for _, m := range d.Measurements {
		if m.System == "loinc" {
			info.Codes = append(info.Codes, m.Code)
		}
	}
	return info
}

// anchorLedger submits anchors through the node's own API, signed by the
// gateway key.
type anchorLedger struct {
	n   *Node
	key *keys.Key
	c   *client.Client
}

func (a *anchorLedger) LastAnchor(context.Context) (uint64, error) {
	var last uint64
	err := a.n.app.View(func(r store.ReadWriter, _ ledger.Commitment) error {
		var err error
		last, err = ledger.GetLastAnchor(r, a.key.Address())
		return err
	})
	return last, err
}

func (a *anchorLedger) SubmitAnchor(ctx context.Context, seq uint64, root [32]byte, band string) error {
	res, err := a.c.SignAndSubmit(ctx, a.key, &ledger.AnchorReadings{Seq: seq, Root: hex.EncodeToString(root[:]), Band: band}, true)
	if err == nil {
		err = client.ResultError(res)
	}
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != uint32(ledger.CodeAlreadyExists) {
		return err
	}
	// Sent before and committed, the answer lost: it counts if the
	// ledger's root is the store's.
	var got *ledger.Anchor
	if verr := a.n.app.View(func(r store.ReadWriter, _ ledger.Commitment) error {
		var e error
		got, e = ledger.GetAnchor(r, a.key.Address(), seq)
		return e
	}); verr != nil || got == nil {
		return err
	}
	if got.Root != hex.EncodeToString(root[:]) {
		return fmt.Errorf("anchor %d on the ledger has another root than the store's marker", seq)
	}
	return nil
}

// followers decides who may follow a device's live readings, from the
// ledger and the vault's links: the patient the device is linked to (the
// wallet linked to the device's patient pseudonym), or an institution
// account of the device's organisation — its clinicians — unless that
// patient's consents deny purpose "clinical" for the organisation (read as
// of the latest block; a patient linked to no wallet has no consents, and
// direct care is permitted unless denied). A suspended account follows
// nothing. Only devices of this node's organisation are served.
type followers struct {
	n   *Node
	v   *vault.Vault
	id  *vault.Identity // the gateway's node key: it opens the patient link table
	org string
}

func (f *followers) MayFollow(_ context.Context, account, dev string) (bool, error) {
	var acct *ledger.Account
	var d *ledger.Device
	var height int64
	var suspended bool
	err := f.n.app.View(func(r store.ReadWriter, c ledger.Commitment) error {
		height = c.Height
		var err error
		if acct, err = ledger.GetAccount(r, account); err != nil {
			return err
		}
		if suspended, err = ledger.Suspended(r, account); err != nil {
			return err
		}
		d, err = ledger.GetDevice(r, dev)
		return err
	})
	if err != nil {
		return false, err
	}
	if acct == nil || d == nil || d.Org != f.org {
		return false, nil
	}
	if suspended {
		return false, nil
	}
	if acct.Kind != ledger.KindInstitution && acct.Kind != ledger.KindPatient {
		return false, nil
	}
	if acct.Kind == ledger.KindInstitution && acct.Org != d.Org {
		return false, nil
	}
	wallet, err := f.patientWallet(dev)
	if errors.Is(err, errNoLinks) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if acct.Kind == ledger.KindPatient {
		return wallet != "" && wallet == account, nil
	}
	if wallet == "" {
		return true, nil
	}
	var consents []ledger.Consent
	err = f.n.app.View(func(r store.ReadWriter, _ ledger.Commitment) error {
		var err error
		consents, err = ledger.GetConsents(r, wallet)
		return err
	})
	if err != nil {
		return false, err
	}
	return ledger.ConsentAllows(consents, ledger.ConsentQuery{Org: d.Org, Purpose: "clinical", Height: height,
		Time: time.Now().Unix(), Model: ledger.ConsentOptOut}), nil
}

// Changed is closed at the next committed block: followers are decided
// again then.
func (f *followers) Changed() <-chan struct{} { return f.n.blocks.next() }

// patientWallet is the wallet of the patient a device is linked to ("" if
// the device or the patient is not linked).
func (f *followers) patientWallet(dev string) (string, error) {
	dl, err := f.v.DeviceLinks(f.org, f.id)
	if errors.Is(err, vault.ErrNotRecipient) {
		return "", errNoLinks
	}
	if err != nil {
		return "", err
	}
	psn, ok := dl.Pseudonym(dev)
	if !ok {
		return "", nil
	}
	pl, err := f.v.Links(f.org, f.id)
	if errors.Is(err, vault.ErrNotRecipient) {
		// The link table's key is not wrapped to the gateway's key: the
		// patient cannot be known, so the patient may not follow and no
		// consent can be checked — fail closed.
		return "", errNoLinks
	}
	if err != nil {
		return "", err
	}
	w, _ := pl.Wallet(psn)
	return w, nil
}

// errNoLinks: the gateway's key cannot open the patient link table.
var errNoLinks = errors.New("the patient link table is not shared with the device gateway's key")
