package analysis_test

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
	"testing"

	"github.com/medchain/medchain/analysis"
	"github.com/medchain/medchain/federated"
)

// coxCenter is a public centring point for the cohort's features (round
// clinical values, as a study's declared bounds would give), the same at
// every site.
var coxCenter = []float64{50, 130, 200, 50, 0.5, 0.5, 0.5}

// coxSites cuts the R cohort into three hospitals of 700, 800 and 500
// patients.
func coxSites(t *testing.T) (pooled *analysis.SurvivalData, sites []*analysis.SurvivalData) {
	t.Helper()
	tbl := survivalTable(t)
	p := analysis.SurvivalParams{Time: "time", Event: "event", Grid: yearGrid, Features: coxFeatures}
	pooled, err := analysis.NewSurvivalData(tbl, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, site := range split(t, tbl, 700, 800, 500) {
		s, err := analysis.NewSurvivalData(site, p)
		if err != nil {
			t.Fatal(err)
		}
		sites = append(sites, s)
	}
	return pooled, sites
}

// coxHalfRange bounds |x − coxCenter| (a study's declared bounds).
var coxHalfRange = []float64{60, 120, 300, 100, 0.5, 0.5, 0.5}

func sitesSums(t *testing.T, sites []*analysis.SurvivalData, beta []float64) ([][]float64, float64) {
	var out [][]float64
	shift := analysis.CoxShift(beta, coxHalfRange)
	for _, s := range sites {
		v, err := analysis.CoxGridSums(s, yearGrid, beta, coxCenter, shift)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out, shift
}

func compareFits(t *testing.T, fed, central *analysis.CoxFit, tol float64) {
	t.Helper()
	for j, c := range central.Coefficients {
		f := fed.Coefficients[j]
		if f.Name != c.Name {
			t.Fatalf("coefficient %d: %q, central %q", j, f.Name, c.Name)
		}
		closeRel(t, c.Name+" coef", f.Estimate, c.Estimate, tol)
		closeRel(t, c.Name+" se", f.SE, c.SE, tol)
	}
	closeRel(t, "loglik", fed.LogLik, central.LogLik, tol)
	closeRel(t, "loglik at zero", fed.LogLikNull, central.LogLikNull, tol)
	if fed.N != central.N || fed.Events != central.Events {
		t.Errorf("federated n %d events %d, central %d %d", fed.N, fed.Events, central.N, central.Events)
	}
}

// Three sites' grid sums, added, give the Cox model of the pooled rows
// with times coarsened to the grid — which is R's coxph on those
// coarsened times (TestCoxOnGridMatchesR) — for both ties methods.
func TestFederatedCoxEqualsGridCentralFit(t *testing.T) {
	pooled, sites := coxSites(t)
	for _, ties := range []string{analysis.TiesEfron, analysis.TiesBreslow} {
		t.Run(ties, func(t *testing.T) {
			central, err := analysis.FitCox(pooled.Coarsened(yearGrid), ties, analysis.SolverOptions{})
			if err != nil {
				t.Fatal(err)
			}
			fed, err := analysis.FitCoxGridSums(pooled.Features, yearGrid, ties, analysis.SolverOptions{}, func(beta []float64) ([]float64, float64, error) {
				parts, shift := sitesSums(t, sites, beta)
				sum := make([]float64, len(parts[0]))
				for _, p := range parts {
					for i, v := range p {
						sum[i] += v
					}
				}
				return sum, shift, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			compareFits(t, fed, central, 1e-9)
			compareCox(t, fed, "cox_grid_"+ties) // and R's, concordance aside
		})
	}
}

// Through secure aggregation — each site's sums in fixed point, masked
// with the pairwise X25519/ChaCha20 masks the studies use, added mod 2⁶⁴
// — the federated fit still equals the grid-central one to 1e-6.
func TestFederatedCoxThroughMaskedSums(t *testing.T) {
	pooled, sites := coxSites(t)
	keys := make([]*ecdh.PrivateKey, len(sites))
	peers := make([]federated.Peer, len(sites))
	for i := range sites {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys[i], peers[i] = k, federated.Peer{Site: fmt.Sprintf("site-%d", i), Key: k.PublicKey().Bytes()}
	}
	// The studies' resolution (2⁻³⁰, federated.FracBits).
	fp := analysis.FixedPoint{FracBits: federated.FracBits, MaxSites: federated.MaxSites}
	iter := uint32(0)
	central, err := analysis.FitCox(pooled.Coarsened(yearGrid), analysis.TiesEfron, analysis.SolverOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fed, err := analysis.FitCoxGridSums(pooled.Features, yearGrid, analysis.TiesEfron, analysis.SolverOptions{}, func(beta []float64) ([]float64, float64, error) {
		iter++
		session := federated.Session{ChainID: "test", Job: 1, Round: 0, Iteration: iter, Phase: "cox"}
		var masked [][]uint64
		parts, shift := sitesSums(t, sites, beta)
		for i, sums := range parts {
			enc, err := fp.EncodeValues(sums)
			if err != nil {
				return nil, 0, err
			}
			m, err := federated.PairMasks(keys[i], i, peers, session, len(enc))
			if err != nil {
				return nil, 0, err
			}
			v, err := m.Apply(enc)
			if err != nil {
				return nil, 0, err
			}
			if i == 0 && equalUnmasked(v, enc) {
				t.Fatal("a masked vector equals its plain encoding")
			}
			masked = append(masked, v)
		}
		sum, err := federated.Sum(masked)
		if err != nil {
			return nil, 0, err
		}
		return fp.DecodeValues(sum), shift, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	compareFits(t, fed, central, 1e-6)
	t.Logf("age: federated %.12g, central %.12g", fed.Coefficients[0].Estimate, central.Coefficients[0].Estimate)
}

func equalUnmasked(v []uint64, enc []int64) bool {
	for i := range v {
		if v[i] != uint64(enc[i]) {
			return false
		}
	}
	return true
}
