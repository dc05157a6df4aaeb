package message

import "strings"

// node is one parsed value and, for members, its name. Scalars carry
// their decoded text; objects and arrays are parsed lazily from pos when
// the typed model needs them.
type node struct {
	name  string    // member name (the element name in XML)
	text  string    // scalars: decoded text (ValueNumber: the literal)
	pos   int32     // containers: XML content offset after the start tag; JSON offset of '{' or '['
	depth int16     // containers: nesting depth of the container itself
	kind  ValueKind // what the value is
	used  bool      // top-level members: consumed by the header
}

type decoder struct {
	s   string
	f   Format
	err error
}

// Slot modes returned by fielder.at.
const (
	mScalar        uint8 = iota // *string, *int64, *MsgID or *Number
	mMsgIDString                // *MsgID always written as a JSON string
	mStruct                     // a fielder, omitted when zero
	mListObjOrArr               // a lister; JSON: one object or an array (written as an object when it has one item)
	mListArr                    // a lister; JSON array, read like mListObjOrArr
	mListContainer              // a lister; XML container holding one <List> per item
	mListRepeated               // a lister; XML: each occurrence of the element is one item
)

// fielder is implemented by every typed push and nested object: it lists
// its typed slots in wire order. at returns, for slot i, the field name in
// format f, the slot mode and a pointer to the Go field (a lister for
// lists); p is nil past the last slot. The methods are generated from the
// wx struct tags into fields_gen.go.
type fielder interface {
	at(i int, f Format) (name string, mode uint8, p any)
	extra() *[]Field
}

// typed is implemented by every concrete push type of this package.
type typed interface {
	Push
	fielder
}

// Decode turns a plaintext push body in format f into its typed value.
// The kind (MsgType, and Event for events) selects the Go type; a kind
// without a typed model decodes to *Unknown. Fields the type does not know,
// repeated occurrences of a field, and values that do not fit the typed
// field (such as "abc" where a number belongs) are kept in Header.Extra in
// body order. Syntax errors wrap ErrMalformed. The result does not retain
// body.
func Decode(body []byte, f Format) (Push, error) {
	if err := checkFormat(f); err != nil {
		return nil, err
	}
	if len(body) > maxBody {
		return nil, &SyntaxError{Format: f, Msg: "body too large"}
	}
	d := decoder{s: string(body), f: f}
	var buf [24]node
	var ents []node
	var err error
	if f == FormatXML {
		ents, err = d.topXML(buf[:0])
	} else {
		ents, err = d.topJSON(buf[:0])
	}
	if err != nil {
		return nil, err
	}
	var h Header
	var hs uint64
	for i := range ents {
		e := &ents[i]
		switch e.name {
		case "ToUserName":
			e.used = d.scalar(&hs, 0, &h.ToUserName, e)
		case "FromUserName":
			e.used = d.scalar(&hs, 1, &h.FromUserName, e)
		case "CreateTime":
			e.used = d.scalar(&hs, 2, &h.CreateTime, e)
		case "MsgType":
			e.used = d.scalar(&hs, 3, &h.MsgType, e)
		case "Event":
			e.used = d.scalar(&hs, 4, &h.Event, e)
		}
	}
	t := newTyped(kindOf(h.MsgType, h.Event))
	if t == nil {
		u := &Unknown{Header: h, Raw: append([]byte(nil), body...)}
		for i := range ents {
			if !ents[i].used {
				u.Fields = append(u.Fields, Field{Name: ents[i].name, Value: d.value(ents[i])})
			}
		}
		if d.err != nil {
			return nil, d.err
		}
		return u, nil
	}
	*t.Head() = h
	var seen uint64
	for i := range ents {
		if !ents[i].used {
			d.field(t, &seen, ents[i])
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	return t, nil
}

// field stores member n in the slot of fd named n.name, or appends it to
// fd's Extra when there is no such slot or the value does not fit.
func (d *decoder) field(fd fielder, seen *uint64, n node) {
	name := n.name
	for i := 0; ; i++ {
		sn, mode, p := fd.at(i, d.f)
		if p == nil {
			break
		}
		if sn != name {
			continue
		}
		if d.slot(seen, uint(i), mode, p, n) {
			return
		}
		break
	}
	x := fd.extra()
	*x = append(*x, Field{Name: name, Value: d.value(n)})
}

// slot stores n into slot p; it reports false when the value does not fit
// or a single-valued slot is already set.
func (d *decoder) slot(seen *uint64, bit uint, mode uint8, p any, n node) bool {
	switch mode {
	case mScalar, mMsgIDString:
		return d.scalar(seen, bit, p, &n)
	case mStruct:
		if *seen&(1<<bit) != 0 {
			return false
		}
		fd := p.(fielder)
		switch n.kind {
		case ValueObject:
			d.fill(fd, n)
		case ValueNull:
		case ValueString:
			if n.text != "" {
				return false
			}
		default:
			return false
		}
		// Encode omits a zero object, so an occurrence that leaves it zero
		// (null, "", {}) does not claim the slot: a later filled one must
		// land here, not in Extra, or it would turn typed on a round trip.
		if !isZero(fd) {
			*seen |= 1 << bit
		}
		return true
	}
	if l, ok := p.(lister); ok {
		return d.list(l, mode, n)
	}
	return false
}

func (d *decoder) scalar(seen *uint64, bit uint, p any, n *node) bool {
	if *seen&(1<<bit) != 0 {
		return false
	}
	switch n.kind {
	case ValueString, ValueNumber, ValueNull:
	default:
		return false
	}
	switch p := p.(type) {
	case *string:
		*p = n.text
	case *MsgID:
		*p = MsgID(n.text)
	case *Number:
		*p = Number(n.text)
	case *int64:
		v, ok := parseInt(n.text)
		if !ok {
			return false
		}
		*p = v
	default:
		return false
	}
	*seen |= 1 << bit
	return true
}

// parseInt parses a decimal int64, ignoring surrounding white space. The
// empty string is 0.
func parseInt(s string) (int64, bool) {
	s = strings.Trim(s, " \t\r\n")
	if s == "" {
		return 0, true
	}
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
		if s == "" {
			return 0, false
		}
	}
	var u uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if u > (1<<63)/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
		if u > 1<<63 {
			return 0, false
		}
	}
	if neg {
		return -int64(u), true // -(1<<63) wraps to itself, which is right
	}
	if u > 1<<63-1 {
		return 0, false
	}
	return int64(u), true
}

// fill decodes the members of object node n into fd.
func (d *decoder) fill(fd fielder, n node) {
	var seen uint64
	d.children(n, func(c node) {
		d.field(fd, &seen, c)
	})
}

// list decodes list slot l; it reports false, leaving l alone, when the
// value does not have the list's shape.
func (d *decoder) list(l lister, mode uint8, n node) bool {
	add := func(c node) {
		it := l.grow()
		if c.kind == ValueObject {
			d.fill(it, c)
		}
	}
	emptyText := n.kind == ValueString && n.text == ""
	switch mode {
	case mListRepeated:
		if n.kind != ValueObject && !emptyText {
			return false
		}
		add(n)
		return true
	case mListContainer:
		if emptyText {
			return true
		}
		if n.kind != ValueObject {
			return false
		}
		ok := true
		d.children(n, func(c node) {
			if c.name != "List" || (c.kind != ValueObject && (c.kind != ValueString || c.text != "")) {
				ok = false
			}
		})
		if !ok {
			return false
		}
		d.children(n, add)
		return true
	}
	// JSON: one object or an array of objects.
	switch n.kind {
	case ValueNull:
		return true
	case ValueString:
		return emptyText
	case ValueObject:
		add(n)
		return true
	case ValueArray:
		ok := true
		d.items(n, func(c node) {
			if c.kind != ValueObject {
				ok = false
			}
		})
		if !ok {
			return false
		}
		d.items(n, add)
		return true
	}
	return false
}

// value converts a node to a generic Value.
func (d *decoder) value(n node) Value {
	switch n.kind {
	case ValueObject:
		v := Value{Kind: ValueObject}
		d.children(n, func(c node) {
			v.Fields = append(v.Fields, Field{Name: c.name, Value: d.value(c)})
		})
		return v
	case ValueArray:
		v := Value{Kind: ValueArray}
		d.items(n, func(c node) {
			v.Items = append(v.Items, d.value(c))
		})
		return v
	}
	return Value{Kind: n.kind, Text: n.text}
}

func (d *decoder) setErr(err error) {
	if d.err == nil {
		d.err = err
	}
}

// children calls fn for each member of object node n.
func (d *decoder) children(n node, fn func(c node)) {
	if d.f == FormatXML {
		x := xscan{s: d.s, i: int(n.pos)}
		if _, container, err := x.content(n.name); err != nil || !container {
			d.setErr(err)
			return
		}
		for {
			name, selfClose, ok, err := x.next(n.name)
			if err != nil || !ok {
				d.setErr(err)
				return
			}
			var c node
			if err := xmlChild(&x, &c, name, selfClose, int(n.depth)+1); err != nil {
				d.setErr(err)
				return
			}
			fn(c)
		}
	}
	j := jscan{s: d.s, i: int(n.pos)}
	if err := j.objBegin(); err != nil {
		d.setErr(err)
		return
	}
	for first := true; ; first = false {
		name, ok, err := j.objNext(first)
		if err != nil || !ok {
			d.setErr(err)
			return
		}
		c, err := j.value(int(n.depth) + 1)
		if err != nil {
			d.setErr(err)
			return
		}
		c.name = name
		fn(c)
	}
}

// items calls fn for each element of JSON array node n.
func (d *decoder) items(n node, fn func(c node)) {
	j := jscan{s: d.s, i: int(n.pos) + 1}
	for first := true; ; first = false {
		ok, err := j.arrNext(first)
		if err != nil || !ok {
			d.setErr(err)
			return
		}
		c, err := j.value(int(n.depth) + 1)
		if err != nil {
			d.setErr(err)
			return
		}
		fn(c)
	}
}

// xmlChild reads the element whose start tag was just read into c: a leaf
// as ValueString, an element with children as ValueObject (skipped and
// validated).
func xmlChild(x *xscan, c *node, name string, selfClose bool, depth int) error {
	c.name = name
	c.kind = ValueString
	if selfClose {
		return nil
	}
	pos := x.i
	l, container, err := x.content(name)
	if err != nil {
		return err
	}
	if !container {
		c.text = x.leafString(l)
		return nil
	}
	c.kind, c.pos, c.depth = ValueObject, int32(pos), int16(depth)
	return x.skipChildren(name, depth)
}

// rootTextOK reports whether the text of a root element without children
// is white space only (a document with no fields).
func rootTextOK(x *xscan, l xleaf) bool {
	return strings.Trim(x.leafString(l), " \t\r\n") == ""
}

// topXML reads an XML body and appends the root's children to ents.
func (d *decoder) topXML(ents []node) ([]node, error) {
	x := xscan{s: d.s}
	root, selfClose, err := x.root()
	if err != nil {
		return nil, err
	}
	if !selfClose {
		l, container, err := x.content(root)
		if err != nil {
			return nil, err
		}
		if !container {
			if !rootTextOK(&x, l) {
				return nil, &SyntaxError{Format: FormatXML, Offset: l.raw0, Msg: "root element holds text, not fields"}
			}
		} else {
			for {
				name, selfClose, ok, err := x.next(root)
				if err != nil {
					return nil, err
				}
				if !ok {
					break
				}
				ents = append(ents, node{})
				if err := xmlChild(&x, &ents[len(ents)-1], name, selfClose, 2); err != nil {
					return nil, err
				}
			}
		}
	}
	return ents, x.end()
}

// topJSON reads a JSON body, which must be one object, and appends its
// members to ents.
func (d *decoder) topJSON(ents []node) ([]node, error) {
	j := jscan{s: d.s}
	if err := j.objBegin(); err != nil {
		return nil, err
	}
	for first := true; ; first = false {
		name, ok, err := j.objNext(first)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		c, err := j.value(2)
		if err != nil {
			return nil, err
		}
		c.name = name
		ents = append(ents, c)
	}
	return ents, j.end()
}
