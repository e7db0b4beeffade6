package vocab

import (
	"bytes"
	"math/rand/v2"
	"regexp"
	"testing"
)

func TestAddress(t *testing.T) {
	// sha256sum of 32 zero bytes, and of 32 0x01 bytes, first 40 hex digits.
	for _, c := range []struct {
		pub  []byte
		want string
	}{
		{make([]byte, 32), "66687aadf862bd776c8fc18b8e9f8e2008971485"},
		{bytes.Repeat([]byte{1}, 32), "72cd6e8422c407fb6d098690f1130b7ded7ec2f7"},
	} {
		got := Address(c.pub)
		if got != c.want {
			t.Errorf("Address(%x) = %s, want %s", c.pub, got, c.want)
		}
		if !IsAddress(got) {
			t.Errorf("IsAddress(%s) = false", got)
		}
	}
}

// The syntax checks are hand-written for speed; they must accept exactly
// what these expressions (the ledger's original definitions) accept.
var (
	idRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)
	addrRE = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

func TestSyntaxMatchesRegexp(t *testing.T) {
	cases := []string{
		"", "a", "ab", "a/b", "A1", "1a", ".a", "a.", "a-b_c.d", "x\n", "ab\n",
		"org-1", "hospital.a", "-ab", "_ab", "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01",
		"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz012",
		"66687aadf862bd776c8fc18b8e9f8e2008971485", "66687AADF862BD776C8FC18B8E9F8E2008971485",
		"66687aadf862bd776c8fc18b8e9f8e200897148", "66687aadf862bd776c8fc18b8e9f8e20089714851",
		"66687aadf862bd776c8fc18b8e9f8e200897148g", "é6687aadf862bd776c8fc18b8e9f8e200897148",
	}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcdefxyz0189._-/A \n\xff"
	for range 20000 {
		b := make([]byte, r.IntN(70))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
		h := make([]byte, 38+r.IntN(5))
		for i := range h {
			h[i] = "0123456789abcdefG"[r.IntN(17)]
		}
		cases = append(cases, string(h))
	}
	for _, s := range cases {
		if got, want := IsID(s), idRE.MatchString(s); got != want {
			t.Errorf("IsID(%q) = %v, the expression says %v", s, got, want)
		}
		if got, want := IsAddress(s), addrRE.MatchString(s); got != want {
			t.Errorf("IsAddress(%q) = %v, the expression says %v", s, got, want)
		}
	}
}

func TestRecordBand(t *testing.T) {
	for _, c := range []struct {
		n    uint64
		want string
	}{
		{0, "<100"}, {99, "<100"}, {100, "100-999"}, {999, "100-999"}, {1000, "1k-10k"},
		{9_999, "1k-10k"}, {10_000, "10k-100k"}, {99_999, "10k-100k"}, {100_000, "100k-1M"},
		{999_999, "100k-1M"}, {1_000_000, ">1M"}, {1 << 62, ">1M"},
	} {
		if got := RecordBand(c.n); got != c.want {
			t.Errorf("RecordBand(%d) = %q, want %q", c.n, got, c.want)
		}
		// The ledger's bound for a band covers every count in it.
		if top := BandTop(RecordBand(c.n)); c.n < 1<<40 && top < c.n {
			t.Errorf("BandTop(RecordBand(%d)) = %d, below the count", c.n, top)
		}
	}
	for _, c := range []struct {
		band string
		want uint64
	}{
		{"<100", 99}, {"100-999", 999}, {"1k-10k", 10_000}, {"10k-100k", 100_000},
		{"100k-1M", 1_000_000}, {">1M", 1 << 40}, {"bogus", 1 << 40},
	} {
		if got := BandTop(c.band); got != c.want {
			t.Errorf("BandTop(%q) = %d, want %d", c.band, got, c.want)
		}
	}
}

// A deal may not ask for a field named as an identifier, however it is
// spelled; measurements and codes pass.
func TestIsDirectIdentifier(t *testing.T) {
	for _, f := range []string{"mrn", "MRN", "patient_id", "name", "first_name", "Contact-Email", "home phone", "ip_address", "street", "birth_date", "pseudonym"} {
		if !IsDirectIdentifier(f) {
			t.Errorf("%q passed as not an identifier", f)
		}
	}
	for _, f := range []string{"age", "sbp", "hdl", "zip", "smoker", "sex", "hba1c", "death_date", "diagnosis_code", "naming_score"} {
		if IsDirectIdentifier(f) {
			t.Errorf("%q refused as an identifier", f)
		}
	}
}
