// Command medchain is the whole of medchain in one binary: the node
// (`up`, `node`), network set-up (`testnet`), and the CLI for every
// transaction and query, talking to a node's HTTP API.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/client"
)

func main() {
	root := newRoot()
	err := root.Execute()
	os.Exit(exitCode(err))
}

// exitCode is the one place errors become process exit codes:
// 0 success, 1 the request was refused (a ledger result code or an API
// error), 2 usage or local errors (bad flags, files, keys).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		return 1
	}
	return 2
}

type globals struct {
	home string
	api  string
	json bool
}

func defaultHome() string {
	if h := os.Getenv("MEDCHAIN_HOME"); h != "" {
		return h
	}
	dir, err := os.UserHomeDir()
	if err != nil {
		return ".medchain"
	}
	return dir + "/.medchain"
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "medchain",
		Short:         "medchain: share healthcare data for research without handing it over",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.SetErrPrefix("medchain: error:")
	root.PersistentFlags().StringVar(&g.home, "home", defaultHome(), "node home directory (keys live in <home>/keys)")
	root.PersistentFlags().StringVar(&g.api, "node", "", "API address of the node to talk to (default: the home's API address, else 127.0.0.1:8080)")
	root.PersistentFlags().BoolVar(&g.json, "json", false, "print machine-readable JSON")
	root.AddCommand(upCmd(g), nodeCmd(g), testnetCmd(g), synthCmd(g), demoCmd(g))
	addClientCommands(root, g)
	addVaultCommands(root, g)
	return root
}

func fail(format string, args ...any) error { return fmt.Errorf(format, args...) }
