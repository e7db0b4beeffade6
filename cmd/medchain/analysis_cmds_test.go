package main

import (
	"encoding/json"
	"regexp"
	"testing"

	"github.com/medchain/medchain/jobparams"
	"github.com/medchain/medchain/normalize"
)

// helpExample is a `--analysis NAME … --params '…'` in a help text.
var helpExample = regexp.MustCompile(`--analysis (\S+)(?:\s+\\\n)?\s+--params '([^']*)'`)

// Every example in job submit --help fits the research schema of an
// ingested dataset (the script jobs.txtar also submits it to a node).
func TestSubmitHelpExamplesFitTheSchema(t *testing.T) {
	help := jobSubmitCmd(nil).Long
	found := helpExample.FindAllStringSubmatch(help, -1)
	if len(found) == 0 {
		t.Fatalf("no example found in:\n%s", help)
	}
	for _, m := range found {
		if err := jobparams.Check(m[1], json.RawMessage(m[2]), normalize.Schema()); err != nil {
			t.Errorf("job submit --help example --analysis %s --params '%s': %v", m[1], m[2], err)
		}
	}
}
