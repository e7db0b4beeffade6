package ledger

import (
	"encoding/json"
	"testing"

	"pgregory.net/rapid"
)

// The audit entry writer produces json.Marshal's bytes for any entry:
// empty and omitted fields, any text (escapes, HTML characters, invalid
// UTF-8, U+2028), extreme numbers.
func TestAppendAuditEntryIsJSONMarshal(t *testing.T) {
	text := rapid.OneOf(rapid.Just(""), rapid.String(), rapid.StringMatching(`[a-z0-9/_]{0,20}`),
		rapid.SampledFrom([]string{"<&>", "\u2028\u2029", "\xff\xfe", "\"\\\n\t\x00", "ok"}))
	rapid.Check(t, func(t *rapid.T) {
		e := AuditEntry{
			Height: rapid.Int64().Draw(t, "height"),
			Index:  rapid.Int().Draw(t, "index"),
			TxHash: text.Draw(t, "tx_hash"),
			Type:   TxType(text.Draw(t, "type")),
			Signer: text.Draw(t, "signer"),
			Nonce:  rapid.Uint64().Draw(t, "nonce"),
			Code:   Code(rapid.Uint32().Draw(t, "code")),
			Log:    text.Draw(t, "log"),
		}
		if rapid.Bool().Draw(t, "changes") {
			e.Changes = rapid.SliceOf(rapid.Custom(func(t *rapid.T) StateChange {
				return StateChange{Key: text.Draw(t, "key"), ValueHash: text.Draw(t, "value_hash")}
			})).Draw(t, "changes")
		}
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendAuditEntry(nil, &e); string(got) != string(want) {
			t.Fatalf("appendAuditEntry:\n%s\njson.Marshal:\n%s", got, want)
		}
	})
}
