package zk

import (
	"encoding/binary"

	ed "github.com/bwesterb/go-ristretto/edwards25519"
)

// Multi-scalar multiplication, three ways:
//
//   - ctMSM: constant time, for the prover's secret scalars. Signed radix-16
//     digits, a table of 1P..8P per generator read by a full constant-time
//     scan, doublings shared across all terms (Straus).
//   - straus: variable time, w-NAF digits. Fixed generators carry
//     precomputed tables of odd multiples up to 127P (width 8), points that
//     arrive in a proof get tables up to 15P (width 5) built on the fly.
//   - pippenger: variable time, bucket method, for the thousands of proof
//     points of a batch verification.
//
// Variable-time code only ever sees public values or values the protocol
// reveals anyway (see the constant-time notes in doc.go).

const (
	fixedWidth   = 8 // w-NAF width for fixed generators: 64 odd multiples
	dynamicWidth = 5 // w-NAF width for proof points: 8 odd multiples
)

// wnaf writes the width-w non-adjacent form of s into out[pos·stride]:
// every nonzero digit is odd, |digit| < 2^(w-1), and any w consecutive
// digits hold at most one nonzero. Scalars are below 2^253, so 256 digits
// always suffice for w ≤ 8. out must be zero; wnaf returns the position of
// the highest nonzero digit, or -1.
func wnaf(out []int8, stride int, s *scalar, w uint) int {
	var buf [scalarLen]byte
	s.BytesInto(&buf)
	var limbs [5]uint64
	for i := 0; i < 4; i++ {
		limbs[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	width := uint64(1) << w
	mask := width - 1
	carry := uint64(0)
	top := -1
	for pos := 0; pos < 256; {
		idx, bit := pos/64, uint(pos%64)
		if carry == 0 && limbs[idx]>>bit == 0 {
			pos = (idx + 1) * 64 // the rest of this limb is zero
			continue
		}
		var bits uint64
		if bit+w <= 64 {
			bits = limbs[idx] >> bit
		} else {
			bits = limbs[idx]>>bit | limbs[idx+1]<<(64-bit)
		}
		window := carry + bits&mask
		if window&1 == 0 {
			pos++
			continue
		}
		if window < width/2 {
			carry = 0
			out[pos*stride] = int8(window)
		} else {
			carry = 1
			out[pos*stride] = int8(int64(window) - int64(width))
		}
		top = pos
		pos += int(w)
	}
	return top
}

// radix16 writes s as 64 signed digits in [-8, 8] with s = Σ d_i 16^i.
func radix16(out *[64]int8, s *scalar) {
	var buf [scalarLen]byte
	s.BytesInto(&buf)
	for i := 0; i < 32; i++ {
		out[2*i] = int8(buf[i] & 15)
		out[2*i+1] = int8(buf[i] >> 4)
	}
	for i := 0; i < 63; i++ {
		carry := (out[i] + 8) >> 4
		out[i] -= carry << 4
		out[i+1] += carry
	}
}

// ctEq returns 1 if a == b and 0 otherwise, without branching.
func ctEq(a, b uint8) int32 {
	x := uint32(a ^ b)
	return int32((x - 1) >> 31)
}

// ctSelect sets out to d·P from table = [1P..8P], for d in [-8, 8],
// touching every entry whatever d is. It works on the radix-2^51 limbs
// directly (the build's FieldElement is [5]uint64, see feLimbs).
func ctSelect(out *ed.NielsPoint, table *[8]ed.NielsPoint, d int8) {
	neg := uint64(uint8(d) >> 7)
	abs := uint8(d) ^ uint8(-neg) + uint8(neg)
	var yp, ym, xy feLimbs
	yp[0], ym[0] = 1, 1 // the identity: (y+x, y−x, 2dxy) = (1, 1, 0)
	for j := range table {
		m := -uint64(ctEq(abs, uint8(j+1)))
		e := &table[j]
		for k := range yp {
			yp[k] ^= m & (yp[k] ^ e.YPlusX[k])
			ym[k] ^= m & (ym[k] ^ e.YMinusX[k])
			xy[k] ^= m & (xy[k] ^ e.XY2D[k])
		}
	}
	// −P swaps y+x and y−x and negates 2dxy.
	var nxy ed.FieldElement
	nxy.Neg((*ed.FieldElement)(&xy))
	mneg := -neg
	for k := range yp {
		t := mneg & (yp[k] ^ ym[k])
		yp[k] ^= t
		ym[k] ^= t
		xy[k] ^= mneg & (xy[k] ^ nxy[k])
	}
	out.YPlusX, out.YMinusX, out.XY2D = ed.FieldElement(yp), ed.FieldElement(ym), ed.FieldElement(xy)
}

// feLimbs is go-ristretto's field element representation on 64-bit
// platforms; the conversion below stops the build if that ever changes.
type feLimbs [5]uint64

var _ = feLimbs(ed.FieldElement{})

// negNiels sets out = −p.
func negNiels(out, p *ed.NielsPoint) {
	out.YPlusX, out.YMinusX = p.YMinusX, p.YPlusX
	out.XY2D.Neg(&p.XY2D)
}

// ctMSM computes Σ s_i·G_i in time that depends only on len(gens).
func ctMSM(gens []*fixedGen, scalars []scalar) ed.ExtendedPoint {
	if len(gens) != len(scalars) {
		panic("zk: ctMSM length mismatch")
	}
	tables := make([]*[8]ed.NielsPoint, len(gens))
	for i, g := range gens {
		tables[i] = &g.ct
	}
	return ctMSMTables(tables, scalars)
}

// ctMSMTables computes Σ s_i·P_i, given each P_i's table 1P..8P, in time
// that depends only on len(tables).
func ctMSMTables(tables []*[8]ed.NielsPoint, scalars []scalar) ed.ExtendedPoint {
	if len(tables) != len(scalars) {
		panic("zk: ctMSM length mismatch")
	}
	digits := make([][64]int8, len(scalars))
	for i := range scalars {
		radix16(&digits[i], &scalars[i])
	}
	acc := identity()
	var sel ed.NielsPoint
	var cp ed.CompletedPoint
	var pp ed.ProjectivePoint
	for i := 63; i >= 0; i-- {
		if i != 63 {
			cp.DoubleExtended(&acc)
			pp.SetCompleted(&cp)
			cp.DoubleProjective(&pp)
			pp.SetCompleted(&cp)
			cp.DoubleProjective(&pp)
			pp.SetCompleted(&cp)
			cp.DoubleProjective(&pp)
			acc.SetCompleted(&cp)
		}
		for j := range tables {
			ctSelect(&sel, tables[j], digits[j][i])
			cp.AddExtendedNiels(&acc, &sel)
			acc.SetCompleted(&cp)
		}
	}
	return acc
}

// ctBitSelectSum computes Σ (bit_i ? G_i : −H_i) in constant time: the
// Bulletproofs vector commitment ⟨a_L, g⟩ + ⟨a_L − 1, h⟩ for a bit vector
// costs one addition per bit instead of a scalar multiplication.
func ctBitSelectSum(g, h []*fixedGen, bits []uint8) ed.ExtendedPoint {
	acc := identity()
	var sel, negH ed.NielsPoint
	var cp ed.CompletedPoint
	for i := range bits {
		negNiels(&negH, &h[i].ct[0])
		sel.Set(&negH)
		sel.ConditionalSet(&g[i].ct[0], int32(bits[i]&1))
		cp.AddExtendedNiels(&acc, &sel)
		acc.SetCompleted(&cp)
	}
	return acc
}

// msm accumulates terms for one variable-time multi-scalar multiplication:
// fixed generators with precomputed tables, and points (from proofs) that
// need tables built.
type msm struct {
	fixed    []*fixedGen
	fixedSc  []scalar
	index    map[*fixedGen]int // position in fixed, so repeats add up
	points   []ed.ExtendedPoint
	pointsSc []scalar
}

func (m *msm) addFixed(g *fixedGen, s scalar) {
	if i, ok := m.index[g]; ok {
		m.fixedSc[i].Add(&m.fixedSc[i], &s)
		return
	}
	if m.index == nil {
		m.index = make(map[*fixedGen]int)
	}
	m.index[g] = len(m.fixed)
	m.fixed = append(m.fixed, g)
	m.fixedSc = append(m.fixedSc, s)
}

func (m *msm) addPoint(p *ed.ExtendedPoint, s scalar) {
	m.points = append(m.points, *p)
	m.pointsSc = append(m.pointsSc, s)
}

// eval computes the sum. Past about 80 proof points (batch verification)
// the bucket method beats Straus for them (measured on this repository's
// machine; a single proof has 20–30).
func (m *msm) eval() ed.ExtendedPoint {
	const pippengerThreshold = 80
	if len(m.points) < pippengerThreshold {
		return straus(m.fixed, m.fixedSc, m.points, m.pointsSc)
	}
	res := straus(m.fixed, m.fixedSc, nil, nil)
	niels := make([]ed.NielsPoint, len(m.points))
	toNiels(niels, m.points)
	p := pippenger(niels, m.pointsSc)
	addExtended(&res, &p)
	return res
}

// dynamicTables builds, for each point, the odd multiples P, 3P, ..., 15P
// in Niels form, and their negatives.
func dynamicTables(points []ed.ExtendedPoint) (pos, negs [][8]ed.NielsPoint) {
	const n = 1 << (dynamicWidth - 2)
	ext := make([]ed.ExtendedPoint, n*len(points))
	for i := range points {
		row := ext[i*n : (i+1)*n]
		row[0] = points[i]
		var twice ed.ExtendedPoint
		twice.Double(&points[i])
		for j := 1; j < n; j++ {
			row[j] = row[j-1]
			addExtended(&row[j], &twice)
		}
	}
	flat := make([]ed.NielsPoint, len(ext))
	toNiels(flat, ext)
	pos = make([][8]ed.NielsPoint, len(points))
	negs = make([][8]ed.NielsPoint, len(points))
	for i := range pos {
		copy(pos[i][:], flat[i*n:(i+1)*n])
		for j := range pos[i] {
			negNiels(&negs[i][j], &pos[i][j])
		}
	}
	return pos, negs
}

// straus computes Σ fs_i·F_i + Σ ps_j·P_j with interleaved w-NAF.
func straus(fixed []*fixedGen, fixedSc []scalar, points []ed.ExtendedPoint, pointsSc []scalar) ed.ExtendedPoint {
	dyn, dynNeg := dynamicTables(points)
	n := len(fixed) + len(points)
	tables := make([][]ed.NielsPoint, 0, n)
	negTables := make([][]ed.NielsPoint, 0, n)
	// digits are stored position-major so the main loop reads them in order.
	digits := make([]int8, 256*n)
	top := -1
	t := 0
	put := func(table, negTable []ed.NielsPoint, s *scalar, w uint) {
		if tp := wnaf(digits[t:], n, s, w); tp >= 0 {
			top = max(top, tp)
			tables = append(tables, table)
			negTables = append(negTables, negTable)
			t++
		}
	}
	for i := range fixed {
		put(fixed[i].vt[:], fixed[i].vtNeg[:], &fixedSc[i], fixedWidth)
	}
	for i := range points {
		put(dyn[i][:], dynNeg[i][:], &pointsSc[i], dynamicWidth)
	}
	n2 := t // terms with a nonzero scalar; digits rows still have stride n
	var acc ed.ExtendedPoint
	var cp ed.CompletedPoint
	var pp ed.ProjectivePoint
	pp.SetZero()
	acc.SetZero()
	if top < 0 {
		return acc
	}
	for pos := top; pos >= 0; pos-- {
		cp.DoubleProjective(&pp)
		row := digits[pos*n : pos*n+n2]
		for j, d := range row {
			if d == 0 {
				continue
			}
			acc.SetCompleted(&cp)
			if d > 0 {
				cp.AddExtendedNiels(&acc, &tables[j][d>>1])
			} else {
				cp.AddExtendedNiels(&acc, &negTables[j][(-d)>>1])
			}
		}
		pp.SetCompleted(&cp)
	}
	acc.SetCompleted(&cp)
	return acc
}

// pippenger computes Σ s_i·P_i with the bucket method and signed digits.
func pippenger(points []ed.NielsPoint, scalars []scalar) ed.ExtendedPoint {
	c := pippengerWindow(len(points))
	windows := (253+int(c)-1)/int(c) + 1
	digits := make([]int32, windows*len(points))
	for i := range scalars {
		signedDigits(digits[i*windows:(i+1)*windows], &scalars[i], c)
	}
	nb := 1 << (c - 1)
	buckets := make([]ed.ExtendedPoint, nb)
	used := make([]bool, nb)
	var neg ed.NielsPoint
	var cp ed.CompletedPoint
	var res ed.ExtendedPoint
	res.SetZero()
	for w := windows - 1; w >= 0; w-- {
		for k := uint(0); k < c && w != windows-1; k++ {
			res.Double(&res)
		}
		for b := range buckets {
			buckets[b].SetZero()
			used[b] = false
		}
		for i := range points {
			d := digits[i*windows+w]
			switch {
			case d > 0:
				cp.AddExtendedNiels(&buckets[d-1], &points[i])
				buckets[d-1].SetCompleted(&cp)
				used[d-1] = true
			case d < 0:
				negNiels(&neg, &points[i])
				cp.AddExtendedNiels(&buckets[-d-1], &neg)
				buckets[-d-1].SetCompleted(&cp)
				used[-d-1] = true
			}
		}
		// Σ_b (b+1)·bucket_b as a running sum of running sums.
		var running, total ed.ExtendedPoint
		running.SetZero()
		total.SetZero()
		started := false
		for b := nb - 1; b >= 0; b-- {
			if used[b] {
				addExtended(&running, &buckets[b])
				started = true
			}
			if started {
				addExtended(&total, &running)
			}
		}
		addExtended(&res, &total)
	}
	return res
}

// pippengerWindow picks the window minimising (windows)·(n + 2·buckets).
func pippengerWindow(n int) uint {
	best, bestCost := uint(4), -1
	for c := uint(4); c <= 16; c++ {
		windows := (253+int(c)-1)/int(c) + 1
		cost := windows * (n + 3*(1<<(c-1)))
		if bestCost < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}

// signedDigits writes s = Σ d_i 2^(c·i) with d_i in [-2^(c-1), 2^(c-1)].
func signedDigits(out []int32, s *scalar, c uint) {
	var buf [scalarLen]byte
	s.BytesInto(&buf)
	var limbs [5]uint64
	for i := 0; i < 4; i++ {
		limbs[i] = binary.LittleEndian.Uint64(buf[8*i:])
	}
	half := int64(1) << (c - 1)
	mask := uint64(1)<<c - 1
	carry := int64(0)
	for i := range out {
		pos := uint(i) * c
		var bits uint64
		if pos < 256 {
			idx, bit := pos/64, pos%64
			bits = limbs[idx] >> bit
			if bit+c > 64 && idx+1 < 5 {
				bits |= limbs[idx+1] << (64 - bit)
			}
			bits &= mask
		}
		d := int64(bits) + carry
		carry = 0
		if d > half {
			d -= int64(1) << c
			carry = 1
		}
		out[i] = int32(d)
	}
}
