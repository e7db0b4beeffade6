package receipts

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
)

func key(name string) *ecdh.PrivateKey {
	s := sha256.Sum256([]byte("medchain/receipts-test/" + name))
	k, err := ecdh.X25519().NewPrivateKey(s[:])
	if err != nil {
		panic(err)
	}
	return k
}

// The worker and the patient derive the same tag; another patient, another
// worker, another job, dataset or chain gives another.
func TestTagsAgreeAndDiffer(t *testing.T) {
	w, p, q := key("worker"), key("patient"), key("other patient")
	wk, err := WorkerKey(w, p.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	pk, err := PatientKey(p, w.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if wk != pk {
		t.Fatal("worker and patient derive different keys")
	}
	tag := TagFor(wk, "chain", 7, "cardio")
	if TagFor(pk, "chain", 7, "cardio") != tag {
		t.Fatal("worker and patient derive different tags")
	}
	qk, _ := PatientKey(q, w.PublicKey().Bytes())
	w2k, _ := PatientKey(p, key("worker 2").PublicKey().Bytes())
	for name, other := range map[string]Tag{
		"another patient": TagFor(qk, "chain", 7, "cardio"), "another worker": TagFor(w2k, "chain", 7, "cardio"),
		"another job": TagFor(wk, "chain", 8, "cardio"), "another dataset": TagFor(wk, "chain", 7, "renal"),
		"another chain": TagFor(wk, "chain2", 7, "cardio"),
	} {
		if other == tag {
			t.Errorf("%s gives the same tag", name)
		}
	}
}

// A peer key of small order would make every tag public: refused.
func TestSmallOrderKeyRefused(t *testing.T) {
	if _, err := WorkerKey(key("worker"), make([]byte, 32)); !errors.Is(err, ErrKey) {
		t.Fatalf("all-zero key: %v", err)
	}
	if _, err := PatientKey(key("patient"), []byte{1, 2}); !errors.Is(err, ErrKey) {
		t.Fatalf("short key: %v", err)
	}
}

// Pad gives exactly size strictly ascending tags holding the real ones,
// whatever their number; it refuses more than size.
func TestPad(t *testing.T) {
	w := key("worker")
	for _, n := range []int{0, 1, 11, 50, 99} {
		var real []Tag
		for i := range n {
			k, _ := WorkerKey(w, key(fmt.Sprint("p", i)).PublicKey().Bytes())
			real = append(real, TagFor(k, "c", 1, "d"))
		}
		set, err := Pad(append(real, real...), 99, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if len(set) != 99*TagSize {
			t.Fatalf("%d real tags: set of %d bytes", n, len(set))
		}
		for i := TagSize; i < len(set); i += TagSize {
			if bytes.Compare(set[i-TagSize:i], set[i:i+TagSize]) >= 0 {
				t.Fatalf("%d real tags: not strictly ascending at %d", n, i/TagSize)
			}
		}
		for _, r := range real {
			if !Contains(set, r) {
				t.Fatalf("%d real tags: a real tag is missing", n)
			}
		}
		if Contains(set, Tag{1}) {
			t.Fatal("Contains found a tag not in the set")
		}
	}
	if _, err := Pad(make([]Tag, 3), 2, rand.Reader); err != nil {
		t.Fatalf("duplicates count once: %v", err)
	}
	three := []Tag{{1}, {2}, {3}}
	if _, err := Pad(three, 2, rand.Reader); !errors.Is(err, ErrTooMany) {
		t.Fatalf("3 tags in a set of 2: %v", err)
	}
}

// BenchmarkTags10k: a worker's receipts for a cohort of 10 000 linked
// patients: 10 000 X25519 agreements, key derivations and tags, and the
// sorted set padded to the 1k-10k band's 10 000.
func BenchmarkTags10k(b *testing.B) {
	w := key("worker")
	pubs := make([][]byte, 10_000)
	for i := range pubs {
		pubs[i] = key(fmt.Sprint("p", i)).PublicKey().Bytes()
	}
	b.ResetTimer()
	for b.Loop() {
		tags := make([]Tag, len(pubs))
		for i, p := range pubs {
			k, err := WorkerKey(w, p)
			if err != nil {
				b.Fatal(err)
			}
			tags[i] = TagFor(k, "chain", 42, "cardio")
		}
		if _, err := Pad(tags, 10_000, rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScan: one patient scans 1000 job sites of 999 tags each (the
// 100-999 band), all by two workers.
func BenchmarkScan(b *testing.B) {
	workers := []*ecdh.PrivateKey{key("w1"), key("w2")}
	sets := make([][]byte, 1000)
	for i := range sets {
		s, err := Pad(nil, 999, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		sets[i] = s
	}
	p := key("patient")
	b.ResetTimer()
	for b.Loop() {
		sc := NewScanner(p, "chain")
		for i, s := range sets {
			if _, err := sc.Recognises(workers[i%2].PublicKey().Bytes(), uint64(i), "cardio", s); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/job")
}
