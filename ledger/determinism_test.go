package ledger

import (
	"bytes"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/medchain/medchain/store"
)

// Every validator must compute the same app hash from the same blocks, and
// a node that restarts must carry on from its store exactly as if it had
// not. Two machines on separate stores are fed the same random blocks
// (after worldSetup, transactions of every type, good and bad); one of them
// decodes through a TxCache and is re-opened from its store after random
// commits. Every result, every commitment and,
// finally, every byte in the two stores must agree.
func TestPropertyDeterministicAndRestartable(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		dbA, dbB := store.NewMem(), store.NewMem()
		a, err := New(dbA)
		if err != nil {
			rt.Fatal(err)
		}
		b, err := New(dbB)
		if err != nil {
			rt.Fatal(err)
		}
		// B also decodes through a small TxCache, which must be invisible
		// to consensus (replays below hit it).
		cache := NewTxCache(testChain, 16)
		b.UseTxCache(cache)
		ga, err := a.InitChain(testChain, worldGenesis())
		if err != nil {
			rt.Fatal(err)
		}
		gb, err := b.InitChain(testChain, worldGenesis())
		if err != nil {
			rt.Fatal(err)
		}
		if !reflect.DeepEqual(ga, gb) {
			rt.Fatalf("genesis commitments differ:\n%+v\n%+v", ga, gb)
		}
		gen := &txGen{m: a, now: 1_700_000_000, kinds: allTxKinds}
		blocks := rapid.IntRange(1, 6).Draw(rt, "blocks")
		for h := int64(1); h <= int64(blocks); h++ {
			gen.now += rapid.Int64Range(0, 600).Draw(rt, "seconds")
			info := BlockInfo{Height: h, Time: gen.now}
			if err := a.BeginBlock(info); err != nil {
				rt.Fatal(err)
			}
			if err := b.BeginBlock(info); err != nil {
				rt.Fatal(err)
			}
			if h == 1 {
				deliverSetup(rt, a)
				deliverSetup(rt, b)
			}
			for i := range rapid.IntRange(0, 12).Draw(rt, "txs") {
				raw := gen.draw(rt)
				ra, errA := a.DeliverTx(raw)
				rb, errB := b.DeliverTx(raw)
				if errA != nil || errB != nil {
					rt.Fatalf("DeliverTx errors: %v, %v", errA, errB)
				}
				if !reflect.DeepEqual(ra, rb) {
					rt.Fatalf("height %d tx %d: results differ:\n%+v\n%+v", h, i, ra, rb)
				}
			}
			ca, cb := commitBlock(rt, a, dbA), commitBlock(rt, b, dbB)
			if !reflect.DeepEqual(ca, cb) {
				rt.Fatalf("height %d: commitments differ:\n%+v\n%+v", h, ca, cb)
			}
			if err := ca.Verify(); err != nil {
				rt.Fatal(err)
			}
			if rapid.Bool().Draw(rt, "restart") {
				if b, err = New(dbB); err != nil {
					rt.Fatal(err)
				}
				b.UseTxCache(cache)
				if !reflect.DeepEqual(b.Last(), cb) || b.ChainID() != testChain {
					rt.Fatalf("restarted at height %d: last %+v chain %q, want %+v", h, b.Last(), b.ChainID(), cb)
				}
			}
		}
		assertSameStore(rt, dbA, dbB)
	})
}

func assertSameStore(t *rapid.T, a, b *store.Mem) {
	ka, kb := a.Keys(nil), b.Keys(nil)
	if !slices.EqualFunc(ka, kb, bytes.Equal) {
		t.Fatalf("stores hold different keys: %d vs %d", len(ka), len(kb))
	}
	for _, k := range ka {
		va, _ := a.Get(k)
		vb, _ := b.Get(k)
		if !bytes.Equal(va, vb) {
			t.Fatalf("stores differ at %q:\n%s\n%s", k, va, vb)
		}
	}
}

// The state is a set of keys and values, so the order in which genesis
// lists accounts, organisations and an organisation's admins does not
// change the app hash. (The order of authorities does: they are stored as
// the list given.)
func TestGenesisOrderDoesNotMatter(t *testing.T) {
	base := worldGenesis()
	base.Orgs[1].Admins = []string{testAddr("alice"), testAddr("bob")}
	block := [][]byte{
		mustSign("alice", 0, &Transfer{To: testAddr("pat"), Amount: 7}),
		mustSign("bob", 0, &SetOrgAdmin{Org: "hosp-a", Address: testAddr("alice"), Admin: false}),
		mustSign("newpat", 0, &RegisterAccount{PubKey: testPub("newpat"), EncKey: testEncKey("newpat"), Kind: KindPatient}),
	}
	run := func(t tb, g Genesis) [2]Commitment {
		db := store.NewMem()
		m, err := New(db)
		if err != nil {
			t.Fatal(err)
		}
		c0, err := m.InitChain(testChain, g)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.BeginBlock(BlockInfo{Height: 1, Time: 1_700_000_000}); err != nil {
			t.Fatal(err)
		}
		for _, raw := range block {
			if res, err := m.DeliverTx(raw); err != nil || res.Code != CodeOK {
				t.Fatalf("setup tx: %+v %v", res, err)
			}
		}
		return [2]Commitment{c0, commitBlock(t, m, db)}
	}
	want := run(t, base)
	rapid.Check(t, func(rt *rapid.T) {
		g := base
		g.Accounts = rapid.Permutation(base.Accounts).Draw(rt, "accounts")
		g.Orgs = slices.Clone(rapid.Permutation(base.Orgs).Draw(rt, "orgs"))
		for i := range g.Orgs {
			g.Orgs[i].Admins = rapid.Permutation(g.Orgs[i].Admins).Draw(rt, "admins")
		}
		if got := run(rt, g); !reflect.DeepEqual(got, want) {
			rt.Fatalf("reordered genesis gives different commitments:\n%+v\n%+v", got, want)
		}
	})
}
