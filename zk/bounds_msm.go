package zk

import (
	ed "github.com/bwesterb/go-ristretto/edwards25519"
)

// Multi-scalar multiplications over the bounds generators. There are up to
// 131072 of them, too many for the 16 KB per-generator tables of the
// prediction proof's fixed generators, so they are kept as bare affine
// Niels points and:
//
//   - constant-time sums (S, over secret masks) build each point's 1P..8P
//     table on the fly, a batch at a time (ctMSMNiels);
//   - variable-time sums (the verifier, the inner-product rounds) use
//     Pippenger's bucket method over the points themselves (nielsMSM);
//   - folding generators together (foldBase) is a small interleaved w-NAF
//     sum per output with tables built for the batch.

// ctBatch is how many points ctMSMNiels tables at once: enough to make the
// shared doublings (≈250 per batch) negligible, small enough to stay in
// cache.
const ctBatch = 256

// ctMSMNiels computes Σ s_i·P_i in time that depends only on len(points).
// The points are public; only the scalars are secret.
func ctMSMNiels(points []ed.NielsPoint, scalars []scalar) ed.ExtendedPoint {
	if len(points) != len(scalars) {
		panic("zk: ctMSMNiels length mismatch")
	}
	acc := identity()
	tables := make([][8]ed.NielsPoint, ctBatch)
	ptrs := make([]*[8]ed.NielsPoint, ctBatch)
	ext := make([]ed.ExtendedPoint, 8*ctBatch)
	flat := make([]ed.NielsPoint, 8*ctBatch)
	for start := 0; start < len(points); start += ctBatch {
		k := min(ctBatch, len(points)-start)
		for i := 0; i < k; i++ {
			row := ext[8*i : 8*i+8]
			nielsToExtended(&row[0], &points[start+i])
			row[1].Double(&row[0])                         // 2P
			addNielsTo(&row[2], &row[1], &points[start+i]) // 3P
			row[3].Double(&row[1])                         // 4P
			addNielsTo(&row[4], &row[3], &points[start+i]) // 5P
			row[5].Double(&row[2])                         // 6P
			addNielsTo(&row[6], &row[5], &points[start+i]) // 7P
			row[7].Double(&row[3])                         // 8P
		}
		toNiels(flat[:8*k], ext[:8*k])
		for i := 0; i < k; i++ {
			copy(tables[i][:], flat[8*i:8*i+8])
			ptrs[i] = &tables[i]
		}
		p := ctMSMTables(ptrs[:k], scalars[start:start+k])
		addExtended(&acc, &p)
	}
	return acc
}

// addNielsTo sets out = p + n.
func addNielsTo(out, p *ed.ExtendedPoint, n *ed.NielsPoint) {
	var c ed.CompletedPoint
	c.AddExtendedNiels(p, n)
	out.SetCompleted(&c)
}

// ctBitSelectSumNiels computes Σ (bit_i ? g_i : −h_i) in constant time.
func ctBitSelectSumNiels(g, h []ed.NielsPoint, bits []uint8) ed.ExtendedPoint {
	acc := identity()
	var sel ed.NielsPoint
	var cp ed.CompletedPoint
	for i := range bits {
		negNiels(&sel, &h[i])
		sel.ConditionalSet(&g[i], int32(bits[i]&1))
		cp.AddExtendedNiels(&acc, &sel)
		acc.SetCompleted(&cp)
	}
	return acc
}

// nielsMSM collects the terms of one variable-time sum over Niels points.
type nielsMSM struct {
	pts []ed.NielsPoint
	sc  []scalar
}

func (m *nielsMSM) add(p *ed.NielsPoint, s *scalar) {
	if *s == (scalar{}) {
		return
	}
	m.pts = append(m.pts, *p)
	m.sc = append(m.sc, *s)
}

func (m *nielsMSM) eval() ed.ExtendedPoint {
	if len(m.pts) == 0 {
		return identity()
	}
	return pippenger(m.pts, m.sc)
}

// evalNielsPair evaluates two sums on two cores.
func evalNielsPair(a, b *nielsMSM) (ed.ExtendedPoint, ed.ExtendedPoint) {
	var pa ed.ExtendedPoint
	done := make(chan struct{})
	go func() {
		pa = a.eval()
		close(done)
	}()
	pb := b.eval()
	<-done
	return pa, pb
}

// foldBase returns out_i = Σ_q coef[i+n·q]·base[i+n·q] for i < n, where
// len(base) is a multiple of n: the generators an inner-product argument
// has folded so far, made explicit. Variable time (public points, and
// coefficients that are products of public challenges).
func foldBase(base []ed.NielsPoint, coef []scalar, n int) []ed.NielsPoint {
	const per = 1 << (dynamicWidth - 2) // P, 3P, …, 15P
	const chunk = 32                    // outputs per batch of tables
	k := len(base) / n
	out := make([]ed.ExtendedPoint, n)
	ext := make([]ed.ExtendedPoint, per*k*chunk)
	tab := make([]ed.NielsPoint, per*k*chunk)
	digits := make([]int8, 256*k)
	var twice ed.ExtendedPoint
	for start := 0; start < n; start += chunk {
		c := min(chunk, n-start)
		for o := 0; o < c; o++ {
			for q := 0; q < k; q++ {
				row := ext[(o*k+q)*per : (o*k+q+1)*per]
				nielsToExtended(&row[0], &base[start+o+n*q])
				twice.Double(&row[0])
				for t := 1; t < per; t++ {
					row[t] = row[t-1]
					addExtended(&row[t], &twice)
				}
			}
		}
		toNiels(tab[:per*k*c], ext[:per*k*c])
		for o := 0; o < c; o++ {
			clear(digits)
			top := -1
			for q := 0; q < k; q++ {
				top = max(top, wnaf(digits[q:], k, &coef[start+o+n*q], dynamicWidth))
			}
			var acc ed.ExtendedPoint
			var cp ed.CompletedPoint
			var pp ed.ProjectivePoint
			acc.SetZero()
			pp.SetZero()
			if top >= 0 {
				for pos := top; pos >= 0; pos-- {
					cp.DoubleProjective(&pp)
					for q, d := range digits[pos*k : pos*k+k] {
						if d == 0 {
							continue
						}
						acc.SetCompleted(&cp)
						if d > 0 {
							cp.AddExtendedNiels(&acc, &tab[(o*k+q)*per+int(d>>1)])
						} else {
							cp.SubExtendedNiels(&acc, &tab[(o*k+q)*per+int((-d)>>1)])
						}
					}
					pp.SetCompleted(&cp)
				}
				acc.SetCompleted(&cp)
			}
			out[start+o] = acc
		}
	}
	res := make([]ed.NielsPoint, n)
	toNiels(res, out)
	return res
}
