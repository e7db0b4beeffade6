package report

import (
	"image/color"
	"strings"

	xfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// The page is laid out top to bottom as a list of blocks, each of which
// knows its height before anything is drawn: a first pass sums the heights
// (so the canvas is exactly as tall as its content), a second draws. Every
// piece of text goes through page.text, which measures it with the font
// that will draw it and records its box, so a test can check that no two
// texts overlap.

const (
	pageWidth = 8 * vg.Inch
	margin    = 0.4 * vg.Inch
	gap       = 10 * vg.Millimeter / 4 // between blocks
)

var (
	regular = font.Font{Typeface: "Liberation", Variant: "Sans"}
	bold    = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: xfont.WeightBold}
)

// style is a text style of the given font and size.
func style(f font.Font, size vg.Length) draw.TextStyle {
	return draw.TextStyle{Color: color.Black, Font: font.From(f, size), Handler: text.Plain{Fonts: font.DefaultCache}}
}

// Box is a rectangle on the page, in points from the bottom left corner.
type Box struct {
	MinX, MinY, MaxX, MaxY float64
	What                   string // the text, or "plot: title"
}

func (a Box) overlaps(b Box) bool {
	const eps = 0.01
	return a.MinX < b.MaxX-eps && b.MinX < a.MaxX-eps && a.MinY < b.MaxY-eps && b.MinY < a.MaxY-eps
}

// block is one piece of the page.
type block interface {
	height() vg.Length
	// draw draws the block with its top edge at top.
	draw(p *page, top vg.Length)
}

// page is the canvas being drawn and the boxes of what is on it.
type page struct {
	c     draw.Canvas
	boxes []Box
}

// text draws s with its top left corner at (x, top) and records its box.
func (p *page) text(sty draw.TextStyle, x, top vg.Length, s string) {
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YTop
	p.c.FillText(sty, vg.Point{X: x, Y: top}, s)
	w, h := sty.Width(s), sty.Height(s)
	p.boxes = append(p.boxes, Box{MinX: float64(x), MinY: float64(top - h), MaxX: float64(x + w), MaxY: float64(top), What: s})
}

// textRight draws s right-aligned at x.
func (p *page) textRight(sty draw.TextStyle, x, top vg.Length, s string) {
	p.text(sty, x-sty.Width(s), top, s)
}

// paragraph is text wrapped to the page's width.
type paragraph struct {
	sty   draw.TextStyle
	lines []string
}

func newParagraph(sty draw.TextStyle, s string) *paragraph {
	return &paragraph{sty: sty, lines: wrap(sty, s, pageWidth-2*margin)}
}

func (b *paragraph) lineHeight() vg.Length { return b.sty.Height("Mg") * 1.25 }

func (b *paragraph) height() vg.Length { return vg.Length(len(b.lines)) * b.lineHeight() }

func (b *paragraph) draw(p *page, top vg.Length) {
	for i, l := range b.lines {
		p.text(b.sty, margin, top-vg.Length(i)*b.lineHeight(), l)
	}
}

// wrap breaks s into lines no wider than width at spaces (a word wider
// than a line gets a line of its own).
func wrap(sty draw.TextStyle, s string, width vg.Length) []string {
	var lines []string
	var cur string
	for _, w := range strings.Fields(s) {
		next := w
		if cur != "" {
			next = cur + " " + w
		}
		if cur != "" && sty.Width(next) > width {
			lines = append(lines, cur)
			next = w
		}
		cur = next
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}

// table is a table whose columns are as wide as their widest cell, with a
// bold header row; numeric columns (all but the first) are right-aligned.
type table struct {
	header []string
	rows   [][]string
	sty    draw.TextStyle
	head   draw.TextStyle
}

func newTable(header []string, rows [][]string) *table {
	return &table{header: header, rows: rows, sty: style(regular, 9), head: style(bold, 9)}
}

const cellPad = 12 // points between columns

func (t *table) rowHeight() vg.Length { return t.sty.Height("Mg") * 1.35 }

func (t *table) height() vg.Length { return vg.Length(len(t.rows)+1) * t.rowHeight() }

// widths are the columns' widths, scaled down with the font if the table
// would not fit the page.
func (t *table) widths() []vg.Length {
	w := make([]vg.Length, len(t.header))
	for i, h := range t.header {
		w[i] = t.head.Width(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			w[i] = max(w[i], t.sty.Width(c))
		}
	}
	return w
}

func (t *table) fit() {
	for range 6 {
		var total vg.Length
		for _, w := range t.widths() {
			total += w + cellPad
		}
		if total <= pageWidth-2*margin {
			return
		}
		t.sty.Font.Size *= 0.9
		t.head.Font.Size *= 0.9
	}
}

func (t *table) draw(p *page, top vg.Length) {
	w := t.widths()
	x := margin
	for i, h := range t.header {
		if i == 0 {
			p.text(t.head, x, top, h)
		} else {
			p.textRight(t.head, x+w[i], top, h)
		}
		x += w[i] + cellPad
	}
	line := draw.LineStyle{Color: color.Gray{Y: 160}, Width: 0.5}
	y := top - t.rowHeight()
	p.c.StrokeLine2(line, margin, y+t.rowHeight()*0.15, x-cellPad, y+t.rowHeight()*0.15)
	for _, r := range t.rows {
		x = margin
		for i, c := range r {
			if i == 0 {
				p.text(t.sty, x, y, c)
			} else {
				p.textRight(t.sty, x+w[i], y, c)
			}
			x += w[i] + cellPad
		}
		y -= t.rowHeight()
	}
}

// plots is a row of plots side by side, each of the same height.
type plots struct {
	ps     []*plot.Plot
	titles []string // for the boxes
	h      vg.Length
}

func (b *plots) height() vg.Length { return b.h }

func (b *plots) draw(p *page, top vg.Length) {
	n := vg.Length(len(b.ps))
	w := (pageWidth - 2*margin - (n-1)*gap) / n
	for i, pl := range b.ps {
		left := margin + vg.Length(i)*(w+gap)
		c := draw.Crop(p.c, left, left+w-pageWidth, top-b.h, top-p.c.Max.Y)
		pl.Draw(c)
		p.boxes = append(p.boxes, Box{MinX: float64(left), MinY: float64(top - b.h), MaxX: float64(left + w), MaxY: float64(top), What: "plot: " + b.titles[i]})
	}
}

// space is vertical space.
type space vg.Length

func (s space) height() vg.Length   { return vg.Length(s) }
func (space) draw(*page, vg.Length) {}

// rule is a thin line across the page, between sections.
type rule struct{}

func (rule) height() vg.Length { return 8 }
func (rule) draw(p *page, top vg.Length) {
	p.c.StrokeLine2(draw.LineStyle{Color: color.Gray{Y: 200}, Width: 0.75}, margin, top-4, pageWidth-margin, top-4)
}

// layout draws blocks on c (which must be pageWidth wide and at least
// height(blocks) tall) and returns what it drew where.
func layout(c draw.Canvas, blocks []block) []Box {
	p := &page{c: c}
	c.FillPolygon(color.White, []vg.Point{{X: c.Min.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Min.Y}, {X: c.Max.X, Y: c.Max.Y}, {X: c.Min.X, Y: c.Max.Y}})
	top := c.Max.Y - margin
	for _, b := range blocks {
		b.draw(p, top)
		top -= b.height()
	}
	return p.boxes
}

func totalHeight(blocks []block) vg.Length {
	h := 2 * margin
	for _, b := range blocks {
		h += b.height()
	}
	return h
}
