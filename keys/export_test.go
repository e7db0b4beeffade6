package keys

// SetScryptWorkFactor lowers the cost of scrypt for the tests (age's
// minimum is 1; the default, 18, takes about a second per key).
func SetScryptWorkFactor(n int) (restore func()) {
	old := scryptWorkFactor
	scryptWorkFactor = n
	return func() { scryptWorkFactor = old }
}
