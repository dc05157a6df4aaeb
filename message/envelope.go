package message

import (
	"strconv"
	"unsafe"
)

// Envelope is the encrypted form of a body: the request WeChat posts in
// safe mode (ToUserName and Encrypt) and the encrypted passive reply
// (Encrypt, MsgSignature, TimeStamp, Nonce). No cryptography happens here;
// see package wxcrypt.
type Envelope struct {
	ToUserName   string
	Encrypt      string
	MsgSignature string
	TimeStamp    int64
	Nonce        string
}

// ExtractEncrypt returns the value of the top-level Encrypt field of body.
// ok is false when the body has no Encrypt field (a plaintext body). The
// result is a sub-slice of body whenever the value needs no unescaping
// (the usual CDATA form in XML, a string without escapes in JSON), in which
// case nothing is allocated; a JSON value with escapes such as "\/" is
// unescaped into a new slice. The whole body is validated; syntax errors
// wrap ErrMalformed. body must not be modified while the call runs.
func ExtractEncrypt(body []byte, f Format) (encrypt []byte, ok bool, err error) {
	if err := checkFormat(f); err != nil {
		return nil, false, err
	}
	if len(body) == 0 {
		return nil, false, &SyntaxError{Format: f, Msg: "empty body"}
	}
	// A read-only string view of body for the scanners; offsets map back
	// into body and the view does not outlive this call.
	s := unsafe.String(&body[0], len(body))
	var v0, v1 int
	var decoded []byte
	if f == FormatXML {
		var it envXML
		it.x.s = s
		for {
			name, l, more, err := it.next()
			if err != nil {
				return nil, false, err
			}
			if !more {
				break
			}
			if name != "Encrypt" || ok {
				continue
			}
			ok = true
			if l.simple {
				v0, v1 = l.v0, l.v1
			} else {
				decoded = appendXMLText([]byte{}, s[l.raw0:l.raw1])
			}
		}
	} else {
		j := jscan{s: s}
		if err := j.objBegin(); err != nil {
			return nil, false, err
		}
		for first := true; ; first = false {
			name, more, err := j.objNext(first)
			if err != nil {
				return nil, false, err
			}
			if !more {
				break
			}
			if name != "Encrypt" || ok || j.i >= len(j.s) || j.s[j.i] != '"' {
				off := j.i
				n, err := j.value(2)
				if err != nil {
					return nil, false, err
				}
				if name == "Encrypt" && !ok {
					if n.kind != ValueNumber {
						return nil, false, &SyntaxError{Format: f, Offset: off, Msg: "Encrypt is not a string"}
					}
					ok, v0, v1 = true, off, j.i
				}
				continue
			}
			ok = true
			a, b, simple, err := j.strSpan()
			if err != nil {
				return nil, false, err
			}
			if simple {
				v0, v1 = a, b
			} else {
				decoded = appendJSONUnquote([]byte{}, s[a:b])
			}
		}
		if err := j.end(); err != nil {
			return nil, false, err
		}
	}
	switch {
	case !ok:
		return nil, false, nil
	case decoded != nil:
		return decoded, true, nil
	}
	return body[v0:v1:v1], true, nil
}

// envXML iterates over the leaf children of an XML body's root, validating
// the whole document; children that have children are validated and
// skipped.
type envXML struct {
	x       xscan
	root    string
	started bool
	done    bool
}

func (it *envXML) next() (name string, l xleaf, more bool, err error) {
	x := &it.x
	if !it.started {
		it.started = true
		root, selfClose, err := x.root()
		if err != nil {
			return "", l, false, err
		}
		it.root = root
		container := false
		if !selfClose {
			var rl xleaf
			if rl, container, err = x.content(root); err != nil {
				return "", l, false, err
			}
			if !container && !rootTextOK(x, rl) {
				return "", l, false, &SyntaxError{Format: FormatXML, Offset: rl.raw0, Msg: "root element holds text, not fields"}
			}
		}
		if !container {
			it.done = true
			return "", l, false, x.end()
		}
	}
	if it.done {
		return "", l, false, nil
	}
	for {
		name, selfClose, ok, err := x.next(it.root)
		if err != nil {
			return "", l, false, err
		}
		if !ok {
			it.done = true
			return "", l, false, x.end()
		}
		if selfClose {
			return name, xleaf{simple: true}, true, nil
		}
		l, sub, err := x.content(name)
		if err != nil {
			return "", l, false, err
		}
		if !sub {
			return name, l, true, nil
		}
		if err := x.skipChildren(name, 2); err != nil {
			return "", l, false, err
		}
	}
}

// end checks that nothing but white space follows the top-level object.
func (j *jscan) end() error {
	j.ws()
	if j.i != len(j.s) {
		return j.fail("content after the object")
	}
	return nil
}

// ParseEnvelope reads the envelope fields of an encrypted request or reply
// body in format f; other fields (the plaintext ones of compatible mode)
// are ignored, and absent ones stay zero. TimeStamp may be a number or a
// string of digits. Syntax errors, and envelope fields of the wrong shape,
// wrap ErrMalformed.
func ParseEnvelope(body []byte, f Format) (Envelope, error) {
	if err := checkFormat(f); err != nil {
		return Envelope{}, err
	}
	var env Envelope
	var seen [5]bool
	s := string(body)
	if f == FormatXML {
		it := envXML{x: xscan{s: s}}
		for {
			name, l, more, err := it.next()
			if err != nil {
				return Envelope{}, err
			}
			if !more {
				return env, nil
			}
			if err := env.set(&seen, f, name, it.x.leafString(l), l.raw0); err != nil {
				return Envelope{}, err
			}
		}
	}
	j := jscan{s: s}
	if err := j.objBegin(); err != nil {
		return Envelope{}, err
	}
	for first := true; ; first = false {
		name, more, err := j.objNext(first)
		if err != nil {
			return Envelope{}, err
		}
		if !more {
			break
		}
		off := j.i
		n, err := j.value(2)
		if err != nil {
			return Envelope{}, err
		}
		switch name {
		case "ToUserName", "Encrypt", "MsgSignature", "TimeStamp", "Nonce":
			if n.kind != ValueString && n.kind != ValueNumber {
				return Envelope{}, &SyntaxError{Format: f, Offset: off, Msg: name + " is not a string or number"}
			}
			if err := env.set(&seen, f, name, n.text, off); err != nil {
				return Envelope{}, err
			}
		}
	}
	if err := j.end(); err != nil {
		return Envelope{}, err
	}
	return env, nil
}

// set stores the first occurrence of envelope field name.
func (e *Envelope) set(seen *[5]bool, f Format, name, v string, off int) error {
	k := -1
	switch name {
	case "ToUserName":
		k = 0
	case "Encrypt":
		k = 1
	case "MsgSignature":
		k = 2
	case "TimeStamp":
		k = 3
	case "Nonce":
		k = 4
	}
	if k < 0 || seen[k] {
		return nil
	}
	seen[k] = true
	switch k {
	case 0:
		e.ToUserName = v
	case 1:
		e.Encrypt = v
	case 2:
		e.MsgSignature = v
	case 3:
		ts, ok := parseInt(v)
		if !ok {
			return &SyntaxError{Format: f, Offset: off, Msg: "TimeStamp is not an integer"}
		}
		e.TimeStamp = ts
	case 4:
		e.Nonce = v
	}
	return nil
}

// Append renders e in format f and appends it to dst. The fields that are
// set are written in the order ToUserName, Encrypt, MsgSignature,
// TimeStamp, Nonce; Encrypt is always written. A request body therefore
// sets ToUserName and Encrypt:
//
//	<xml><ToUserName><![CDATA[gh_…]]></ToUserName><Encrypt><![CDATA[…]]></Encrypt></xml>
//	{"ToUserName":"gh_…","Encrypt":"…"}
//
// and a reply Encrypt, MsgSignature, TimeStamp and Nonce:
//
//	<xml><Encrypt><![CDATA[…]]></Encrypt><MsgSignature><![CDATA[…]]></MsgSignature><TimeStamp>1713424427</TimeStamp><Nonce><![CDATA[415670741]]></Nonce></xml>
//	{"Encrypt":"…","MsgSignature":"…","TimeStamp":1713424427,"Nonce":"415670741"}
//
// XML strings go in CDATA sections, split around "]]>"; characters XML
// cannot carry are replaced by U+FFFD, and invalid UTF-8 likewise in JSON.
// Any other Format renders JSON.
func (e *Envelope) Append(dst []byte, f Format) []byte {
	x := f == FormatXML
	if x {
		dst = append(dst, "<xml>"...)
	} else {
		dst = append(dst, '{')
	}
	comma := false
	str := func(name, v string) {
		if x {
			dst = append(dst, '<')
			dst = append(dst, name...)
			dst = append(dst, '>')
			dst = appendXMLLossy(dst, v)
			dst = append(dst, "</"...)
			dst = append(dst, name...)
			dst = append(dst, '>')
			return
		}
		if comma {
			dst = append(dst, ',')
		}
		comma = true
		dst = append(dst, '"')
		dst = append(dst, name...)
		dst = append(dst, '"', ':')
		dst = appendJSONLossy(dst, v)
	}
	if e.ToUserName != "" {
		str("ToUserName", e.ToUserName)
	}
	str("Encrypt", e.Encrypt)
	if e.MsgSignature != "" {
		str("MsgSignature", e.MsgSignature)
	}
	if e.TimeStamp != 0 {
		if x {
			dst = append(dst, "<TimeStamp>"...)
			dst = strconv.AppendInt(dst, e.TimeStamp, 10)
			dst = append(dst, "</TimeStamp>"...)
		} else {
			if comma {
				dst = append(dst, ',')
			}
			comma = true
			dst = append(dst, `"TimeStamp":`...)
			dst = strconv.AppendInt(dst, e.TimeStamp, 10)
		}
	}
	if e.Nonce != "" {
		str("Nonce", e.Nonce)
	}
	if x {
		return append(dst, "</xml>"...)
	}
	return append(dst, '}')
}

func appendXMLLossy(dst []byte, s string) []byte {
	if checkXMLText(s) != nil {
		s = sanitize(s, true)
	}
	out, _ := appendXMLValue(dst, s)
	return out
}

func appendJSONLossy(dst []byte, s string) []byte {
	out, err := appendJSONString(dst, s)
	if err != nil {
		out, _ = appendJSONString(dst, sanitize(s, false))
	}
	return out
}

// sanitize replaces invalid UTF-8 (and, for XML, characters XML cannot
// carry) with U+FFFD.
func sanitize(s string, xml bool) string {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if xml && !isXMLChar(r) {
			r = 0xFFFD
		}
		b = append(b, string(r)...)
	}
	return string(b)
}
