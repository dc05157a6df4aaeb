package message

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds are bodies every fuzz target starts from (besides the
// committed corpora under testdata/fuzz).
func fuzzSeeds(f Format) []string {
	var out []string
	for _, s := range samples() {
		if s.f == f {
			out = append(out, s.body)
		}
	}
	if f == FormatXML {
		out = append(out,
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?><xml><a>&lt;&#x4e2d;&#20013;</a><!-- c --><b><![CDATA[x]]>y\r\n</b></xml>",
			"<xml><ToUserName><![CDATA[gh_a]]></ToUserName><Encrypt><![CDATA[abc=]]></Encrypt></xml>",
			"<xml><a><b><c>deep</c></b></a><a/></xml>", "<xml/>", "<xml>\n</xml>", "<xml><a>]]&gt;</a></xml>")
	} else {
		out = append(out,
			`{"ToUserName":"gh_a","Encrypt":"a\/b="}`, `{"a":[1,-2.5e3,true,false,null,{"b":"\u00e9\ud83d\ude00"}],"a":{}}`,
			`{}`, `{"Encrypt":1}`, `{"TimeStamp":"1713424427","Nonce":"415670741","MsgSignature":"x","Encrypt":"y"}`)
	}
	return out
}

// typedView returns a copy of p without Raw and without any Extra, at any
// depth: the typed fields only.
func typedView(p Push) Push {
	v := reflect.New(reflect.TypeOf(p).Elem())
	v.Elem().Set(reflect.ValueOf(p).Elem())
	clearExtra(v.Elem())
	q := v.Interface().(Push)
	if u, ok := q.(*Unknown); ok {
		u.Raw, u.Fields = nil, nil
	}
	return q
}

func clearExtra(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).Name == "Extra" {
				v.Field(i).SetZero()
				continue
			}
			clearExtra(v.Field(i))
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Struct || v.IsNil() {
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		v.Set(c)
		for i := 0; i < v.Len(); i++ {
			clearExtra(v.Index(i))
		}
	}
}

// collides reports whether p's top-level Extra (or Unknown fields) holds a
// name that is a typed slot of p's type in format f: such a field becomes
// typed when the push is re-encoded in f, so cross-format comparisons skip
// those pushes.
func collides(p Push, f Format) bool {
	t, ok := p.(typed)
	if !ok {
		return false
	}
	for _, x := range p.Head().Extra {
		for i := 0; ; i++ {
			name, _, ptr := t.at(i, f)
			if ptr == nil {
				break
			}
			if name == x.Name {
				return true
			}
		}
	}
	return false
}

// checkCodec asserts the codec properties for a value decoded from format
// f: exact round trip in f, and the typed fields survive the other format.
func checkCodec(t *testing.T, p Push, f Format) {
	t.Helper()
	b, err := Encode(p, f)
	if err != nil {
		t.Fatalf("Encode(%v) of a decoded push: %v", f, err)
	}
	q, err := Decode(b, f)
	if err != nil {
		t.Fatalf("Decode(Encode(p)) = %v\nencoded: %q", err, b)
	}
	if !reflect.DeepEqual(p, q) {
		t.Fatalf("round trip mismatch\n got %#v\nwant %#v\nencoded: %q", q, p, b)
	}
	if p.DedupKey() != q.DedupKey() || p.DedupKey() == "" {
		t.Fatalf("dedup key changed on a round trip: %q, %q", p.DedupKey(), q.DedupKey())
	}
	other := FormatJSON
	if f == FormatJSON {
		other = FormatXML
	}
	ob, err := Encode(p, other)
	if err != nil {
		if f == FormatJSON && errors.Is(err, ErrUnencodable) {
			return // JSON can carry what XML cannot
		}
		t.Fatalf("Encode(%v): %v", other, err)
	}
	oq, err := Decode(ob, other)
	if err != nil {
		t.Fatalf("Decode(%v) of %q: %v", other, ob, err)
	}
	if collides(p, other) || collides(oq, f) {
		return
	}
	if !reflect.DeepEqual(typedView(p), typedView(oq)) {
		t.Fatalf("%v->%v lost typed fields\n got %#v\nwant %#v\nencoded: %q", f, other, typedView(oq), typedView(p), ob)
	}
	if f == FormatXML {
		// XML -> JSON -> XML keeps everything but Raw.
		xb, err := Encode(oq, FormatXML)
		if err != nil {
			t.Fatal(err)
		}
		xq, err := Decode(xb, FormatXML)
		if err != nil {
			t.Fatal(err)
		}
		if u, ok := xq.(*Unknown); ok {
			u.Raw = p.(*Unknown).Raw
		}
		if !reflect.DeepEqual(p, xq) {
			t.Fatalf("XML->JSON->XML mismatch\n got %#v\nwant %#v\nvia %q", xq, p, ob)
		}
	}
}

func fuzzDecode(t *testing.T, data []byte, f Format) {
	p, err := Decode(data, f)
	enc, ok, eerr := ExtractEncrypt(data, f)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("Decode error does not wrap ErrMalformed: %v", err)
		}
		if eerr == nil {
			t.Fatalf("ExtractEncrypt accepts what Decode rejects (%v)", err)
		}
		return
	}
	if eerr == nil && ok {
		// Encrypt is an ordinary field for Decode: the first top-level one.
		var fs []Field
		if u, isU := p.(*Unknown); isU {
			fs = u.Fields
		} else {
			fs = p.Head().Extra
		}
		v, found := getField(fs, "Encrypt")
		if !found || v.Text != string(enc) {
			t.Fatalf("ExtractEncrypt = %q, Decode saw %#v", enc, v)
		}
	}
	checkCodec(t, p, f)
}

func FuzzDecodeXML(f *testing.F) {
	for _, s := range fuzzSeeds(FormatXML) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, data, FormatXML) })
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range fuzzSeeds(FormatJSON) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data, FormatJSON)
		jsonOracle(t, data)
	})
}

// jsonOracle compares the JSON scanner with encoding/json: a top-level
// object is accepted by one exactly when the other accepts it (within the
// depth bound and with valid UTF-8, which this package requires), and both
// see the same tree (member order and duplicates included).
func jsonOracle(t *testing.T, data []byte) {
	d := decoder{s: string(data), f: FormatJSON}
	j := jscan{s: d.s}
	j.ws()
	var mine Value
	mineErr := j.objBegin()
	if mineErr == nil {
		j.i--
		top := node{kind: ValueObject, pos: int32(j.i), depth: 1}
		if mineErr = j.skip(1); mineErr == nil {
			mineErr = j.end()
		}
		if mineErr == nil {
			mine = d.value(top)
			mineErr = d.err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	theirs, depth, theirErr := jsonTokens(dec)
	if theirErr == nil {
		if _, err := dec.Token(); err != io.EOF {
			theirErr = errors.New("trailing data")
		}
	}
	valid := json.Valid(data)
	if mineErr == nil {
		if !valid || theirErr != nil {
			t.Fatalf("accepted JSON that encoding/json rejects: %v", theirErr)
		}
		if !reflect.DeepEqual(mine, theirs) {
			t.Fatalf("JSON trees differ\nmine   %#v\ntheirs %#v", mine, theirs)
		}
		return
	}
	if !errors.Is(mineErr, ErrMalformed) {
		t.Fatalf("error does not wrap ErrMalformed: %v", mineErr)
	}
	if valid && theirErr == nil && theirs.Kind == ValueObject && depth <= maxDepth && utf8.Valid(data) {
		t.Fatalf("rejected valid JSON: %v", mineErr)
	}
}

// jsonTokens reads one value from dec into a Value and reports its depth.
func jsonTokens(dec *json.Decoder) (Value, int, error) {
	tok, err := dec.Token()
	if err != nil {
		return Value{}, 0, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		if tok == '{' {
			v := Value{Kind: ValueObject}
			depth := 1
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return Value{}, 0, err
				}
				c, d, err := jsonTokens(dec)
				if err != nil {
					return Value{}, 0, err
				}
				depth = max(depth, d+1)
				v.Fields = append(v.Fields, Field{Name: k.(string), Value: c})
			}
			_, err := dec.Token()
			return v, depth, err
		}
		v := Value{Kind: ValueArray}
		depth := 1
		for dec.More() {
			c, d, err := jsonTokens(dec)
			if err != nil {
				return Value{}, 0, err
			}
			depth = max(depth, d+1)
			v.Items = append(v.Items, c)
		}
		_, err := dec.Token()
		return v, depth, err
	case string:
		return Value{Kind: ValueString, Text: tok}, 0, nil
	case json.Number:
		return Value{Kind: ValueNumber, Text: string(tok)}, 0, nil
	case bool:
		return BoolValue(tok), 0, nil
	case nil:
		return NullValue(), 0, nil
	}
	return Value{}, 0, errors.New("unexpected token")
}

// FuzzXMLOracle checks the XML scanner against encoding/xml.
//
// What is compared: the root element's name, and for every element either
// its child elements (names and content, in order) or, when it has none,
// its character data (text, CDATA sections and character references
// concatenated, "\r\n" normalised) — the same view this package decodes.
// Forward: whatever the scanner accepts, encoding/xml (Strict, Token API,
// read to EOF) accepts with the same tree, one root, no attributes and no
// namespaces. Backward: whatever encoding/xml accepts inside the subset
// this package supports (one root; ASCII names without namespaces or
// attributes; no directives or processing instructions; only raw white
// space between child elements and around the root; depth within the
// bound) the scanner accepts too.
func FuzzXMLOracle(f *testing.F) {
	for _, s := range fuzzSeeds(FormatXML) {
		f.Add([]byte(s))
	}
	f.Add([]byte("<a>&#xD800;&#65;<![CDATA[\r\n]]>\r</a>"))
	f.Add([]byte("<a> <b/>\r\n<c>t</c> </a>"))
	f.Add([]byte("<a><!-- x -->y<!---->z</a >"))
	f.Fuzz(func(t *testing.T, data []byte) {
		name, mine, mineErr := xmlTree(string(data))
		o, theirErr := xmlOracle(data)
		if mineErr == nil {
			if theirErr != nil {
				t.Fatalf("accepted XML that encoding/xml rejects: %v", theirErr)
			}
			if o.roots != 1 || !o.clean {
				t.Fatalf("accepted XML with %d roots or attributes, namespaces, directives, non-space text outside elements or mixed content", o.roots)
			}
			if name != o.name || !reflect.DeepEqual(mine, o.tree) {
				t.Fatalf("XML trees differ\nmine   %s %#v\ntheirs %s %#v", name, mine, o.name, o.tree)
			}
			return
		}
		if !errors.Is(mineErr, ErrMalformed) {
			t.Fatalf("error does not wrap ErrMalformed: %v", mineErr)
		}
		if theirErr == nil && o.roots == 1 && o.clean && !o.procInst && o.depth <= maxDepth {
			t.Fatalf("rejected XML inside the supported subset: %v", mineErr)
		}
	})
}

// xmlTree parses a document with the package's scanner into the root name
// and a Value (ValueObject for elements with children, ValueString else).
func xmlTree(s string) (string, Value, error) {
	d := decoder{s: s, f: FormatXML}
	x := xscan{s: s}
	root, selfClose, err := x.root()
	if err != nil {
		return "", Value{}, err
	}
	var v Value
	if !selfClose {
		var n node
		if err := xmlChild(&x, &n, root, false, 1); err != nil {
			return "", Value{}, err
		}
		v = d.value(n)
	}
	if err := x.end(); err != nil {
		return "", Value{}, err
	}
	return root, v, d.err
}

type oracleElem struct {
	name     string
	kids     []*oracleElem
	text     strings.Builder
	rawTexts []string
}

func (e *oracleElem) value() Value {
	if len(e.kids) == 0 {
		return StringValue(e.text.String())
	}
	v := Value{Kind: ValueObject}
	for _, k := range e.kids {
		v.Fields = append(v.Fields, Field{Name: k.name, Value: k.value()})
	}
	return v
}

func rawSpace(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

// oracleResult is what encoding/xml makes of a document.
type oracleResult struct {
	name     string
	tree     Value
	roots    int
	depth    int
	clean    bool // no attributes, namespaces, non-ASCII names, directives, non-space text outside the root or mixed content
	procInst bool // has processing instructions (the XML declaration included)
}

// xmlOracle parses data with encoding/xml (Strict, Token API, to EOF).
func xmlOracle(data []byte) (oracleResult, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	var stack []*oracleElem
	var root *oracleElem
	r := oracleResult{clean: true}
	for {
		off := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return r, err
		}
		raw := data[off:dec.InputOffset()]
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Space != "" || len(tok.Attr) != 0 || !validXMLName(tok.Name.Local) {
				r.clean = false
			}
			e := &oracleElem{name: tok.Name.Local}
			if len(stack) == 0 {
				r.roots++
				root = e
			} else {
				top := stack[len(stack)-1]
				top.kids = append(top.kids, e)
			}
			stack = append(stack, e)
			r.depth = max(r.depth, len(stack))
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) == 0 {
				if !rawSpace(raw) {
					r.clean = false
				}
				continue
			}
			top := stack[len(stack)-1]
			top.text.Write(tok)
			top.rawTexts = append(top.rawTexts, string(raw))
		case xml.Comment:
		case xml.ProcInst:
			r.procInst = true
		default: // Directive
			r.clean = false
		}
	}
	if r.roots != 1 {
		return r, nil
	}
	// Elements with children may only hold raw white space.
	var walk func(e *oracleElem)
	walk = func(e *oracleElem) {
		if len(e.kids) > 0 {
			for _, t := range e.rawTexts {
				if !rawSpace([]byte(t)) {
					r.clean = false
				}
			}
		}
		for _, k := range e.kids {
			walk(k)
		}
	}
	walk(root)
	r.name, r.tree = root.name, root.value()
	return r, nil
}

// FuzzEnvelope checks ExtractEncrypt, ParseEnvelope and Envelope.Append
// agree with each other and with Decode.
func FuzzEnvelope(f *testing.F) {
	for _, s := range fuzzSeeds(FormatXML) {
		f.Add([]byte(s), true)
	}
	for _, s := range fuzzSeeds(FormatJSON) {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(v4ReplyXML), true)
	f.Add([]byte(v4ReplyJSON), false)
	f.Fuzz(func(t *testing.T, data []byte, isXML bool) {
		fm := FormatJSON
		if isXML {
			fm = FormatXML
		}
		enc, ok, err := ExtractEncrypt(data, fm)
		env, perr := ParseEnvelope(data, fm)
		_, derr := Decode(data, fm)
		if derr != nil && (err == nil || perr == nil) {
			t.Fatalf("Decode rejects (%v) what ExtractEncrypt (%v) or ParseEnvelope (%v) accepts", derr, err, perr)
		}
		if err == nil && derr != nil {
			t.Fatal("ExtractEncrypt accepts what Decode rejects")
		}
		for _, e := range []error{err, perr} {
			if e != nil && !errors.Is(e, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", e)
			}
		}
		if err != nil || perr != nil {
			return
		}
		if env.Encrypt != string(enc) || (!ok && env.Encrypt != "") {
			t.Fatalf("ExtractEncrypt = %q, %v; ParseEnvelope.Encrypt = %q", enc, ok, env.Encrypt)
		}
		formats := []Format{fm}
		if fm == FormatXML {
			formats = append(formats, FormatJSON)
		}
		for _, of := range formats {
			out := env.Append(nil, of)
			env2, err := ParseEnvelope(out, of)
			if err != nil || env2 != env {
				t.Fatalf("Append(%v) round trip: %#v, %v\nwant %#v\nvia %q", of, env2, err, env, out)
			}
			enc2, ok2, err := ExtractEncrypt(out, of)
			if err != nil || !ok2 || string(enc2) != env.Encrypt {
				t.Fatalf("ExtractEncrypt(Append) = %q, %v, %v", enc2, ok2, err)
			}
		}
	})
}
