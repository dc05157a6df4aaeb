package message

import (
	"strings"
	"unicode/utf8"
)

// maxDepth bounds element and JSON nesting (the root element or top-level
// object is depth 1).
const maxDepth = 32

// maxBody bounds the size of a body Decode accepts (offsets are int32).
const maxBody = 1<<31 - 1

// xscan is a strict scanner for the XML subset WeChat sends: an optional
// XML declaration, one root element, child elements without attributes,
// text, CDATA sections, the five predefined entities, character references
// and comments. It works on a string and returns offsets or sub-strings, so
// it allocates nothing unless a value needs unescaping.
//
// Everything it accepts is accepted by encoding/xml with the same element
// names and character data (FuzzXMLOracle checks this); it rejects some
// documents encoding/xml accepts (attributes, namespaces, directives,
// processing instructions other than the leading declaration, mixed
// content, text outside the root).
type xscan struct {
	s string
	i int
}

// xleaf locates the content of an element that has no child elements.
type xleaf struct {
	raw0, raw1 int  // content between the start and the end tag
	v0, v1     int  // the value itself when simple
	simple     bool // the value is s[v0:v1]; otherwise unescape raw
}

func (x *xscan) fail(msg string) error {
	return &SyntaxError{Format: FormatXML, Offset: x.i, Msg: msg}
}

// Character classes for text scanning.
const (
	xcPlain   = iota // ordinary printable ASCII
	xcSpace          // ' ', '\t', '\n'
	xcSpecial        // '&', '<', '>', '\r', control bytes and non-ASCII
)

var xclass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			t[c] = xcSpace
		case c == '&' || c == '<' || c == '>' || c == '\r' || c < 0x20 || c >= 0x80:
			t[c] = xcSpecial
		default:
			t[c] = xcPlain
		}
	}
	return t
}()

func isNameStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_'
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
}

// validXMLName reports whether s is an element name this package reads and
// writes.
func validXMLName(s string) bool {
	if s == "" || !isNameStart(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

// isXMLChar reports whether r may appear in an XML document.
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		r >= 0x20 && r <= 0xD7FF ||
		r >= 0xE000 && r <= 0xFFFD ||
		r >= 0x10000 && r <= 0x10FFFF
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (x *xscan) skipSpace() {
	for x.i < len(x.s) && isSpace(x.s[x.i]) {
		x.i++
	}
}

// root reads the prolog and the root start tag.
func (x *xscan) root() (name string, selfClose bool, err error) {
	if strings.HasPrefix(x.s, "<?xml") && len(x.s) > 5 && (isSpace(x.s[5]) || x.s[5] == '?') {
		if err := x.decl(); err != nil {
			return "", false, err
		}
	}
	if err := x.misc(); err != nil {
		return "", false, err
	}
	if x.i >= len(x.s) {
		return "", false, x.fail("no root element")
	}
	if x.s[x.i] != '<' || x.i+1 >= len(x.s) || !isNameStart(x.s[x.i+1]) {
		return "", false, x.fail("expected the root element")
	}
	return x.startTag()
}

// decl reads the XML declaration at offset 0. Only version="1.0",
// encoding="UTF-8" (any case) and standalone="yes"/"no" are accepted.
func (x *xscan) decl() error {
	x.i = 5
	var seen [3]bool
	for {
		n := x.i
		x.skipSpace()
		if strings.HasPrefix(x.s[x.i:], "?>") {
			x.i += 2
			return nil
		}
		if x.i == n {
			return x.fail("bad XML declaration")
		}
		j := x.i
		for j < len(x.s) && 'a' <= x.s[j] && x.s[j] <= 'z' {
			j++
		}
		attr := x.s[x.i:j]
		k := -1
		switch attr {
		case "version":
			k = 0
		case "encoding":
			k = 1
		case "standalone":
			k = 2
		}
		if k < 0 || seen[k] {
			return x.fail("bad XML declaration")
		}
		seen[k] = true
		x.i = j
		x.skipSpace()
		if x.i >= len(x.s) || x.s[x.i] != '=' {
			return x.fail("bad XML declaration")
		}
		x.i++
		x.skipSpace()
		if x.i >= len(x.s) || (x.s[x.i] != '"' && x.s[x.i] != '\'') {
			return x.fail("bad XML declaration")
		}
		q := x.s[x.i]
		x.i++
		e := strings.IndexByte(x.s[x.i:], q)
		if e < 0 {
			return x.fail("bad XML declaration")
		}
		val := x.s[x.i : x.i+e]
		ok := false
		switch k {
		case 0:
			ok = val == "1.0"
		case 1:
			ok = strings.EqualFold(val, "utf-8")
		case 2:
			ok = val == "yes" || val == "no"
		}
		if !ok {
			return x.fail("unsupported XML declaration")
		}
		x.i += e + 1
	}
}

// misc skips white space and comments.
func (x *xscan) misc() error {
	for {
		x.skipSpace()
		if !strings.HasPrefix(x.s[x.i:], "<!--") {
			return nil
		}
		if err := x.comment(); err != nil {
			return err
		}
	}
}

// comment skips a comment starting at x.i ("<!--"). As in encoding/xml,
// "--" inside a comment must be the start of "-->".
func (x *xscan) comment() error {
	k := strings.Index(x.s[x.i+4:], "--")
	if k < 0 {
		x.i = len(x.s)
		return x.fail("unterminated comment")
	}
	x.i += 4 + k
	if x.i+2 >= len(x.s) || x.s[x.i+2] != '>' {
		return x.fail(`"--" inside a comment`)
	}
	x.i += 3
	return nil
}

// startTag reads "<name>" or "<name/>" at x.i (x.s[x.i] == '<').
func (x *xscan) startTag() (name string, selfClose bool, err error) {
	j := x.i + 1
	if j >= len(x.s) || !isNameStart(x.s[j]) {
		return "", false, x.fail("expected an element name")
	}
	j++
	for j < len(x.s) && isNameByte(x.s[j]) {
		j++
	}
	name = x.s[x.i+1 : j]
	x.i = j
	x.skipSpace()
	if x.i >= len(x.s) {
		return "", false, x.fail("unexpected end in a start tag")
	}
	switch x.s[x.i] {
	case '>':
		x.i++
		return name, false, nil
	case '/':
		if x.i+1 < len(x.s) && x.s[x.i+1] == '>' {
			x.i += 2
			return name, true, nil
		}
	}
	return "", false, x.fail("attributes and namespaces are not supported")
}

// endTag reads "</name>" at x.i and checks it closes name.
func (x *xscan) endTag(name string) error {
	j := x.i + 2
	if !strings.HasPrefix(x.s[j:], name) {
		return x.fail("mismatched end tag")
	}
	j += len(name)
	if j < len(x.s) && isNameByte(x.s[j]) {
		return x.fail("mismatched end tag")
	}
	x.i = j
	x.skipSpace()
	if x.i >= len(x.s) || x.s[x.i] != '>' {
		return x.fail("bad end tag")
	}
	x.i++
	return nil
}

// content reads what follows the start tag of element name. For a leaf it
// consumes the end tag and describes the value. When the element has child
// elements it returns container=true with x.i at the first child's '<';
// the caller then iterates with next.
func (x *xscan) content(name string) (l xleaf, container bool, err error) {
	s := x.s
	i := x.i
	l.raw0 = i
	chunks := 0
	decode := false
	text := false // non-space text or CDATA seen
	for {
		if i >= len(s) {
			x.i = i
			return l, false, x.fail("unexpected end inside an element")
		}
		if s[i] != '<' {
			// A run of character data up to the next '<'.
			start := i
			for i < len(s) {
				c := s[i]
				switch xclass[c] {
				case xcPlain:
					text = true
					i++
					continue
				case xcSpace:
					i++
					continue
				}
				// xcSpecial
				switch {
				case c == '<':
					goto runEnd
				case c == '&':
					n, err := x.entity(i)
					if err != nil {
						return l, false, err
					}
					i = n
					decode, text = true, true
				case c == '\r':
					decode = true
					i++
				case c == '>':
					if i-2 >= start && s[i-1] == ']' && s[i-2] == ']' {
						x.i = i
						return l, false, x.fail(`"]]>" outside CDATA`)
					}
					text = true
					i++
				case c < 0x20:
					x.i = i
					return l, false, x.fail("illegal character")
				default:
					r, size := utf8.DecodeRuneInString(s[i:])
					if (r == utf8.RuneError && size == 1) || !isXMLChar(r) {
						x.i = i
						return l, false, x.fail("invalid UTF-8 or illegal character")
					}
					text = true
					i += size
				}
			}
		runEnd:
			chunks++
			l.v0, l.v1 = start, i
			continue
		}
		// s[i] == '<'
		if i+1 < len(s) && s[i+1] == '/' {
			x.i = i
			l.raw1 = i
			if err := x.endTag(name); err != nil {
				return l, false, err
			}
			switch {
			case chunks == 0:
				l.simple, l.v0, l.v1 = true, i, i
			case chunks == 1 && !decode:
				l.simple = true
			}
			return l, false, nil
		}
		if strings.HasPrefix(s[i:], "<![CDATA[") {
			// Validate the section while looking for its "]]>".
			start := i + 9
			j := start
			for {
				j = skipCDATAPlain(s, j)
				if j >= len(s) {
					x.i = i
					return l, false, x.fail("unterminated CDATA section")
				}
				c := s[j]
				switch {
				case c == ']':
					if strings.HasPrefix(s[j:], "]]>") {
						goto cdataEnd
					}
					j++
				case c == '\r':
					decode = true
					j++
				case c == '\t' || c == '\n':
					j++
				default:
					r, size := utf8.DecodeRuneInString(s[j:])
					if (r == utf8.RuneError && size == 1) || !isXMLChar(r) {
						x.i = j
						return l, false, x.fail("invalid UTF-8 or illegal character")
					}
					j += size
				}
			}
		cdataEnd:
			chunks++
			text = true
			l.v0, l.v1 = start, j
			i = j + 3
			continue
		}
		if strings.HasPrefix(s[i:], "<!--") {
			x.i = i
			if err := x.comment(); err != nil {
				return l, false, err
			}
			i = x.i
			continue
		}
		if i+1 < len(s) && isNameStart(s[i+1]) {
			if text {
				x.i = i
				return l, false, x.fail("mixed text and elements")
			}
			x.i = i
			return l, true, nil
		}
		x.i = i
		return l, false, x.fail("unsupported markup")
	}
}

// entity validates the entity or character reference at s[i] == '&' and
// returns the offset after its ';'. It follows encoding/xml: the five
// predefined names, "&#" decimal or "&#x" (lower-case x) hexadecimal digits
// naming a code point that is an XML character (a surrogate becomes
// U+FFFD).
func (x *xscan) entity(i int) (int, error) {
	s := x.s
	j := i + 1
	if j < len(s) && s[j] == '#' {
		j++
		base := rune(10)
		if j < len(s) && s[j] == 'x' {
			base = 16
			j++
		}
		d0 := j
		var n rune
		for ; j < len(s); j++ {
			c := s[j]
			var v rune
			switch {
			case '0' <= c && c <= '9':
				v = rune(c - '0')
			case base == 16 && 'a' <= c && c <= 'f':
				v = rune(c-'a') + 10
			case base == 16 && 'A' <= c && c <= 'F':
				v = rune(c-'A') + 10
			default:
				goto done
			}
			n = n*base + v
			if n > utf8.MaxRune {
				x.i = i
				return 0, x.fail("character reference out of range")
			}
		}
	done:
		if j == d0 || j >= len(s) || s[j] != ';' {
			x.i = i
			return 0, x.fail("bad character reference")
		}
		if !(0xD800 <= n && n <= 0xDFFF) && !isXMLChar(n) {
			x.i = i
			return 0, x.fail("character reference to an illegal character")
		}
		return j + 1, nil
	}
	for _, e := range [...]string{"lt;", "gt;", "amp;", "apos;", "quot;"} {
		if strings.HasPrefix(s[j:], e) {
			return j + len(e), nil
		}
	}
	x.i = i
	return 0, x.fail("unknown entity")
}

// next moves to the next child of a container element named parent. It
// skips white space and comments. At the parent's end tag it consumes the
// tag and returns ok=false.
func (x *xscan) next(parent string) (name string, selfClose, ok bool, err error) {
	if err := x.misc(); err != nil {
		return "", false, false, err
	}
	if x.i >= len(x.s) {
		return "", false, false, x.fail("unexpected end inside an element")
	}
	if x.s[x.i] != '<' {
		return "", false, false, x.fail("mixed text and elements")
	}
	if x.i+1 < len(x.s) && x.s[x.i+1] == '/' {
		return "", false, false, x.endTag(parent)
	}
	name, selfClose, err = x.startTag()
	return name, selfClose, err == nil, err
}

// skip consumes the content and end tag of element name, whose start tag
// has just been read at nesting depth depth.
func (x *xscan) skip(name string, depth int) error {
	_, container, err := x.content(name)
	if err != nil || !container {
		return err
	}
	return x.skipChildren(name, depth)
}

func (x *xscan) skipChildren(name string, depth int) error {
	if depth >= maxDepth {
		return x.fail("nesting too deep")
	}
	for {
		child, selfClose, ok, err := x.next(name)
		if err != nil || !ok {
			return err
		}
		if !selfClose {
			if err := x.skip(child, depth+1); err != nil {
				return err
			}
		}
	}
}

// end checks that only white space and comments follow the root element.
func (x *xscan) end() error {
	if err := x.misc(); err != nil {
		return err
	}
	if x.i != len(x.s) {
		return x.fail("content after the root element")
	}
	return nil
}

// leafString returns the value of a leaf, unescaping when needed.
func (x *xscan) leafString(l xleaf) string {
	if l.simple {
		return x.s[l.v0:l.v1]
	}
	return string(appendXMLText(nil, x.s[l.raw0:l.raw1]))
}

// appendXMLText appends the character data of already validated leaf
// content raw: text with entities expanded, CDATA sections, comments
// dropped, and "\r\n" or a lone "\r" turned into "\n" as encoding/xml does.
func appendXMLText(dst []byte, raw string) []byte {
	for i := 0; i < len(raw); {
		switch {
		case strings.HasPrefix(raw[i:], "<![CDATA["):
			k := strings.Index(raw[i+9:], "]]>")
			dst = appendNormCR(dst, raw[i+9:i+9+k])
			i += 9 + k + 3
		case strings.HasPrefix(raw[i:], "<!--"):
			k := strings.Index(raw[i+4:], "-->")
			i += 4 + k + 3
		default:
			j := strings.IndexByte(raw[i:], '<')
			if j < 0 {
				j = len(raw)
			} else {
				j += i
			}
			dst = appendUnescape(dst, raw[i:j])
			i = j
		}
	}
	return dst
}

func appendNormCR(dst []byte, s string) []byte {
	for {
		k := strings.IndexByte(s, '\r')
		if k < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:k]...)
		dst = append(dst, '\n')
		s = s[k+1:]
		if len(s) > 0 && s[0] == '\n' {
			s = s[1:]
		}
	}
}

// appendUnescape expands the validated entities of text run s and
// normalises carriage returns.
func appendUnescape(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch c {
		case '\r':
			dst = append(dst, '\n')
			i++
			if i < len(s) && s[i] == '\n' {
				i++
			}
			continue
		case '&':
		default:
			dst = append(dst, c)
			i++
			continue
		}
		j := i + strings.IndexByte(s[i:], ';')
		ent := s[i+1 : j]
		i = j + 1
		switch ent {
		case "lt":
			dst = append(dst, '<')
		case "gt":
			dst = append(dst, '>')
		case "amp":
			dst = append(dst, '&')
		case "apos":
			dst = append(dst, '\'')
		case "quot":
			dst = append(dst, '"')
		default:
			var n rune
			digits, base := ent[1:], rune(10)
			if digits[0] == 'x' {
				digits, base = digits[1:], 16
			}
			for k := 0; k < len(digits); k++ {
				d := digits[k]
				switch {
				case d <= '9':
					n = n*base + rune(d-'0')
				case d >= 'a':
					n = n*base + rune(d-'a') + 10
				default:
					n = n*base + rune(d-'A') + 10
				}
			}
			dst = utf8.AppendRune(dst, n) // surrogates become U+FFFD
		}
	}
	return dst
}
