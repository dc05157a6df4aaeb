package message

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jscan is a strict JSON scanner (RFC 8259) over a string. Strings must be
// valid UTF-8; lone surrogate escapes become U+FFFD as in encoding/json.
// Nesting is bounded by maxDepth. Values are returned as sub-strings unless
// they contain escapes.
type jscan struct {
	s string
	i int
}

func (j *jscan) fail(msg string) error {
	return &SyntaxError{Format: FormatJSON, Offset: j.i, Msg: msg}
}

func (j *jscan) ws() {
	for j.i < len(j.s) {
		switch j.s[j.i] {
		case ' ', '\t', '\n', '\r':
			j.i++
		default:
			return
		}
	}
}

// objBegin consumes the '{' at j.i.
func (j *jscan) objBegin() error {
	j.ws()
	if j.i >= len(j.s) || j.s[j.i] != '{' {
		return j.fail("expected an object")
	}
	j.i++
	return nil
}

// objNext reads the next member's key and the ':' after it, leaving j.i at
// the value. first tells whether no member has been read yet. At the
// closing '}' it consumes it and returns ok=false.
func (j *jscan) objNext(first bool) (key string, ok bool, err error) {
	j.ws()
	if j.i >= len(j.s) {
		return "", false, j.fail("unexpected end inside an object")
	}
	c := j.s[j.i]
	if c == '}' {
		j.i++
		return "", false, nil
	}
	if !first {
		if c != ',' {
			return "", false, j.fail("expected ',' or '}'")
		}
		j.i++
		j.ws()
	}
	if j.i >= len(j.s) || j.s[j.i] != '"' {
		return "", false, j.fail("expected a member name")
	}
	key, err = j.str()
	if err != nil {
		return "", false, err
	}
	j.ws()
	if j.i >= len(j.s) || j.s[j.i] != ':' {
		return "", false, j.fail("expected ':'")
	}
	j.i++
	j.ws()
	return key, true, nil
}

// arrNext is objNext for arrays (after the '[' has been consumed).
func (j *jscan) arrNext(first bool) (ok bool, err error) {
	j.ws()
	if j.i >= len(j.s) {
		return false, j.fail("unexpected end inside an array")
	}
	c := j.s[j.i]
	if c == ']' {
		j.i++
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, j.fail("expected ',' or ']'")
		}
		j.i++
		j.ws()
	}
	return true, nil
}

// value reads the value at j.i. Scalars are decoded; objects and arrays
// are validated and skipped, and the node records where they start.
// depth is the nesting depth of the value itself.
func (j *jscan) value(depth int) (node, error) {
	if j.i >= len(j.s) {
		return node{}, j.fail("expected a value")
	}
	switch c := j.s[j.i]; {
	case c == '"':
		s, err := j.str()
		return node{kind: ValueString, text: s}, err
	case c == '{' || c == '[':
		n := node{kind: ValueObject, pos: int32(j.i), depth: int16(depth)}
		if c == '[' {
			n.kind = ValueArray
		}
		return n, j.skip(depth)
	case c == '-' || '0' <= c && c <= '9':
		start := j.i
		if err := j.number(); err != nil {
			return node{}, err
		}
		return node{kind: ValueNumber, text: j.s[start:j.i]}, nil
	case strings.HasPrefix(j.s[j.i:], "true"):
		j.i += 4
		return node{kind: ValueBool, text: "true"}, nil
	case strings.HasPrefix(j.s[j.i:], "false"):
		j.i += 5
		return node{kind: ValueBool, text: "false"}, nil
	case strings.HasPrefix(j.s[j.i:], "null"):
		j.i += 4
		return node{kind: ValueNull}, nil
	}
	return node{}, j.fail("invalid value")
}

// skip validates and skips the object or array at j.i.
func (j *jscan) skip(depth int) error {
	if depth > maxDepth {
		return j.fail("nesting too deep")
	}
	first := true
	if j.s[j.i] == '{' {
		j.i++
		for ; ; first = false {
			_, ok, err := j.objNext(first)
			if err != nil || !ok {
				return err
			}
			if _, err := j.value(depth + 1); err != nil {
				return err
			}
		}
	}
	j.i++
	for ; ; first = false {
		ok, err := j.arrNext(first)
		if err != nil || !ok {
			return err
		}
		if _, err := j.value(depth + 1); err != nil {
			return err
		}
	}
}

// number validates the number at j.i and moves past it.
func (j *jscan) number() error {
	s, i := j.s, j.i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && '1' <= s[i] && s[i] <= '9':
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
	default:
		j.i = i
		return j.fail("invalid number")
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == d {
			j.i = i
			return j.fail("invalid number")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		if i == d {
			j.i = i
			return j.fail("invalid number")
		}
	}
	j.i = i
	return nil
}

// validNumber reports whether s is exactly one JSON number.
func validNumber(s string) bool {
	j := jscan{s: s}
	return s != "" && j.number() == nil && j.i == len(s)
}

// strSpan reads the string at j.i (s[j.i] == '"'). When it has no escapes
// the value is s[v0:v1] and simple is true.
func (j *jscan) strSpan() (v0, v1 int, simple bool, err error) {
	s := j.s
	i := j.i + 1
	v0 = i
	simple = true
	for {
		i = skipJSONPlain(s, i)
		if i >= len(s) {
			j.i = i
			return 0, 0, false, j.fail("unterminated string")
		}
		c := s[i]
		switch {
		case c == '"':
			j.i = i + 1
			return v0, i, simple, nil
		case c == '\\':
			simple = false
			if i+1 >= len(s) {
				j.i = i
				return 0, 0, false, j.fail("unterminated string")
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || !isHex4(s[i+2:i+6]) {
					j.i = i
					return 0, 0, false, j.fail("bad \\u escape")
				}
				i += 6
			default:
				j.i = i
				return 0, 0, false, j.fail("bad escape")
			}
		case c < 0x20:
			j.i = i
			return 0, 0, false, j.fail("control character in string")
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				j.i = i
				return 0, 0, false, j.fail("invalid UTF-8")
			}
			i += size
		}
	}
}

// str reads and decodes the string at j.i.
func (j *jscan) str() (string, error) {
	v0, v1, simple, err := j.strSpan()
	if err != nil || simple {
		return j.s[v0:v1], err
	}
	return string(appendJSONUnquote(nil, j.s[v0:v1])), nil
}

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		if hexVal(s[i]) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return rune(c-'A') + 10
	}
	return -1
}

func hex4(s string) rune {
	return hexVal(s[0])<<12 | hexVal(s[1])<<8 | hexVal(s[2])<<4 | hexVal(s[3])
}

// appendJSONUnquote decodes the validated string body s (without quotes).
func appendJSONUnquote(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		k := strings.IndexByte(s[i:], '\\')
		if k < 0 {
			return append(dst, s[i:]...)
		}
		dst = append(dst, s[i:i+k]...)
		i += k
		switch c := s[i+1]; c {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(s[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, hex4(s[i+2:])); r2 != utf8.RuneError {
						r = r2
						i += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
		i += 2
	}
	return dst
}
