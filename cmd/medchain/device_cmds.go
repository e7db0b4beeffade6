package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/device"
	"github.com/medchain/medchain/ingest"
	"github.com/medchain/medchain/iomt"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/series"
	"github.com/medchain/medchain/vault/vaultcfg"
)

func deviceCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "device", Short: "Medical devices: register, suspend, link to patients, verify readings, simulate (docs/iomt.md)"}
	cmd.AddCommand(deviceRegisterCmd(e), deviceStatusCmd(e), deviceShowCmd(e), deviceLinkCmd(e), deviceReadingsCmd(e), deviceFollowCmd(e), deviceFeaturesCmd(e), deviceVerifyCmd(e), deviceSimulateCmd(e))
	return cmd
}

// parseMeasure reads SYSTEM:CODE:UNIT.
func parseMeasure(s string) (ledger.Measurement, error) {
	p := strings.SplitN(s, ":", 3)
	if len(p) != 3 {
		return ledger.Measurement{}, fail("--measure %q: want SYSTEM:CODE:UNIT, e.g. loinc:8867-4:/min", s)
	}
	return ledger.Measurement{System: p[0], Code: p[1], Unit: p[2]}, nil
}

func deviceRegisterCmd(e *env) *cobra.Command {
	var (
		tf       txFlags
		id, kind string
		keyName  string
		measures []string
	)
	cmd := &cobra.Command{
		Use:   "register",
		Short: "Register a device of your organisation: its key, kind and measurements",
		Long: `register records a device on the ledger: its ed25519 public key (the device signs every
reading with the private key), its kind and the measurements it sends (SYSTEM:CODE:UNIT, system loinc
or mdc, unit UCUM). The device key is the key named --key in <home>/keys, created there as
device-<id> if --key is not given and no such key exists. Never put anything about a patient in the id.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyName == "" {
				keyName = "device-" + id
			}
			k, err := keys.Load(e.keysDir(), keyName)
			if errors.Is(err, keys.ErrNotFound) {
				if k, err = keys.Generate(keyName); err == nil {
					err = k.Save(e.keysDir())
				}
			}
			if err != nil {
				return fmt.Errorf("device key %s: %w", keyName, err)
			}
			m := &ledger.RegisterDevice{ID: id, PubKey: k.PubKey(), Kind: kind}
			for _, s := range measures {
				x, err := parseMeasure(s)
				if err != nil {
					return err
				}
				m.Measurements = append(m.Measurements, x)
			}
			return e.sendTx(cmd, &tf, m, nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&id, "id", "", "device id (the ledger's id syntax)")
	f.StringVar(&kind, "kind", "", "one of "+strings.Join(ledger.DeviceKinds, ", "))
	f.StringArrayVar(&measures, "measure", nil, "a measurement SYSTEM:CODE:UNIT (repeat), e.g. loinc:8867-4:/min")
	f.StringVar(&keyName, "key", "", "the device's key in <home>/keys (default device-<id>, created if missing)")
	addTxFlags(cmd, &tf)
	return cmd
}

func deviceStatusCmd(e *env) *cobra.Command {
	var tf txFlags
	var id, status string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Suspend, reactivate or revoke (for good) a device of your organisation",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.sendTx(cmd, &tf, &ledger.SetDeviceStatus{ID: id, Status: status}, nil)
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "device id")
	cmd.Flags().StringVar(&status, "status", "", "active, suspended or revoked")
	addTxFlags(cmd, &tf)
	return cmd
}

func deviceShowCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a device's registration, read through a state proof",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*ledger.Device, error) {
				sc, err := c.VerifyStateProof(ctx, string(ledger.KeyDevice(args[0])))
				if err != nil {
					return nil, err
				}
				if sc.Value == nil {
					return nil, &client.Error{Code: uint32(ledger.CodeNotFound), Name: ledger.CodeNotFound.String(),
						Message: fmt.Sprintf("device %q is not registered (proven absent at height %d)", args[0], sc.Commitment.Height)}
				}
				var d ledger.Device
				return &d, ledger.DecodeState(sc.Value, &d)
			}, func(w io.Writer, d *ledger.Device) {
				fmt.Fprintf(w, "device:\t%s\nkind:\t%s\norg:\t%s\nstatus:\t%s\nkey:\t%x\nregistered:\theight %d (changed %d)\n",
					d.ID, d.Kind, d.Org, d.Status, d.PubKey, d.Registered, d.Changed)
				for _, m := range d.Measurements {
					fmt.Fprintf(w, "measures:\t%s %s (%s)\n", m.System, m.Code, m.Unit)
				}
			})
		},
	}
}

func deviceLinkCmd(e *env) *cobra.Command {
	var from, id, patientID, rules, dir string
	cmd := &cobra.Command{
		Use:   "link",
		Short: "Record in your vault which patient wears a device (never on the ledger)",
		Long: `link records, in the vault's sealed device link table of your organisation, that the device
is worn by the patient with this source id: the table holds the patient's pseudonym (the keyed hash the
patient's dataset rows carry, under the vault secret and the de-identification rules), not the id.
Readings of a registered device that is linked to no patient are refused (device_unlinked).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if id == "" || patientID == "" {
				return fail("--id and --patient-id are required")
			}
			k, err := e.key(from)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			acct, err := c.Account(ctx, k.Address())
			if err != nil {
				return err
			}
			r := deid.SafeHarbor()
			if rules != "" {
				if r, err = deid.Load(rules); err != nil {
					return err
				}
			}
			if dir == "" {
				dir = filepath.Join(e.g.home, "vault")
			}
			v, err := vaultcfg.Open(dir)
			if err != nil {
				return err
			}
			secret, err := v.Secret()
			if err != nil {
				return err
			}
			d, err := deid.New(r, secret)
			if err != nil {
				return err
			}
			nodeID, err := vault.NodeIdentity(k.Enc)
			if err != nil {
				return err
			}
			prev, err := v.LinkDevice(acct.Org, id, d.PatientPseudonym(patientID), nodeID)
			if err != nil {
				return err
			}
			return e.show(cmd, map[string]any{"org": acct.Org, "device": id, "relinked": prev != ""}, func(w io.Writer) {
				fmt.Fprintf(w, "linked device %s to a patient of %s", id, acct.Org)
				if prev != "" {
					fmt.Fprint(w, " (it was linked to another patient before)")
				}
				fmt.Fprintln(w)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "an institution key of the device's organisation")
	f.StringVar(&id, "id", "", "device id")
	f.StringVar(&patientID, "patient-id", "", "the patient's id in the source system")
	f.StringVar(&rules, "deid", "", "de-identification rules (default Safe Harbor), as the patient's datasets were ingested with")
	f.StringVar(&dir, "vault", "", "vault directory (default <home>/vault)")
	return cmd
}

// openSeries opens the vault's device readings with the node key of k
// (an institution key the series key is wrapped to: the node's gateway).
func openSeries(dir string, k *keys.Key) (*series.Store, error) {
	v, err := vaultcfg.Open(dir)
	if err != nil {
		return nil, err
	}
	id, err := vault.NodeIdentity(k.Enc)
	if err != nil {
		return nil, err
	}
	skey, err := v.SeriesKey(id)
	if err != nil {
		return nil, err
	}
	// Read-only: the node may be writing the store right now.
	return series.Open(filepath.Join(dir, "series"), skey, series.Options{ReadOnly: true})
}

func deviceReadingsCmd(e *env) *cobra.Command {
	var dev, dir, from string
	var last int
	cmd := &cobra.Command{
		Use:   "readings",
		Short: "List a device's latest stored readings from the local vault (the institution's own data)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := e.key(from)
			if err != nil {
				return err
			}
			if dir == "" {
				dir = filepath.Join(e.g.home, "vault")
			}
			st, err := openSeries(dir, k)
			if err != nil {
				return err
			}
			defer st.Close()
			var rs []device.Reading
			err = st.Scan(series.Cols(series.ColDevice, series.ColSeq, series.ColTime, series.ColCode, series.ColValue, series.ColUnit),
				func(f *series.Frame) error {
					for _, r := range f.Readings {
						if r.Device == dev {
							rs = append(rs, r.Reading)
						}
					}
					return nil
				})
			if err != nil {
				return err
			}
			rs = rs[max(0, len(rs)-last):]
			return e.show(cmd, rs, func(w io.Writer) {
				fmt.Fprintf(w, "seq\ttime\tcode\tvalue\tunit\n")
				for _, r := range rs {
					fmt.Fprintf(w, "%d\t%s\t%s\t%g\t%s\n", r.Seq, time.UnixMilli(r.Time).UTC().Format(time.RFC3339Nano), r.Code, r.Value, r.Unit)
				}
			})
		},
	}
	cmd.Flags().StringVar(&dev, "device", "", "device id")
	cmd.Flags().IntVar(&last, "last", 10, "how many of the latest readings")
	cmd.Flags().StringVar(&from, "from", "", "the node's gateway key (the series key is wrapped to it)")
	cmd.Flags().StringVar(&dir, "vault", "", "vault directory (default <home>/vault)")
	return cmd
}

func deviceFollowCmd(e *env) *cobra.Command {
	var id, from string
	var count int
	cmd := &cobra.Command{
		Use:   "follow",
		Short: "Follow a device's readings live (a clinician of its organisation, or the patient it is linked to)",
		Long: `follow signs a stream request with --from and prints the device's readings as the node stores them
(server-sent events from GET /v1/devices/{id}/stream), until Ctrl-C or --count readings. The node
refuses accounts the ledger and its links do not allow (403).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := e.key(from)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			chainID, err := c.Chain(ctx)
			cancel()
			if err != nil {
				return err
			}
			ms := time.Now().UnixMilli()
			sig := ed25519.Sign(k.Sign, iomt.StreamRequest(chainID, id, ms))
			u := fmt.Sprintf("%s/v1/devices/%s/stream?key=%x&ts=%d&sig=%x", strings.TrimSuffix(c.BaseURL(), "/"), id, k.PubKey(), ms, sig)
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodGet, u, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				return &client.Error{Status: resp.StatusCode, Name: http.StatusText(resp.StatusCode), Message: strings.TrimSpace(string(b))}
			}
			sc := bufio.NewScanner(resp.Body)
			w := cmd.OutOrStdout()
			for n := 0; sc.Scan() && (count == 0 || n < count); {
				data, ok := strings.CutPrefix(sc.Text(), "data: ")
				if !ok || data == "{}" {
					continue
				}
				var r device.Reading
				if err := json.Unmarshal([]byte(data), &r); err != nil {
					return fmt.Errorf("stream: %w", err)
				}
				if e.g.json {
					fmt.Fprintln(w, data)
				} else {
					fmt.Fprintf(w, "%s  %s seq %d  %s %g %s\n", time.UnixMilli(r.Time).UTC().Format(time.RFC3339Nano), r.Device, r.Seq, r.Code, r.Value, r.Unit)
				}
				n++
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&id, "id", "", "device id")
	cmd.Flags().StringVar(&from, "from", "", "your key: an institution account of the device's organisation, or the patient's")
	cmd.Flags().IntVar(&count, "count", 0, "stop after this many readings (0: until Ctrl-C)")
	return cmd
}

func deviceFeaturesCmd(e *env) *cobra.Command {
	var (
		from, dataset, title, desc, to, dir string
		window                              time.Duration
		recipients                          []string
	)
	cmd := &cobra.Command{
		Use:   "features",
		Short: "Publish device readings as a dataset: per patient, mean, max and SD of heart rate and systolic pressure over a window",
		Long: `features summarises the readings measured in the --window ending at --to (default now) per patient
pseudonym — mean, maximum, standard deviation and count of heart rate and of systolic pressure, in
their schema units — seals the rows into the vault as the next version of --dataset (data key wrapped
to the node key of --from and to each --recipient) and registers it on the ledger. Studies then reach
the features only through the dataset's policy, the patients' consents and the output controls.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			end := time.Now()
			if to != "" {
				var err error
				if end, err = time.Parse(time.RFC3339, to); err != nil {
					return fail("--to %q: want an RFC 3339 time", to)
				}
			}
			if window <= 0 {
				return fail("--window must be positive")
			}
			key, err := e.key(from)
			if err != nil {
				return err
			}
			node, err := vault.NodeIdentity(key.Enc)
			if err != nil {
				return err
			}
			var rcpts []vault.Recipient
			for _, r := range recipients {
				rc, err := vault.ParseRecipient(r)
				if err != nil {
					return fail("--recipient %q: %v", r, err)
				}
				rcpts = append(rcpts, rc)
			}
			if dir == "" {
				dir = filepath.Join(e.g.home, "vault")
			}
			st, err := openSeries(dir, key)
			if err != nil {
				return err
			}
			rows, err := iomt.Features(st, end.Add(-window), end)
			st.Close()
			if err != nil {
				return err
			}
			v, err := vaultcfg.Open(dir)
			if err != nil {
				return err
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			pub, sum, err := iomt.PublishFeatures(ctx, v, node, ingest.ClientLedger{Client: c, Key: key, Timeout: e.o.timeout},
				dataset, title, desc, rows, rcpts)
			if err != nil {
				return err
			}
			out := map[string]any{"dataset": dataset, "version": sum.Version, "record_band": sum.RecordBand,
				"content_root": sum.ContentRoot, "published": pub}
			return e.show(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "published %s version %d: %s patients, content root %s\n", dataset, sum.Version, sum.RecordBand, sum.ContentRoot)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "an institution key of the node's organisation (publishes; its node key opens the version)")
	f.StringVar(&dataset, "dataset", "", "dataset id")
	f.StringVar(&title, "title", "Device readings summary", "dataset title")
	f.StringVar(&desc, "description", "", "dataset description (public: no patient data)")
	f.DurationVar(&window, "window", 24*time.Hour, "the window of readings summarised")
	f.StringVar(&to, "to", "", "end of the window, RFC 3339 (default now)")
	f.StringArrayVar(&recipients, "recipient", nil, "also wrap the data key to this worker key (age1…; repeat)")
	f.StringVar(&dir, "vault", "", "vault directory (default <home>/vault)")
	return cmd
}

func deviceVerifyCmd(e *env) *cobra.Command {
	var dev, gateway, dir, from string
	var seq uint64
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Prove a stored reading against its anchor on the ledger, checked against a signed header",
		Long: `verify finds the reading (device, sequence number) in the vault's sealed series store, builds its
inclusion proof against the anchor that covers it, reads that anchor (recorded by --gateway, the node's
anchoring account) and the device's registration through state proofs checked against a header the
validators signed, and checks the device's signature and the proof. It prints the reading: run it where
the vault is, as the institution. Exit 1 if a check fails.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			gw, err := e.address(gateway)
			if err != nil {
				return err
			}
			if from == "" {
				from = gateway
			}
			if dir == "" {
				dir = filepath.Join(e.g.home, "vault")
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			k, err := e.key(from)
			if err != nil {
				return err
			}
			ctx, cancel := e.ctx(cmd)
			defer cancel()
			st, err := openSeries(dir, k)
			if err != nil {
				return err
			}
			defer st.Close()
			v, err := iomt.VerifyReading(ctx, c, st, gw, dev, seq)
			if errors.Is(err, iomt.ErrVerify) {
				return client.VerificationFailed("%v", err)
			}
			if err != nil {
				return err
			}
			return e.show(cmd, v, func(w io.Writer) {
				r := v.Reading
				fmt.Fprintf(w, "reading:\tdevice %s seq %d at %s: %s %g %s\n", r.Device, r.Seq,
					time.UnixMilli(r.Time).UTC().Format(time.RFC3339Nano), r.Code, r.Value, r.Unit)
				fmt.Fprintf(w, "signature:\tvalid under device %s's registered key (%s, %s)\n", v.Device.ID, v.Device.Kind, v.Device.Status)
				fmt.Fprintf(w, "anchor:\t#%d of %s, root %s, %s readings, height %d\n", v.Anchor.Seq, v.Anchor.Gateway, v.Anchor.Root, v.Anchor.Band, v.Anchor.Height)
				fmt.Fprintf(w, "inclusion:\tleaf %d of %d, %d hashes: valid\n", v.Proof.Index, v.Proof.Size, len(v.Proof.Hashes))
				fmt.Fprintf(w, "ledger:\t%s\n", v.State)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&dev, "device", "", "device id")
	f.Uint64Var(&seq, "seq", 0, "the reading's sequence number")
	f.StringVar(&gateway, "gateway", "", "the node's anchoring account: address or local key name")
	f.StringVar(&from, "from", "", "the node's gateway key, to open the vault's readings (default: --gateway when it names a key)")
	f.StringVar(&dir, "vault", "", "vault directory (default <home>/vault)")
	return cmd
}

func deviceSimulateCmd(e *env) *cobra.Command {
	var (
		n              int
		hz             float64
		dur            time.Duration
		broker, from   string
		prefix, seed   string
		setup          bool
		vaultDir, deid string
		caFile         string
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Stream signed readings from N simulated devices over MQTT QoS 1 and report acknowledgement latency",
		Long: `simulate runs N devices (ids <prefix>-0000 …, keys derived from --seed), each with its own MQTT
connection, publishing signed heart-rate and systolic-pressure readings at --hz (0: as fast as the
acknowledgements come, to find saturation) for --duration, and reports readings sent, stored, refused
and unacknowledged, throughput and p50/p99/max acknowledgement latency.

With --setup it first registers the devices on the ledger (signed by --from, an institution key) and
links each in the local vault to a synthetic patient (sim-patient-NNNN): run it on the node's home.

Each device proves its key when it connects (signed for the node's chain, which is asked of the node's
API). With --mqtt-ca the connection is TLS, trusting the certificates in that PEM file.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n <= 0 || dur <= 0 || hz < 0 {
				return fail("--devices and --duration must be positive, --hz not negative")
			}
			devs := iomt.SimDevices(prefix, seed, n)
			if setup {
				if err := e.simSetup(cmd, devs, from, vaultDir, deid); err != nil {
					return err
				}
			}
			if broker == "" {
				broker = "127.0.0.1:1883"
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			c, err := e.client()
			if err != nil {
				return err
			}
			st, err := c.Status(ctx)
			if err != nil {
				return fmt.Errorf("the node's chain id (devices sign their connection for it): %w", err)
			}
			sc := iomt.SimConfig{Broker: broker, ChainID: st.ChainID, Devices: devs, Hz: hz, Duration: dur}
			if caFile != "" {
				pem, err := os.ReadFile(caFile)
				if err != nil {
					return fmt.Errorf("--mqtt-ca: %w", err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return fail("--mqtt-ca: %s holds no PEM certificate", caFile)
				}
				sc.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
			}
			rep, err := iomt.Simulate(ctx, sc)
			if err != nil {
				return err
			}
			return e.show(cmd, rep, func(w io.Writer) {
				fmt.Fprintln(w, rep)
				for r, k := range rep.Reasons {
					fmt.Fprintf(w, "refused %s:\t%d\n", r, k)
				}
			})
		},
	}
	f := cmd.Flags()
	f.IntVar(&n, "devices", 10, "number of devices")
	f.Float64Var(&hz, "hz", 1, "readings per second per device (0: saturation)")
	f.DurationVar(&dur, "duration", 10*time.Second, "how long to stream")
	f.StringVar(&broker, "mqtt", "", "the node's MQTT broker (default 127.0.0.1:1883)")
	f.StringVar(&caFile, "mqtt-ca", "", "connect with TLS, trusting the certificates in this PEM file")
	f.StringVar(&prefix, "prefix", "sim", "device id prefix")
	f.StringVar(&seed, "seed", "medchain-sim", "seed the device keys are derived from")
	f.BoolVar(&setup, "setup", false, "register the devices (signed by --from) and link them in the vault first")
	f.StringVar(&from, "from", "", "with --setup: an institution key of the node's organisation")
	f.StringVar(&vaultDir, "vault", "", "with --setup: vault directory (default <home>/vault)")
	f.StringVar(&deid, "deid", "", "with --setup: de-identification rules for the pseudonyms (default Safe Harbor)")
	return cmd
}

// simSetup registers the simulated devices (as e's --from key).
func (e *env) simSetup(cmd *cobra.Command, devs []iomt.SimDevice, from, dir, rules string) error {
	k, err := e.key(from)
	if err != nil {
		return err
	}
	c, err := e.client()
	if err != nil {
		return err
	}
	ctx, cancel := e.ctx(cmd)
	defer cancel()
	if dir == "" {
		dir = filepath.Join(e.g.home, "vault")
	}
	org, registered, err := setupSimDevices(ctx, c, k, devs, dir, rules)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "set up %d devices of %s (%d newly registered), each linked to a synthetic patient\n", len(devs), org, registered)
	return nil
}

// setupSimDevices registers the simulated devices that are not registered
// yet, signed by k, and links every one to a synthetic patient
// (sim-patient-NNNN) in the vault at dir.
func setupSimDevices(ctx context.Context, c *client.Client, k *keys.Key, devs []iomt.SimDevice, dir, rules string) (org string, registered int, err error) {
	acct, err := c.Account(ctx, k.Address())
	if err != nil {
		return "", 0, err
	}
	chainID, err := c.Chain(ctx)
	if err != nil {
		return "", 0, err
	}
	var last *api.TxSubmitted
	for _, d := range devs {
		sc, err := c.VerifyStateProof(ctx, string(ledger.KeyDevice(d.ID)))
		if err != nil {
			return "", 0, err
		}
		if sc.Value != nil {
			continue
		}
		// Submitted without waiting, each with the next nonce: a block
		// takes them all.
		tx, err := ledger.SignTx(k.Sign, chainID, acct.Nonce+uint64(registered), &ledger.RegisterDevice{ID: d.ID,
			PubKey: d.Key.Public().(ed25519.PublicKey), Kind: "wearable", Measurements: iomt.SimMeasurements})
		if err != nil {
			return "", 0, err
		}
		if last, err = c.Submit(ctx, tx, false); err != nil {
			return "", 0, err
		}
		registered++
	}
	if last != nil {
		if err := waitTx(ctx, c, last.Hash); err != nil {
			return "", 0, err
		}
	}
	r := deid.SafeHarbor()
	if rules != "" {
		if r, err = deid.Load(rules); err != nil {
			return "", 0, err
		}
	}
	v, err := vaultcfg.Open(dir)
	if err != nil {
		return "", 0, err
	}
	secret, err := v.Secret()
	if err != nil {
		return "", 0, err
	}
	d, err := deid.New(r, secret)
	if err != nil {
		return "", 0, err
	}
	nodeID, err := vault.NodeIdentity(k.Enc)
	if err != nil {
		return "", 0, err
	}
	links := make([]vault.DeviceLink, len(devs))
	for i, dev := range devs {
		links[i] = vault.DeviceLink{Device: dev.ID, Pseudonym: d.PatientPseudonym(fmt.Sprintf("sim-patient-%04d", i))}
	}
	if _, err := v.LinkDevices(acct.Org, links, nodeID); err != nil {
		return "", 0, err
	}
	return acct.Org, registered, nil
}

// waitTx waits until a submitted transaction is committed and checks it
// succeeded.
func waitTx(ctx context.Context, c *client.Client, hash string) error {
	for {
		r, err := c.Tx(ctx, hash)
		if err == nil {
			return client.ResultError(&api.TxSubmitted{Hash: hash, Result: r})
		}
		if !client.IsNotFound(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
