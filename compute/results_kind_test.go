package compute

import "testing"

// Every regression release — single-site or pooled, exact or private —
// holds its model under "regression", so `medchain model commit
// --job-result` accepts them all; counts and tables are not models.
func TestReleaseKindIsRegression(t *testing.T) {
	for k, want := range map[ReleaseKind]bool{
		KindRegression: true, KindPrivateRegression: true, KindPooledRegression: true, KindPooledPrivateRegression: true,
		KindCount: false, KindCrosstab: false, KindDescription: false, KindTrees: false, KindSurvival: false, KindPooledSurvival: false, "": false,
	} {
		if k.IsRegression() != want {
			t.Errorf("%q.IsRegression() = %v", k, !want)
		}
	}
}
