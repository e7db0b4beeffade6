package ledger

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/medchain/medchain/store"
)

// buildRewardsMsg builds the receipt and reward transactions of scripts:
//
//	post_receipts job=N dataset=ID [part=P] [count=K] [start=S] [step=D]
//	claim_reward issuer=NAME org=ORG amount=A [to=NAME] [nullifier=LABEL] [sign=NAME]
//
// A part's tags are count (default: the number the part must hold for the
// dataset's band) 16-byte big-endian integers start, start+step, … (default
// start = part × 2048, step 1; step=0 repeats a tag). A voucher's nullifier is
// the SHA-256 of LABEL (default "n"); it is signed by sign= (default the
// issuer); to= defaults to the transaction's signer.
func (r *scriptRunner) buildRewardsMsg(t *testing.T, typ TxType, signer string, a *args) Msg {
	if typ == TxPostReceipts {
		m := &PostReceipts{Job: a.u64("job", 0), Dataset: a.str("dataset", ""), Part: uint32(a.u64("part", 0))}
		count := uint64(ReceiptTagsPerPart)
		if j, _ := GetJob(r.m.block, m.Job); j != nil {
			for _, s := range j.Sites {
				if v, _ := GetDatasetVersion(r.m.block, s.Dataset, s.Version); s.Dataset == m.Dataset && v != nil {
					if n, ok := ReceiptSetSize(v.RecordBand); ok && int(m.Part) < ReceiptParts(n) {
						count = uint64(receiptPartTags(n, int(m.Part)))
					}
				}
			}
		}
		count = a.u64("count", count)
		start, step := a.u64("start", uint64(m.Part)*ReceiptTagsPerPart), a.u64("step", 1)
		for k := range count {
			var tag [ReceiptTagSize]byte
			binary.BigEndian.PutUint64(tag[8:], start+k*step)
			m.Tags = append(m.Tags, tag[:]...)
		}
		return m
	}
	issuer := a.str("issuer", "")
	n := sha256.Sum256([]byte(a.str("nullifier", "n")))
	v := Voucher{Org: a.str("org", ""), Amount: a.u64("amount", 0), Recipient: r.addr(a.str("to", signer)), Nullifier: hex.EncodeToString(n[:])}
	r.name(issuer)
	SignVoucher(testKey(a.str("sign", issuer)), r.chainID, &v)
	v.Issuer = testAddr(issuer)
	return &ClaimReward{Voucher: v}
}

// printRewards prints receipt sets (receipts JOB DATASET) and an
// organisation's patient pools (orgpool ORG).
func (r *scriptRunner) printRewards(t *testing.T, out *strings.Builder, st store.Reader, cmd string, words []string) {
	if cmd == "orgpool" {
		for _, org := range words {
			total, err := GetOrgPool(st, org)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			if _, err := getState(st, KeyOrgPools(org), &ids); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(out, "orgpool %s: %d in %v\n", org, total, ids)
		}
		return
	}
	if len(words) != 2 {
		t.Fatal("receipts: want JOB DATASET")
	}
	var job uint64
	fmt.Sscan(words[0], &job)
	set, err := GetReceiptSet(st, job, words[1])
	if err != nil {
		t.Fatal(err)
	}
	if set == nil {
		fmt.Fprintf(out, "receipts %d %s: none\n", job, words[1])
		return
	}
	tags, err := GetReceiptTags(st, job, words[1])
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(out, "receipts %d %s: by %s size=%d parts %d/%d complete=%d tags read=%d\n", job, words[1],
		r.readable(set.Worker), set.Size, set.Posted, set.Parts, set.Complete, len(tags)/ReceiptTagSize)
}
