package smt_test

import (
	"encoding/json"
	"fmt"

	"github.com/medchain/medchain/smt"
	"github.com/medchain/medchain/store"
)

// Commit a few keys, prove one present and one absent, and check the proofs
// the way a client holding only the root would. The printed roots also pin
// the hashing scheme (they were cross-checked against an independent
// implementation of the spec): any change to the scheme changes them.
func Example() {
	tree := smt.New(store.NewMem(), []byte("n/"))

	root, err := tree.Update(smt.Empty, []store.Change{
		{Key: []byte("s/alice"), Value: []byte(`{"balance":10}`)},
		{Key: []byte("s/bob"), Value: []byte(`{"balance":20}`)},
		{Key: []byte("s/carol"), Value: []byte(`{"balance":30}`)},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("root:", root)

	proof, err := tree.Prove(root, []byte("s/bob"))
	if err != nil {
		panic(err)
	}
	wire, _ := json.Marshal(proof) // what the HTTP API sends
	var received smt.Proof
	if err := json.Unmarshal(wire, &received); err != nil {
		panic(err)
	}
	fmt.Println("bob has balance 20:", received.Verify(root, []byte("s/bob"), []byte(`{"balance":20}`)) == nil)
	fmt.Println("bob has balance 99:", received.Verify(root, []byte("s/bob"), []byte(`{"balance":99}`)) == nil)

	absent, _ := tree.Prove(root, []byte("s/mallory"))
	fmt.Println("mallory absent:", absent.Verify(root, []byte("s/mallory"), nil) == nil)

	// Deleting bob gives the root of {alice, carol}; the old root still
	// proves bob's balance.
	root2, _ := tree.Update(root, []store.Change{{Key: []byte("s/bob")}})
	fmt.Println("root after delete:", root2)
	old, _ := tree.Prove(root, []byte("s/bob"))
	fmt.Println("old root still proves bob:", old.Verify(root, []byte("s/bob"), []byte(`{"balance":20}`)) == nil)
	// Output:
	// root: b6238382b101d0a61b8a5262934dff83299a1c9f35b1cbbf98e02d870ceb2465
	// bob has balance 20: true
	// bob has balance 99: false
	// mallory absent: true
	// root after delete: d0af97630529ebe5ba7371615f648f3d8090e8a121ee5d1f5eb5e6482eba38d1
	// old root still proves bob: true
}
