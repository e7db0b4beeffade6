package deal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/deid"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/record"
	"github.com/medchain/medchain/vault"
)

// testKey is a fixed key; the seed is in byte 1 because X25519 clamps away
// the low bits of byte 0.
func testKey(name string, seed byte) *keys.Key { return keys.FromSeed(name, [32]byte{1: seed}) }

// Every row of a deal seals to the same number of bytes, whatever its
// values: the ciphertext's size says nothing about the record.
func TestRowsOfADealHaveOneSize(t *testing.T) {
	buyer := testKey("buyer", 1)
	fields := []string{"age", "sbp", "smoker", "sex"}
	sizes := map[int]bool{}
	for _, vals := range [][]any{
		{90, 181.5, true, "female"},
		{18, nil, false, "m"},
		{nil, nil, nil, nil},
		{47.25, 1e300, true, "a code that is rather longer than usual, up to sixty-four bytes.."},
	} {
		ct, err := Seal(&Row{Format: RowFormat, Deal: 3, Dataset: "cvd", Version: 1, Fields: fields, Values: vals}, buyer.EncPub())
		if err != nil {
			t.Fatal(err)
		}
		sizes[len(ct)] = true
		sum := sha256.Sum256(ct)
		r, err := Open(ct, hex.EncodeToString(sum[:]), buyer)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(r, 3, fields); err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(vals)
		got, _ := json.Marshal(r.Values)
		if !bytes.Equal(got, want) {
			t.Errorf("values %s, sealed %s", got, want)
		}
	}
	if len(sizes) != 1 {
		t.Errorf("rows of one deal sealed to %d different sizes: %v", len(sizes), sizes)
	}
}

// A row is opened only with the buyer's key, only if its bytes hash to what
// the ledger holds, and only as a row of the deal with its fields.
func TestOpenRefuses(t *testing.T) {
	buyer, other := testKey("buyer", 1), testKey("other", 2)
	fields := []string{"age"}
	ct, err := Seal(&Row{Format: RowFormat, Deal: 3, Dataset: "cvd", Version: 1, Fields: fields, Values: []any{50}}, buyer.EncPub())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(ct)
	hash := hex.EncodeToString(sum[:])
	if _, err := Open(ct, hash, other); err == nil {
		t.Error("another key opened the row")
	}
	tampered := bytes.Clone(ct)
	tampered[len(tampered)-1] ^= 1
	if _, err := Open(tampered, hash, buyer); !errors.Is(err, ErrHashMismatch) {
		t.Errorf("tampered ciphertext: %v", err)
	}
	r, err := Open(ct, hash, buyer)
	if err != nil {
		t.Fatal(err)
	}
	if Check(r, 4, fields) == nil || Check(r, 3, []string{"age", "sbp"}) == nil {
		t.Error("a row of another deal or with other fields passed the check")
	}
	big := &Row{Format: RowFormat, Fields: fields, Values: []any{string(make([]byte, PaddedSize(1)))}}
	if _, err := Seal(big, buyer.EncPub()); !errors.Is(err, ErrRowTooLarge) {
		t.Errorf("oversized row: %v", err)
	}
}

// The worker refuses to deliver a field its profile does not make safe to
// sell, whatever the ledger let through: the patient id, a pseudonymised
// field, a redacted one, and fields of a profile it does not hold.
func TestCheckFields(t *testing.T) {
	d := &Deliverer{}
	sh, _ := deid.SafeHarbor().Hash()
	dv := &ledger.DatasetVersion{Dataset: "cvd", Version: 1, DeidProfile: sh}
	if err := d.checkFields(dv, []string{"age", "sbp", "zip", "death_date", "smoker"}); err != nil {
		t.Errorf("Safe Harbor fields refused: %v", err)
	}
	for _, f := range []string{"patient_id", "name", "mrn", "not_in_profile"} {
		if err := d.checkFields(dv, []string{"age", f}); !errors.Is(err, ErrFieldRefused) {
			t.Errorf("%s: %v, want refused", f, err)
		}
	}
	other := &ledger.DatasetVersion{Dataset: "cvd", Version: 1, DeidProfile: hex.EncodeToString(make([]byte, 32))}
	if err := d.checkFields(other, []string{"age"}); !errors.Is(err, ErrFieldRefused) {
		t.Errorf("unknown profile: %v", err)
	}
	rules, err := deid.Parse("p", []byte(`{"profile":"p","rules":[{"field":"patient_id","method":"pseudonym"},{"field":"mrn","method":"pseudonym"},{"field":"age","method":"keep","type":"integer"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	d.Profiles = func(string) (*deid.Rules, error) { return rules, nil }
	if err := d.checkFields(dv, []string{"age", "mrn"}); !errors.Is(err, ErrFieldRefused) {
		t.Errorf("pseudonymised field: %v", err)
	}
}

// site is a vault with one dataset version of n rows, every patient linked
// to a wallet, the table and the data readable by the worker.
type site struct {
	d       *Deliverer
	dv      *ledger.DatasetVersion
	wallets map[string]string
	acc     []ledger.Acceptance
	deal    *ledger.Deal
}

func newSite(tb testing.TB, n int) *site {
	tb.Helper()
	dir := tb.TempDir()
	v, err := vault.Open(filepath.Join(dir, "vault"))
	if err != nil {
		tb.Fatal(err)
	}
	admin, worker, buyer := testKey("admin", 1), testKey("worker", 2), testKey("buyer", 3)
	node, err := vault.NodeIdentity(admin.Enc)
	if err != nil {
		tb.Fatal(err)
	}
	wr, err := vault.NewRecipient(worker.EncPub())
	if err != nil {
		tb.Fatal(err)
	}
	lk, err := v.Lock("cvd")
	if err != nil {
		tb.Fatal(err)
	}
	w, err := lk.Create(vault.Meta{Version: 1, Recipients: []vault.Recipient{node.Recipient(), wr}, Schema: record.Schema{
		{Name: "age", Type: "integer"}, {Name: "sbp", Type: "number"}, {Name: "smoker", Type: "boolean"}, {Name: "sex", Type: "code"}}})
	if err != nil {
		tb.Fatal(err)
	}
	var links []vault.Link
	s := &site{wallets: map[string]string{}}
	for i := range n {
		p := fmt.Sprintf("%032x", i)
		if err := w.Append(record.Row{Pseudonym: p, Values: []record.Value{record.Num(float64(20 + i%70)), record.Num(float64(100 + i%80)), record.Bool(i%3 == 0), record.Str("female")}}); err != nil {
			tb.Fatal(err)
		}
		wallet := fmt.Sprintf("%040x", i+1)
		links = append(links, vault.Link{Pseudonym: p, Wallet: wallet})
		s.wallets[wallet] = p
		s.acc = append(s.acc, ledger.Acceptance{Deal: 0, Patient: wallet, Dataset: "cvd", Version: 1, Org: "st-mary", Status: ledger.AcceptancePending})
	}
	sum, err := w.Commit()
	if err != nil {
		tb.Fatal(err)
	}
	lk.Unlock()
	if _, err := v.LinkPatients("st-mary", links, node, wr); err != nil {
		tb.Fatal(err)
	}
	store, err := compute.OpenResultStore(filepath.Join(dir, "results"))
	if err != nil {
		tb.Fatal(err)
	}
	s.d = &Deliverer{Key: worker, Org: "st-mary", Vault: v, Store: store}
	s.dv = &ledger.DatasetVersion{Dataset: "cvd", Version: 1, ContentRoot: sum.ContentRoot}
	s.deal = &ledger.Deal{ID: 0, Fields: []string{"sbp", "age"}, BuyerKey: buyer.EncPub()}
	return s
}

// Prepare delivers exactly the accepted, linked patients' rows, with the
// asked fields in the deal's order; an unlinked wallet and a linked one
// without a row are returned to be declined, not delivered.
func TestPrepare(t *testing.T) {
	s := newSite(t, 40)
	wallets, err := s.d.wallets()
	if err != nil {
		t.Fatal(err)
	}
	acc := append(s.acc[5:15:15], ledger.Acceptance{Patient: fmt.Sprintf("%040x", 999)})
	wallets[fmt.Sprintf("%040x", 998)] = "no such pseudonym"
	acc = append(acc, ledger.Acceptance{Patient: fmt.Sprintf("%040x", 998)})
	skipped := map[string]int{}
	rows, missing, err := s.d.Prepare(s.deal, s.dv, acc, wallets, skipped)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{fmt.Sprintf("%040x", 998), fmt.Sprintf("%040x", 999)}; len(rows) != 10 || len(skipped) != 0 || !slices.Equal(missing, want) {
		t.Fatalf("%d rows, to decline %v, skipped %v", len(rows), missing, skipped)
	}
	for _, r := range rows {
		ct, err := s.d.Store.(*compute.ResultStore).Get(r.RowHash)
		if err != nil {
			t.Fatal(err)
		}
		row, err := Open(ct, r.RowHash, testKey("buyer", 3))
		if err != nil {
			t.Fatal(err)
		}
		var i int
		fmt.Sscanf(r.Patient, "%x", &i)
		i--
		sbp, _ := row.Values[0].(json.Number).Int64()
		age, _ := row.Values[1].(json.Number).Int64()
		if sbp != int64(100+i%80) || age != int64(20+i%70) || len(row.Values) != 2 {
			t.Errorf("row of patient %d: %v", i, row.Values)
		}
	}
}

// BenchmarkDeliver1000 is the worker's side of delivering 1,000 accepted
// rows: the link table read and inverted, the version opened and read, each
// row cut to the asked fields, padded, sealed to the buyer and stored (the
// ledger round trip, eight deliver_deal_rows transactions, is not in it).
func BenchmarkDeliver1000(b *testing.B) {
	s := newSite(b, 1000)
	b.ResetTimer()
	for b.Loop() {
		wallets, err := s.d.wallets()
		if err != nil {
			b.Fatal(err)
		}
		rows, _, err := s.d.Prepare(s.deal, s.dv, s.acc, wallets, map[string]int{})
		if err != nil || len(rows) != 1000 {
			b.Fatal(len(rows), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000)/1e3, "µs/row")
}
