package config

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Limits that keep a hostile file from costing much.
const (
	// MaxFileSize is the largest configuration file read.
	MaxFileSize = 1 << 20
	// maxValues bounds the values decoded, aliases expanded; a file of
	// MaxFileSize cannot reach it without aliases that multiply.
	maxValues = 200_000
	// maxResolve bounds chains of anchors, aliases and tags.
	maxResolve = 64
	// maxMergeDepth bounds nested merge keys.
	maxMergeDepth = 16
)

// decoder turns the YAML tree into a Config, following the Config types
// (the schema) and collecting every error with its path and position.
type decoder struct {
	col         *collector
	lookup      func(string) (string, bool)
	skipSecrets bool
	aliases     map[*ast.AliasNode]ast.Node
	budget      int
	exhausted   bool
}

// decodeYAML parses data into c. It reports whether the file parsed; the
// decoding errors are in col either way.
func decodeYAML(c *Config, data []byte, o *options, col *collector) bool {
	if len(data) > MaxFileSize {
		col.add("", Position{}, ErrInvalid, "the file is larger than %d bytes", MaxFileSize)
		return false
	}
	file, err := parseYAML(data)
	if err != nil {
		pos := Position{}
		msg := "cannot parse the file"
		var ye yaml.Error
		if ok := asYAMLError(err, &ye); ok {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				pos = Position{tk.Position.Line, tk.Position.Column}
			}
		}
		col.add("", pos, ErrSyntax, "%s", msg)
		return false
	}
	var body ast.Node
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			col.add("", nodePos(doc.Body), ErrSyntax, "a second YAML document: the configuration is one document")
			return false
		}
		body = doc.Body
	}
	if body == nil {
		return true // an empty file: every default
	}
	d := &decoder{col: col, lookup: o.lookup, skipSecrets: o.skipSecrets, aliases: map[*ast.AliasNode]ast.Node{}, budget: maxValues}
	d.collectAnchors(body, map[string]ast.Node{}, 0)
	d.value("", body, reflect.ValueOf(c).Elem())
	return true
}

// parseYAML parses data, turning a panic of the parser on hostile input
// into an error.
func parseYAML(data []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("cannot parse the file")
		}
	}()
	return parser.ParseBytes(data, 0)
}

// asYAMLError finds go-yaml's error, whose message (unlike its Error
// text, which quotes the source) never shows a line of the file.
func asYAMLError(err error, target *yaml.Error) bool {
	for err != nil {
		if ye, ok := err.(yaml.Error); ok {
			*target = ye
			return true
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

// nodePos is where n starts.
func nodePos(n ast.Node) Position {
	if n == nil {
		return Position{}
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return Position{tk.Position.Line, tk.Position.Column}
	}
	return Position{}
}

// collectAnchors records, in document order, which anchor each alias
// refers to: the last one of its name defined before it. An anchor is
// defined after its own value, so an alias cannot refer to a node that
// contains it.
func (d *decoder) collectAnchors(n ast.Node, anchors map[string]ast.Node, depth int) {
	if n == nil || depth > 10_000 {
		return
	}
	switch n := n.(type) {
	case *ast.AnchorNode:
		d.collectAnchors(n.Value, anchors, depth+1)
		anchors[tokenText(n.Name)] = n.Value
	case *ast.AliasNode:
		if target, ok := anchors[tokenText(n.Value)]; ok {
			d.aliases[n] = target
		}
	case *ast.MappingNode:
		for _, mv := range n.Values {
			d.collectAnchors(mv, anchors, depth+1)
		}
	case *ast.MappingValueNode:
		d.collectAnchors(n.Key, anchors, depth+1)
		d.collectAnchors(n.Value, anchors, depth+1)
	case *ast.MappingKeyNode:
		d.collectAnchors(n.Value, anchors, depth+1)
	case *ast.SequenceNode:
		for _, v := range n.Values {
			d.collectAnchors(v, anchors, depth+1)
		}
	case *ast.TagNode:
		d.collectAnchors(n.Value, anchors, depth+1)
	}
}

// tokenText is the text of a name node (an anchor's or alias's name).
func tokenText(n ast.Node) string {
	if n == nil {
		return ""
	}
	if s, ok := n.(*ast.StringNode); ok {
		return s.Value
	}
	if tk := n.GetToken(); tk != nil {
		return tk.Value
	}
	return ""
}

// standardTags are the YAML tags accepted (and ignored, but for !!str).
var standardTags = map[string]bool{
	"!!str": true, "!!int": true, "!!bool": true, "!!float": true, "!!null": true,
	"!!map": true, "!!seq": true,
}

// resolve follows anchors, aliases and tags to the node that holds a
// value; forceString is set by a !!str tag. It returns nil after an error.
func (d *decoder) resolve(path string, n ast.Node) (_ ast.Node, forceString, ok bool) {
	for range maxResolve {
		switch t := n.(type) {
		case *ast.AnchorNode:
			n = t.Value
		case *ast.AliasNode:
			target, found := d.aliases[t]
			if !found {
				d.col.add(path, nodePos(t), ErrInvalid, "alias *%s refers to no anchor defined before it", tokenText(t.Value))
				return nil, false, false
			}
			n = target
		case *ast.TagNode:
			tag := ""
			if t.Start != nil {
				tag = t.Start.Value
			}
			if !standardTags[tag] {
				d.col.add(path, nodePos(t), ErrInvalid, "tag %s is not supported", quoteShort(tag))
				return nil, false, false
			}
			forceString = forceString || tag == "!!str"
			n = t.Value
		case *ast.MappingKeyNode:
			n = t.Value
		default:
			return n, forceString, true
		}
	}
	d.col.add(path, nodePos(n), ErrInvalid, "anchors, aliases and tags nest too deeply")
	return nil, false, false
}

// spend counts one decoded value against the budget.
func (d *decoder) spend(path string, n ast.Node) bool {
	if d.exhausted {
		return false
	}
	d.budget--
	if d.budget < 0 {
		d.exhausted = true
		d.col.add(path, nodePos(n), ErrInvalid, "more than %d values once aliases are expanded", maxValues)
		return false
	}
	return true
}

// scalar is a single value of the file.
type scalar struct {
	text     string
	isString bool // a string (quoted, plain or literal), not a number or bool
	isNull   bool
	pos      Position
}

// kindName names what a node is, for errors.
func kindName(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	return "a single value"
}

// scalar reads n as a single value, or reports that it is not one.
func (d *decoder) scalar(path string, n ast.Node, forceString bool) (scalar, bool) {
	s := scalar{pos: nodePos(n)}
	switch t := n.(type) {
	case nil, *ast.NullNode:
		s.isNull = true
		if forceString {
			s.isNull, s.isString = false, true
			if t != nil {
				s.text = t.GetToken().Value
			}
		}
	case *ast.StringNode:
		s.text, s.isString = t.Value, true
	case *ast.LiteralNode:
		if t.Value != nil {
			s.text = t.Value.Value
		}
		s.isString = true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		s.text, s.isString = t.GetToken().Value, forceString
	default:
		d.col.add(path, s.pos, ErrInvalid, "must be a single value, not %s", kindName(n))
		return s, false
	}
	return s, true
}

// expandString expands the references of a non-secret string value.
func (d *decoder) expandString(path string, s scalar) (string, bool) {
	if !s.isString {
		return s.text, true
	}
	x, err := expand(s.text, d.lookup)
	if err != nil {
		d.col.add(path, s.pos, ErrInvalid, "%v", err)
		return "", false
	}
	for _, name := range x.unset {
		d.col.add(path, s.pos, ErrUnsetEnv, "${%s} is not set", name)
	}
	return x.value, len(x.unset) == 0
}

// value decodes n into v according to v's type.
func (d *decoder) value(path string, n ast.Node, v reflect.Value) {
	if !d.spend(path, n) {
		return
	}
	n, forceString, ok := d.resolve(path, n)
	if !ok {
		return
	}
	t := v.Type()
	switch {
	case t == rulesType:
		v.Set(reflect.ValueOf(d.rules(path, n)))
	case t == secretType:
		v.Set(reflect.ValueOf(d.secret(path, n, forceString)))
	case t == secretListType:
		v.Set(reflect.ValueOf(d.secretList(path, n, forceString)))
	case t == stringsType:
		v.Set(reflect.ValueOf(d.stringList(path, n, forceString)))
	case isLeaf(t):
		s, ok := d.scalar(path, n, forceString)
		if !ok || s.isNull {
			return
		}
		text, ok := d.expandString(path, s)
		if !ok {
			return
		}
		if t == durationType && !s.isString && text != "0" {
			d.col.add(path, s.pos, ErrInvalid, "must be a duration with a unit, like 10s, 5m or 720h")
			return
		}
		if err := setLeaf(v, text); err != nil {
			d.col.add(path, s.pos, ErrInvalid, "%v", err)
		}
	case t.Kind() == reflect.Struct:
		d.structValue(path, n, v)
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		if isNull(n) {
			return
		}
		p := reflect.New(t.Elem())
		d.structValue(path, n, p.Elem())
		v.Set(p)
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		d.structList(path, n, v)
	case t.Kind() == reflect.Map:
		d.appMap(path, n, v)
	default:
		d.col.add(path, nodePos(n), ErrInvalid, "cannot be decoded") // unreachable with the Config types
	}
}

func isNull(n ast.Node) bool {
	if n == nil {
		return true
	}
	_, ok := n.(*ast.NullNode)
	return ok
}

// entry is one key of a mapping.
type entry struct {
	key   string
	pos   Position // the key's
	value ast.Node
}

// entries lists a mapping's keys, merge keys (<<) expanded: the
// mapping's own keys win over merged ones, and of several merged
// mappings the first wins. Keys are taken as written, never expanded.
func (d *decoder) entries(path string, n ast.Node, depth int) ([]entry, bool) {
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	case nil, *ast.NullNode:
		return nil, true
	default:
		d.col.add(path, nodePos(n), ErrInvalid, "must be a mapping of fields, not %s", kindName(n))
		return nil, false
	}
	var own, merged []entry
	for _, mv := range values {
		if mv == nil {
			continue
		}
		key, _, ok := d.resolve(path, mv.Key)
		if !ok {
			continue
		}
		if _, isMerge := key.(*ast.MergeKeyNode); isMerge {
			if depth >= maxMergeDepth {
				d.col.add(path, nodePos(mv.Key), ErrInvalid, "merge keys (<<) nest too deeply")
				continue
			}
			merged = append(merged, d.mergeSources(path, nodePos(mv.Key), mv.Value, depth)...)
			continue
		}
		var name string
		switch k := key.(type) {
		case *ast.StringNode:
			name = k.Value
		case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NullNode:
			name = k.GetToken().Value
		default:
			d.col.add(path, nodePos(mv.Key), ErrInvalid, "keys must be names, not %s", kindName(key))
			continue
		}
		if !d.spend(path, mv) {
			return nil, false
		}
		own = append(own, entry{key: name, pos: nodePos(mv.Key), value: mv.Value})
	}
	if len(merged) == 0 {
		return own, true
	}
	seen := make(map[string]bool, len(own)+len(merged))
	for _, e := range own {
		seen[e.key] = true
	}
	out := own
	for _, e := range merged {
		if !seen[e.key] {
			seen[e.key] = true
			out = append(out, e)
		}
	}
	return out, true
}

// mergeSources expands the value of a merge key: a mapping, or a list of
// mappings of which the first wins.
func (d *decoder) mergeSources(path string, at Position, n ast.Node, depth int) []entry {
	n, _, ok := d.resolve(path, n)
	if !ok {
		return nil
	}
	if seq, isSeq := n.(*ast.SequenceNode); isSeq {
		var out []entry
		for _, item := range seq.Values {
			item, _, ok := d.resolve(path, item)
			if !ok {
				continue
			}
			if _, isMap := item.(*ast.MappingNode); !isMap {
				d.col.add(path, at, ErrInvalid, "<< merges mappings, not %s", kindName(item))
				continue
			}
			es, _ := d.entries(path, item, depth+1)
			out = append(out, es...)
		}
		return out
	}
	if _, isMap := n.(*ast.MappingNode); !isMap {
		d.col.add(path, at, ErrInvalid, "<< merges mappings, not %s", kindName(n))
		return nil
	}
	es, _ := d.entries(path, n, depth+1)
	return es
}

// structValue decodes a mapping into the struct v, refusing unknown keys.
func (d *decoder) structValue(path string, n ast.Node, v reflect.Value) {
	es, ok := d.entries(path, n, 0)
	if !ok {
		return
	}
	fields := fieldsOf(v.Type())
	given := map[string]string{} // secret field → the key that set it
	for _, e := range es {
		if path == "" && strings.HasPrefix(e.key, "x-") {
			continue // an extension key, a place for anchors
		}
		f, isFile := lookupField(fields, e.key)
		p := keyPath(path, e.key)
		if f == nil {
			d.col.add(p, e.pos, ErrUnknownField, "unknown field%s", suggest(fields, e.key))
			continue
		}
		fp := joinPath(path, f.name)
		if f.secret() {
			if prev, dup := given[f.name]; dup {
				d.col.add(p, e.pos, ErrInvalid, "conflicts with %s: give the secret one way", prev)
				continue
			}
			given[f.name] = e.key
		}
		if _, seen := d.col.m.pos[fp]; !seen || isFile {
			d.col.m.pos[fp] = e.pos
		}
		if isFile {
			d.secretFile(p, fp, e.value, v.Field(f.index))
			continue
		}
		d.value(fp, e.value, v.Field(f.index))
	}
}

// lookupField finds the field named key, or the secret field whose
// name_file it is.
func lookupField(fields []fieldInfo, key string) (f *fieldInfo, isFile bool) {
	for i := range fields {
		if fields[i].name == key {
			return &fields[i], false
		}
		if fields[i].secret() && key == fields[i].name+"_file" {
			return &fields[i], true
		}
	}
	return nil, false
}

// suggest returns ` (did you mean "x"?)` for the field closest to key.
func suggest(fields []fieldInfo, key string) string {
	best, bestDist := "", 3
	for _, f := range fields {
		names := []string{f.name}
		if f.secret() {
			names = append(names, f.name+"_file")
		}
		for _, name := range names {
			if dist := editDistance(strings.ToLower(key), name); dist < bestDist {
				best, bestDist = name, dist
			}
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

// editDistance is the Levenshtein distance, for short keys.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// structList decodes a list of mappings.
func (d *decoder) structList(path string, n ast.Node, v reflect.Value) {
	if isNull(n) {
		return
	}
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.col.add(path, nodePos(n), ErrInvalid, "must be a list, not %s", kindName(n))
		return
	}
	out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
	for i, item := range seq.Values {
		p := indexPath(path, i)
		d.col.m.pos[p] = nodePos(item)
		d.value(p, item, out.Index(i))
	}
	v.Set(out)
}

// appMap decodes apps, keyed by name.
func (d *decoder) appMap(path string, n ast.Node, v reflect.Value) {
	es, ok := d.entries(path, n, 0)
	if !ok {
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, e := range es {
		p := keyPath(path, e.key)
		d.col.m.pos[p] = e.pos
		app := &App{Name: e.key}
		d.value(p, e.value, reflect.ValueOf(app).Elem())
		v.SetMapIndex(reflect.ValueOf(e.key), reflect.ValueOf(app))
	}
}

// stringList decodes a list of strings, or one comma-separated string.
func (d *decoder) stringList(path string, n ast.Node, forceString bool) []string {
	if seq, ok := n.(*ast.SequenceNode); ok {
		out := make([]string, 0, len(seq.Values))
		for i, item := range seq.Values {
			p := indexPath(path, i)
			if !d.spend(p, item) {
				return out
			}
			item, fs, ok := d.resolve(p, item)
			if !ok {
				continue
			}
			s, ok := d.scalar(p, item, fs)
			if !ok || s.isNull {
				continue
			}
			if text, ok := d.expandString(p, s); ok {
				out = append(out, strings.TrimSpace(text))
			}
		}
		return out
	}
	s, ok := d.scalar(path, n, forceString)
	if !ok || s.isNull {
		return nil
	}
	text, ok := d.expandString(path, s)
	if !ok {
		return nil
	}
	return splitList(text)
}

// secret decodes a secret written as a value: inline or ${NAME}
// references. Errors never show the value.
func (d *decoder) secret(path string, n ast.Node, forceString bool) Secret {
	s, ok := d.scalar(path, n, forceString)
	if !ok || s.isNull {
		return Secret{}
	}
	if !s.isString {
		if s.text == "" {
			return Secret{}
		}
		text := s.text
		return Secret{value: &text, kind: srcInline}
	}
	lookup := d.lookup
	if d.skipSecrets {
		lookup = func(string) (string, bool) { return "", true }
	}
	x, err := expand(s.text, lookup)
	if err != nil {
		d.col.add(path, s.pos, ErrInvalid, "%v", err)
		return Secret{}
	}
	for _, name := range x.unset {
		d.col.add(path, s.pos, ErrUnsetEnv, "${%s} is not set", name)
	}
	switch {
	case len(x.refs) > 0 && !x.literal:
		sec := Secret{kind: srcRef, ref: x.refsText(), unresolved: d.skipSecrets}
		if !d.skipSecrets {
			sec.value = &x.value
		}
		return sec
	case x.value == "" && len(x.refs) == 0:
		return Secret{}
	default:
		return Secret{value: &x.value, kind: srcInline, unresolved: d.skipSecrets && len(x.refs) > 0}
	}
}

// secretList decodes a list of secrets, or one comma-separated value
// (typically a single ${NAME}).
func (d *decoder) secretList(path string, n ast.Node, forceString bool) []Secret {
	seq, isSeq := n.(*ast.SequenceNode)
	if !isSeq {
		one := d.secret(path, n, forceString)
		if !one.IsSet() {
			return nil
		}
		if one.unresolved || !strings.Contains(one.Value(), ",") {
			return []Secret{one}
		}
		var out []Secret
		for _, item := range splitList(one.Value()) {
			s := one
			s.value = &item
			out = append(out, s)
		}
		return out
	}
	out := make([]Secret, 0, len(seq.Values))
	for i, item := range seq.Values {
		p := indexPath(path, i)
		if !d.spend(p, item) {
			return out
		}
		d.col.m.pos[p] = nodePos(item)
		item, fs, ok := d.resolve(p, item)
		if !ok {
			continue
		}
		out = append(out, d.secret(p, item, fs))
	}
	return out
}

// secretFile decodes name_file: a path (references expanded) read when
// the configuration is resolved. keyPath is name_file's path, fieldPath
// the secret's.
func (d *decoder) secretFile(keyPath, fieldPath string, n ast.Node, v reflect.Value) {
	before := len(d.col.errs)
	defer func() {
		if len(d.col.errs) > before {
			d.col.m.failed[fieldPath] = true // reported once, at name_file
		}
	}()
	n, fs, ok := d.resolve(keyPath, n)
	if !ok {
		return
	}
	s, ok := d.scalar(keyPath, n, fs)
	if !ok || s.isNull {
		return
	}
	p, ok := d.expandString(keyPath, s)
	if !ok {
		return
	}
	if strings.TrimSpace(p) == "" {
		d.col.add(keyPath, s.pos, ErrInvalid, "must be a file path")
		return
	}
	sec := Secret{kind: srcFile, ref: p, dir: d.col.m.dir, unresolved: d.skipSecrets}
	if v.Type() == secretListType {
		d.col.m.listFiles[fieldPath] = sec
		v.Set(reflect.Zero(v.Type()))
		return
	}
	v.Set(reflect.ValueOf(sec))
}
