package ledger

import (
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/medchain/medchain/store"
	"github.com/medchain/medchain/vocab"
)

// Data deals. A buyer posts a deal: a purpose, the datasets it buys from
// (or an institution, any of whose datasets will do), the schema fields it
// wants, a price per record, a budget it escrows and a maximum number of
// records, open for a number of blocks. A patient accepts with a signed
// transaction naming the deal and the dataset that holds their record —
// nothing else: no patient id, no pseudonym, no row. The data holder's
// worker, which alone can map the patient's wallet to a row (its private
// link table), delivers the row de-identified, with only the fields asked
// for, encrypted to the buyer's key and padded to a size fixed by the deal,
// and posts the ciphertext's hash (deliver_deal_rows). On delivery the
// record's price leaves the escrow: the institution and the delivering
// worker take their shares of the dataset policy's split, and the patient
// the rest (the patient-pool share and the rounding remainder), paid to the
// wallet that accepted. The worker declines acceptances by wallets it holds
// no record for (decline_acceptances), freeing their places, so wallets
// that are nobody's patients cannot fill a deal. A patient may withdraw
// before delivery; a delivered
// record cannot be delivered (or paid) again. The buyer may close the deal
// at any time, and anyone may once it has expired: what is left in escrow
// goes back to the buyer and undelivered acceptances lapse.
//
// What the ledger shows of a deal is what a consent shows: that a wallet
// agreed to something about a dataset. Which rows, and what is in them,
// never reach it; a delivered row's ciphertext is kept in the worker node's
// results store, addressed by the hash on the ledger.

// Deal states.
const (
	DealOpen   = "open"
	DealClosed = "closed"
)

// Acceptance states.
const (
	AcceptancePending   = "pending"
	AcceptanceWithdrawn = "withdrawn"
	AcceptanceDelivered = "delivered"
	// AcceptanceDeclined: the institution's worker found no record of the
	// wallet in the accepted dataset version (the wallet is not linked to
	// one of its patients, or the version has no row for them), and freed
	// the deal's place. The patient may accept again.
	AcceptanceDeclined = "declined"
)

// Bounds of a deal.
const (
	MaxDealFields   = 64
	MaxDealDatasets = 8
	MaxDealRecords  = 1_000_000
	MaxDealBlocks   = 10_000_000
	MaxDeliveryRows = 128 // rows per deliver_deal_rows
)

// Deal is a posted data deal.
type Deal struct {
	_        struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	ID       uint64   `json:"id"`
	Buyer    string   `json:"buyer"`
	Purpose  string   `json:"purpose"`
	Datasets []string `json:"datasets,omitempty"` // the datasets it buys from, or
	Org      string   `json:"org,omitempty"`      // any dataset of this institution
	Fields   []string `json:"fields"`
	// PricePerRecord is what one delivered record costs the buyer.
	PricePerRecord uint64 `json:"price_per_record"`
	Budget         uint64 `json:"budget"`      // escrowed when posted
	MaxRecords     uint64 `json:"max_records"` // acceptances beyond it are refused
	BuyerKey       []byte `json:"buyer_key"`   // X25519: rows are encrypted to it
	// Escrow is what is left of the budget: the price of every pending and
	// undelivered record, and the unspent rest.
	Escrow    uint64 `json:"escrow"`
	Pending   uint64 `json:"pending"`   // acceptances awaiting delivery
	Delivered uint64 `json:"delivered"` // records delivered and paid
	// PaidPatients, PaidInstitutions and PaidWorkers add up what the
	// deliveries paid; Refunded is what went back to the buyer at close.
	// Budget = Escrow + PaidPatients + PaidInstitutions + PaidWorkers + Refunded.
	PaidPatients     uint64 `json:"paid_patients"`
	PaidInstitutions uint64 `json:"paid_institutions"`
	PaidWorkers      uint64 `json:"paid_workers"`
	Refunded         uint64 `json:"refunded"`
	Status           string `json:"status"`
	Posted           int64  `json:"posted_height"`
	Expires          int64  `json:"expires_height"` // no acceptance or delivery at or after it
	Closed           int64  `json:"closed_height,omitempty"`
}

// Acceptance is a patient's acceptance of a deal: one per patient and deal.
// Version, Payee, Split and Attestation are the dataset's as the patient
// accepted: the row comes from that version, and is paid by that split.
type Acceptance struct {
	_           struct{}      `cbor:",toarray"` // stored as an array of its fields (state.go)
	Deal        uint64        `json:"deal"`
	Patient     string        `json:"patient"`
	Dataset     string        `json:"dataset"`
	Version     uint64        `json:"version"`
	Org         string        `json:"org"`
	Payee       string        `json:"payee"`
	Split       RewardSplit   `json:"reward_split"`
	Attestation string        `json:"attestation"`
	Status      string        `json:"status"`
	Accepted    int64         `json:"accepted_height"`
	Changed     int64         `json:"changed_height"`
	Delivery    *DealDelivery `json:"delivery,omitempty"`
}

// DealDelivery is a delivered record: the hash of its ciphertext (in the
// delivering node's results store) and who was paid what.
type DealDelivery struct {
	_           struct{} `cbor:",toarray"` // stored as an array of its fields (state.go)
	Worker      string   `json:"worker"`
	RowHash     string   `json:"row_hash"` // hex SHA-256 of the ciphertext
	Height      int64    `json:"height"`
	Patient     uint64   `json:"paid_patient"`
	Institution uint64   `json:"paid_institution"`
	WorkerFee   uint64   `json:"paid_worker"`
}

// Messages.

// PostDeal offers to buy records. Exactly one of Datasets and Org is set.
type PostDeal struct {
	Purpose        string   `json:"purpose"`
	Datasets       []string `json:"datasets,omitempty"`
	Org            string   `json:"org,omitempty"`
	Fields         []string `json:"fields"`
	PricePerRecord uint64   `json:"price_per_record"`
	Budget         uint64   `json:"budget"`
	MaxRecords     uint64   `json:"max_records"`
	ExpiryBlocks   uint64   `json:"expiry_blocks"`
	BuyerKey       []byte   `json:"buyer_key"`
}

// AcceptDeal is a patient's acceptance: the deal, and the dataset that
// holds their record.
type AcceptDeal struct {
	Deal    uint64 `json:"deal"`
	Dataset string `json:"dataset"`
}

// WithdrawAcceptance withdraws the signer's pending acceptance of a deal.
type WithdrawAcceptance struct {
	Deal uint64 `json:"deal"`
}

// DeliverDealRows is a worker's delivery of accepted records of one deal.
type DeliverDealRows struct {
	Deal uint64         `json:"deal"`
	Rows []DeliveredRow `json:"rows"`
}

// DeliveredRow names one delivered record: whose acceptance it answers and the
// hash of its ciphertext.
type DeliveredRow struct {
	Patient string `json:"patient"`
	RowHash string `json:"row_hash"`
}

// DeclineAcceptances is a worker's report that it holds no record for
// these pending acceptances of one deal in its organisation's datasets.
// It carries no reason: which of "not a patient here" and "no row in that
// version" applies is the institution's business.
type DeclineAcceptances struct {
	Deal     uint64   `json:"deal"`
	Patients []string `json:"patients"`
}

// CloseDeal closes a deal and refunds its escrow to the buyer.
type CloseDeal struct {
	Deal uint64 `json:"deal"`
}

// Transaction types of deals.
const (
	TxPostDeal           TxType = "post_deal"
	TxAcceptDeal         TxType = "accept_deal"
	TxWithdrawAcceptance TxType = "withdraw_acceptance"
	TxDeliverDealRows    TxType = "deliver_deal_rows"
	TxCloseDeal          TxType = "close_deal"
	TxDeclineAcceptances TxType = "decline_acceptances"
)

func (*PostDeal) Type() TxType           { return TxPostDeal }
func (*AcceptDeal) Type() TxType         { return TxAcceptDeal }
func (*WithdrawAcceptance) Type() TxType { return TxWithdrawAcceptance }
func (*DeliverDealRows) Type() TxType    { return TxDeliverDealRows }
func (*CloseDeal) Type() TxType          { return TxCloseDeal }
func (*DeclineAcceptances) Type() TxType { return TxDeclineAcceptances }

// Keys.

// KeyDealCount counts deals (the next deal id).
func KeyDealCount() []byte { return []byte("s/dcount") }

// KeyDeal is a deal by id.
func KeyDeal(id uint64) []byte { return []byte("s/deal/" + num(id)) }

// KeyAcceptance is a patient's acceptance of a deal.
func KeyAcceptance(deal uint64, patient string) []byte {
	return []byte("s/dealacc/" + num(deal) + "/" + patient)
}

var (
	prefixDeal       = []byte(strings.TrimSuffix(string(KeyDeal(0)), num(0)))
	prefixAcceptance = []byte(strings.TrimSuffix(string(KeyAcceptance(0, "")), num(0)+"/"))
)

// GetDeal reads a deal.
func GetDeal(r store.Reader, id uint64) (*Deal, error) { return getOne[Deal](r, KeyDeal(id)) }

// GetAcceptance reads a patient's acceptance of a deal.
func GetAcceptance(r store.Reader, deal uint64, patient string) (*Acceptance, error) {
	return getOne[Acceptance](r, KeyAcceptance(deal, patient))
}

// ListDeals lists deals in id order.
func ListDeals(it Iterator, keep func(*Deal) bool) ([]Deal, error) { return list(it, prefixDeal, keep) }

// ListAcceptances lists a deal's acceptances by patient address.
func ListAcceptances(it Iterator, deal uint64, keep func(*Acceptance) bool) ([]Acceptance, error) {
	return list(it, KeyAcceptance(deal, ""), keep)
}

// ListAllAcceptances lists every acceptance of every deal, by deal then
// patient.
func ListAllAcceptances(it Iterator, keep func(*Acceptance) bool) ([]Acceptance, error) {
	return list(it, prefixAcceptance, keep)
}

// DealFieldAllowed says why a schema field may not be asked for in a deal
// ("" if it may): direct identifiers, and free text ("string" columns),
// which can carry any identifier, are never sold.
func DealFieldAllowed(f Field) string {
	if vocab.IsDirectIdentifier(f.Name) {
		return "it names a direct identifier"
	}
	if f.Type == "string" {
		return "it is free text, which can carry identifiers"
	}
	return ""
}

// validDealFields checks the asked fields' form: names, unique, not
// identifiers by name.
func validDealFields(fields []string) error {
	if len(fields) == 0 || len(fields) > MaxDealFields {
		return errf(CodeInvalidField, "msg.fields: name 1 to %d fields, got %d", MaxDealFields, len(fields))
	}
	for i, f := range fields {
		at := fmt.Sprintf("msg.fields[%d]", i)
		if err := validText(at, f, 64, true); err != nil {
			return err
		}
		if slices.Contains(fields[:i], f) {
			return errf(CodeInvalidField, "%s: field %q named twice", at, f)
		}
		if why := DealFieldAllowed(Field{Name: f}); why != "" {
			return errf(CodeFieldNotAllowed, "%s: %q may not be asked for: %s", at, f, why)
		}
	}
	return nil
}

// checkDealSchema checks every asked field against a dataset version's
// schema: present, and not free text.
func checkDealSchema(at string, fields []string, v *DatasetVersion) error {
	for i, f := range fields {
		j := slices.IndexFunc(v.Schema, func(x Field) bool { return x.Name == f })
		if j < 0 {
			return errf(CodeInvalidField, "msg.fields[%d]: dataset %q version %d has no field %q (%s)", i, v.Dataset, v.Version, f, at)
		}
		if why := DealFieldAllowed(v.Schema[j]); why != "" {
			return errf(CodeFieldNotAllowed, "msg.fields[%d]: field %q of dataset %q may not be asked for: %s", i, f, v.Dataset, why)
		}
	}
	return nil
}

// dealDataset is a dataset a deal may buy from, now: its latest version
// (which must have every asked field) and policy (which must allow the
// purpose and the buyer, and not have expired).
func (c *txCtx) dealDataset(at, id string, d *Deal, buyer *Account) (*DatasetVersion, *Policy, error) {
	ds, err := c.dataset(id)
	if err != nil {
		return nil, nil, err
	}
	if !ds.HasPolicy {
		return nil, nil, errf(CodeInvalidState, "%s: dataset %q has no policy", at, id)
	}
	var pol Policy
	if _, err := getState(c.s, KeyPolicy(id), &pol); err != nil {
		return nil, nil, err
	}
	if pol.Expiry != 0 && pol.Expiry <= c.now {
		return nil, nil, errf(CodeExpired, "%s: the policy of dataset %q expired at %d", at, id, pol.Expiry)
	}
	if !slices.Contains(pol.Purposes, d.Purpose) {
		return nil, nil, errf(CodeUnauthorized, "%s: dataset %q does not allow purpose %q", at, id, d.Purpose)
	}
	if !RequesterAllowed(pol.Requesters, buyer) {
		granted, err := c.grantFor(id, buyer.Address, d.Purpose)
		if err != nil {
			return nil, nil, err
		}
		if !granted {
			return nil, nil, errf(CodeUnauthorized, "%s: dataset %q's policy does not admit %s accounts of %q and no access grant covers %s", at, id, buyer.Kind, buyer.Org, d.Purpose)
		}
	}
	v, err := GetDatasetVersion(c.s, id, ds.LatestVersion)
	if err != nil {
		return nil, nil, err
	}
	if v == nil {
		return nil, nil, errf(CodeInternal, "dataset %q version %d missing", id, ds.LatestVersion)
	}
	if err := checkDealSchema(at, d.Fields, v); err != nil {
		return nil, nil, err
	}
	return v, &pol, nil
}

// grantFor is hasGrant for an account other than the signer.
func (c *txCtx) grantFor(dataset, addr, purpose string) (bool, error) {
	var id uint64
	found, err := getState(c.s, KeyAccessGrant(dataset, addr, purpose), &id)
	if err != nil || !found {
		return false, err
	}
	r, err := GetAccessRequest(c.s, id)
	if err != nil || r == nil {
		return false, err
	}
	return r.Status == AccessGranted && (r.Expiry == 0 || r.Expiry > c.now), nil
}

func (c *txCtx) postDeal(m *PostDeal) ([]Event, error) {
	if err := c.requireKind(KindResearcher, KindInstitution); err != nil {
		return nil, err
	}
	if err := oneOf("msg.purpose", m.Purpose, Purposes); err != nil {
		return nil, err
	}
	if err := validDealFields(m.Fields); err != nil {
		return nil, err
	}
	if err := validEncKey("msg.buyer_key", m.BuyerKey); err != nil {
		return nil, err
	}
	switch {
	case m.PricePerRecord == 0:
		return nil, errf(CodeInvalidField, "msg.price_per_record: must be at least 1")
	case m.MaxRecords == 0:
		return nil, errf(CodeInvalidField, "msg.max_records: must be at least 1")
	case m.ExpiryBlocks == 0:
		return nil, errf(CodeInvalidField, "msg.expiry_blocks: must be at least 1")
	case m.Budget < m.PricePerRecord:
		return nil, errf(CodeInvalidField, "msg.budget: %d does not pay for one record at %d", m.Budget, m.PricePerRecord)
	}
	if hi, lo := bits.Mul64(m.PricePerRecord, m.MaxRecords); hi == 0 && m.Budget > lo {
		return nil, errf(CodeInvalidField, "msg.budget: %d is more than max_records × price_per_record = %d; the rest could never be spent", m.Budget, lo)
	}
	d := Deal{Buyer: c.addr, Purpose: m.Purpose, Fields: m.Fields, PricePerRecord: m.PricePerRecord, Budget: m.Budget,
		MaxRecords: m.MaxRecords, BuyerKey: m.BuyerKey, Escrow: m.Budget, Status: DealOpen, Posted: c.height,
		Expires: c.height + int64(m.ExpiryBlocks)}
	switch {
	case len(m.Datasets) > 0 && m.Org != "":
		return nil, errf(CodeInvalidField, "msg.org: name datasets or an institution, not both")
	case len(m.Datasets) > MaxDealDatasets:
		return nil, errf(CodeInvalidField, "msg.datasets: name 1 to %d datasets, got %d", MaxDealDatasets, len(m.Datasets))
	case len(m.Datasets) > 0:
		for i, id := range m.Datasets {
			at := fmt.Sprintf("msg.datasets[%d]", i)
			if err := validID(at, id); err != nil {
				return nil, err
			}
			if slices.Contains(m.Datasets[:i], id) {
				return nil, errf(CodeInvalidField, "%s: dataset %q named twice", at, id)
			}
			if _, _, err := c.dealDataset(at, id, &d, c.signer); err != nil {
				return nil, err
			}
		}
		d.Datasets = m.Datasets
	case m.Org != "":
		if err := validID("msg.org", m.Org); err != nil {
			return nil, err
		}
		o, err := GetOrg(c.s, m.Org)
		if err != nil {
			return nil, err
		}
		if o == nil {
			return nil, errf(CodeNotFound, "msg.org: no organisation %q", m.Org)
		}
		d.Org = m.Org
	default:
		return nil, errf(CodeInvalidField, "msg.datasets: name the datasets to buy from, or an institution (msg.org)")
	}
	if c.signer.Balance < m.Budget {
		return nil, errf(CodeInsufficientFund, "balance of %s is %d, the budget is %d", c.addr, c.signer.Balance, m.Budget)
	}
	c.signer.Balance -= m.Budget
	if err := putState(c.s, KeyAccount(c.addr), c.signer); err != nil {
		return nil, err
	}
	if _, err := getState(c.s, KeyDealCount(), &d.ID); err != nil {
		return nil, err
	}
	if err := putState(c.s, KeyDealCount(), d.ID+1); err != nil {
		return nil, err
	}
	return ev("post_deal", "deal", fmt.Sprint(d.ID), "budget", fmt.Sprint(d.Budget), "expires", fmt.Sprint(d.Expires)),
		putState(c.s, KeyDeal(d.ID), d)
}

// openDeal reads a deal that still takes acceptances and deliveries.
func (c *txCtx) openDeal(id uint64) (*Deal, error) {
	d, err := GetDeal(c.s, id)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, errf(CodeNotFound, "msg.deal: no deal %d", id)
	}
	if d.Status != DealOpen {
		return nil, errf(CodeInvalidState, "msg.deal: deal %d is %s", id, d.Status)
	}
	if c.height >= d.Expires {
		return nil, errf(CodeExpired, "msg.deal: deal %d expired at height %d", id, d.Expires)
	}
	return d, nil
}

func (c *txCtx) acceptDeal(m *AcceptDeal) ([]Event, error) {
	if err := c.requireKind(KindPatient); err != nil {
		return nil, err
	}
	if err := validID("msg.dataset", m.Dataset); err != nil {
		return nil, err
	}
	d, err := c.openDeal(m.Deal)
	if err != nil {
		return nil, err
	}
	prev, err := GetAcceptance(c.s, d.ID, c.addr)
	if err != nil {
		return nil, err
	}
	if prev != nil && prev.Status != AcceptanceWithdrawn && prev.Status != AcceptanceDeclined {
		if prev.Status == AcceptanceDelivered {
			return nil, errf(CodeAlreadyDelivered, "msg.deal: your record was delivered to deal %d already", d.ID)
		}
		return nil, errf(CodeAlreadyExists, "msg.deal: you have accepted deal %d already", d.ID)
	}
	if len(d.Datasets) > 0 && !slices.Contains(d.Datasets, m.Dataset) {
		return nil, errf(CodeInvalidField, "msg.dataset: deal %d does not buy from %q (it buys from %v)", d.ID, m.Dataset, d.Datasets)
	}
	buyer, err := getAccount(c.s, d.Buyer)
	if err != nil {
		return nil, err
	}
	if buyer == nil {
		return nil, errf(CodeInternal, "buyer %s missing", d.Buyer)
	}
	v, pol, err := c.dealDataset("msg.dataset", m.Dataset, d, buyer)
	if err != nil {
		return nil, err
	}
	ds, err := c.dataset(m.Dataset)
	if err != nil {
		return nil, err
	}
	if d.Org != "" && ds.Org != d.Org {
		return nil, errf(CodeInvalidField, "msg.dataset: deal %d buys from %q; dataset %q is held by %q", d.ID, d.Org, m.Dataset, ds.Org)
	}
	// Every pending or delivered record holds its price in the escrow, so a
	// deal never takes more acceptances than it can pay for.
	taken := d.Pending + d.Delivered
	if taken >= d.MaxRecords {
		return nil, errf(CodeDealFull, "msg.deal: deal %d has its %d records", d.ID, d.MaxRecords)
	}
	if d.Escrow/d.PricePerRecord <= d.Pending {
		return nil, errf(CodeDealFull, "msg.deal: deal %d's budget is taken by the records accepted", d.ID)
	}
	d.Pending++
	a := Acceptance{Deal: d.ID, Patient: c.addr, Dataset: m.Dataset, Version: v.Version, Org: ds.Org, Payee: v.PublishedBy,
		Split: pol.Split, Attestation: pol.Attestation, Status: AcceptancePending, Accepted: c.height, Changed: c.height}
	if err := putState(c.s, KeyAcceptance(d.ID, c.addr), a); err != nil {
		return nil, err
	}
	return ev("accept_deal", "deal", fmt.Sprint(d.ID), "dataset", m.Dataset), putState(c.s, KeyDeal(d.ID), d)
}

func (c *txCtx) withdrawAcceptance(m *WithdrawAcceptance) ([]Event, error) {
	d, err := GetDeal(c.s, m.Deal)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, errf(CodeNotFound, "msg.deal: no deal %d", m.Deal)
	}
	a, err := GetAcceptance(c.s, d.ID, c.addr)
	if err != nil {
		return nil, err
	}
	if a == nil {
		return nil, errf(CodeNotFound, "msg.deal: %s has not accepted deal %d", c.addr, d.ID)
	}
	switch a.Status {
	case AcceptanceDelivered:
		return nil, errf(CodeAlreadyDelivered, "msg.deal: your record was delivered to deal %d; a delivery cannot be withdrawn", d.ID)
	case AcceptanceWithdrawn, AcceptanceDeclined:
		return nil, errf(CodeInvalidState, "msg.deal: your acceptance of deal %d is %s already", d.ID, a.Status)
	}
	a.Status, a.Changed = AcceptanceWithdrawn, c.height
	if d.Status == DealOpen {
		d.Pending--
	}
	if err := putState(c.s, KeyAcceptance(d.ID, c.addr), a); err != nil {
		return nil, err
	}
	return ev("withdraw_acceptance", "deal", fmt.Sprint(d.ID)), putState(c.s, KeyDeal(d.ID), d)
}

func (c *txCtx) deliverDealRows(m *DeliverDealRows) ([]Event, error) {
	if err := c.requireKind(KindWorker); err != nil {
		return nil, err
	}
	if len(m.Rows) == 0 || len(m.Rows) > MaxDeliveryRows {
		return nil, errf(CodeInvalidField, "msg.rows: deliver 1 to %d rows, got %d", MaxDeliveryRows, len(m.Rows))
	}
	d, err := c.openDeal(m.Deal)
	if err != nil {
		return nil, err
	}
	var w Worker
	found, err := getState(c.s, KeyWorker(c.addr), &w)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errf(CodeUnauthorized, "%s is not a registered worker", c.addr)
	}
	// Every row is checked before any is paid: a payment to the signing
	// worker changes the signer's account, which a failed transaction
	// keeps (with its nonce), so nothing may be paid before all is known
	// to succeed.
	accs := make([]*Acceptance, len(m.Rows))
	for i, r := range m.Rows {
		at := fmt.Sprintf("msg.rows[%d]", i)
		if err := validAddress(at+".patient", r.Patient); err != nil {
			return nil, err
		}
		if err := validHash(at+".row_hash", r.RowHash, true); err != nil {
			return nil, err
		}
		if slices.ContainsFunc(m.Rows[:i], func(x DeliveredRow) bool { return x.Patient == r.Patient }) {
			return nil, errf(CodeAlreadyDelivered, "%s.patient: %s's record is delivered twice in this transaction", at, r.Patient)
		}
		a, err := GetAcceptance(c.s, d.ID, r.Patient)
		if err != nil {
			return nil, err
		}
		switch {
		case a == nil:
			return nil, errf(CodeNotFound, "%s.patient: %s has not accepted deal %d", at, r.Patient, d.ID)
		case a.Status == AcceptanceDelivered:
			return nil, errf(CodeAlreadyDelivered, "%s.patient: the record of %s was delivered to deal %d at height %d", at, r.Patient, d.ID, a.Delivery.Height)
		case a.Status != AcceptancePending:
			return nil, errf(CodeInvalidState, "%s.patient: %s's acceptance of deal %d is %s", at, r.Patient, d.ID, a.Status)
		case a.Org != w.Org:
			return nil, errf(CodeUnauthorized, "%s.patient: the record is in dataset %q of %q; worker %s works for %q", at, a.Dataset, a.Org, c.addr, w.Org)
		}
		if err := c.workerMeets(a.Attestation, &w); err != nil {
			return nil, forDataset(err, a.Dataset)
		}
		accs[i] = a
	}
	for i, a := range accs {
		inst := mulBps(d.PricePerRecord, a.Split.InstitutionBps)
		fee := mulBps(d.PricePerRecord, a.Split.WorkerBps)
		patient := d.PricePerRecord - inst - fee // a split sums to 10000, so inst+fee ≤ price
		for _, p := range []struct {
			to     string
			amount uint64
		}{{a.Payee, inst}, {c.addr, fee}, {a.Patient, patient}} {
			if err := c.credit(p.to, p.amount); err != nil {
				return nil, err
			}
		}
		d.Escrow -= d.PricePerRecord // a pending acceptance's price is in the escrow
		d.Pending--
		d.Delivered++
		d.PaidInstitutions += inst
		d.PaidWorkers += fee
		d.PaidPatients += patient
		a.Status, a.Changed = AcceptanceDelivered, c.height
		a.Delivery = &DealDelivery{Worker: c.addr, RowHash: m.Rows[i].RowHash, Height: c.height, Patient: patient, Institution: inst, WorkerFee: fee}
		if err := putState(c.s, KeyAcceptance(d.ID, a.Patient), a); err != nil {
			return nil, err
		}
	}
	return ev("deliver_deal_rows", "deal", fmt.Sprint(d.ID), "rows", fmt.Sprint(len(m.Rows))), putState(c.s, KeyDeal(d.ID), d)
}

func (c *txCtx) closeDeal(m *CloseDeal) ([]Event, error) {
	d, err := GetDeal(c.s, m.Deal)
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, errf(CodeNotFound, "msg.deal: no deal %d", m.Deal)
	}
	if d.Status != DealOpen {
		return nil, errf(CodeInvalidState, "msg.deal: deal %d is %s", d.ID, d.Status)
	}
	if c.addr != d.Buyer && c.height < d.Expires {
		return nil, errf(CodeUnauthorized, "only the buyer %s may close deal %d before it expires at height %d", d.Buyer, d.ID, d.Expires)
	}
	if err := c.credit(d.Buyer, d.Escrow); err != nil {
		return nil, err
	}
	d.Refunded, d.Escrow = d.Escrow, 0
	d.Pending = 0 // undelivered acceptances lapse with the deal
	d.Status, d.Closed = DealClosed, c.height
	return ev("close_deal", "deal", fmt.Sprint(d.ID), "refunded", fmt.Sprint(d.Refunded)), putState(c.s, KeyDeal(d.ID), d)
}

// declineAcceptances frees the places of pending acceptances the worker's
// institution holds no record for, so that wallets which are not its
// patients cannot fill a deal.
func (c *txCtx) declineAcceptances(m *DeclineAcceptances) ([]Event, error) {
	if err := c.requireKind(KindWorker); err != nil {
		return nil, err
	}
	if len(m.Patients) == 0 || len(m.Patients) > MaxDeliveryRows {
		return nil, errf(CodeInvalidField, "msg.patients: decline 1 to %d acceptances, got %d", MaxDeliveryRows, len(m.Patients))
	}
	d, err := c.openDeal(m.Deal)
	if err != nil {
		return nil, err
	}
	var w Worker
	found, err := getState(c.s, KeyWorker(c.addr), &w)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errf(CodeUnauthorized, "%s is not a registered worker", c.addr)
	}
	for i, p := range m.Patients {
		at := fmt.Sprintf("msg.patients[%d]", i)
		if err := validAddress(at, p); err != nil {
			return nil, err
		}
		if slices.Contains(m.Patients[:i], p) {
			return nil, errf(CodeInvalidField, "%s: %s named twice", at, p)
		}
		a, err := GetAcceptance(c.s, d.ID, p)
		if err != nil {
			return nil, err
		}
		switch {
		case a == nil:
			return nil, errf(CodeNotFound, "%s: %s has not accepted deal %d", at, p, d.ID)
		case a.Status == AcceptanceDelivered:
			return nil, errf(CodeAlreadyDelivered, "%s: the record of %s was delivered to deal %d", at, p, d.ID)
		case a.Status != AcceptancePending:
			return nil, errf(CodeInvalidState, "%s: %s's acceptance of deal %d is %s", at, p, d.ID, a.Status)
		case a.Org != w.Org:
			return nil, errf(CodeUnauthorized, "%s: the acceptance names dataset %q of %q; worker %s works for %q", at, a.Dataset, a.Org, c.addr, w.Org)
		}
		a.Status, a.Changed = AcceptanceDeclined, c.height
		d.Pending--
		if err := putState(c.s, KeyAcceptance(d.ID, p), a); err != nil {
			return nil, err
		}
	}
	return ev("decline_acceptances", "deal", fmt.Sprint(d.ID), "declined", fmt.Sprint(len(m.Patients))), putState(c.s, KeyDeal(d.ID), d)
}
