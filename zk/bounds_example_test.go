package zk_test

import (
	"crypto/rand"
	"crypto/sha512"
	"fmt"

	"github.com/medchain/medchain/zk"
)

// Three hospitals contribute fixed-point sufficient statistics to a
// federated study. Each commits to its values with blindings derived from
// pairwise secrets, so that the blindings cancel across sites, and proves
// every value within the study's published intervals. The ledger checks
// the proofs and that the commitments add up to the aggregate that secure
// aggregation produced — without any site revealing its values.
func ExampleProveBounds() {
	bounds := []zk.Interval{{Lo: 0, Hi: 5000}, {Lo: -1 << 40, Hi: 1 << 40}} // n, Σ x·y at scale 2^32
	values := [][]int64{{1200, 3 << 32}, {800, -1 << 32}, {2100, 5 << 32}}

	// Site i's blinding for index j: Σ_{k>i} PRF(s_ik, j) − Σ_{k<i} PRF(s_ki, j).
	blinding := func(i, j int) zk.Scalar {
		var r zk.Scalar
		for k := range values {
			a, b := min(i, k), max(i, k)
			prf := zk.ScalarFromUniform(sha512.Sum512([]byte(fmt.Sprintf("secret(%d,%d)/%d", a, b, j))))
			switch {
			case k > i:
				r = r.Add(prf)
			case k < i:
				r = r.Sub(prf)
			}
		}
		return r
	}

	var posted [][]zk.Commitment
	var items []zk.BoundsItem
	for i, v := range values {
		bl := []zk.Scalar{blinding(i, 0), blinding(i, 1)}
		commitments, _ := zk.CommitValues(v, bl)
		ctx := []byte(fmt.Sprintf("chain=demo job=7 round=1 iteration=0 site=%d", i))
		proof, err := zk.ProveBounds(ctx, v, bl, bounds, rand.Reader)
		if err != nil {
			panic(err)
		}
		posted = append(posted, commitments)
		items = append(items, zk.BoundsItem{Context: ctx, Commitments: commitments, Bounds: bounds, Proof: proof})
		if i == 0 {
			fmt.Println("proof bytes:", proof.Size())
		}
	}

	fmt.Println("site 0 verifies:", zk.VerifyBounds(items[0].Context, items[0].Commitments, bounds, items[0].Proof) == nil)
	fmt.Println("all sites verify:", zk.VerifyBoundsBatch(items) == nil)
	fmt.Println("aggregate opens:", zk.SumOpensTo(posted, []int64{4100, 7 << 32}) == nil)
	fmt.Println("wrong aggregate opens:", zk.SumOpensTo(posted, []int64{4101, 7 << 32}) == nil)
	// Output:
	// proof bytes: 865
	// site 0 verifies: true
	// all sites verify: true
	// aggregate opens: true
	// wrong aggregate opens: false
}
