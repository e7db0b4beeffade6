package ledger

import "testing"

// The collection prefixes are the key functions' own, so a listing can
// never drift from where the values are stored.
func TestListPrefixes(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{string(prefixWorker), "s/worker/"},
		{string(prefixJob), "s/job/"},
		{string(prefixConsent), "s/consent/"},
		{string(prefixAccess), "s/access/"},
	} {
		if c.got != c.want {
			t.Errorf("prefix %q, want %q", c.got, c.want)
		}
	}
}
