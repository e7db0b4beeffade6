package vault

// DecodeLinks exposes decodeLinks to the tests.
var DecodeLinks = decodeLinks
