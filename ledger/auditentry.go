package ledger

import "strconv"

// auditEntrySizeHint is room for a transfer's audit entry (about 500 bytes:
// two changed accounts with their value hashes), so that one allocation
// usually holds it.
const auditEntrySizeHint = 640

// appendAuditEntry appends json.Marshal(e): an audit entry is written for
// every transaction, and its JSON form is what the audit log hashes and
// serves, so this writer must produce exactly those bytes (held to
// json.Marshal by TestAppendAuditEntryIsJSONMarshal) without reflection.
func appendAuditEntry(b []byte, e *AuditEntry) []byte {
	b = append(b, `{"height":`...)
	b = strconv.AppendInt(b, e.Height, 10)
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, int64(e.Index), 10)
	b = append(b, `,"tx_hash":`...)
	b = appendJSONString(b, e.TxHash)
	if e.Type != "" {
		b = append(b, `,"type":`...)
		b = appendJSONString(b, string(e.Type))
	}
	if e.Signer != "" {
		b = append(b, `,"signer":`...)
		b = appendJSONString(b, e.Signer)
	}
	b = append(b, `,"nonce":`...)
	b = strconv.AppendUint(b, e.Nonce, 10)
	b = append(b, `,"code":`...)
	b = strconv.AppendUint(b, uint64(e.Code), 10)
	if e.Log != "" {
		b = append(b, `,"log":`...)
		b = appendJSONString(b, e.Log)
	}
	if len(e.Changes) > 0 {
		b = append(b, `,"changes":[`...)
		for i, c := range e.Changes {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"key":`...)
			b = appendJSONString(b, c.Key)
			if c.ValueHash != "" {
				b = append(b, `,"value_hash":`...)
				b = appendJSONString(b, c.ValueHash)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}
