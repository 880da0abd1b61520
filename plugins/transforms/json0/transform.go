package json0

import "slices"

func pAt(p []any, i int) any {
	if i < 0 || i >= len(p) {
		return undef{}
	}
	return p[i]
}

func pathMatches(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strictEq(a[i], b[i]) {
			return false
		}
	}
	return true
}

func incr(p []any, i, d int) {
	if i < 0 || i >= len(p) {
		throw("path index out of range")
	}
	n, ok := p[i].(int)
	if !ok {
		throw("list index expected in the path")
	}
	if n+d < 0 {
		throw("negative list index")
	}
	p[i] = n + d
}

// appendComp is ot-json0's append: c is added to dest, merged with its last component if possible.
func appendComp(dest []Component, c Component) []Component {
	return appendOwned(dest, c.copy())
}

// appendOwned is appendComp for a component that is the caller's own copy, not used after.
func appendOwned(dest []Component, c Component) []Component {
	if len(dest) == 0 {
		return append(dest, c)
	}
	n := len(dest) - 1
	dest[n] = dest[n].copy()
	last := &dest[n]
	conv := c.textish() && last.textish()
	if conv {
		convertFromText(&c)
		convertFromText(last)
	}
	if pathMatches(c.P, last.P) {
		switch {
		case c.has("t") && last.has("t"):
			last.O = textCompose(last.O, c.O)
			if c.textish() {
				p := c.P
				var extra []Component
				for i := 0; i < len(last.O)-1; i++ {
					c.O = []TextComp{last.O[len(last.O)-1]}
					last.O = last.O[:len(last.O)-1]
					c.P = slices.Clone(p)
					convertToText(&c)
					extra = append(extra, c.copy())
				}
				convertToText(last)
				dest = append(dest, extra...)
			}
		case last.has("na") && c.has("na"):
			dest[n] = Component{keys: keysOf("p", "na"), P: last.P, Na: last.Na + c.Na}
		case last.has("li") && !c.has("li") && c.has("ld") && jsStrictEqValue(c.Ld, last.Li):
			if last.has("ld") {
				last.del("li")
				last.Li = nil
			} else {
				dest = dest[:n]
			}
		case last.has("od") && !last.has("oi") && c.has("oi") && !c.has("od"):
			last.Oi = c.Oi
			last.set("oi")
		case last.has("oi") && c.has("od"):
			if c.has("oi") {
				last.Oi = c.Oi
			} else if last.has("od") {
				last.del("oi")
				last.Oi = nil
			} else {
				dest = dest[:n]
			}
		case c.has("lm") && strictEq(pAt(c.P, len(c.P)-1), c.Lm):
		default:
			dest = append(dest, c)
		}
	} else {
		if conv {
			convertToText(&c)
			convertToText(last)
		}
		dest = append(dest, c)
	}
	return dest
}

// commonLength is ot-json0's commonLengthForOps; ok is false for null.
func commonLength(a, b *Component) (int, bool) {
	alen, blen := len(a.P), len(b.P)
	if a.has("na") || a.has("t") {
		alen++
	}
	if b.has("na") || b.has("t") {
		blen++
	}
	if alen == 0 {
		return -1, true
	}
	if blen == 0 {
		return 0, false
	}
	alen--
	blen--
	for i := 0; i < alen; i++ {
		if i >= blen || !strictEq(a.P[i], b.P[i]) {
			return 0, false
		}
	}
	return alen, true
}

func transformComponent(dest []Component, c, otherC Component, left bool) []Component {
	c = c.copy()
	common, ok := commonLength(&otherC, &c)
	common2, ok2 := commonLength(&c, &otherC)
	cplength, otherCplength := len(c.P), len(otherC.P)
	if c.has("na") || c.has("t") {
		cplength++
	}
	if otherC.has("na") || otherC.has("t") {
		otherCplength++
	}
	if ok2 && otherCplength > cplength && looseEq(pAt(c.P, common2), pAt(otherC.P, common2)) {
		if c.has("ld") || c.has("od") {
			oc := otherC.copy()
			if cplength <= len(oc.P) {
				oc.P = oc.P[cplength:]
			} else {
				oc.P = nil
			}
			if c.has("ld") {
				c.Ld = applyInPlace(Clone(c.Ld), Op{oc}, nil, false)
			} else {
				c.Od = applyInPlace(Clone(c.Od), Op{oc}, nil, false)
			}
		}
	}
	if ok {
		commonOperand := cplength == otherCplength
		oc := otherC
		if c.textish() && otherC.textish() {
			convertFromText(&c)
			oc = otherC.copy()
			convertFromText(&oc)
		}
		pc, po := pAt(c.P, common), pAt(otherC.P, common)
		switch {
		case oc.has("t"):
			if c.has("t") {
				res := text0.transform(c.O, oc.O, left)
				if c.textish() {
					p := c.P
					for _, r := range res {
						c.O = []TextComp{r}
						c.P = slices.Clone(p)
						convertToText(&c)
						dest = appendComp(dest, c)
						c.set("t")
					}
				} else if len(res) > 0 {
					c.O = res
					dest = appendComp(dest, c)
				}
				return dest
			}
		case otherC.has("na"):
		case otherC.has("li") && otherC.has("ld"):
			if strictEq(po, pc) {
				if !commonOperand {
					return dest
				} else if c.has("ld") {
					if c.has("li") && left {
						c.Ld = Clone(otherC.Li)
					} else {
						return dest
					}
				}
			}
		case otherC.has("li"):
			if c.has("li") && !c.has("ld") && commonOperand && strictEq(pc, po) {
				if !left {
					incr(c.P, common, 1)
				}
			} else if less(po, pc, true) {
				incr(c.P, common, 1)
			}
			if c.has("lm") && commonOperand && less(po, c.Lm, true) {
				c.Lm++
			}
		case otherC.has("ld"):
			if c.has("lm") && commonOperand {
				if strictEq(po, pc) {
					return dest
				}
				if less(po, c.Lm, false) || (strictEq(po, c.Lm) && less(pc, c.Lm, false)) {
					c.Lm--
				}
			}
			if less(po, pc, false) {
				incr(c.P, common, -1)
			} else if strictEq(po, pc) {
				if otherCplength < cplength {
					return dest
				} else if c.has("ld") {
					if c.has("li") {
						c.del("ld")
						c.Ld = nil
					} else {
						return dest
					}
				}
			}
		case otherC.has("lm"):
			if c.has("lm") && cplength == otherCplength {
				from, to := pc, c.Lm
				otherFrom, otherTo := po, otherC.Lm
				if !strictEq(otherFrom, otherTo) {
					if strictEq(from, otherFrom) {
						if left {
							c.P[common] = otherTo
							if strictEq(from, to) {
								c.Lm = otherTo
							}
						} else {
							return dest
						}
					} else {
						if less(otherFrom, from, false) {
							incr(c.P, common, -1)
						}
						if less(otherTo, from, false) {
							incr(c.P, common, 1)
						} else if strictEq(from, otherTo) {
							if less(otherTo, otherFrom, false) {
								incr(c.P, common, 1)
								if strictEq(from, to) {
									c.Lm++
								}
							}
						}
						if less(otherFrom, to, false) {
							c.Lm--
						} else if strictEq(to, otherFrom) {
							if less(from, to, false) {
								c.Lm--
							}
						}
						if to > otherTo {
							c.Lm++
						} else if to == otherTo {
							if (less(otherFrom, otherTo, false) && less(from, to, false)) ||
								(less(otherTo, otherFrom, false) && less(to, from, false)) {
								if !left {
									c.Lm++
								}
							} else {
								if less(from, to, false) {
									c.Lm++
								} else if strictEq(to, otherFrom) {
									c.Lm--
								}
							}
						}
					}
				}
			} else if c.has("li") && !c.has("ld") && commonOperand {
				from, to := po, otherC.Lm
				p := pc
				if less(from, p, false) {
					incr(c.P, common, -1)
				}
				if less(to, p, false) {
					incr(c.P, common, 1)
				}
			} else {
				from, to := po, otherC.Lm
				p := pc
				if strictEq(p, from) {
					if common < 0 || common >= len(c.P) {
						throw("path index out of range")
					}
					c.P[common] = to
				} else {
					if less(from, p, false) {
						incr(c.P, common, -1)
					}
					if less(to, p, false) {
						incr(c.P, common, 1)
					} else if strictEq(p, to) && less(to, from, false) {
						incr(c.P, common, 1)
					}
				}
			}
		case otherC.has("oi") && otherC.has("od"):
			if strictEq(pc, po) {
				if c.has("oi") && commonOperand {
					if !left {
						return dest
					}
					c.Od = otherC.Oi
					c.set("od")
				} else {
					return dest
				}
			}
		case otherC.has("oi"):
			if c.has("oi") && strictEq(pc, po) {
				if left {
					dest = appendComp(dest, Component{keys: keysOf("p", "od"), P: c.P, Od: otherC.Oi})
				} else {
					return dest
				}
			}
		case otherC.has("od"):
			if looseEq(pc, po) {
				if !commonOperand {
					return dest
				}
				if c.has("oi") {
					c.del("od")
					c.Od = nil
				} else {
					return dest
				}
			}
		}
	}
	return appendOwned(dest, c) // c is this call's copy
}

var json0 = bootstrap[Component]{tc: transformComponent, app: appendComp}

// Side of a transform.
type Side bool

const (
	Left  Side = true
	Right Side = false
)

// Transform returns op transformed over other (applied first), like ot-json0's transform.
func Transform(op, other Op, side Side) (out Op, err error) {
	defer catch(&err)
	return Op(json0.transform(op, other, bool(side))), nil
}

// Compose returns a then b as one op, like ot-json0's compose.
func Compose(a, b Op) (out Op, err error) {
	defer catch(&err)
	res := make([]Component, 0, len(a)+len(b))
	for _, c := range a {
		res = append(res, c.copy())
	}
	for _, c := range b {
		res = appendComp(res, c)
	}
	return Op(res), nil
}

// Invert returns the inverse of op, like ot-json0's invert.
func Invert(op Op) Op {
	out := make(Op, 0, len(op))
	for i := len(op) - 1; i >= 0; i-- {
		c := op[i]
		r := Component{keys: keysOf("p"), P: slices.Clone(c.P)}
		if c.has("t") {
			r.keys = keysOf("p", "t", "o")
			for j := len(c.O) - 1; j >= 0; j-- {
				t := c.O[j]
				r.O = append(r.O, TextComp{P: t.P, S: t.S, Ins: !t.Ins})
			}
		}
		if c.has("si") {
			r.set("sd")
			r.Sd = c.Si
		}
		if c.has("sd") {
			r.set("si")
			r.Si = c.Sd
		}
		if c.has("oi") {
			r.set("od")
			r.Od = c.Oi
		}
		if c.has("od") {
			r.set("oi")
			r.Oi = c.Od
		}
		if c.has("li") {
			r.set("ld")
			r.Ld = c.Li
		}
		if c.has("ld") {
			r.set("li")
			r.Li = c.Ld
		}
		if c.has("na") {
			r.set("na")
			r.Na = -c.Na
		}
		if c.has("lm") {
			r.set("lm")
			r.Lm = c.P[len(c.P)-1].(int)
			r.P = append(slices.Clone(c.P[:len(c.P)-1]), c.Lm)
		}
		out = append(out, r)
	}
	return out
}
