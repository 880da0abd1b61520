package json0

import (
	"slices"
	"strconv"
	"strings"
)

// undef is JavaScript's undefined in path walks and path lookups.
type undef struct{}

func convertFromText(c *Component) {
	c.set("t")
	last := c.P[len(c.P)-1]
	c.P = c.P[:len(c.P)-1]
	n, ok := last.(int)
	if !ok {
		throw("string offset must be a number")
	}
	o := TextComp{P: n, PFirst: true}
	if c.has("si") {
		o.S, o.Ins = c.Si, true
	} else {
		o.S = c.Sd
	}
	c.O = []TextComp{o}
	c.set("o")
}

func convertToText(c *Component) {
	if len(c.O) == 0 {
		throw("empty text0 op")
	}
	o := c.O[0]
	c.P = append(slices.Clone(c.P), o.P)
	if o.Ins {
		c.Si = o.S
		c.set("si")
	} else {
		c.Sd = o.S
		c.set("sd")
	}
	c.del("t")
	c.del("o")
	c.O = nil
}

func get(elem, key any) any {
	switch e := elem.(type) {
	case *Object:
		if k, ok := key.(string); ok {
			if v, ok := e.Get(k); ok {
				return v
			}
		}
	case *List:
		if k, ok := key.(int); ok && k < e.Len() {
			return e.At(k)
		}
	}
	return undef{}
}

// undoLog records how to take back each change an op made, so that a failing op leaves a live
// document as it was without copying it first. nil records nothing.
type undoLog []func()

// add records f. Callers test l for nil first: a closure costs an allocation even when l
// would drop it.
func (l *undoLog) add(f func()) { *l = append(*l, f) }

// rollback takes back every change, newest first.
func (l undoLog) rollback() {
	for i := len(l) - 1; i >= 0; i-- {
		l[i]()
	}
}

func setAt(elem, key, v any, log *undoLog) {
	switch e := elem.(type) {
	case *Object:
		k, ok := key.(string)
		if !ok {
			throw("object key must be a string")
		}
		if log != nil {
			if old, had := e.Get(k); had {
				log.add(func() { e.Set(k, old) })
			} else {
				log.add(func() { e.Delete(k) })
			}
		}
		e.Set(k, v)
	case *List:
		k := key.(int)
		n := e.Len()
		if log != nil {
			if k < n {
				old := e.At(k)
				log.add(func() { e.Set(k, old) })
			} else {
				log.add(func() {
					for e.Len() > n {
						e.Delete(e.Len() - 1)
					}
				})
			}
		}
		for e.Len() <= k {
			e.Append(nil)
		}
		e.Set(k, v)
	default:
		throw("path invalid")
	}
}

// Apply applies op to a copy of doc and returns the result; doc is not modified.
func Apply(doc any, op Op) (out any, err error) {
	defer catch(&err)
	return applyInPlace(Clone(doc), op, nil, false), nil
}

// ApplyInPlace applies op to doc, modifying it, and returns the document (op may replace the
// root). On error every change is taken back: doc is as it was. Unlike Apply it does not copy
// the document, so an op costs what it touches (a list insert or delete also moves the
// list's tail), not the document's size: what a live document needs.
func ApplyInPlace(doc any, op Op) (out any, err error) {
	return applyLive(doc, op, false)
}

// ApplyOwned is ApplyInPlace for an op the caller owns and gives up: the values it inserts
// become part of doc instead of being copied first. Once it returns, op may only be encoded,
// before doc changes again (its inserted values are doc's own); whatever shares values with op
// must not change them either. On error doc is as it was, and op as it was given.
func ApplyOwned(doc any, op Op) (out any, err error) {
	return applyLive(doc, op, true)
}

func applyLive(doc any, op Op, owned bool) (out any, err error) {
	var log undoLog
	defer func() {
		if err != nil {
			log.rollback()
		}
	}()
	defer catch(&err)
	return applyInPlace(doc, op, &log, owned), nil
}

// applyInPlace applies op, modifying doc (which the caller must own), recording each change in
// log (when not nil). owned says the op's inserted values may be kept without a copy.
func applyInPlace(doc any, op Op, log *undoLog, owned bool) any {
	present := true
	for i, c := range op {
		last := i == len(op)-1
		if last {
			// A component that fails does so before it changes anything: only the earlier
			// components' changes need taking back.
			log = nil
		}
		// An inserted value that a later component of the op may change is copied even when
		// owned: the op is encoded after it is applied, and must encode as it was given.
		applyComponent(&doc, &present, c, log, owned && last)
	}
	if !present {
		throw("the op deletes the document")
	}
	return doc
}

// applyComponent applies c to the document *doc; *present is false once a component deleted
// the document itself (ot-json0 applies ops under a container {data: doc}).
func applyComponent(doc *any, present *bool, c Component, log *undoLog, owned bool) {
	if c.textish() {
		c = c.copy()
		convertFromText(&c)
	}
	if len(c.P) == 0 {
		// The component works on the container itself: build it.
		container := newObject()
		if *present {
			container.Set("data", *doc)
		}
		applyAt(container, "data", c, log, owned)
		*doc, *present = container.Get("data")
		return
	}
	var elem, key any = *doc, c.P[0]
	if !*present {
		elem = undef{}
	}
	for _, p := range c.P[1:] {
		switch elem.(type) {
		case *Object, *List:
		default:
			throw("path invalid")
		}
		elem = get(elem, key)
		key = p
	}
	applyAt(elem, key, c, log, owned)
}

// applyAt applies c at key of elem.
func applyAt(elem, key any, c Component, log *undoLog, owned bool) {
	insert := Clone
	if owned {
		insert = func(v any) any { return v }
	}
	_, isList := elem.(*List)
	_, isObj := elem.(*Object)
	switch {
	case c.has("t"):
		s, ok := get(elem, key).(string)
		if !ok || !(isList || isObj) {
			throw("text0 op on a non-string")
		}
		setAt(elem, key, textApply(s, c.O), log)
	case c.has("na"):
		n, ok := get(elem, key).(float64)
		if !ok {
			throw("referenced element not a number")
		}
		setAt(elem, key, n+c.Na, log)
	case c.has("li") && c.has("ld"):
		if !isList {
			throw("referenced element not a list")
		}
		setAt(elem, key, insert(c.Li), log)
	case c.has("li"):
		if !isList {
			throw("referenced element not a list")
		}
		l := elem.(*List)
		i := min(key.(int), l.Len())
		l.Insert(i, insert(c.Li))
		if log != nil {
			log.add(func() { l.Delete(i) })
		}
	case c.has("ld"):
		if !isList {
			throw("referenced element not a list")
		}
		l := elem.(*List)
		if k := key.(int); k < l.Len() {
			old := l.Delete(k)
			if log != nil {
				log.add(func() { l.Insert(k, old) })
			}
		}
	case c.has("lm"):
		if !isList {
			throw("referenced element not a list")
		}
		l := elem.(*List)
		k := key.(int)
		if c.Lm != k {
			var e any
			had := k < l.Len()
			if had {
				e = l.Delete(k)
			}
			to := min(c.Lm, l.Len())
			l.Insert(to, e)
			if log != nil {
				log.add(func() {
					e := l.Delete(to)
					if had {
						l.Insert(k, e)
					}
				})
			}
		}
	case c.has("oi"):
		if !isObj {
			throw("referenced element not an object")
		}
		setAt(elem, key, insert(c.Oi), log)
	case c.has("od"):
		if !isObj {
			throw("referenced element not an object")
		}
		k, ok := key.(string)
		if !ok {
			throw("object key must be a string")
		}
		o := elem.(*Object)
		if at := o.find(k); at >= 0 && log != nil {
			old := o.fields[at].v
			log.add(func() { o.insert(at, k, old) })
		}
		o.Delete(k)
	default:
		throw("invalid / missing instruction in op")
	}
}

// Path element comparisons with JavaScript semantics.

func strictEq(a, b any) bool {
	switch x := a.(type) {
	case int:
		y, ok := b.(int)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case undef:
		_, ok := b.(undef)
		return ok
	}
	return false
}

func toNum(a any) (float64, bool) {
	switch x := a.(type) {
	case int:
		return float64(x), true
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0, true
		}
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	}
	return 0, false
}

func looseEq(a, b any) bool {
	_, as := a.(string)
	_, bs := b.(string)
	_, au := a.(undef)
	_, bu := b.(undef)
	if as == bs || au || bu {
		return strictEq(a, b)
	}
	x, ok1 := toNum(a)
	y, ok2 := toNum(b)
	return ok1 && ok2 && x == y
}

// less is JavaScript's a < b (orEq: a <= b) for path elements.
func less(a, b any, orEq bool) bool {
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return x < y || (orEq && x == y)
		}
	}
	x, ok1 := toNum(a)
	y, ok2 := toNum(b)
	if !ok1 || !ok2 {
		return false
	}
	return x < y || (orEq && x == y)
}

// jsStrictEqValue is === on JSON values: objects and arrays are never equal after a clone.
func jsStrictEqValue(a, b any) bool {
	switch a.(type) {
	case *Object, *List:
		return false
	}
	return a == b
}
