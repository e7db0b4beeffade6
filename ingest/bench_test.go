package ingest_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/medchain/medchain/ingest"
)

// BenchmarkIngestCSV is an end-to-end ingest of a synthetic hospital export
// (30 source columns, identifiers included, into 20 stored columns): read,
// normalise, de-identify, check, seal, store. The ledger is a stub: on a
// real node publishing adds one transaction, a fraction of a second.
func BenchmarkIngestCSV(b *testing.B) {
	const n = 20_000
	path, m := writeCohort(b, n)
	st, _ := os.Stat(path)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		b.StartTimer()
		rep, err := e.run(ingest.Options{Source: path, Format: ingest.CSV, Mapping: m, Dataset: fmt.Sprint("csv-", i)})
		if err != nil || rep.RowsKept != n {
			b.Fatalf("%v, %+v", err, rep)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(st.Size())*float64(b.N)/b.Elapsed().Seconds()/1e6, "MB/s")
}

// BenchmarkIngestFHIR ingests the Synthea sample (six patients' Bundles
// and two directory Bundles, 7.6 MB of JSON), end to end as above.
func BenchmarkIngestFHIR(b *testing.B) {
	var size int64
	for _, p := range patientBundles(b, synthea) {
		st, _ := os.Stat(p)
		size += st.Size()
	}
	for _, p := range []string{"hospitalInformation1583281853074.json", "practitionerInformation1583281853074.json"} {
		st, _ := os.Stat(filepath.Join(synthea, p))
		size += st.Size()
	}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		b.StartTimer()
		if _, err := e.run(ingest.Options{Source: synthea, Format: ingest.FHIR}); err != nil {
			b.Fatal(err)
		}
	}
}
