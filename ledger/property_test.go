package ledger

import (
	"maps"
	"math"
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/medchain/medchain/store"
)

// Tokens are conserved: whatever is sent, in whatever order, across any
// number of blocks, the balances always add up to the supply fixed at
// genesis. Along the way every transaction is checked against the rule
// that a failure changes nothing but the signer's nonce, and every
// successful transfer against its exact effect.
func TestPropertyTokensAreConserved(t *testing.T) {
	kinds := slices.Concat(allTxKinds, []string{"transfer", "transfer", "transfer", "transfer", "garbage", "replay", "flip"})
	rapid.Check(t, func(rt *rapid.T) {
		g := worldGenesis()
		// Balances up to the largest supply there can be, so that the
		// receiving side of a transfer can sit right at the top.
		room := uint64(math.MaxUint64)
		for i := range g.Accounts {
			b := rapid.OneOf(rapid.Uint64Range(0, min(1000, room)), rapid.Uint64Range(0, room), rapid.Just(room)).Draw(rt, "balance")
			g.Accounts[i].Balance = b
			room -= b
		}
		db := store.NewMem()
		m, err := New(db)
		if err != nil {
			rt.Fatal(err)
		}
		if _, err := m.InitChain(testChain, g); err != nil {
			rt.Fatal(err)
		}
		supply, err := GetSupply(m.block)
		if err != nil || supply != math.MaxUint64-room {
			rt.Fatalf("supply %d (%v), want the genesis total %d", supply, err, uint64(math.MaxUint64)-room)
		}
		gen := &txGen{m: m, now: 1_700_000_000, kinds: kinds}
		blocks := rapid.IntRange(1, 4).Draw(rt, "blocks")
		for h := int64(1); h <= int64(blocks); h++ {
			gen.now += rapid.Int64Range(1, 600).Draw(rt, "seconds")
			if err := m.BeginBlock(BlockInfo{Height: h, Time: gen.now}); err != nil {
				rt.Fatal(err)
			}
			if h == 1 {
				deliverSetup(rt, m)
			}
			for range rapid.IntRange(1, 15).Draw(rt, "txs") {
				raw := gen.draw(rt)
				before := stagedState(rt, m, db)
				res, err := m.DeliverTx(raw)
				if err != nil {
					rt.Fatalf("DeliverTx returned an error: %v", err)
				}
				after := stagedState(rt, m, db)
				if res.Code == CodeOK {
					checkTransferEffect(rt, raw, before, after)
				} else {
					checkOnlyNonceBumped(rt, raw, res, before, after)
				}
				assertConserved(rt, m, db, supply)
			}
			commitBlock(rt, m, db)
			assertConserved(rt, m, db, supply)
		}
	})
}

// Deals keep tokens too: whatever deals are posted, accepted, withdrawn,
// declined, delivered (twice, by the wrong worker, for patients who never accepted)
// and closed, in any order across blocks, every token is in an account, a
// job or deal escrow or a pool, and each deal's budget is exactly its
// escrow plus what it paid and refunded (heldSum checks both). The world's
// workers are registered first so that deliveries can succeed.
func TestPropertyDealsConserveTokens(t *testing.T) {
	kinds := []string{"post_deal", "post_deal", "accept_deal", "accept_deal", "accept_deal", "accept_deal", "withdraw_acceptance",
		"deliver_deal_rows", "deliver_deal_rows", "deliver_deal_rows", "decline_acceptances", "close_deal", "transfer", "set_policy", "replay"}
	var delivered, closed int
	rapid.Check(t, func(rt *rapid.T) {
		m, db := newWorld(rt)
		gen := &txGen{m: m, now: 1_700_000_000, kinds: kinds}
		supply, err := GetSupply(m.block)
		if err != nil {
			rt.Fatal(err)
		}
		for h := int64(1); h <= int64(rapid.IntRange(2, 6).Draw(rt, "blocks")); h++ {
			gen.now += 10
			if err := m.BeginBlock(BlockInfo{Height: h, Time: gen.now}); err != nil {
				rt.Fatal(err)
			}
			if h == 1 {
				deliverSetup(rt, m)
				for _, raw := range [][]byte{
					gen.sign(rt, "alice", &RegisterWorker{Address: testAddr("wanda"), Attestation: AttestTypeSoftware, Measurement: genMeasurement}),
					gen.sign(rt, "carol", &RegisterWorker{Address: testAddr("walt"), Attestation: AttestTypeSoftware, Measurement: genMeasurement}),
				} {
					m.DeliverTx(raw) // a drawn wrong nonce fails it: deliveries then fail too, which is also a case
				}
			}
			for range rapid.IntRange(5, 30).Draw(rt, "txs") {
				raw := gen.draw(rt)
				before := stagedState(rt, m, db)
				res, err := m.DeliverTx(raw)
				if err != nil {
					rt.Fatalf("DeliverTx returned an error: %v", err)
				}
				if res.Code != CodeOK {
					checkOnlyNonceBumped(rt, raw, res, before, stagedState(rt, m, db))
				} else if tx, _ := DecodeTx(raw); tx != nil {
					switch tx.Payload.Type {
					case TxDeliverDealRows:
						delivered++
					case TxCloseDeal:
						closed++
					}
				}
				assertConserved(rt, m, db, supply)
			}
			commitBlock(rt, m, db)
			assertConserved(rt, m, db, supply)
		}
	})
	if delivered == 0 || closed == 0 {
		t.Errorf("the generated deals never reached a delivery (%d) or a close (%d): the property was not exercised", delivered, closed)
	}
	t.Logf("%d successful deliveries, %d closes", delivered, closed)
}

func assertConserved(t *rapid.T, m *Machine, db *store.Mem, supply uint64) {
	t.Helper()
	sum, ok := balanceSum(accounts(t, m, db))
	held := heldSum(t, m, db)
	if !ok || sum+held != supply {
		t.Fatalf("balances sum to %d (overflow: %t) and escrows and pools hold %d, supply is %d", sum, !ok, held, supply)
	}
}

// checkOnlyNonceBumped checks a failed transaction's effect on the state:
// none, except that a verified signer with the right nonce has it bumped.
func checkOnlyNonceBumped(t *rapid.T, raw []byte, res Result, before, after map[string]string) {
	t.Helper()
	want := maps.Clone(before)
	if tx, err := DecodeAndVerify(raw, testChain); err == nil {
		key := string(KeyAccount(tx.Signer()))
		if v, ok := before[key]; ok {
			var a Account
			mustUnmarshal(t, v, &a)
			if a.Nonce == tx.Payload.Nonce {
				a.Nonce++
				want[key] = mustMarshal(t, a)
			}
		}
	}
	if !maps.Equal(after, want) {
		t.Fatalf("failed transaction (%s: %s) changed the state:\n%s", res.Code, res.Log, stateDiff(want, after))
	}
}

// checkTransferEffect checks that a successful transfer moved exactly its
// amount from the signer to the recipient and bumped the signer's nonce.
func checkTransferEffect(t *rapid.T, raw []byte, before, after map[string]string) {
	t.Helper()
	tx, err := DecodeAndVerify(raw, testChain)
	if err != nil {
		t.Fatalf("a transaction that does not verify succeeded: %v", err)
	}
	tr, ok := tx.Msg.(*Transfer)
	if !ok {
		return
	}
	var from, to Account
	fk, tk := string(KeyAccount(tx.Signer())), string(KeyAccount(tr.To))
	mustUnmarshal(t, before[fk], &from)
	mustUnmarshal(t, before[tk], &to)
	from.Nonce++
	from.Balance -= tr.Amount
	to.Balance += tr.Amount
	want := maps.Clone(before)
	want[fk], want[tk] = mustMarshal(t, from), mustMarshal(t, to)
	if !maps.Equal(after, want) {
		t.Fatalf("transfer of %d had another effect:\n%s", tr.Amount, stateDiff(want, after))
	}
}

func stateDiff(want, got map[string]string) string {
	keys := slices.Concat(slices.Collect(maps.Keys(want)), slices.Collect(maps.Keys(got)))
	slices.Sort(keys)
	var out string
	for _, k := range slices.Compact(keys) {
		if want[k] != got[k] {
			out += "  " + k + "\n    want " + want[k] + "\n    got  " + got[k] + "\n"
		}
	}
	return out
}

// consentStats counts what the consent scenarios actually did, so the
// properties below are known not to hold vacuously.
type consentStats struct{ gave, narrowed, revoked int }

// runConsentScenario gives, narrows and revokes random consents of two
// patients over random blocks, and calls check after every block with the
// patients' consents before and after it.
func runConsentScenario(t *rapid.T, stats *consentStats, check func(h int64, times map[int64]int64, prev, cur map[string][]Consent)) {
	m, db := newWorld(t)
	gen := &txGen{m: m, now: 1_700_000_000}
	times := map[int64]int64{}
	deliver := func(raw []byte) Result {
		res, err := m.DeliverTx(raw)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if err := m.BeginBlock(BlockInfo{Height: 1, Time: gen.now}); err != nil {
		t.Fatal(err)
	}
	times[1] = gen.now
	for i, id := range genDatasets {
		signer := []string{"alice", "carol"}[i]
		deliver(mustSign(signer, 0, &RegisterDataset{ID: id, Version: 1, Title: id, Schema: []Field{{Name: "age", Type: "integer"}},
			RecordBand: "<100", ContentRoot: "00000000000000000000000000000000000000000000000000000000000000aa", Locator: "x"}))
	}
	commitBlock(t, m, db)
	patients := []string{"pat", "paula"}
	read := func() map[string][]Consent {
		out := map[string][]Consent{}
		for _, p := range patients {
			cs, err := GetConsents(db, testAddr(p))
			if err != nil {
				t.Fatal(err)
			}
			out[p] = cs
		}
		return out
	}
	prev := read()
	blocks := rapid.IntRange(1, 8).Draw(t, "blocks")
	for h := int64(2); h < int64(2+blocks); h++ {
		gen.now += rapid.Int64Range(1, 400).Draw(t, "seconds")
		times[h] = gen.now
		if err := m.BeginBlock(BlockInfo{Height: h, Time: gen.now}); err != nil {
			t.Fatal(err)
		}
		for range rapid.IntRange(1, 8).Draw(t, "txs") {
			signer := rapid.SampledFrom([]string{"pat", "paula", "pat", "paula", "rita"}).Draw(t, "signer")
			var msg Msg
			live, err := GetConsents(m.block, testAddr(signer)) // including this block's
			if err != nil {
				t.Fatal(err)
			}
			switch op := rapid.SampledFrom([]string{"give", "give", "narrow", "narrow", "narrow", "revoke"}).Draw(t, "op"); op {
			case "give":
				msg = &GiveConsent{Scope: gen.scope(t), Provision: rapid.SampledFrom([]string{Permit, Deny}).Draw(t, "provision"),
					Purposes: gen.purposes(t, 1), Expiry: gen.expiry(t)}
			case "narrow":
				n := &NarrowConsent{Seq: rapid.Uint64Range(0, uint64(len(live))).Draw(t, "seq"), Expiry: gen.expiry(t)}
				if cs := live; n.Seq < uint64(len(cs)) && rapid.IntRange(0, 3).Draw(t, "plausible") > 0 {
					// Mostly narrowings that can succeed: fewer of the
					// consent's purposes, or the same ones and an expiry
					// between now and the current one.
					ps := rapid.Permutation(cs[n.Seq].Purposes).Draw(t, "order")
					n.Purposes = ps[:rapid.IntRange(1, len(ps)).Draw(t, "keep")]
					if until := cs[n.Seq].Expiry; until > gen.now+1 {
						n.Expiry = rapid.Int64Range(gen.now+1, until).Draw(t, "earlier expiry")
					}
				} else {
					n.Purposes = gen.purposes(t, 0)
				}
				msg = n
			case "revoke":
				msg = &RevokeConsent{Seq: rapid.Uint64Range(0, uint64(len(live))).Draw(t, "seq")}
			}
			if res := deliver(gen.sign(t, signer, msg)); res.Code == CodeOK {
				switch msg.(type) {
				case *GiveConsent:
					stats.gave++
				case *NarrowConsent:
					stats.narrowed++
				case *RevokeConsent:
					stats.revoked++
				}
			}
		}
		commitBlock(t, m, db)
		cur := read()
		check(h, times, prev, cur)
		prev = cur
	}
}

// consentQueries is a grid of questions to put to ConsentAllows: every
// dataset, purpose and consent model, at the given heights.
func consentQueries(times map[int64]int64, heights ...int64) []ConsentQuery {
	var qs []ConsentQuery
	for _, h := range heights {
		for _, ds := range []struct{ id, org string }{{"cardio", "hosp-a"}, {"sleep", "lab-b"}} {
			for _, p := range Purposes {
				for _, model := range []string{ConsentOptIn, ConsentOptOut} {
					qs = append(qs, ConsentQuery{Dataset: ds.id, Org: ds.org, Purpose: p, Height: h, Time: times[h], Model: model})
				}
			}
		}
	}
	return qs
}

// A revoked consent stays revoked: once Revoked is set the consent never
// changes again, and from its revocation height on ConsentAllows decides
// as if it did not exist.
func TestPropertyRevokedConsentStaysRevoked(t *testing.T) {
	var stats consentStats
	rapid.Check(t, func(rt *rapid.T) {
		runConsentScenario(rt, &stats, func(h int64, times map[int64]int64, prev, cur map[string][]Consent) {
			for p, cs := range cur {
				for i, c := range cs {
					if i < len(prev[p]) {
						old := prev[p][i]
						if old.Revoked != 0 && !reflect.DeepEqual(old, c) {
							rt.Fatalf("%s's consent %d changed after its revocation at %d:\n  was %+v\n  now %+v", p, i, old.Revoked, old, c)
						}
						if old.Revoked == 0 && c.Revoked != 0 && c.Revoked != h {
							rt.Fatalf("%s's consent %d revoked in block %d records height %d", p, i, h, c.Revoked)
						}
					}
					if c.Revoked == 0 {
						continue
					}
					others := slices.Delete(slices.Clone(cs), i, i+1)
					for _, q := range consentQueries(times, c.Revoked, (c.Revoked+h)/2, h) {
						if consentCounts(c, q) {
							rt.Fatalf("consent %+v, revoked at %d, counts for a job admitted at %d", c, c.Revoked, q.Height)
						}
						if ConsentAllows(cs, q) != ConsentAllows(others, q) {
							rt.Fatalf("consent %+v, revoked at %d, changes the decision for %+v", c, c.Revoked, q)
						}
					}
				}
			}
		})
	})
	if stats.revoked == 0 {
		t.Errorf("no revocation succeeded in any run: %+v", stats)
	}
	t.Logf("consents given %d, narrowed %d, revoked %d", stats.gave, stats.narrowed, stats.revoked)
}

// Narrowing never widens: purposes only shrink, an expiry only moves
// earlier (and once set is never removed), nothing else about a consent
// changes, and so the set of questions it answers only shrinks.
func TestPropertyNarrowingNeverWidens(t *testing.T) {
	var stats consentStats
	rapid.Check(t, func(rt *rapid.T) {
		runConsentScenario(rt, &stats, func(h int64, times map[int64]int64, prev, cur map[string][]Consent) {
			for p, old := range prev {
				if len(cur[p]) < len(old) {
					rt.Fatalf("%s had %d consents, now %d", p, len(old), len(cur[p]))
				}
				for i, o := range old {
					c := cur[p][i]
					for _, purpose := range c.Purposes {
						if !slices.Contains(o.Purposes, purpose) {
							rt.Fatalf("%s's consent %d gained purpose %s: %v -> %v", p, i, purpose, o.Purposes, c.Purposes)
						}
					}
					if o.Expiry != 0 && (c.Expiry == 0 || c.Expiry > o.Expiry) {
						rt.Fatalf("%s's consent %d expiry moved from %d to %d", p, i, o.Expiry, c.Expiry)
					}
					if c.Patient != o.Patient || c.Seq != o.Seq || c.Scope != o.Scope || c.Provision != o.Provision || c.Created != o.Created {
						rt.Fatalf("%s's consent %d changed identity: %+v -> %+v", p, i, o, c)
					}
					if !reflect.DeepEqual(c, o) && c.Narrowed != h && c.Revoked != h {
						rt.Fatalf("%s's consent %d changed in block %d without recording it: %+v -> %+v", p, i, h, o, c)
					}
					heights := []int64{o.Created, h}
					for _, q := range consentQueries(times, heights...) {
						q2 := q
						q2.Time += 1000 // and later on, when expiries bite
						for _, q := range []ConsentQuery{q, q2} {
							if consentCounts(c, q) && !consentCounts(o, q) {
								rt.Fatalf("%s's consent %d widened: %+v -> %+v now counts for %+v", p, i, o, c, q)
							}
						}
					}
				}
			}
		})
	})
	if stats.narrowed == 0 {
		t.Errorf("no narrowing succeeded in any run: %+v", stats)
	}
	t.Logf("consents given %d, narrowed %d, revoked %d", stats.gave, stats.narrowed, stats.revoked)
}
