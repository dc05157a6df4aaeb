package message

import (
	"errors"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// Encode renders p in format f. For every push Decode returns,
// Decode(Encode(p, f), f) deep-equals p. Typed fields are written in a
// fixed order after the header, then Header.Extra; XML strings go in CDATA
// sections, JSON MsgIds of plain digits are numbers. For a type with a
// single kind, an empty MsgType or Event is written as the type's own (the
// value itself is not changed); a header naming a kind that p's type does
// not cover is an error. Values XML or JSON cannot carry (control
// characters in XML, invalid UTF-8, field names that are not XML names),
// nil pushes and Push types of other packages give an error wrapping
// ErrUnencodable.
func Encode(p Push, f Format) ([]byte, error) { return AppendEncode(nil, p, f) }

// AppendEncode appends the encoding of p in format f to dst (see Encode).
// On error dst is returned unchanged.
func AppendEncode(dst []byte, p Push, f Format) ([]byte, error) {
	if err := checkFormat(f); err != nil {
		return dst, err
	}
	if v := reflect.ValueOf(p); !v.IsValid() || v.Kind() == reflect.Pointer && v.IsNil() {
		return dst, unencodable("nil push")
	}
	if u, ok := p.(*Unknown); ok {
		if u.Raw != nil {
			if rf, err := DetectFormat(u.Raw); err == nil && rf == f {
				return append(dst, u.Raw...), nil
			}
		}
		e := encoder{b: dst, f: f}
		e.open()
		e.header(&u.Header, u.MsgType, u.Event, u.Fields)
		e.extra(u.Fields)
		e.extra(u.Extra)
		e.closeRoot()
		if e.err != nil {
			return dst, e.err
		}
		return e.b, nil
	}
	t, ok := p.(typed)
	if !ok {
		return dst, unencodable("push type not defined by this package")
	}
	h := t.Head()
	msgType, event := h.MsgType, h.Event
	ks := kindsOf(p)
	if len(ks) == 1 {
		if msgType == "" {
			msgType = ks[0].MsgType
		}
		if event == "" && msgType == ks[0].MsgType {
			event = ks[0].Event
		}
	}
	k := kindOf(msgType, event)
	found := false
	for _, kk := range ks {
		found = found || kk == k
	}
	if !found {
		return dst, unencodable("header kind " + k.String() + " does not match the push type")
	}
	e := encoder{b: dst, f: f}
	e.open()
	e.header(h, msgType, event, nil)
	e.fields(t)
	e.closeRoot()
	if e.err != nil {
		return dst, e.err
	}
	return e.b, nil
}

func unencodable(msg string) error {
	return &encodeError{msg}
}

type encodeError struct{ msg string }

// Error implements error.
func (e *encodeError) Error() string { return "message: cannot encode: " + e.msg }

// Unwrap returns ErrUnencodable.
func (e *encodeError) Unwrap() error { return ErrUnencodable }

// encoder writes one document. JSON commas are tracked with comma: it is
// true when the current object already has a member.
type encoder struct {
	b     []byte
	f     Format
	comma bool
	err   error
}

func (e *encoder) fail(msg string) {
	if e.err == nil {
		e.err = unencodable(msg)
	}
}

func (e *encoder) open() {
	if e.f == FormatXML {
		e.b = append(e.b, "<xml>"...)
	} else {
		e.b = append(e.b, '{')
	}
	e.comma = false
}

func (e *encoder) closeRoot() {
	if e.f == FormatXML {
		e.b = append(e.b, "</xml>"...)
	} else {
		e.b = append(e.b, '}')
	}
}

// header writes the shared fields. Event is left out when empty, unless
// a later field is named Event: then an empty one comes first so that
// the later one is not read back as the header's.
func (e *encoder) header(h *Header, msgType, event string, more []Field) {
	e.str("ToUserName", h.ToUserName)
	e.str("FromUserName", h.FromUserName)
	e.int("CreateTime", h.CreateTime)
	e.str("MsgType", msgType)
	if event == "" {
		_, found := getField(more, "Event")
		if _, inExtra := h.Get("Event"); !found && !inExtra {
			return
		}
	}
	e.str("Event", event)
}

// begin starts member name: `"name":` or `<name>`.
func (e *encoder) begin(name string) {
	if e.f == FormatXML {
		if !validXMLName(name) {
			e.fail("field name is not an XML name")
		}
		e.b = append(e.b, '<')
		e.b = append(e.b, name...)
		e.b = append(e.b, '>')
		return
	}
	if e.comma {
		e.b = append(e.b, ',')
	}
	e.comma = true
	e.b = e.appendJSONString(e.b, name)
	e.b = append(e.b, ':')
}

// end finishes member name (XML only).
func (e *encoder) end(name string) {
	if e.f == FormatXML {
		e.b = append(e.b, "</"...)
		e.b = append(e.b, name...)
		e.b = append(e.b, '>')
	}
}

func (e *encoder) str(name, v string) {
	e.begin(name)
	if e.f == FormatXML {
		e.b = e.appendCDATA(e.b, v)
	} else {
		e.b = e.appendJSONString(e.b, v)
	}
	e.end(name)
}

func (e *encoder) int(name string, v int64) {
	e.begin(name)
	e.b = strconv.AppendInt(e.b, v, 10)
	e.end(name)
}

// msgID writes a message id: a JSON number when it is canonical decimal
// digits (unless asString), a string otherwise.
func (e *encoder) msgID(name string, v MsgID, asString bool) {
	if asString || !isCanonicalDigits(string(v)) {
		e.str(name, string(v))
		return
	}
	e.begin(name)
	e.b = append(e.b, v...)
	e.end(name)
}

// number writes a Number: bare when it is a valid JSON number, a string
// (CDATA in XML) otherwise, so that Decode reads back the same text.
func (e *encoder) number(name string, v Number) {
	if !validNumber(string(v)) {
		e.str(name, string(v))
		return
	}
	e.begin(name)
	e.b = append(e.b, v...)
	e.end(name)
}

func isCanonicalDigits(s string) bool {
	if s == "" || (s[0] == '0' && len(s) > 1) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// fields writes the typed slots of fd, then its Extra.
func (e *encoder) fields(fd fielder) {
	for i := 0; ; i++ {
		name, mode, p := fd.at(i, e.f)
		if p == nil {
			break
		}
		switch mode {
		case mScalar, mMsgIDString:
			switch v := p.(type) {
			case *string:
				e.str(name, *v)
			case *int64:
				e.int(name, *v)
			case *MsgID:
				e.msgID(name, *v, mode == mMsgIDString)
			case *Number:
				e.number(name, *v)
			}
		case mStruct:
			sub := p.(fielder)
			if !isZero(sub) {
				e.object(name, sub)
			}
		default:
			e.list(name, mode, p.(lister))
		}
	}
	e.extra(*fd.extra())
}

// isZero reports whether every slot of fd is zero (nested objects
// included, lists empty) and it has no Extra.
func isZero(fd fielder) bool {
	if len(*fd.extra()) != 0 {
		return false
	}
	for i := 0; ; i++ {
		_, _, p := fd.at(i, FormatJSON)
		switch v := p.(type) {
		case nil:
			return true
		case *string:
			if *v != "" {
				return false
			}
		case *int64:
			if *v != 0 {
				return false
			}
		case *MsgID:
			if *v != "" {
				return false
			}
		case *Number:
			if *v != "" {
				return false
			}
		case lister:
			if v.len() != 0 {
				return false
			}
		case fielder:
			if !isZero(v) {
				return false
			}
		default:
			return false
		}
	}
}

// object writes member name holding the slots of sub.
func (e *encoder) object(name string, sub fielder) {
	e.begin(name)
	if e.f == FormatJSON {
		e.b = append(e.b, '{')
		e.comma = false
	}
	e.fields(sub)
	if e.f == FormatJSON {
		e.b = append(e.b, '}')
		e.comma = true
	}
	e.end(name)
}

// list writes list slot l named name.
func (e *encoder) list(name string, mode uint8, l lister) {
	n := l.len()
	if n == 0 {
		return
	}
	switch mode {
	case mListRepeated:
		for i := range n {
			e.object(name, l.item(i))
		}
	case mListContainer:
		e.begin(name)
		for i := range n {
			e.object("List", l.item(i))
		}
		e.end(name)
	default:
		if mode == mListObjOrArr && n == 1 {
			e.object(name, l.item(0))
			return
		}
		e.begin(name)
		e.b = append(e.b, '[')
		for i := range n {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.b = append(e.b, '{')
			e.comma = false
			e.fields(l.item(i))
			e.b = append(e.b, '}')
		}
		e.b = append(e.b, ']')
		e.comma = true
	}
}

func (e *encoder) extra(fs []Field) {
	for i := range fs {
		e.value(fs[i].Name, &fs[i].Value)
	}
}

// value writes member name holding a generic Value.
func (e *encoder) value(name string, v *Value) {
	if e.f == FormatXML && v.Kind == ValueArray {
		for i := range v.Items {
			e.value(name, &v.Items[i])
		}
		return
	}
	e.begin(name)
	e.bare(v)
	e.end(name)
}

// bare writes the content of v without its name.
func (e *encoder) bare(v *Value) {
	switch v.Kind {
	case ValueString:
		if e.f == FormatXML {
			e.b = e.appendCDATA(e.b, v.Text)
		} else {
			e.b = e.appendJSONString(e.b, v.Text)
		}
	case ValueNumber:
		if !validNumber(v.Text) {
			e.fail("invalid number literal")
			return
		}
		e.b = append(e.b, v.Text...)
	case ValueBool:
		if v.Text != "true" && v.Text != "false" {
			e.fail("invalid bool literal")
			return
		}
		e.b = append(e.b, v.Text...)
	case ValueNull:
		if e.f == FormatJSON {
			e.b = append(e.b, "null"...)
		}
	case ValueObject:
		if e.f == FormatJSON {
			e.b = append(e.b, '{')
			e.comma = false
		}
		e.extra(v.Fields)
		if e.f == FormatJSON {
			e.b = append(e.b, '}')
			e.comma = true
		}
	case ValueArray:
		if e.f == FormatXML {
			// Only nested arrays get here: write the items as
			// consecutive elements named "item".
			for i := range v.Items {
				e.value("item", &v.Items[i])
			}
			return
		}
		e.b = append(e.b, '[')
		for i := range v.Items {
			if i > 0 {
				e.b = append(e.b, ',')
			}
			e.bare(&v.Items[i])
		}
		e.b = append(e.b, ']')
		e.comma = true
	default:
		e.fail("invalid value kind")
	}
}

var errBadText = errors.New("control character or invalid UTF-8")

// appendCDATA appends s as XML character data: CDATA sections, split
// around "]]>", with carriage returns written as "&#13;" so that they
// survive end-of-line normalisation.
func (e *encoder) appendCDATA(dst []byte, s string) []byte {
	out, err := appendXMLValue(dst, s)
	if err != nil {
		e.fail("string is not valid XML text")
	}
	return out
}

func appendXMLValue(dst []byte, s string) ([]byte, error) {
	if s == "" {
		return dst, nil
	}
	if err := checkXMLText(s); err != nil {
		return dst, err
	}
	dst = append(dst, "<![CDATA["...)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r':
			dst = append(dst, "]]>&#13;<![CDATA["...)
		case c == '>' && i >= 2 && s[i-1] == ']' && s[i-2] == ']':
			dst = append(dst, "]]><![CDATA[>"...)
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, "]]>"...), nil
}

func checkXMLText(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x80 || c == '\t' || c == '\n' || c == '\r' {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			return errBadText
		}
		i += size
	}
	return nil
}

func (e *encoder) appendJSONString(dst []byte, s string) []byte {
	out, err := appendJSONString(dst, s)
	if err != nil {
		e.fail("string is not valid UTF-8")
	}
	return out
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping '"', '\\' and
// control characters; s must be valid UTF-8.
func appendJSONString(dst []byte, s string) ([]byte, error) {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			i++
			continue
		}
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return dst, errBadText
			}
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"'), nil
}
