// Package client is the Go client of medchain's HTTP API; the CLI uses it.
package client

// Error is an error answered by the API.
type Error struct {
	Status  int    `json:"-"`
	Code    uint32 `json:"code"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Name + ": " + e.Message }
