// Package wxgen generates the slot tables of package message from the wx
// struct tags of its push types, so that a new push type is one struct
// declaration.
//
// Tags:
//
//	Header `wx:"KIND ..."`     on the embedded Header of a push type: the
//	                           kinds it decodes from, space-separated, each a
//	                           MsgType ("text") or "event:"+Event.
//	`wx:"Name[,opt...]"`       on a typed field: its wire name. The Go type
//	                           picks the slot: string, int64, MsgID and
//	                           Number are scalars, a struct of the package is
//	                           a nested object (it must have Extra []Field),
//	                           a slice of such structs is a list.
//
// Options: "string" (a MsgID always written as a JSON string), "objarr" (a
// JSON list read as one object or an array and written as an object when it
// has one item; arrays otherwise), "container=NAME" (in XML the items are
// <List> elements inside NAME; repeated elements otherwise), "key" (part of
// the business dedup key, in field order; a type without key fields and
// without a hand-written DedupKey gets the digest key).
//
// An embedded struct without a tag has its fields promoted into the
// enclosing type's slots. Fields without a wx tag are not allowed, except
// Extra []Field.
package wxgen

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Output is the file Generate's result belongs in, relative to the package.
const Output = "fields_gen.go"

// slot is one typed field of a struct.
type slot struct {
	path      string // Go selector below the receiver, e.g. "AuthChange.OpenID"
	name      string // wire name
	goType    string // string, int64, MsgID, Number, or the struct/element type
	list      bool
	str       bool // MsgID always a JSON string
	objarr    bool
	container string
	key       bool
	nested    bool // goType is a struct of the package
}

type structInfo struct {
	name     string
	kinds    []string
	slots    []slot
	hasExtra bool
	isPush   bool
	pos      token.Position
}

type pkg struct {
	fset    *token.FileSet
	structs map[string]*ast.StructType
	order   []string // struct names in source order
	pos     map[string]token.Position
	dedup   map[string]bool // types with a hand-written DedupKey
}

// Generate reads the Go files of the package in dir (not tests, not the
// output) and returns the formatted source of Output.
func Generate(dir string) ([]byte, error) {
	p, err := load(dir)
	if err != nil {
		return nil, err
	}
	var infos []*structInfo
	used := map[string]bool{} // nested struct types
	embedded := p.embedded()
	for _, name := range p.order {
		if embedded[name] {
			continue // promoted into the types embedding it
		}
		st := p.structs[name]
		if !hasWxTags(st) {
			continue
		}
		info := &structInfo{name: name, pos: p.pos[name]}
		if err := p.collect(info, st, "", 0); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", info.pos, name, err)
		}
		for _, s := range info.slots {
			if s.nested {
				used[s.goType] = true
			}
		}
		infos = append(infos, info)
	}
	byName := map[string]*structInfo{}
	for _, in := range infos {
		byName[in.name] = in
	}
	for n := range used {
		in, ok := byName[n]
		if embedded[n] {
			return nil, fmt.Errorf("%s is both embedded and a nested object", n)
		}
		if !ok {
			return nil, fmt.Errorf("nested type %s has no wx tags", n)
		}
		if in.isPush {
			return nil, fmt.Errorf("push type %s is used as a nested object", n)
		}
		if !in.hasExtra {
			return nil, fmt.Errorf("%s: nested type %s needs an Extra []Field field", in.pos, n)
		}
	}
	seenKind := map[string]string{}
	for _, in := range infos {
		if !in.isPush && !used[in.name] {
			return nil, fmt.Errorf("%s: %s has wx tags but is neither a push type nor used by one", in.pos, in.name)
		}
		for _, k := range in.kinds {
			if other, dup := seenKind[k]; dup {
				return nil, fmt.Errorf("kind %s is claimed by %s and %s", k, other, in.name)
			}
			seenKind[k] = in.name
		}
		if err := checkNames(in); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", in.pos, in.name, err)
		}
	}
	src := render(infos, p.dedup)
	out, err := format.Source(src)
	if err != nil {
		return nil, fmt.Errorf("formatting the generated code: %w\n%s", err, src)
	}
	return out, nil
}

func load(dir string) (*pkg, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	sort.Strings(matches)
	p := &pkg{fset: token.NewFileSet(), structs: map[string]*ast.StructType{}, pos: map[string]token.Position{}, dedup: map[string]bool{}}
	for _, file := range matches {
		base := filepath.Base(file)
		if strings.HasSuffix(base, "_test.go") || base == Output {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		f, err := parser.ParseFile(p.fset, base, src, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.GenDecl:
				for _, s := range d.Specs {
					ts, ok := s.(*ast.TypeSpec)
					if !ok {
						continue
					}
					if st, ok := ts.Type.(*ast.StructType); ok {
						p.structs[ts.Name.Name] = st
						p.order = append(p.order, ts.Name.Name)
						p.pos[ts.Name.Name] = p.fset.Position(ts.Pos())
					}
				}
			case *ast.FuncDecl:
				if d.Recv != nil && d.Name.Name == "DedupKey" && len(d.Recv.List) == 1 {
					if star, ok := d.Recv.List[0].Type.(*ast.StarExpr); ok {
						if id, ok := star.X.(*ast.Ident); ok {
							p.dedup[id.Name] = true
						}
					}
				}
			}
		}
	}
	if len(p.structs) == 0 {
		return nil, errors.New("no Go structs found in " + dir)
	}
	return p, nil
}

// embedded returns the structs embedded without a tag in another struct.
func (p *pkg) embedded() map[string]bool {
	out := map[string]bool{}
	for _, st := range p.structs {
		for _, f := range st.Fields.List {
			if _, tagged := tagOf(f); len(f.Names) == 0 && !tagged {
				if id, ok := f.Type.(*ast.Ident); ok {
					out[id.Name] = true
				}
			}
		}
	}
	return out
}

func tagOf(f *ast.Field) (string, bool) {
	if f.Tag == nil {
		return "", false
	}
	raw, err := strconv.Unquote(f.Tag.Value)
	if err != nil {
		return "", false
	}
	return reflect.StructTag(raw).Lookup("wx")
}

func hasWxTags(st *ast.StructType) bool {
	for _, f := range st.Fields.List {
		if _, ok := tagOf(f); ok {
			return true
		}
	}
	return false
}

// collect appends the slots of st (a struct, or an embedded one below
// prefix) to info.
func (p *pkg) collect(info *structInfo, st *ast.StructType, prefix string, depth int) error {
	if depth > 4 {
		return errors.New("embedding too deep")
	}
	for _, f := range st.Fields.List {
		tag, tagged := tagOf(f)
		if len(f.Names) == 0 { // embedded
			id, ok := f.Type.(*ast.Ident)
			if !ok {
				return errors.New("embedded fields must be struct types of the package")
			}
			if id.Name == "Header" {
				if !tagged || prefix != "" {
					return errors.New("the embedded Header needs a wx tag listing the kinds")
				}
				info.isPush = true
				info.kinds = strings.Fields(tag)
				if len(info.kinds) == 0 {
					return errors.New("the Header tag lists no kind")
				}
				continue
			}
			sub, ok := p.structs[id.Name]
			if !ok || tagged {
				return fmt.Errorf("embedded %s: only untagged structs of the package are promoted", id.Name)
			}
			if err := p.collect(info, sub, prefix+id.Name+".", depth+1); err != nil {
				return err
			}
			continue
		}
		for _, n := range f.Names {
			if !tagged {
				if n.Name == "Extra" && prefix == "" && isFieldSlice(f.Type) {
					info.hasExtra = true
					continue
				}
				return fmt.Errorf("field %s has no wx tag", n.Name)
			}
			if tag == "-" {
				continue
			}
			s, err := p.parseSlot(prefix+n.Name, tag, f.Type)
			if err != nil {
				return fmt.Errorf("field %s: %w", n.Name, err)
			}
			info.slots = append(info.slots, s)
		}
	}
	return nil
}

func isFieldSlice(e ast.Expr) bool {
	a, ok := e.(*ast.ArrayType)
	if !ok || a.Len != nil {
		return false
	}
	id, ok := a.Elt.(*ast.Ident)
	return ok && id.Name == "Field"
}

func (p *pkg) parseSlot(path, tag string, typ ast.Expr) (slot, error) {
	parts := strings.Split(tag, ",")
	s := slot{path: path, name: parts[0]}
	if s.name == "" {
		return s, errors.New("empty wire name")
	}
	switch t := typ.(type) {
	case *ast.Ident:
		s.goType = t.Name
	case *ast.ArrayType:
		id, ok := t.Elt.(*ast.Ident)
		if !ok || t.Len != nil {
			return s, errors.New("lists must be slices of structs of the package")
		}
		s.goType, s.list = id.Name, true
	default:
		return s, errors.New("unsupported type")
	}
	switch s.goType {
	case "string", "int64", "MsgID", "Number":
		if s.list {
			return s, errors.New("lists of scalars are not supported")
		}
	default:
		if _, ok := p.structs[s.goType]; !ok {
			return s, fmt.Errorf("type %s is not a scalar or a struct of the package", s.goType)
		}
		s.nested = true
	}
	for _, o := range parts[1:] {
		switch {
		case o == "string" && s.goType == "MsgID":
			s.str = true
		case o == "objarr" && s.list:
			s.objarr = true
		case strings.HasPrefix(o, "container=") && s.list:
			s.container = strings.TrimPrefix(o, "container=")
		case o == "key" && !s.nested:
			s.key = true
		default:
			return s, fmt.Errorf("option %q does not apply", o)
		}
	}
	return s, nil
}

func checkNames(in *structInfo) error {
	for _, xml := range []bool{false, true} {
		seen := map[string]bool{}
		for _, s := range in.slots {
			n := s.name
			if xml && s.container != "" {
				n = s.container
			}
			if seen[n] {
				return fmt.Errorf("wire name %s is used twice", n)
			}
			seen[n] = true
		}
	}
	if len(in.slots) > 64 {
		return errors.New("more than 64 slots")
	}
	return nil
}

func render(infos []*structInfo, dedup map[string]bool) []byte {
	var b bytes.Buffer
	b.WriteString("// Code generated by wxgen from the wx struct tags; DO NOT EDIT.\n\npackage message\n\n")
	var pushes []*structInfo
	for _, in := range infos {
		renderAt(&b, in)
		if in.isPush {
			pushes = append(pushes, in)
			if !dedup[in.name] {
				renderDedup(&b, in)
			}
		} else {
			fmt.Fprintf(&b, "func (m *%s) extra() *[]Field { return &m.Extra }\n\n", in.name)
		}
	}
	renderRegistry(&b, pushes)
	return b.Bytes()
}

func renderAt(b *bytes.Buffer, in *structInfo) {
	formatDependent := false
	for _, s := range in.slots {
		formatDependent = formatDependent || s.list
	}
	fparam := "_ Format"
	if formatDependent {
		fparam = "f Format"
	}
	fmt.Fprintf(b, "func (m *%s) at(i int, %s) (string, uint8, any) {\n", in.name, fparam)
	if len(in.slots) > 0 {
		b.WriteString("switch i {\n")
		for i, s := range in.slots {
			fmt.Fprintf(b, "case %d:\n", i)
			ptr := "&m." + s.path
			switch {
			case s.list:
				lst := fmt.Sprintf("list[%s, *%s]{%s}", s.goType, s.goType, ptr)
				jmode := "mListArr"
				if s.objarr {
					jmode = "mListObjOrArr"
				}
				if s.container != "" {
					fmt.Fprintf(b, "if f == FormatXML {\nreturn %q, mListContainer, %s\n}\n", s.container, lst)
					fmt.Fprintf(b, "return %q, %s, %s\n", s.name, jmode, lst)
				} else {
					fmt.Fprintf(b, "if f == FormatXML {\nreturn %q, mListRepeated, %s\n}\n", s.name, lst)
					fmt.Fprintf(b, "return %q, %s, %s\n", s.name, jmode, lst)
				}
			case s.nested:
				fmt.Fprintf(b, "return %q, mStruct, %s\n", s.name, ptr)
			case s.str:
				fmt.Fprintf(b, "return %q, mMsgIDString, %s\n", s.name, ptr)
			default:
				fmt.Fprintf(b, "return %q, mScalar, %s\n", s.name, ptr)
			}
		}
		b.WriteString("}\n")
	}
	b.WriteString("return \"\", 0, nil\n}\n\n")
}

func renderDedup(b *bytes.Buffer, in *structInfo) {
	var parts []string
	var names []string
	for _, s := range in.slots {
		if !s.key {
			continue
		}
		names = append(names, s.name)
		switch s.goType {
		case "int64":
			parts = append(parts, "itoa(m."+s.path+")")
		case "string":
			parts = append(parts, "m."+s.path)
		default:
			parts = append(parts, "string(m."+s.path+")")
		}
	}
	if len(parts) == 0 {
		fmt.Fprintf(b, "// DedupKey implements Push: the \"ev:\" key with a digest of the whole push.\n")
		fmt.Fprintf(b, "func (m *%s) DedupKey() string { return digestKey(m) }\n\n", in.name)
		return
	}
	fmt.Fprintf(b, "// DedupKey implements Push: \"biz:\"+Event+\":\"+%s,\n// or the digest key when one is empty.\n", strings.Join(names, "+\":\"+"))
	fmt.Fprintf(b, "func (m *%s) DedupKey() string { return bizKey(m, %s) }\n\n", in.name, strings.Join(parts, ", "))
}

type kindRef struct {
	msgType, event, typ string
}

func renderRegistry(b *bytes.Buffer, pushes []*structInfo) {
	var all []kindRef
	b.WriteString("var (\n")
	for _, in := range pushes {
		fmt.Fprintf(b, "kinds%s = []Kind{", in.name)
		for i, k := range in.kinds {
			if i > 0 {
				b.WriteString(", ")
			}
			r := kindRef{msgType: k, typ: in.name}
			if ev, ok := strings.CutPrefix(k, "event:"); ok {
				r = kindRef{msgType: "event", event: ev, typ: in.name}
			}
			all = append(all, r)
			fmt.Fprintf(b, "{MsgType: %q, Event: %q}", r.msgType, r.event)
		}
		b.WriteString("}\n")
	}
	b.WriteString(")\n\n")

	b.WriteString("// newTyped returns a new zero value of the type registered for k, or nil.\nfunc newTyped(k Kind) typed {\nswitch k.MsgType {\n")
	for _, r := range all {
		if r.event == "" {
			fmt.Fprintf(b, "case %q:\nreturn &%s{}\n", r.msgType, r.typ)
		}
	}
	b.WriteString("case \"event\":\ndefault:\nreturn nil\n}\nswitch k.Event {\n")
	for _, in := range pushes {
		var evs []string
		for _, r := range all {
			if r.typ == in.name && r.event != "" {
				evs = append(evs, strconv.Quote(r.event))
			}
		}
		if len(evs) > 0 {
			fmt.Fprintf(b, "case %s:\nreturn &%s{}\n", strings.Join(evs, ", "), in.name)
		}
	}
	b.WriteString("}\nreturn nil\n}\n\n")

	b.WriteString("// kindsOf is KindsOf without the copy.\nfunc kindsOf(p Push) []Kind {\nswitch p.(type) {\n")
	for _, in := range pushes {
		fmt.Fprintf(b, "case *%s:\nreturn kinds%s\n", in.name, in.name)
	}
	b.WriteString("}\nreturn nil\n}\n\n")

	sort.Slice(all, func(i, j int) bool {
		if all[i].msgType != all[j].msgType {
			return all[i].msgType < all[j].msgType
		}
		return all[i].event < all[j].event
	})
	b.WriteString("// allKinds lists every kind with a typed model, sorted by MsgType then Event.\nvar allKinds = []Kind{\n")
	for _, r := range all {
		fmt.Fprintf(b, "{MsgType: %q, Event: %q},\n", r.msgType, r.event)
	}
	b.WriteString("}\n")
}
