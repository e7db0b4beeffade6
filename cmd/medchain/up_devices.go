package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/iomt"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/node"
)

// deviceFlags are `up`'s and `node`'s device-ingestion flags.
type deviceFlags struct {
	gateway string
	mqtt    string
	every   time.Duration
	sim     int
	cert    string
	key     string
}

func (d *deviceFlags) add(cmd *cobra.Command, sims int) {
	f := cmd.Flags()
	what := "turns device ingestion on"
	if sims > 0 {
		what = "default st-mary-admin on the demo network"
	}
	f.StringVar(&d.gateway, "devices-gateway", "", "institution key (in <home>/keys) that anchors device readings; its organisation's devices are served ("+what+")")
	f.StringVar(&d.mqtt, "mqtt", "127.0.0.1:0", "MQTT listen address for devices (port 0: a free port, printed at start)")
	f.DurationVar(&d.every, "anchor-every", time.Second, "interval between anchors of accepted readings")
	f.StringVar(&d.cert, "mqtt-cert", "", "PEM certificate (chain) file: the MQTT broker takes TLS connections only (with --mqtt-key)")
	f.StringVar(&d.key, "mqtt-key", "", "PEM private key file of --mqtt-cert")
	if sims > 0 {
		f.IntVar(&d.sim, "sim-devices", sims, "simulated devices streaming at 1 Hz once the demo is seeded (0: none)")
	}
}

// upOptions sets o's device ingestion for `up`: on a demo network, St
// Mary's node takes devices unless --devices-gateway says otherwise.
func (d *deviceFlags) upOptions(home string, o node.Options) node.Options {
	if d.gateway == "" && fileExists(filepath.Join(node.KeysDir(home), "st-mary-admin.json")) {
		d.gateway = "st-mary-admin"
	}
	o.Devices = d.options()
	return o
}

func (d *deviceFlags) options() *node.DeviceOptions {
	if d.gateway == "" {
		return nil
	}
	return &node.DeviceOptions{Gateway: d.gateway, MQTT: d.mqtt, AnchorEvery: d.every, MQTTCert: d.cert, MQTTKey: d.key}
}

func refusedTotal(s *iomt.Stats) uint64 {
	var n uint64
	for _, r := range s.Refused {
		n += r.Count
	}
	return n
}

// simulateInNode registers and links count simulated devices as the
// gateway, once the demo is seeded (the gateway key signs both), and
// streams them at 1 Hz until ctx ends (the node stops).
func simulateInNode(ctx context.Context, out io.Writer, home string, n *node.Node, o node.DeviceOptions, count int, seedDone <-chan struct{}) {
	k, err := keys.Load(node.KeysDir(home), o.Gateway)
	if err != nil {
		fmt.Fprintf(out, "simulated devices: %v\n", err)
		return
	}
	c := client.New(n.APIAddr())
	select {
	case <-seedDone:
	case <-ctx.Done():
		return
	}
	devs := iomt.SimDevices("sim", "medchain-up", count)
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	org, _, err := setupSimDevices(sctx, c, k, devs, filepath.Join(home, "vault"), "")
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			fmt.Fprintf(out, "simulated devices: set-up failed: %v\n", err)
		}
		return
	}
	fmt.Fprintf(out, "%d simulated devices of %s streaming at 1 Hz over MQTT %s (see `medchain device simulate`)\n", count, org, n.MQTTAddr())
	sc := iomt.SimConfig{Broker: n.MQTTAddr(), ChainID: n.ChainID(), Devices: devs, Hz: 1, Duration: 365 * 24 * time.Hour}
	if o.MQTTCert != "" {
		// The devices trust the broker's own certificate.
		pem, err := os.ReadFile(o.MQTTCert)
		pool := x509.NewCertPool()
		if err != nil || !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(out, "simulated devices: cannot read the broker's certificate %s\n", o.MQTTCert)
			return
		}
		sc.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	iomt.Simulate(ctx, sc)
}
