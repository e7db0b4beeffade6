package overlap_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/medchain/medchain/overlap"
)

func Example() {
	dir, err := os.MkdirTemp("", "overlap-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	var secret [32]byte // the site's secret; random in real use
	copy(secret[:], "example secret, not a real one!!")
	st, err := overlap.Open(dir, secret)
	if err != nil {
		panic(err)
	}

	var cohort []string
	for i := range 200 {
		cohort = append(cohort, "pseudonym-"+strconv.Itoa(i))
	}
	const minCohort = 11

	// Job 1 analyses the cohort: allowed and recorded.
	err = st.CheckAndRecord("hosp-a/diabetes", "job 1", st.Sketch(slices.Values(cohort)), minCohort)
	fmt.Println("job 1:", err)

	// Job 2 analyses the cohort without one patient: refused.
	err = st.CheckAndRecord("hosp-a/diabetes", "job 2", st.Sketch(slices.Values(cohort[1:])), minCohort)
	fmt.Println("job 2 refused:", errors.Is(err, overlap.ErrOverlap))
	fmt.Println(err)

	// Job 3 analyses the same cohort as job 1: allowed.
	err = st.CheckAndRecord("hosp-a/diabetes", "job 3", st.Sketch(slices.Values(cohort)), minCohort)
	fmt.Println("job 3:", err)

	h, _ := st.History("hosp-a/diabetes")
	fmt.Println(h)
	// Output:
	// job 1: <nil>
	// job 2 refused: true
	// overlap: release refused: its cohort is not identical to that of earlier release "job 1" of dataset "hosp-a/diabetes" but differs from it by fewer than 11 patients (the minimum cohort size); subtracting the two results could reveal the patients in between
	// job 3: <nil>
	// [{job 1 200} {job 3 200}]
}
