package audit_test

import (
	"fmt"

	"github.com/medchain/medchain/audit"
	"github.com/medchain/medchain/store"
)

// A block appends to the log through an overlay and commits it; a client
// holding only a root and a proof checks an entry and the log's growth.
func Example() {
	db := store.NewMem()

	// Block 1: stage two entries, commit.
	overlay := store.NewOverlay(db)
	log, err := audit.Open(overlay, []byte("a/"))
	if err != nil {
		panic(err)
	}
	for _, e := range []string{"consent granted: record 17", "record 17 read by dr. lee"} {
		if _, err := log.Append([]byte(e)); err != nil {
			panic(err)
		}
	}
	if err := overlay.WriteTo(db); err != nil {
		panic(err)
	}
	root2, _ := log.Root()

	// Block 2: a fresh overlay, so a fresh Log.
	overlay = store.NewOverlay(db)
	log, _ = audit.Open(overlay, []byte("a/"))
	index, _ := log.Append([]byte("consent revoked: record 17"))
	_ = overlay.WriteTo(db)
	root3, _ := log.Root()

	// The server hands out proofs; the client verifies them without a store.
	inclusion, _ := log.InclusionProof(index, 3)
	fmt.Println("entry", index, "in tree 3:",
		audit.VerifyInclusion([]byte("consent revoked: record 17"), index, 3, inclusion, root3))
	fmt.Println("forged entry:",
		audit.VerifyInclusion([]byte("consent granted: record 17"), index, 3, inclusion, root3) != nil)

	consistency, _ := log.ConsistencyProof(2, 3)
	fmt.Println("tree 2 is a prefix of tree 3:", audit.VerifyConsistency(2, 3, consistency, root2, root3))
	fmt.Printf("root of tree 3: %x\n", root3)
	// Output:
	// entry 2 in tree 3: <nil>
	// forged entry: true
	// tree 2 is a prefix of tree 3: <nil>
	// root of tree 3: 339ddb2f66e31f0ef9a0b6272b16b880b74f0d50642240c96c5f34662d0ea497
}
