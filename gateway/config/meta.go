package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/wxgate/wxgate/message"
)

// meta is what a Config remembers of where its values came from, so that
// errors can point at them.
type meta struct {
	file   string              // the file's name, for errors
	dir    string              // relative *_file paths are resolved here
	pos    map[string]Position // field path → its place in the file
	origin map[string]string   // field path → variable or flag that set it
	// listFiles are the aes_keys_file-like paths of secret lists, by the
	// list's field path; read when the configuration is resolved.
	listFiles map[string]Secret
	// failed are the paths whose value could not be read: validation says
	// nothing more about them.
	failed map[string]bool
}

func newMeta(file, dir string) *meta {
	return &meta{file: file, dir: dir, pos: map[string]Position{}, origin: map[string]string{}, listFiles: map[string]Secret{}, failed: map[string]bool{}}
}

// maxErrors bounds the errors reported; a file that makes more is
// unlikely to be helped by the rest.
const maxErrors = 100

// collector gathers errors, placing each by its path.
type collector struct {
	m       *meta
	errs    Errors
	dropped int
}

// push records e, unless maxErrors are recorded already.
func (c *collector) push(e *FieldError) {
	if len(c.errs) >= maxErrors {
		c.dropped++
		return
	}
	c.errs = append(c.errs, e)
}

// result returns the errors, with a last one counting those dropped.
func (c *collector) result() Errors {
	if c.dropped > 0 {
		return append(c.errs, &FieldError{File: c.m.file, Msg: fmt.Sprintf("and %d more errors", c.dropped)})
	}
	return c.errs
}

// add records an error at path, placed at pos when it is known, else by
// the path's origin or the nearest parent's position.
func (c *collector) add(path string, pos Position, sentinel error, format string, args ...any) {
	c.m.failed[path] = true
	e := &FieldError{Path: path, Msg: fmt.Sprintf(format, args...), Err: sentinel}
	if pos.Line == 0 {
		pos, e.Source = c.m.place(path)
	}
	if e.Source == "" {
		e.File, e.Line, e.Column = c.m.file, pos.Line, pos.Column
	}
	c.push(e)
}

// field records an error about reading path's value.
func (c *collector) field(path string, sentinel error, format string, args ...any) {
	c.add(path, Position{}, sentinel, format, args...)
}

// check records a validation error, unless path's value could not be
// read, which was reported already.
func (c *collector) check(path string, sentinel error, format string, args ...any) {
	if !c.m.failed[path] {
		c.add(path, Position{}, sentinel, format, args...)
	}
}

// place finds where path's value came from: the variable or flag that
// set it or its nearest parent, or else its (or its parent's) position in
// the file.
func (m *meta) place(path string) (Position, string) {
	for path != "" {
		if src, ok := m.origin[path]; ok {
			return Position{}, src
		}
		if p, ok := m.pos[path]; ok {
			return p, ""
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return Position{}, ""
}

// Field paths.

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// keyPath is path.key, or path["key"] when the key is not a plain name.
func keyPath(path, key string) string {
	plain := key != ""
	for i := 0; i < len(key) && plain; i++ {
		c := key[i]
		plain = c == '_' || c == '-' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
	}
	if plain {
		return joinPath(path, key)
	}
	return path + "[" + strconv.Quote(key) + "]"
}

// The schema: the Config types' fields, read by reflection so that the
// file, the environment and the printed configuration cover the same
// fields.

var (
	secretType     = reflect.TypeFor[Secret]()
	secretListType = reflect.TypeFor[[]Secret]()
	durationType   = reflect.TypeFor[time.Duration]()
	byteSizeType   = reflect.TypeFor[ByteSize]()
	modeType       = reflect.TypeFor[message.Mode]()
	rulesType      = reflect.TypeFor[Rules]()
	stringsType    = reflect.TypeFor[[]string]()
)

// fieldInfo is one field of a Config struct.
type fieldInfo struct {
	name  string // as written in YAML
	index int
	typ   reflect.Type
}

// secret reports whether the field is a secret (scalar or list), which
// also takes a name_file sibling.
func (f fieldInfo) secret() bool { return f.typ == secretType || f.typ == secretListType }

// fieldsOf lists the YAML fields of struct type t.
func fieldsOf(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name := sf.Tag.Get("yaml")
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		out = append(out, fieldInfo{name: name, index: i, typ: sf.Type})
	}
	return out
}

// isLeaf reports whether t is a single setting (not a struct, list of
// structs or map of apps).
func isLeaf(t reflect.Type) bool {
	switch t {
	case secretType, secretListType, durationType, byteSizeType, modeType, stringsType:
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int:
		return true
	}
	return false
}
