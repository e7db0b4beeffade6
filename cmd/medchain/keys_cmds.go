package main

import (
	"encoding/hex"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/keys"
)

// keyInfo is the public half of a key, as printed.
type keyInfo struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	PubKey  string `json:"pub_key"` // hex ed25519
	EncKey  string `json:"enc_key"` // hex X25519
}

func info(k *keys.Public) keyInfo {
	return keyInfo{Name: k.Name, Address: k.Address, PubKey: hex.EncodeToString(k.PubKey), EncKey: hex.EncodeToString(k.EncPub)}
}

func showKey(w io.Writer, k keyInfo) {
	fmt.Fprintf(w, "name:\t%s\naddress:\t%s\npub key:\t%s\nenc key:\t%s\n", k.Name, k.Address, k.PubKey, k.EncKey)
}

func keysCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage account keys in <home>/keys (never sent anywhere)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "new NAME",
		Short: "Generate a key pair (ed25519 signing, X25519 encryption) and save it",
		Long: `new generates a key pair and saves it in <home>/keys, its private keys encrypted with age
under a passphrase (scrypt) — taken from the file named by MEDCHAIN_KEY_PASSPHRASE_FILE, or
MEDCHAIN_KEY_PASSPHRASE, or asked on the terminal; never a flag. In the key directory of a dev
network (medchain up, medchain testnet: marked by a file UNENCRYPTED-DEV-KEYS) keys are stored
unencrypted, with a warning. Commands that sign or decrypt with an encrypted key take the
passphrase the same way.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := keys.Generate(args[0])
			if err != nil {
				return err
			}
			if err := k.Save(e.keysDir()); err != nil {
				return err
			}
			ki := info(&keys.Public{Name: k.Name, Address: k.Address(), PubKey: k.PubKey(), EncPub: k.EncPub()})
			return e.show(cmd, ki, func(w io.Writer) {
				fmt.Fprintf(w, "created key %s in %s\n", k.Name, e.keysDir())
				if keys.IsDev(e.keysDir()) {
					fmt.Fprintln(w, "WARNING: a dev keystore: the key is stored UNENCRYPTED")
				} else {
					fmt.Fprintln(w, "encrypted under the keystore passphrase")
				}
				showKey(w, ki)
			})
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "List the keys",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names, err := keys.List(e.keysDir())
			if err != nil {
				return err
			}
			out := []keyInfo{}
			for _, n := range names {
				k, err := keys.LoadPublic(e.keysDir(), n)
				if err != nil {
					return err
				}
				out = append(out, info(k))
			}
			return e.show(cmd, out, func(w io.Writer) {
				if len(out) == 0 {
					fmt.Fprintf(w, "no keys in %s (create one with `medchain keys new NAME`)\n", e.keysDir())
					return
				}
				fmt.Fprintln(w, "NAME\tADDRESS")
				for _, k := range out {
					fmt.Fprintf(w, "%s\t%s\n", k.Name, k.Address)
				}
			})
		},
	}, &cobra.Command{
		Use:   "show NAME",
		Short: "Show a key's address and public keys",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := keys.LoadPublic(e.keysDir(), args[0])
			if err != nil {
				return err
			}
			ki := info(k)
			return e.show(cmd, ki, func(w io.Writer) { showKey(w, ki) })
		},
	})
	var org string
	possession := &cobra.Command{
		Use:   "possession NAME",
		Short: "Prove possession of a key for its registration into an organisation (hand the proof to the org admin)",
		Long: `possession signs, with the named key, its registration into --org on the node's chain:
the proof an organisation admin's "account register --pub-key" (or an authority's
"org create --admin-pub-key") needs, so that no one can register a key they do not hold.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if org == "" {
				return fail("--org is required")
			}
			proof, err := e.possession(cmd, args[0], "", "", org)
			if err != nil {
				return err
			}
			out := struct {
				Org        string `json:"org"`
				Possession string `json:"possession"`
			}{org, hex.EncodeToString(proof)}
			return e.show(cmd, out, func(w io.Writer) { fmt.Fprintln(w, out.Possession) })
		},
	}
	possession.Flags().StringVar(&org, "org", "", "organisation the key is to be registered into")
	cmd.AddCommand(possession)
	return cmd
}
