package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/node"
)

func upCmd(g *globals) *cobra.Command {
	var (
		api, rpc, p2p string
		psqlConn      string
		noDemo        bool
		blockTime     time.Duration
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run medchain on its embedded default: a one-validator network in this process",
		Long: `up creates a dev network in --home on first run (one validator, on-disk stores,
demo organisations and accounts unless --no-demo), then runs it with the HTTP API on --api.
Ctrl-C stops it cleanly; the next run resumes from disk.
` + psqlHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home := g.home
			var seed func(context.Context, *node.Node) error
			if !node.Initialized(home) {
				err := node.CreateNetwork([]string{home}, node.NetOptions{
					ChainID: "medchain-dev", Validators: 1, Demo: !noDemo, BlockTime: blockTime,
					API: api, RPC: rpc, P2P: p2p,
				})
				if err != nil {
					return fmt.Errorf("create dev network in %s: %w", home, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created a dev network in %s (keys in %s)\n", home, node.KeysDir(home))
				if !noDemo {
					seed = func(ctx context.Context, n *node.Node) error {
						return seedDemo(ctx, home, n.APIAddr(), cmd.OutOrStdout())
					}
				}
			}
			return runNode(cmd, home, node.Options{API: api, PsqlConn: psqlConn, DevSignIn: true}, seed)
		},
	}
	cmd.Flags().StringVar(&api, "api", "", "API listen address (default 127.0.0.1:8080; saved on first run)")
	cmd.Flags().StringVar(&rpc, "rpc", "", "CometBFT RPC listen address, first run only (default 127.0.0.1:26657)")
	cmd.Flags().StringVar(&p2p, "p2p", "", "CometBFT p2p listen address, first run only (default 127.0.0.1:26656)")
	cmd.Flags().BoolVar(&noDemo, "no-demo", false, "do not seed demo organisations and accounts (first run only)")
	cmd.Flags().DurationVar(&blockTime, "block-time", node.DefaultBlockTime, "target block interval (first run only)")
	cmd.Flags().StringVar(&psqlConn, "psql-conn", "", psqlFlagHelp)
	return cmd
}

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
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run the node whose home is --home (e.g. one written by `medchain testnet`)",
		Long:  "node runs the node whose home is --home (e.g. one written by `medchain testnet`) until Ctrl-C.\n" + psqlHelp,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !node.Initialized(g.home) {
				return fail("%s holds no node: create one with `medchain testnet` or `medchain up`", g.home)
			}
			return runNode(cmd, g.home, node.Options{API: api, PsqlConn: psqlConn}, nil)
		},
	}
	cmd.Flags().StringVar(&api, "api", "", "override the API listen address")
	cmd.Flags().StringVar(&psqlConn, "psql-conn", "", psqlFlagHelp)
	return cmd
}

// runNode starts the node and blocks until SIGINT/SIGTERM. If seed is set
// it runs once the genesis state is committed (a new demo network).
func runNode(cmd *cobra.Command, home string, o node.Options, seed func(context.Context, *node.Node) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	o.Workers = true
	n, err := node.Start(home, o)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "medchain node running: chain %s\n  dashboard  http://%s/\n  API        http://%s/v1/status (OpenAPI: /v1/openapi.json)\n  keys       %s\n  log        %s\n",
		n.ChainID(), n.APIAddr(), n.APIAddr(), node.KeysDir(home), node.LogPath(home))
	seeded := make(chan error, 1)
	if seed != nil {
		go func() {
			for ctx.Err() == nil {
				if st, err := n.Status(ctx); err == nil && st.Height >= 2 {
					fmt.Fprintln(out, "seeding demo data…")
					seeded <- seed(ctx, n)
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
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
			if err != nil {
				fmt.Fprintf(out, "demo data incomplete: %v\n", err)
			} else {
				fmt.Fprintln(out, "demo data ready: see the dashboard, or `medchain dataset list`")
			}
		case <-t.C:
			if st, err := n.Status(ctx); err == nil {
				fmt.Fprintf(out, "height %d  app_hash %x  peers %d\n", st.Height, []byte(st.AppHash), st.Peers)
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
