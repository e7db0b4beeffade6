package vault

import "filippo.io/age"

// AgeRecipient is the recipient in age's own type, for encrypting other
// payloads (e.g. a job's result) to a raw X25519 key with age.
func (r Recipient) AgeRecipient() *age.X25519Recipient { return r.r }

// AgeIdentity is the identity in age's own type, for decrypting payloads
// encrypted to its recipient (e.g. a job's result, by the requester).
func (i *Identity) AgeIdentity() *age.X25519Identity { return i.id }
