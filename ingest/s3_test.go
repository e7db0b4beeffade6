package ingest_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/medchain/medchain/client"
	"github.com/medchain/medchain/compute"
	"github.com/medchain/medchain/keys"
	"github.com/medchain/medchain/ledger"
	"github.com/medchain/medchain/outputctl"
	"github.com/medchain/medchain/seed"
	"github.com/medchain/medchain/synth"
	"github.com/medchain/medchain/vault"
	"github.com/medchain/medchain/vault/vaultcfg"
)

// TestIngestAndJobWithS3Blobs runs the vault on S3 end to end: a node's
// vault configured (blobstore.json, credentials in an owner-only file) to
// keep its blobs in a bucket of an S3 server (gofakes3, in this process,
// over loopback HTTP); an institution ingests a synthetic cohort through
// it and publishes; a researcher's count job is run by the institution's
// worker, reading the version back from the bucket; the researcher
// decrypts the released count. Every sealed blob is in the bucket, none
// in the vault's directories.
func TestIngestAndJobWithS3Blobs(t *testing.T) {
	ts := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	defer ts.Close()
	endpoint := strings.TrimPrefix(ts.URL, "http://")
	admin, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4("st-mary-key", "st-mary-secret", ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := admin.MakeBucket(ctx, "vault-st-mary", minio.MakeBucketOptions{}); err != nil {
		t.Fatal(err)
	}

	rn := newRealNode(t)
	root := filepath.Join(rn.home, "vault")
	creds := filepath.Join(t.TempDir(), "s3-credentials.json")
	if err := os.WriteFile(creds, []byte(`{"access_key_id":"st-mary-key","secret_access_key":"st-mary-secret"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	locator := "s3://" + endpoint + "/vault-st-mary/node0?tls=false&path-style=true"
	if err := vaultcfg.Save(root, vaultcfg.Config{S3: locator, CredentialsFile: creds}); err != nil {
		t.Fatal(err)
	}
	v, err := vaultcfg.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if want := "s3://" + endpoint + "/vault-st-mary/node0?path-style=true&tls=false"; v.BlobStoreName() != want {
		t.Fatalf("blob store %q, want %q", v.BlobStoreName(), want)
	}
	secret, err := v.Secret()
	if err != nil {
		t.Fatal(err)
	}

	const measurement = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
	refDate := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	people, err := synth.Generate(synth.Config{N: 200, Seed: 5, RefDate: refDate})
	if err != nil {
		t.Fatal(err)
	}
	wk, err := keys.Generate("st-mary-worker")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := seed.Publish(ctx, rn.c, v, secret, seed.Site{Admin: rn.key(t, "st-mary-admin"), Worker: wk, Measurement: measurement,
		Org: "st-mary", Dataset: "s3-cvd", Title: "CVD cohort, blobs in S3", People: people, RefDate: refDate,
		Policy: ledger.Policy{
			Purposes:   []string{"research"},
			Requesters: ledger.Requesters{Kinds: []ledger.AccountKind{ledger.KindResearcher}},
			Analyses:   ledger.Analyses{Builtins: []string{"cohort_count"}},
			MinCohort:  ledger.MinCohortFloor, EpsilonPerJobMilli: 500, EpsilonTotalMilli: 5000, Price: 10,
			Split:       ledger.RewardSplit{InstitutionBps: 6000, PatientPoolBps: 3000, WorkerBps: 1000},
			Attestation: ledger.AttestSoftware, ConsentModel: ledger.ConsentOptOut,
		}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsKept != 200 {
		t.Fatalf("kept %d rows", rep.RowsKept)
	}

	// Every sealed blob is an object in the bucket under the prefix; the
	// vault's directory has no blob at all.
	objects := 0
	for o := range admin.ListObjects(ctx, "vault-st-mary", minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if !strings.HasPrefix(o.Key, "node0/") {
			t.Errorf("object %s outside the prefix", o.Key)
		}
		objects++
	}
	if want := rep.Vault.Chunks + 2; objects != want {
		t.Fatalf("bucket holds %d objects, want %d chunks + 1 manifest + 1 sealed ingest report", objects, want-2)
	}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == "blobs" {
			t.Errorf("a blob directory in the S3 vault: %s", p)
		}
		return nil
	})

	// A count job, run by the institution's worker from the bucket.
	rita := rn.key(t, "rita-researcher")
	r, err := rn.c.SignAndSubmit(ctx, rita, &ledger.SubmitJob{Datasets: []string{"s3-cvd"}, Analysis: "cohort_count",
		Params: json.RawMessage(`{}`), Purpose: "research", MaxPrice: 100, ResultKey: rita.EncPub()}, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.ResultError(r); err != nil {
		t.Fatal(err)
	}
	id, err := client.JobID(r.Result)
	if err != nil {
		t.Fatal(err)
	}
	results, err := compute.OpenResultStore(compute.ResultsDir(rn.home))
	if err != nil {
		t.Fatal(err)
	}
	w := &compute.Worker{Key: wk, Org: "st-mary", Measurement: measurement, Vault: v, Ledger: rn.c, Results: results,
		Noise: rand.NewChaCha8([32]byte{7})}
	if _, err := w.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	j, err := rn.c.Job(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != ledger.JobCompleted {
		t.Fatalf("job %d is %s (%s)", id, j.Status, j.Reason)
	}
	res, _, err := compute.FetchResult(ctx, rn.c, j, "s3-cvd", rita)
	if err != nil {
		t.Fatal(err)
	}
	var cr outputctl.CountRelease
	if err := json.Unmarshal(res.Release, &cr); err != nil {
		t.Fatal(err)
	}
	z, err := outputctl.DiscreteLaplace(rand.NewChaCha8([32]byte{7}), 500, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if cr.N.Count == nil || *cr.N.Count != max(200+z, 0) {
		t.Fatalf("released count %+v, want 200 with the seeded noise %d", cr.N, z)
	}

	// The same vault opened by anything else than its configuration (the
	// directory store) is refused, naming the bucket.
	if _, err := vault.Open(root); err == nil || !strings.Contains(err.Error(), "vault-st-mary") {
		t.Fatalf("vault.Open of the S3 vault: %v", err)
	}
}
