package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/keys"
)

// A patient's side of keys: one secret, kept encrypted in the keystore,
// and from it a separate wallet at each institution (keys.PatientWallet),
// so the patient's wallets cannot be linked on the ledger.

// patientWallet is what `patient keys show|export` print: the public half
// of a derived wallet.
type patientWallet struct {
	Secret      string `json:"secret"`
	Institution string `json:"institution"`
	Key         string `json:"key,omitempty"` // the key file written by export
	Address     string `json:"address"`
	PubKey      string `json:"pub_key"` // hex ed25519
	EncKey      string `json:"enc_key"` // hex X25519
}

func patientKeysCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "A patient's secret and the separate wallet it gives them at each institution",
		Long: `A patient keeps one secret and uses a different wallet at each institution, derived from
it (HKDF-SHA256 with the institution id; docs/patients.md): wallets at two institutions share no
key, address or encryption key, so nothing on the ledger links them. The secret is kept in
<home>/keys/patient-secrets, encrypted under the keystore passphrase like every key.

  medchain patient keys init alice
  medchain patient keys show alice --institution st-mary      # the wallet to give st-mary
  medchain patient keys export alice --institution st-mary    # key file alice.st-mary
  medchain account register --from alice.st-mary --kind patient
  medchain consent give --from alice.st-mary --scope institution:st-mary --purpose research
  medchain consent list alice.st-mary`,
	}

	cmd.AddCommand(&cobra.Command{
		Use:   "init NAME",
		Short: "Create a patient secret (encrypted under the keystore passphrase)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := keys.NewPatientSecret()
			if err != nil {
				return err
			}
			defer clear(s)
			if err := keys.SavePatientSecret(e.keysDir(), args[0], s, keys.DefaultPassphrase); err != nil {
				return err
			}
			dev := keys.IsDev(e.keysDir())
			out := struct {
				Name      string `json:"name"`
				Path      string `json:"path"`
				Encrypted bool   `json:"encrypted"`
			}{args[0], filepath.Join(keys.PatientSecretsDir(e.keysDir()), args[0]+".json"), !dev}
			return e.show(cmd, out, func(w io.Writer) {
				fmt.Fprintf(w, "created patient secret %s in %s\n", out.Name, out.Path)
				if dev {
					fmt.Fprintln(w, "WARNING: a dev keystore: the secret is stored UNENCRYPTED")
				} else {
					fmt.Fprintln(w, "encrypted under the keystore passphrase; back it up: every wallet derives from it")
				}
			})
		},
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the patient secrets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			names, err := keys.ListPatientSecrets(e.keysDir())
			if err != nil {
				return err
			}
			if names == nil {
				names = []string{}
			}
			return e.show(cmd, names, func(w io.Writer) {
				if len(names) == 0 {
					fmt.Fprintf(w, "no patient secrets in %s (create one with `medchain patient keys init NAME`)\n", keys.PatientSecretsDir(e.keysDir()))
				}
				for _, n := range names {
					fmt.Fprintln(w, n)
				}
			})
		},
	})

	wallet := func(use, short string, export bool) *cobra.Command {
		var org, as string
		var offline bool
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if org == "" {
					return fail("--institution is required: the id of the organisation this wallet is for (medchain org list)")
				}
				if !offline {
					if err := e.checkOrg(cmd, org); err != nil {
						return err
					}
				}
				name := as
				if name == "" {
					name = args[0] + "." + org
				}
				s, err := keys.LoadPatientSecret(e.keysDir(), args[0], keys.DefaultPassphrase)
				if err != nil {
					return err
				}
				defer clear(s)
				k, err := keys.PatientWallet(s, org, name)
				if err != nil {
					return fail("--institution: %v", err)
				}
				out := patientWallet{Secret: args[0], Institution: org, Address: k.Address(),
					PubKey: fmt.Sprintf("%x", k.PubKey()), EncKey: fmt.Sprintf("%x", k.EncPub())}
				if export {
					if err := k.Save(e.keysDir()); err != nil {
						return err
					}
					out.Key = name
				}
				return e.show(cmd, out, func(w io.Writer) {
					if export {
						fmt.Fprintf(w, "wrote key %s to %s (sign with --from %s)\n", name, e.keysDir(), name)
					}
					fmt.Fprintf(w, "institution:\t%s\naddress:\t%s\npub key:\t%s\nenc key:\t%s\n", org, out.Address, out.PubKey, out.EncKey)
				})
			},
		}
		c.Flags().StringVar(&org, "institution", "", "the organisation id the wallet is for")
		c.Flags().BoolVar(&offline, "offline", false, "do not ask the node whether the institution exists")
		if export {
			c.Flags().StringVar(&as, "as", "", "name of the key file to write (default NAME.INSTITUTION)")
		}
		return c
	}
	cmd.AddCommand(
		wallet("show NAME", "Show the wallet (address, public keys) the secret NAME gives at an institution", false),
		wallet("export NAME", "Write the wallet at an institution as a key file (encrypted like every key) for the consent commands", true))
	return cmd
}

// checkOrg refuses an institution id the ledger does not know: a typo
// would derive a wallet nobody links.
func (e *env) checkOrg(cmd *cobra.Command, org string) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	ctx, cancel := e.ctx(cmd)
	defer cancel()
	_, err = c.Org(ctx, org)
	if client.IsNotFound(err) {
		return fail("--institution %q: no such organisation on the ledger (medchain org list; --offline skips this check)", org)
	}
	if err != nil {
		return fmt.Errorf("--institution %q: checking the organisation: %w (--offline skips this check)", org, err)
	}
	return nil
}
