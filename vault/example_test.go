package vault_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vault"
)

// A version's life: written under the dataset's lock, committed (its
// content root goes to the ledger), opened with the node's key against that
// root, read one column at a time, and any chunk proved to a third party.
func Example() {
	dir, _ := os.MkdirTemp("", "vault-example-")
	defer os.RemoveAll(dir)
	v, _ := vault.Open(filepath.Join(dir, "vault"))
	institution := keys.FromSeed("st-mary-admin", [32]byte{1: 1})
	node, _ := vault.NodeIdentity(institution.Enc)

	lk, _ := v.Lock("bp-study")
	w, _ := lk.Create(vault.Meta{
		Version:    1,
		Schema:     record.Schema{{Name: "age", Type: "integer"}, {Name: "sbp", Type: "number", Unit: "mm[Hg]"}},
		Recipients: []vault.Recipient{node.Recipient()},
	})
	w.Append(record.Row{Pseudonym: "9f2c…", Values: []record.Value{record.Num(61), record.Num(142)}})
	w.Append(record.Row{Pseudonym: "04ab…", Values: []record.Value{record.Num(47), record.Null()}})
	sum, _ := w.Commit()
	lk.Unlock()
	fmt.Println("publish:", sum.RecordBand, sum.Locator, len(sum.ContentRoot), "hex digits of content root")

	r, _ := v.Open("bp-study", 1, sum.ContentRoot, node)
	for c, err := range r.Column("sbp") {
		if err != nil {
			panic(err)
		}
		for i := 0; i < c.Rows; i++ {
			if c.Valid(i) {
				fmt.Println("sbp:", c.Nums[i])
			} else {
				fmt.Println("sbp: null")
			}
		}
	}

	sealed, proof, _ := v.ReadChunk("bp-study", 1, "sbp", 0)
	fmt.Println("chunk proved:", vault.VerifyChunk(sum.ContentRoot, sealed, proof) == nil)
	// Output:
	// publish: <100 vault:bp-study/1 64 hex digits of content root
	// sbp: 142
	// sbp: null
	// chunk proved: true
}
