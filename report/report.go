// Package report renders a job's released results for people: tables and
// plots (forest plots of ratios on a log scale, ROC and calibration curves)
// as PNG or SVG, through gonum/plot's canvases.
//
// It renders what was released and nothing else: every number on the page
// is in the result the requester decrypted (the curves drawn from a
// released AUC say so). A pooled study's sites release the same fit, so
// sites whose releases are identical are rendered once, as one section that
// names them all. Text is measured with the font that draws it and laid
// out so that nothing overlaps, whatever the number or length of terms;
// Render returns where everything went so tests can check it.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Result is one site's decrypted result, as `medchain job result` prints
// it (compute.Result's fields that a report shows).
type Result struct {
	Job          uint64          `json:"job"`
	Dataset      string          `json:"dataset"`
	Version      uint64          `json:"version"`
	Analysis     string          `json:"analysis"`
	Purpose      string          `json:"purpose"`
	ConsentModel string          `json:"consent_model"`
	ConsentAsOf  int64           `json:"consent_as_of_height"`
	Worker       string          `json:"worker"`
	MinCohort    uint64          `json:"min_cohort"`
	EpsilonMilli uint64          `json:"epsilon_milli"`
	ReleaseKind  string          `json:"release_kind"`
	Release      json.RawMessage `json:"release"`
}

// Format is an output format.
type Format string

// Output formats.
const (
	PNG Format = "png"
	SVG Format = "svg"
)

// FormatOf is the format a file name's extension asks for.
func FormatOf(name string) (Format, error) {
	i := strings.LastIndexByte(name, '.')
	if i >= 0 {
		switch f := Format(strings.ToLower(name[i+1:])); f {
		case PNG, SVG:
			return f, nil
		}
	}
	return "", fmt.Errorf("report: %q: the file name must end in .png or .svg", name)
}

// Options choose how effects are shown.
type Options struct {
	// Per rescales a term's effect to k of its units (an odds ratio per 10
	// years of age: "age" → 10; per standard deviation: the SD). The table
	// and the forest plot then show k·β, its SE and CI, and exp(k·β).
	Per map[string]float64
}

// Error is a report that cannot be made from what it was given: it names
// the option or result at fault.
type Error struct {
	Where string // "--per age", "result 2 (st-mary-cvd)"
	Err   error
}

func (e *Error) Error() string { return fmt.Sprintf("report: %s: %v", e.Where, e.Err) }
func (e *Error) Unwrap() error { return e.Err }

// Page is a rendered report.
type Page struct {
	Width, Height float64 // points
	// Boxes are where each text and plot went, in points from the bottom
	// left corner.
	Boxes []Box
}

// Render renders results in format f to w.
func Render(w io.Writer, f Format, results []Result, opts Options) (*Page, error) {
	blocks, err := build(results, opts)
	if err != nil {
		return nil, err
	}
	h := totalHeight(blocks)
	var cw vg.CanvasWriterTo
	switch f {
	case PNG:
		cw = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(pageWidth, h), vgimg.UseDPI(144))}
	case SVG:
		cw = vgsvg.New(pageWidth, h)
	default:
		return nil, &Error{Where: "format", Err: fmt.Errorf("%q is not png or svg", f)}
	}
	boxes := layout(draw.New(cw), blocks)
	if _, err := cw.WriteTo(w); err != nil {
		return nil, err
	}
	return &Page{Width: float64(pageWidth), Height: float64(h), Boxes: boxes}, nil
}

// section is the results of one release: a single site's, or the one a
// pooled study's sites share.
type section struct {
	results []Result // in the order given
}

// group puts results with the same kind and identical release together,
// in order of first appearance.
func group(results []Result) []section {
	var out []section
	for _, r := range results {
		i := slices.IndexFunc(out, func(s section) bool {
			f := s.results[0]
			return f.Job == r.Job && f.ReleaseKind == r.ReleaseKind && bytes.Equal(canonicalJSON(f.Release), canonicalJSON(r.Release))
		})
		if i < 0 {
			out = append(out, section{results: []Result{r}})
			continue
		}
		out[i].results = append(out[i].results, r)
	}
	return out
}

// canonicalJSON re-encodes a JSON document so that two encodings of the
// same value compare equal (key order, spacing).
func canonicalJSON(raw json.RawMessage) []byte {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return raw
	}
	b, _ := json.Marshal(v)
	return b
}

func build(results []Result, opts Options) ([]block, error) {
	if len(results) == 0 {
		return nil, &Error{Where: "results", Err: fmt.Errorf("there is nothing to report")}
	}
	for term, k := range opts.Per {
		if !(k > 0) || math.IsInf(k, 0) {
			return nil, &Error{Where: "--per " + term, Err: fmt.Errorf("the unit must be a positive number, not %v", k)}
		}
	}
	used := map[string]bool{}
	var blocks []block
	for i, s := range group(results) {
		if i > 0 {
			blocks = append(blocks, rule{})
		}
		bs, err := s.blocks(opts, used)
		if err != nil {
			return nil, err
		}
		blocks = append(blocks, bs...)
	}
	for term := range opts.Per {
		if !used[term] {
			return nil, &Error{Where: "--per " + term, Err: fmt.Errorf("no regression in these results has a term %q", term)}
		}
	}
	return blocks, nil
}

// header is a section's title and the facts of its release.
func (s section) header() []block {
	f := s.results[0]
	var sites []string
	for _, r := range s.results {
		sites = append(sites, fmt.Sprintf("%s (v%d)", r.Dataset, r.Version))
	}
	title := fmt.Sprintf("Job %d — %s on %s", f.Job, f.Analysis, strings.Join(sites, ", "))
	if strings.HasPrefix(f.ReleaseKind, "pooled") {
		title = fmt.Sprintf("Job %d — %s, pooled over %d sites: %s", f.Job, f.Analysis, len(sites), strings.Join(sites, ", "))
	}
	facts := fmt.Sprintf("Purpose %s · consent as of height %d (%s) · minimum cohort %d", f.Purpose, f.ConsentAsOf, consentModels(s.results), f.MinCohort)
	if f.EpsilonMilli > 0 {
		facts += fmt.Sprintf(" · ε %s per site", trimFloat(float64(f.EpsilonMilli)/1000))
	}
	return []block{newParagraph(style(bold, 13), title), space(3), newParagraph(style(regular, 8.5), facts), space(6)}
}

func consentModels(rs []Result) string {
	var ms []string
	for _, r := range rs {
		if !slices.Contains(ms, r.ConsentModel) {
			ms = append(ms, r.ConsentModel)
		}
	}
	return strings.Join(ms, ", ")
}

func (s section) blocks(opts Options, used map[string]bool) ([]block, error) {
	f := s.results[0]
	where := fmt.Sprintf("result of %s", f.Dataset)
	bs := s.header()
	var body []block
	var err error
	switch f.ReleaseKind {
	case "count":
		body, err = countBlocks(f.Release)
	case "crosstab":
		body, err = crosstabBlocks(f.Release)
	case "description":
		body, err = descriptionBlocks(f.Release)
	case "regression", "private_regression", "pooled_regression", "pooled_private_regression":
		body, err = regressionBlocks(f.Release, opts, used)
	case "boosted_trees", "pooled_boosted_trees":
		body, err = treesBlocks(f.Release)
	case "survival", "pooled_survival":
		body, err = survivalBlocks(f.Release, opts, used)
	default:
		body = []block{newParagraph(style(regular, 10), fmt.Sprintf("A %q release is not drawn by this version; `medchain job result` prints it.", f.ReleaseKind))}
	}
	if err != nil {
		return nil, &Error{Where: where, Err: err}
	}
	return append(append(bs, body...), space(8)), nil
}
