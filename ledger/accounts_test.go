package ledger

import "testing"

// Issue 10, finding 8: an institution admin registered a patient's public
// key as an institution account, and the patient's own registration then
// failed with already_exists. Now an admin-made registration needs the
// registered key's proof of possession, which an admin without the key
// cannot make; the patient's registration goes through.
func TestPossessionStopsKeySquatting(t *testing.T) {
	m, db := newWorld(t)
	if err := m.BeginBlock(BlockInfo{Height: 1, Time: 1_700_000_000}); err != nil {
		t.Fatal(err)
	}
	squat := &RegisterAccount{PubKey: testPub("petra"), EncKey: testEncKey("petra"), Kind: KindInstitution, Org: "hosp-a",
		Possession: ProvePossession(testKey("alice"), testChain, "hosp-a")} // the best alice can do without petra's key
	if res, err := m.DeliverTx(mustSign("alice", 0, squat)); err != nil || res.Code != CodeUnauthorized {
		t.Fatalf("admin registering a key it does not hold: %v %s %s", err, res.Code, res.Log)
	}
	own := &RegisterAccount{PubKey: testPub("petra"), EncKey: testEncKey("petra"), Kind: KindPatient}
	if res, err := m.DeliverTx(mustSign("petra", 0, own)); err != nil || res.Code != CodeOK {
		t.Fatalf("the patient's own registration: %v %s %s", err, res.Code, res.Log)
	}
	commitBlock(t, m, db)
	if a, _ := GetAccount(db, testAddr("petra")); a == nil || a.Kind != KindPatient {
		t.Fatalf("petra: %+v", a)
	}
	// A proof made for one chain, organisation or key is good for no other.
	good := ProvePossession(testKey("newres"), testChain, "hosp-a")
	for _, c := range []struct{ chain, org, key string }{{"other", "hosp-a", "newres"}, {testChain, "lab-b", "newres"}, {testChain, "hosp-a", "other"}} {
		err := checkPossession("msg.possession", c.chain, c.org, testPub(c.key), good)
		if CodeOf(err) != CodeUnauthorized {
			t.Errorf("proof for %s/hosp-a/newres checked as %s/%s/%s: %v", testChain, c.chain, c.org, c.key, err)
		}
	}
	if err := checkPossession("msg.possession", testChain, "hosp-a", testPub("newres"), good); err != nil {
		t.Fatal(err)
	}
}
