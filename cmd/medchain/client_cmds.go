package main

import "github.com/spf13/cobra"

// addClientCommands adds the transaction and query commands.
func addClientCommands(root *cobra.Command, g *globals) {}
