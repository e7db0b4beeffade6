package ledger

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"slices"

	cmted "github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/medchain/medchain/store"
)

// Rewards (issue 12): every job a site computed for pays the patient share
// of its price into the dataset's pool (jobs.go, paySite). The pool is paid
// out to the patients whose records were used, through vouchers:
//
//   - the data holder keeps, privately on its node, what each patient's
//     records earned (package rewards);
//   - on a request the patient signs, it signs a Voucher: an amount, the
//     recipient address the patient chose, and a random nullifier;
//   - claim_reward, signed by the recipient, carries the voucher; the ledger
//     checks the issuer is an institution or worker account of the voucher's
//     organisation, its signature, that the nullifier was never claimed, and
//     that the organisation's pools hold the amount; it then pays the
//     recipient from the organisation's pools (in dataset id order) and
//     records the nullifier.
//
// A claim names the organisation, an amount and a recipient, and nothing of
// a job, a dataset or a cohort. Amounts are denominations (RewardDenominations,
// the powers of two up to 2^20) so that an exact amount cannot be matched to
// one job's pool share divided by its cohort: a patient's balance is paid as
// notes, one per binary digit, each its own voucher with its own nullifier,
// claimable separately, at any time, by the recipient the patient chose for
// it. A claim says only "the recipient held a note of 2^k".

// RewardDenominations are the amounts a voucher may carry: 1, 2, 4, …, 2^20.
var RewardDenominations = func() []uint64 {
	d := make([]uint64, 21)
	for i := range d {
		d[i] = 1 << i
	}
	return d
}()

// TxClaimReward is the type of ClaimReward.
const TxClaimReward TxType = "claim_reward"

// Voucher is an organisation's signed promise to pay Amount from its
// patient pools to Recipient, once: Nullifier (64 hex, random) is spent by
// the claim. Issuer is the signing account's address.
type Voucher struct {
	Org       string `json:"org"`
	Amount    uint64 `json:"amount"`
	Recipient string `json:"recipient"`
	Nullifier string `json:"nullifier"`
	Issuer    string `json:"issuer"`
	Signature []byte `json:"signature"`
}

// ClaimReward redeems a voucher; the signer must be its recipient.
type ClaimReward struct {
	Voucher Voucher `json:"voucher"`
}

func (*ClaimReward) Type() TxType { return TxClaimReward }

// voucherDomain separates voucher signatures from every other signature
// the same key makes.
const voucherDomain = "medchain/voucher/v1"

// VoucherBytes is what a voucher's issuer signs: the domain, the chain and
// every field but the signature.
func VoucherBytes(chainID string, v *Voucher) []byte {
	b := make([]byte, 0, 64+len(chainID)+len(v.Org)+len(v.Recipient)+len(v.Nullifier)+len(v.Issuer))
	for _, s := range []string{voucherDomain, chainID, v.Org, v.Recipient, v.Nullifier, v.Issuer} {
		b = append(append(b, s...), 0)
	}
	return binary.BigEndian.AppendUint64(b, v.Amount)
}

// SignVoucher sets v's issuer to key's address and signs it for chainID.
func SignVoucher(key ed25519.PrivateKey, chainID string, v *Voucher) {
	v.Issuer = Address(key.Public().(ed25519.PublicKey))
	v.Signature = ed25519.Sign(key, VoucherBytes(chainID, v))
}

// Nullifier record: the height it was spent at.
type spentNullifier = uint64

func (c *txCtx) claimReward(m *ClaimReward) ([]Event, error) {
	v := &m.Voucher
	if err := validID("msg.voucher.org", v.Org); err != nil {
		return nil, err
	}
	if err := validAddress("msg.voucher.recipient", v.Recipient); err != nil {
		return nil, err
	}
	if err := validAddress("msg.voucher.issuer", v.Issuer); err != nil {
		return nil, err
	}
	if err := validHash("msg.voucher.nullifier", v.Nullifier, true); err != nil {
		return nil, err
	}
	if !slices.Contains(RewardDenominations, v.Amount) {
		return nil, errf(CodeInvalidField, "msg.voucher.amount: %d is not a denomination (a power of two from 1 to %d)", v.Amount, RewardDenominations[len(RewardDenominations)-1])
	}
	if v.Recipient != c.addr {
		return nil, errf(CodeUnauthorized, "msg.voucher.recipient: the voucher pays %s; only that account may claim it", v.Recipient)
	}
	issuer, err := getAccount(c.s, v.Issuer)
	if err != nil {
		return nil, err
	}
	if issuer == nil || issuer.Org != v.Org || (issuer.Kind != KindInstitution && issuer.Kind != KindWorker) {
		return nil, errf(CodeBadVoucher, "msg.voucher.issuer: %s is not an institution or worker account of %q", v.Issuer, v.Org)
	}
	if len(v.Signature) != ed25519.SignatureSize || !cmted.PubKey(issuer.PubKey).VerifySignature(VoucherBytes(c.chainID, v), v.Signature) {
		return nil, errf(CodeBadVoucher, "msg.voucher.signature: not %s's signature of this voucher on this chain", v.Issuer)
	}
	var spent spentNullifier
	found, err := getState(c.s, KeyNullifier(v.Nullifier), &spent)
	if err != nil {
		return nil, err
	}
	if found {
		return nil, errf(CodeNullifierSpent, "msg.voucher.nullifier: claimed at height %d", spent)
	}
	if err := c.drawPools(v.Org, v.Amount); err != nil {
		return nil, err
	}
	if err := c.credit(c.addr, v.Amount); err != nil {
		return nil, err
	}
	return ev("claim_reward", "org", v.Org, "amount", fmt.Sprint(v.Amount)),
		putState(c.s, KeyNullifier(v.Nullifier), spentNullifier(c.height))
}

// drawPools takes amount from the organisation's patient pools, in
// dataset id order, dropping emptied pools from its index; nothing is
// taken unless all of it can be.
func (c *txCtx) drawPools(org string, amount uint64) error {
	var ids []string
	if _, err := getState(c.s, KeyOrgPools(org), &ids); err != nil {
		return err
	}
	pools := make([]uint64, len(ids))
	var total uint64
	for i, id := range ids {
		if _, err := getState(c.s, KeyPool(id), &pools[i]); err != nil {
			return err
		}
		total += pools[i] // the pools' sum is at most the supply
	}
	if total < amount {
		return errf(CodePoolInsufficient, "msg.voucher.amount: the patient pools of %q hold %d, the voucher is for %d", org, total, amount)
	}
	keep := ids[:0:0]
	for i, id := range ids {
		take := min(pools[i], amount)
		amount -= take
		if err := putState(c.s, KeyPool(id), pools[i]-take); err != nil {
			return err
		}
		if pools[i] > take {
			keep = append(keep, id)
		}
	}
	return putState(c.s, KeyOrgPools(org), keep)
}

// addToPool credits a dataset's patient pool and indexes it under its
// organisation, so that claims find it.
func (c *txCtx) addToPool(s JobSite, amount uint64) error {
	var p uint64
	if _, err := getState(c.s, KeyPool(s.Dataset), &p); err != nil {
		return err
	}
	if err := putState(c.s, KeyPool(s.Dataset), p+amount); err != nil {
		return err
	}
	if amount == 0 {
		return nil
	}
	var ids []string
	if _, err := getState(c.s, KeyOrgPools(s.Org), &ids); err != nil {
		return err
	}
	i, found := slices.BinarySearch(ids, s.Dataset)
	if found {
		return nil
	}
	return putState(c.s, KeyOrgPools(s.Org), slices.Insert(ids, i, s.Dataset))
}

// PoolShare is what the site pays into its dataset's patient pool when it
// is paid (paySite): the policy's patient share of its price, rounded down.
func (s JobSite) PoolShare() uint64 { return mulBps(s.Price, s.Split.PatientPoolBps) }

// KeyNullifier marks a voucher's nullifier spent.
func KeyNullifier(n string) []byte { return []byte("s/nullifier/" + n) }

// KeyOrgPools lists an organisation's datasets whose patient pools hold
// tokens, sorted.
func KeyOrgPools(org string) []byte { return []byte("s/orgpools/" + org) }

// NullifierSpent reports whether a voucher's nullifier was claimed.
func NullifierSpent(r store.Reader, n string) (bool, error) {
	var h spentNullifier
	return getState(r, KeyNullifier(n), &h)
}

// GetOrgPool adds up an organisation's patient pools: what its vouchers
// can still pay.
func GetOrgPool(r store.Reader, org string) (uint64, error) {
	var ids []string
	if _, err := getState(r, KeyOrgPools(org), &ids); err != nil {
		return 0, err
	}
	var total uint64
	for _, id := range ids {
		p, err := GetPool(r, id)
		if err != nil {
			return 0, err
		}
		total += p
	}
	return total, nil
}
