package config

import (
	"fmt"
	"strings"
)

// expansion is the result of expanding the ${NAME} references of a
// string value.
type expansion struct {
	value   string
	refs    []string // the variables referenced, in order
	literal bool     // the value has characters outside references
	unset   []string // referenced variables that are not set
}

// expand replaces every ${NAME} in s by the variable's value ("$$" is a
// "$"; any other "$" is kept as is). NAME is a letter or underscore, then
// letters, digits and underscores. A malformed reference is an error that
// says where, never what the value holds.
func expand(s string, lookup func(string) (string, bool)) (expansion, error) {
	var x expansion
	if !strings.Contains(s, "$") {
		x.value, x.literal = s, s != ""
		return x, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) || (s[i+1] != '$' && s[i+1] != '{') {
			b.WriteByte(c)
			x.literal = true
			i++
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			x.literal = true
			i += 2
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return x, fmt.Errorf("unterminated ${ at character %d", i+1)
		}
		name := s[i+2 : i+2+end]
		if !validEnvName(name) {
			return x, fmt.Errorf("invalid reference at character %d: write ${NAME}, NAME being letters, digits and underscores (a literal $ is $$)", i+1)
		}
		x.refs = append(x.refs, name)
		if v, ok := lookup(name); ok {
			b.WriteString(v)
		} else {
			x.unset = append(x.unset, name)
		}
		i += 2 + end + 1
	}
	x.value = b.String()
	return x, nil
}

// refsText is the references of x as written, e.g. "${A}${B}".
func (x expansion) refsText() string {
	var b strings.Builder
	for _, r := range x.refs {
		b.WriteString("${" + r + "}")
	}
	return b.String()
}

// validEnvName reports whether name can be referenced as ${name}.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
