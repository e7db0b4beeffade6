package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/medchain/medchain/api"
	"github.com/medchain/medchain/attest"
	"github.com/medchain/medchain/attest/guest"
	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/ledger"
)

// Hardware attestation: the consortium's pinned policy, and a worker's
// evidence gathered inside its confidential VM (docs/attestation.md).

// attestationPolicyCmd is `attestation-policy`: set (by a consortium
// authority) and show.
func attestationPolicyCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{Use: "attestation-policy", Short: "What the consortium accepts of SEV-SNP and TDX evidence"}
	show := &cobra.Command{
		Use:   "show sev-snp|tdx",
		Short: "Show the pinned policy of an evidence type",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return query(e, cmd, func(ctx context.Context, c *client.Client) (*ledger.AttestationPolicy, error) {
				return c.AttestationPolicy(ctx, args[0])
			}, showAttestationPolicy)
		},
	}
	cmd.AddCommand(attestationPolicySetCmd(e), show)
	return cmd
}

func showAttestationPolicy(w io.Writer, p *ledger.AttestationPolicy) {
	fmt.Fprintf(w, "type:\t%s\n", p.Evidence)
	for _, m := range p.Measurements {
		fmt.Fprintf(w, "measurement:\t%s\n", m)
	}
	if p.MinTCB != "" {
		fmt.Fprintf(w, "minimum tcb:\t%s\n", p.MinTCB)
	}
	fmt.Fprintf(w, "evidence good for:\t%d blocks\n", p.ExpiryBlocks)
	switch {
	case len(p.CRL) > 0:
		fmt.Fprintf(w, "collateral:\tAMD CRL, %d bytes\n", len(p.CRL))
	case p.TDXCollateral != nil:
		fmt.Fprintf(w, "collateral:\tIntel PCS collateral\n")
	default:
		fmt.Fprintf(w, "collateral:\tnone (revocation and TCB status not checked)\n")
	}
	fmt.Fprintf(w, "set at:\theight %d\n", p.Height)
}

func attestationPolicySetCmd(e *env) *cobra.Command {
	var (
		tf                  txFlags
		m                   ledger.SetAttestationPolicy
		crlFile, collateral string
	)
	cmd := &cobra.Command{
		Use:   "set",
		Short: "Pin what the consortium accepts of SEV-SNP or TDX evidence (by a consortium authority)",
		Long: `set pins, for one evidence type, the launch measurements the
consortium accepts, the minimum TCB, how many blocks verified evidence stays
good for, and the collateral evidence is checked against: AMD's CRL for the
product line (DER) for sev-snp, Intel's PCS collateral (a JSON file with the
fields of attest.TDXCollateral) for tdx. It replaces the type's previous policy
and applies at once to every worker of the type.

  medchain attestation-policy set --from consortium-admin --type sev-snp \
    --measurement <96 hex> --min-tcb 0300000000000873 --expiry-blocks 86400 --crl milan.crl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if crlFile != "" {
				b, err := os.ReadFile(crlFile)
				if err != nil {
					return fmt.Errorf("--crl: %w", err)
				}
				m.CRL = b
			}
			if collateral != "" {
				b, err := os.ReadFile(collateral)
				if err != nil {
					return fmt.Errorf("--tdx-collateral: %w", err)
				}
				var c attest.TDXCollateral
				if err := json.Unmarshal(b, &c); err != nil {
					return fmt.Errorf("--tdx-collateral %s: %w", collateral, err)
				}
				m.TDXCollateral = &c
			}
			return e.sendTx(cmd, &tf, &m, func(context.Context, *client.Client, *api.TxSubmitted) (any, string, error) {
				return nil, fmt.Sprintf("pinned %s attestation policy: %d measurements, evidence good for %d blocks", m.Evidence, len(m.Measurements), m.ExpiryBlocks), nil
			})
		},
	}
	addTxFlags(cmd, &tf)
	f := cmd.Flags()
	f.StringVar(&m.Evidence, "type", "", "evidence type: sev-snp or tdx")
	f.StringArrayVar(&m.Measurements, "measurement", nil, "an accepted launch measurement, 96 hex digits (repeat for several)")
	f.StringVar(&m.MinTCB, "min-tcb", "", "minimum TCB, hex: 8 bytes for sev-snp (REPORTED_TCB), 16 for tdx (TEE_TCB_SVN)")
	f.Int64Var(&m.ExpiryBlocks, "expiry-blocks", 0, "blocks verified evidence stays good for")
	f.StringVar(&crlFile, "crl", "", "sev-snp: AMD's CRL for the product line (DER file)")
	f.StringVar(&collateral, "tdx-collateral", "", "tdx: Intel PCS collateral (JSON file)")
	return cmd
}

// workerEvidenceCmd is `worker evidence`, run by the worker inside its
// confidential VM.
func workerEvidenceCmd(e *env) *cobra.Command {
	var typ, worker, measurement, binary, vcekFile, out string
	cmd := &cobra.Command{
		Use:   "evidence",
		Short: "Gather SEV-SNP or TDX evidence inside this confidential VM, bound to the worker's key and code",
		Long: `evidence asks this machine's SEV-SNP or TDX device (configfs-tsm, or
/dev/sev-guest) for a report whose report data binds the worker account's key
and code measurement, and writes the evidence for worker register --evidence.
It fails on a machine that is not such a confidential VM.

  medchain worker evidence --type sev-snp --worker st-mary-worker --measure-binary ./medchain -o evidence.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return fail("-o is required: the file to write the evidence to")
			}
			k, err := e.key(worker)
			if err != nil {
				return fmt.Errorf("--worker: %w", err)
			}
			m, err := hashFlag("measurement", measurement, "measure-binary", binary)
			if err != nil {
				return err
			}
			code, _ := hex.DecodeString(m)
			rd := guest.ForWorker(k.PubKey(), code)
			var ev []byte
			switch typ {
			case attest.TypeSEVSNP:
				var vcek []byte
				if vcekFile != "" {
					if vcek, err = os.ReadFile(vcekFile); err != nil {
						return fmt.Errorf("--vcek: %w", err)
					}
				}
				d, err := guest.OpenSNP()
				if err != nil {
					return err
				}
				if ev, err = guest.SNP(d, rd, vcek); err != nil {
					return err
				}
			case attest.TypeTDX:
				d, err := guest.OpenTDX()
				if err != nil {
					return err
				}
				if ev, err = guest.TDX(d, rd); err != nil {
					return err
				}
			default:
				return fail("--type: %q is not %s or %s", typ, attest.TypeSEVSNP, attest.TypeTDX)
			}
			if err := os.WriteFile(out, ev, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s evidence (%d bytes) to %s\n", typ, len(ev), out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&typ, "type", "", "evidence type: sev-snp or tdx")
	f.StringVar(&worker, "worker", "", "the worker account's local key name")
	f.StringVar(&measurement, "measurement", "", "hex SHA-256 of the worker binary and analysis code (as registered)")
	f.StringVar(&binary, "measure-binary", "", "compute the measurement as the SHA-256 of this file (instead of --measurement)")
	f.StringVar(&vcekFile, "vcek", "", "sev-snp: the chip's VCEK (DER), when the host's certificate table has none")
	f.StringVarP(&out, "output", "o", "", "file to write the evidence to")
	return cmd
}
