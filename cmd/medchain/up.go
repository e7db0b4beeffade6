package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/devnet"
	"github.com/medchain/medchain/node"
)

func upCmd(g *globals) *cobra.Command {
	var (
		api, rpc, p2p string
		psqlConn      string
		noDemo        bool
		blockTime     time.Duration
		hf            httpFlags
		df            deviceFlags
		records       string
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run medchain on its embedded default: a one-validator network in this process",
		Long: `up creates a dev network in --home on first run (one validator, on-disk stores,
demo organisations and accounts unless --no-demo), then runs it with the HTTP API on --api.
Ctrl-C stops it cleanly; the next run resumes from disk.

The first run is done when the node runs and the demo data is seeded. If it fails before
the node runs (e.g. a port in use), it removes what it created, so the next run is a first
run again (with that run's --rpc, --p2p, --no-demo); if it is stopped or fails while
seeding, the next run says so, keeps the network and seeds what is missing. What was in
--home before the first run is kept.
` + httpHelp + psqlHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home := g.home
			out := cmd.OutOrStdout()
			// Flags are checked before a first run writes anything.
			hs, err := hf.settings(cmd, home)
			if err != nil {
				return err
			}
			plan, err := devnet.Prepare(home, node.NetOptions{
				ChainID: "medchain-dev", Demo: !noDemo, BlockTime: blockTime, API: api, RPC: rpc, P2P: p2p,
			})
			if err != nil {
				return err
			}
			switch plan.Outcome {
			case devnet.Resumed:
				return runNode(cmd, home, recordsUp(home, records, df.upOptions(home, node.Options{API: api, PsqlConn: psqlConn, HTTP: hs, DevSignIn: true})), nil, df.sim)
			case devnet.Recreated:
				fmt.Fprintf(out, "the first run of `medchain up` in %s stopped before its node ran: removed what it created\n", home)
				fallthrough
			case devnet.Created:
				fmt.Fprintf(out, "created a dev network in %s (keys in %s, UNENCRYPTED: for development only)\n", home, node.KeysDir(home))
			case devnet.Unfinished:
				fmt.Fprintf(out, "the first run of `medchain up` in %s stopped before it finished: running the network and finishing its set-up\n", home)
			}
			// The first run is done once the node runs and, with the demo
			// data, that is in; until then the next run finishes it.
			first := &firstRun{
				started:  func() error { return devnet.Started(home) },
				complete: func() error { return devnet.Complete(home) },
			}
			if plan.Demo {
				first.seed = func(ctx context.Context, n *node.Node) error {
					if err := seedDemo(ctx, home, n.APIAddr(), out); err != nil {
						return err
					}
					// Patients decide too, so that a study over all three
					// hospitals (Northside is opt-in) has consenting
					// patients everywhere.
					return demoConsents(ctx, client.New("http://"+n.APIAddr()), home, demoSay(out))
				}
			}
			err = runNode(cmd, home, recordsUp(home, records, df.upOptions(home, node.Options{API: api, PsqlConn: psqlConn, HTTP: hs, DevSignIn: true})), first, df.sim)
			var notStarted *startError
			if errors.As(err, &notStarted) && plan.Outcome != devnet.Unfinished {
				if rerr := devnet.Remove(home); rerr != nil {
					return errors.Join(err, fmt.Errorf("remove the half-created dev network in %s: %w", home, rerr))
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "removed the dev network this first run created in %s: fix the cause and run `medchain up` again\n", home)
			}
			return err
		},
	}
	hf.add(cmd)
	df.add(cmd, 3)
	addRecordsFlag(cmd, &records, "default st-mary-admin on the demo network")
	cmd.Flags().StringVar(&api, "api", "", "API listen address (default 127.0.0.1:8080; saved on first run)")
	cmd.Flags().StringVar(&rpc, "rpc", "", "CometBFT RPC listen address, first run only (default 127.0.0.1:26657)")
	cmd.Flags().StringVar(&p2p, "p2p", "", "CometBFT p2p listen address, first run only (default 127.0.0.1:26656)")
	cmd.Flags().BoolVar(&noDemo, "no-demo", false, "do not seed demo organisations and accounts (first run only)")
	cmd.Flags().DurationVar(&blockTime, "block-time", node.DefaultBlockTime, "target block interval (first run only)")
	cmd.Flags().StringVar(&psqlConn, "psql-conn", "", psqlFlagHelp)
	return cmd
}

// httpHelp documents the API server's flags.
const httpHelp = `
The API server cuts off slow and idle clients (--read-timeout, --write-timeout, --idle-timeout),
caps open connections (--max-conns) and rate-limits its costly routes per client (--rate-limit);
the flags override the "http" settings of <home>/medchain.json for this run. Prometheus metrics
are at /metrics on the API address. See docs/operations.md.
`

// psqlHelp and psqlFlagHelp document CometBFT's PostgreSQL indexer, which
// `up` and `node` can turn on.
const (
	psqlHelp = `
With --psql-conn, CometBFT's PostgreSQL indexer is on for the run: the events of every block
and transaction are written to that database (tables blocks, tx_results, events, attributes;
views tx_events, block_events). Load CometBFT's schema into the database first
(` + node.PsqlSchema + ` in the cometbft v1.0.1 module); the node checks
the connection and the tables before it starts. Setting tx_index.indexer = "psql" and
tx_index.psql-conn in <home>/config/config.toml does the same on every run. See docs/indexer.md.`
	psqlFlagHelp = `PostgreSQL connection string for CometBFT's psql indexer, e.g. "postgres://indexer@127.0.0.1:5432/medchain?sslmode=disable" (password from PGPASSWORD or ~/.pgpass; see docs/indexer.md)`
)

func nodeCmd(g *globals) *cobra.Command {
	var api, psqlConn string
	var hf httpFlags
	var df deviceFlags
	var records string
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run the node whose home is --home (e.g. one written by `medchain testnet`)",
		Long:  "node runs the node whose home is --home (e.g. one written by `medchain testnet`) until Ctrl-C.\n" + httpHelp + psqlHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !node.Initialized(g.home) {
				return fail("%s holds no node: create one with `medchain testnet` or `medchain up`", g.home)
			}
			hs, err := hf.settings(cmd, g.home)
			if err != nil {
				return err
			}
			return runNode(cmd, g.home, node.Options{API: api, PsqlConn: psqlConn, HTTP: hs, Devices: df.options(), Records: recordsOptions(records)}, nil, df.sim)
		},
	}
	hf.add(cmd)
	df.add(cmd, 0)
	addRecordsFlag(cmd, &records, "turns serving records on")
	cmd.Flags().StringVar(&api, "api", "", "override the API listen address")
	cmd.Flags().StringVar(&psqlConn, "psql-conn", "", psqlFlagHelp)
	return cmd
}

// firstRun is what the first run of a dev network does beyond running
// it: record that the node ran, seed the demo data once the genesis state
// is committed (if seed is set), then mark the network complete.
type firstRun struct {
	started  func() error
	seed     func(context.Context, *node.Node) error
	complete func() error
}

// startError is a node that did not start: nothing ran.
type startError struct{ err error }

func (e *startError) Error() string { return e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// runNode starts the node and blocks until SIGINT/SIGTERM or the
// command's context ends. first is set on a dev network's first run;
// sims simulated devices stream once any demo data is seeded.
func runNode(cmd *cobra.Command, home string, o node.Options, first *firstRun, sims int) error {
	parent := cmd.Context()
	if parent == nil {
		parent = context.Background()
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	o.Workers = true
	n, err := node.Start(home, o)
	if err != nil {
		return &startError{err}
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "medchain node running: chain %s\n  dashboard  http://%s/\n  API        http://%s/v1/status (OpenAPI: /v1/openapi.json)\n  keys       %s\n  log        %s\n",
		n.ChainID(), n.APIAddr(), n.APIAddr(), node.KeysDir(home), node.LogPath(home))
	if a := n.MQTTAddr(); a != "" {
		fmt.Fprintf(out, "  MQTT       %s (device readings; HTTP batches at /v1/devices/readings)\n", a)
	}
	seeded := make(chan error, 1)
	seedDone := make(chan struct{}) // closed once the demo is seeded, or at once when there is nothing to seed
	if first != nil {
		if err := first.started(); err != nil {
			fmt.Fprintf(out, "could not record that the node ran: %v\n", err)
		}
	}
	switch {
	case first != nil && first.seed != nil:
		go func() {
			defer close(seedDone)
			for ctx.Err() == nil {
				if st, err := n.Status(ctx); err == nil && st.Height >= 2 {
					fmt.Fprintln(out, "seeding demo data…")
					seeded <- first.seed(ctx, n)
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	case first != nil:
		close(seedDone)
		if err := first.complete(); err != nil {
			fmt.Fprintf(out, "could not mark the dev network complete (the next run will recreate it): %v\n", err)
		}
	default:
		close(seedDone)
	}
	if sims > 0 && o.Devices != nil && n.MQTTAddr() != "" {
		go simulateInNode(ctx, out, home, n, *o.Devices, sims, seedDone)
	}
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(out, "stopping…")
			if err := n.Stop(); err != nil {
				return fmt.Errorf("stop: %w", err)
			}
			fmt.Fprintln(out, "stopped cleanly")
			return nil
		case err := <-seeded:
			switch {
			case err != nil:
				fmt.Fprintf(out, "demo data incomplete: %v\nthe next `medchain up` in %s seeds what is missing\n", err, home)
			default:
				if err := first.complete(); err != nil {
					fmt.Fprintf(out, "could not mark the dev network complete (the next run will recreate it): %v\n", err)
				}
				fmt.Fprintln(out, "demo data ready: see the dashboard, or `medchain dataset list`")
			}
		case <-t.C:
			if st, err := n.Status(ctx); err == nil {
				fmt.Fprintf(out, "height %d  app_hash %x  peers %d", st.Height, []byte(st.AppHash), st.Peers)
				if ds := n.DeviceStats(); ds != nil {
					fmt.Fprintf(out, "  device readings stored %d refused %d", ds.Stored, refusedTotal(ds))
				}
				fmt.Fprintln(out)
			}
		}
	}
}

func testnetCmd(g *globals) *cobra.Command {
	var (
		n         int
		out       string
		chainID   string
		portBase  int
		demo      bool
		blockTime time.Duration
	)
	cmd := &cobra.Command{
		Use:   "testnet",
		Short: "Write the homes of an N-validator network on loopback ports",
		Long: `testnet writes <out>/node0 … <out>/node{N-1}. Node i listens for p2p on port-base+10i,
CometBFT RPC on +1 and the medchain API on +2, all on 127.0.0.1. Run each with
  medchain node --home <out>/node<i>`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n < 1 {
				return fail("--validators must be at least 1")
			}
			if out == "" {
				return fail("--out is required")
			}
			var homes []string
			for i := 0; i < n; i++ {
				homes = append(homes, filepath.Join(out, fmt.Sprintf("node%d", i)))
			}
			err := node.CreateNetwork(homes, node.NetOptions{ChainID: chainID, Validators: n, Demo: demo, BlockTime: blockTime, PortBase: portBase})
			if err != nil {
				return err
			}
			for i, h := range homes {
				s, _ := node.LoadSettings(h)
				fmt.Fprintf(cmd.OutOrStdout(), "node%d: medchain node --home %s   (API %s)\n", i, h, s.API)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&n, "validators", 4, "number of validators")
	cmd.Flags().StringVar(&out, "out", "", "directory to write the node homes into")
	cmd.Flags().StringVar(&chainID, "chain-id", "medchain-testnet", "chain id")
	cmd.Flags().IntVar(&portBase, "port-base", 26600, "first port")
	cmd.Flags().BoolVar(&demo, "demo", true, "seed demo organisations and accounts")
	cmd.Flags().DurationVar(&blockTime, "block-time", node.DefaultBlockTime, "target block interval")
	return cmd
}

// httpFlags are the API server's flags of `up` and `node`. Each overrides,
// for this run, the "http" settings of <home>/medchain.json
// (docs/operations.md).
type httpFlags struct {
	readTimeout, writeTimeout, idleTimeout time.Duration
	maxConns                               int
	limits                                 []string
}

func (f *httpFlags) add(cmd *cobra.Command) {
	d := node.DefaultHTTP()
	fl := cmd.Flags()
	fl.DurationVar(&f.readTimeout, "read-timeout", time.Duration(d.ReadTimeout), "longest a client may take to send a whole request, body included")
	fl.DurationVar(&f.writeTimeout, "write-timeout", time.Duration(d.WriteTimeout), "longest an answer may take, from the request's headers to its last byte (POST /v1/txs?wait=commit has its own)")
	fl.DurationVar(&f.idleTimeout, "idle-timeout", time.Duration(d.IdleTimeout), "how long an idle keep-alive connection stays open")
	fl.IntVar(&f.maxConns, "max-conns", d.MaxConns, "most API connections open at once; more wait to be accepted")
	fl.StringArrayVar(&f.limits, "rate-limit", nil, `a costly route class's limit per client, CLASS=RATE[:BURST[:CONCURRENT]] (CLASS verify, submit or scan; RATE requests/s, 0 for none; CONCURRENT over all clients); repeatable`)
}

// settings are the home's HTTP settings (the defaults for a home not yet
// created) with the flags that were given.
func (f *httpFlags) settings(cmd *cobra.Command, home string) (*node.HTTPSettings, error) {
	h := node.DefaultHTTP()
	if node.Initialized(home) {
		var err error
		if h, err = node.LoadHTTP(home); err != nil {
			return nil, err
		}
	}
	fl := cmd.Flags()
	if fl.Changed("read-timeout") {
		h.ReadTimeout = node.Duration(f.readTimeout)
	}
	if fl.Changed("write-timeout") {
		h.WriteTimeout = node.Duration(f.writeTimeout)
	}
	if fl.Changed("idle-timeout") {
		h.IdleTimeout = node.Duration(f.idleTimeout)
	}
	if fl.Changed("max-conns") {
		h.MaxConns = f.maxConns
	}
	for _, spec := range f.limits {
		if err := h.SetLimit(spec); err != nil {
			return nil, fail("--rate-limit %v", err)
		}
	}
	if err := h.Validate(); err != nil {
		return nil, fail("HTTP settings: %v (check --read-timeout, --write-timeout, --idle-timeout, --max-conns)", err)
	}
	return &h, nil
}
