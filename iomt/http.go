package iomt

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/medchain/medchain/device"
)

// Limits of one HTTP batch.
const (
	MaxHTTPBatch = 10_000
	maxHTTPBody  = 8 << 20
)

// The device routes a node with device ingestion serves on its API (beside
// package api's), as method and pattern.
const (
	RouteReadings = "POST /v1/devices/readings"
	RouteIngest   = "GET /v1/devices/ingest"
	RouteStream   = "GET /v1/devices/{id}/stream"
)

// Routes lists the device routes (documented in api/openapi.json).
func Routes() []string { return []string{RouteReadings, RouteIngest, RouteStream} }

// Outcome is the answer for one reading of a batch.
type Outcome struct {
	Device string        `json:"device,omitempty"`
	Seq    uint64        `json:"seq,omitempty"`
	Status string        `json:"status"`           // "stored", "refused" or "failed" (not stored: send again)
	Reason device.Reason `json:"reason,omitempty"` // for refused
	Field  string        `json:"field,omitempty"`  // for malformed
}

// Handler serves POST /v1/devices/readings: a JSON array of signed
// readings (device.Signed), answered with one Outcome per reading, in
// order, once every reading is stored or refused. "stored" means synced to
// disk. A body that is not a JSON array of at most MaxHTTPBatch objects is
// refused whole (400) with nothing stored. The reasons a sender can learn
// without the device's signature (malformed, unknown, suspended or revoked
// device) are the ledger's public record; every later reason is told only
// for a reading the device signed.
//
// It also serves GET /v1/devices/ingest, the counts of outcomes as record
// bands (Stats.Banded): the exact counts stay in the node's process (its
// console).
func Handler(g *Ingest) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(RouteReadings, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHTTPBody))
		if err != nil {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: over %d bytes", maxHTTPBody))
			return
		}
		var msgs []json.RawMessage
		if err := json.Unmarshal(body, &msgs); err != nil {
			httpError(w, http.StatusBadRequest, "body: not a JSON array of readings")
			return
		}
		if len(msgs) == 0 || len(msgs) > MaxHTTPBatch {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("body: %d readings; a batch holds 1 to %d", len(msgs), MaxHTTPBatch))
			return
		}
		out := make([]Outcome, len(msgs))
		var wg sync.WaitGroup
		for i, m := range msgs {
			wg.Go(func() {
				s, err := device.Decode(m)
				if err == nil {
					err = g.Submit(r.Context(), &s)
				}
				out[i] = outcome(&s, err)
			})
		}
		wg.Wait()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"results": out})
	})
	mux.HandleFunc(RouteIngest, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false) // "<100" as it is
		enc.Encode(g.Stats().Banded())
	})
	return mux
}

func outcome(s *device.Signed, err error) Outcome {
	var rej *device.Rejection
	switch {
	case err == nil:
		return Outcome{Device: s.Device, Seq: s.Seq, Status: "stored"}
	case errors.As(err, &rej):
		return Outcome{Device: rej.Device, Seq: rej.Seq, Status: "refused", Reason: rej.Reason, Field: rej.Field}
	}
	return Outcome{Device: s.Device, Seq: s.Seq, Status: "failed"}
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
