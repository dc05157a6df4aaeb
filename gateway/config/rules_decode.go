package config

import (
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// The rules section is decoded by hand rather than by the reflective
// walk: a reply is one message or a list, a message may be a bare string,
// continue defaults to true, keywords are never split at commas, windows
// are parsed where they are written, and an unknown key in a rule is
// reported as an unknown action.

var (
	rulesKeys   = []string{"rules", "fallback", "office_hours"}
	ruleKeys    = []string{"name", "match", "reply", "transfer", "typing", "continue"}
	actionKeys  = []string{"reply", "transfer", "typing", "continue"}
	matchKeys   = []string{"keyword", "contains", "regex", "ignore_case", "enter_session", "session_from"}
	messageKeys = []string{"text", "image", "link", "miniprogrampage"}
	hoursKeys   = []string{"time_zone", "windows", "away"}
)

// Messages for unknown keys, after "unknown ...".
const (
	unknownAction  = "unknown action%s: a rule has name and match, and the actions reply, transfer, typing and continue"
	unknownFAction = "unknown action%s: the fallback has the actions reply, transfer, typing and continue"
	unknownMatch   = "unknown match%s: keyword, contains or regex (with ignore_case), or enter_session (with session_from)"
	unknownMsg     = "unknown message type%s: a reply is text, image, link or miniprogrampage"
	unknownSection = "unknown field%s: rules has rules, fallback and office_hours"
	unknownHours   = "unknown field%s: office_hours has time_zone, windows and away"
)

// rules decodes an app's rules section, n resolved.
func (d *decoder) rules(path string, n ast.Node) Rules {
	r := Rules{pos: nodePos(n)}
	if isNull(n) {
		return r
	}
	if !isMapping(n) {
		d.col.add(path, nodePos(n), ErrInvalid, "must be a mapping with rules, fallback and office_hours, not %s", kindName(n))
		return r
	}
	for _, e := range d.mapping(path, n, rulesKeys, unknownSection) {
		p := keyPath(path, e.key)
		switch e.key {
		case "rules":
			r.Rules = d.ruleList(p, e.value)
		case "fallback":
			if v, ok := d.node(p, e.value); ok && !isNull(v) {
				before := d.errCount()
				a := d.actions(p, v, actionKeys, unknownFAction, nil)
				d.failOnErrors(p, before)
				r.Fallback = &a
			}
		case "office_hours":
			if v, ok := d.node(p, e.value); ok && !isNull(v) {
				r.OfficeHours = d.officeHours(p, v)
			}
		}
	}
	return r
}

// errCount counts the errors found so far, those dropped included.
func (d *decoder) errCount() int { return len(d.col.errs) + d.col.dropped }

// failOnErrors marks path as failed when errors were found since
// errCount gave before, so that validation says nothing more about it.
func (d *decoder) failOnErrors(path string, before int) {
	if d.errCount() > before {
		d.col.m.failed[path] = true
	}
}

// reflectValue is the struct that p points to, for structValue.
func reflectValue[T any](p *T) reflect.Value { return reflect.ValueOf(p).Elem() }

// node spends one value and resolves it.
func (d *decoder) node(path string, n ast.Node) (ast.Node, bool) {
	if !d.spend(path, n) {
		return nil, false
	}
	r, _, ok := d.resolve(path, n)
	return r, ok
}

func isMapping(n ast.Node) bool {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return true
	}
	return false
}

// mapping lists the keys of the mapping n, recording their positions and
// reporting those not in allowed with unknown (a format taking the
// suggestion).
func (d *decoder) mapping(path string, n ast.Node, allowed []string, unknown string) []entry {
	es, ok := d.entries(path, n, 0)
	if !ok {
		return nil
	}
	out := make([]entry, 0, len(es))
	for _, e := range es {
		p := keyPath(path, e.key)
		if !slices.Contains(allowed, e.key) {
			fields := make([]fieldInfo, len(allowed))
			for i, a := range allowed {
				fields[i].name = a
			}
			d.col.add(p, e.pos, ErrUnknownField, unknown, suggest(fields, e.key))
			continue
		}
		d.col.m.pos[p] = e.pos
		out = append(out, e)
	}
	return out
}

// ruleList decodes the list of rules.
func (d *decoder) ruleList(path string, n ast.Node) []Rule {
	n, ok := d.node(path, n)
	if !ok || isNull(n) {
		return nil
	}
	seq, isSeq := n.(*ast.SequenceNode)
	if !isSeq {
		d.col.add(path, nodePos(n), ErrInvalid, "must be a list of rules, not %s", kindName(n))
		return nil
	}
	out := make([]Rule, 0, len(seq.Values))
	for i, item := range seq.Values {
		p := indexPath(path, i)
		d.col.m.pos[p] = nodePos(item)
		out = append(out, d.rule(p, item))
	}
	return out
}

// rule decodes one rule.
func (d *decoder) rule(path string, n ast.Node) Rule {
	r := Rule{Actions: Actions{Continue: true}}
	defer d.failOnErrors(path, d.errCount())
	n, ok := d.node(path, n)
	if !ok {
		return r
	}
	if !isMapping(n) {
		d.col.add(path, nodePos(n), ErrInvalid, "must be a mapping with match and actions (reply, transfer, typing, continue), not %s", kindName(n))
		return r
	}
	r.Actions = d.actions(path, n, ruleKeys, unknownAction, func(e entry, p string) {
		switch e.key {
		case "name":
			r.Name, _ = d.str(p, e.value)
		case "match":
			r.Match = d.match(p, e.value)
		}
	})
	return r
}

// actions decodes the actions of a rule or the fallback; other keys of
// allowed go to other.
func (d *decoder) actions(path string, n ast.Node, allowed []string, unknown string, other func(e entry, p string)) Actions {
	a := Actions{Continue: true}
	if !isMapping(n) {
		d.col.add(path, nodePos(n), ErrInvalid, "must be a mapping of actions (reply, transfer, typing, continue), not %s", kindName(n))
		return a
	}
	for _, e := range d.mapping(path, n, allowed, unknown) {
		p := keyPath(path, e.key)
		switch e.key {
		case "reply":
			a.Reply = d.messages(p, e.value)
		case "transfer":
			a.Transfer, _ = d.boolean(p, e.value)
		case "typing":
			a.Typing, _ = d.boolean(p, e.value)
		case "continue":
			if b, ok := d.boolean(p, e.value); ok {
				a.Continue, a.continueSet = b, true
			}
		default:
			other(e, p)
		}
	}
	return a
}

// match decodes a rule's match.
func (d *decoder) match(path string, n ast.Node) Match {
	var m Match
	defer d.failOnErrors(path, d.errCount())
	n, ok := d.node(path, n)
	if !ok || isNull(n) {
		return m
	}
	if !isMapping(n) {
		d.col.add(path, nodePos(n), ErrInvalid, "must be a mapping: keyword, contains, regex or enter_session (e.g. {keyword: hi}), not %s", kindName(n))
		return m
	}
	for _, e := range d.mapping(path, n, matchKeys, unknownMatch) {
		p := keyPath(path, e.key)
		switch e.key {
		case "keyword":
			m.Keyword = d.strs(p, e.value)
		case "contains":
			m.Contains = d.strs(p, e.value)
		case "regex":
			m.Regex, _ = d.str(p, e.value)
		case "ignore_case":
			m.IgnoreCase, _ = d.boolean(p, e.value)
		case "enter_session":
			m.EnterSession, _ = d.boolean(p, e.value)
		case "session_from":
			if s, ok := d.str(p, e.value); ok || !d.col.m.failed[p] {
				m.SessionFrom = &s
			}
		}
	}
	return m
}

// messages decodes a reply: one message or a list. A single message gets
// the path of the list's first item, so that its errors read the same
// either way.
func (d *decoder) messages(path string, n ast.Node) []Message {
	n, ok := d.node(path, n)
	if !ok || isNull(n) {
		return nil
	}
	seq, isSeq := n.(*ast.SequenceNode)
	if !isSeq {
		p := indexPath(path, 0)
		d.col.m.pos[p] = nodePos(n)
		return []Message{d.message(p, n)}
	}
	out := make([]Message, 0, len(seq.Values))
	for i, item := range seq.Values {
		p := indexPath(path, i)
		d.col.m.pos[p] = nodePos(item)
		out = append(out, d.message(p, item))
	}
	return out
}

// message decodes one message: a mapping with one of text, image, link
// and miniprogrampage, or a string (a text).
func (d *decoder) message(path string, n ast.Node) Message {
	var m Message
	defer d.failOnErrors(path, d.errCount())
	r, ok := d.node(path, n)
	if !ok {
		return m
	}
	if !isMapping(r) {
		if _, isSeq := r.(*ast.SequenceNode); isSeq {
			d.col.add(path, nodePos(r), ErrInvalid, "must be a message (a text, or a mapping with text, image, link or miniprogrampage), not a list")
			return m
		}
		m.Text, _ = d.leafString(path, r)
		if m.Text == "" && !d.col.m.failed[path] {
			d.col.add(path, nodePos(r), ErrInvalid, "must be a message: a text, or a mapping with text, image, link or miniprogrampage")
		}
		return m
	}
	before := d.errCount()
	es := d.mapping(path, r, messageKeys, unknownMsg)
	switch {
	case len(es) > 1:
		d.col.add(path, es[1].pos, ErrInvalid, "has %s and %s: a message is one of text, image, link and miniprogrampage (make reply a list to send several)", es[0].key, es[1].key)
		return m
	case len(es) == 0:
		if d.errCount() == before { // not after an unknown message type, which says it
			d.col.add(path, nodePos(r), ErrInvalid, "must have text, image, link or miniprogrampage")
		}
		return m
	}
	e := es[0]
	p := keyPath(path, e.key)
	switch e.key {
	case "text":
		s, ok := d.str(p, e.value)
		if s == "" && (ok || !d.col.m.failed[p]) {
			d.col.add(p, e.pos, ErrInvalid, "must not be empty")
		}
		m.Text = s
	case "image":
		s, ok := d.str(p, e.value)
		if ok && strings.TrimSpace(s) == "" || !ok && !d.col.m.failed[p] {
			d.col.add(p, e.pos, ErrInvalid, "must be an image file's path")
			return m
		}
		m.Image = resolvePath(d.col.m.dir, s)
	case "link":
		v, ok := d.node(p, e.value)
		if !ok {
			return m
		}
		m.Link = &Link{}
		if !isMapping(v) {
			d.col.add(p, nodePos(v), ErrInvalid, "must be a mapping with title, description, url and thumb_url, not %s", kindName(v))
			return m
		}
		d.structValue(p, v, reflectValue(m.Link))
	case "miniprogrampage":
		v, ok := d.node(p, e.value)
		if !ok {
			return m
		}
		m.MiniProgramPage = &MiniProgramPage{}
		if !isMapping(v) {
			d.col.add(p, nodePos(v), ErrInvalid, "must be a mapping with title, pagepath and thumb_media or thumb_media_id, not %s", kindName(v))
			return m
		}
		d.structValue(p, v, reflectValue(m.MiniProgramPage))
		m.MiniProgramPage.ThumbMedia = resolvePath(d.col.m.dir, m.MiniProgramPage.ThumbMedia)
	}
	return m
}

// officeHours decodes the office hours.
func (d *decoder) officeHours(path string, n ast.Node) *OfficeHours {
	o := &OfficeHours{}
	defer d.failOnErrors(path, d.errCount())
	if !isMapping(n) {
		d.col.add(path, nodePos(n), ErrInvalid, "must be a mapping with time_zone, windows and away, not %s", kindName(n))
		return o
	}
	for _, e := range d.mapping(path, n, hoursKeys, unknownHours) {
		p := keyPath(path, e.key)
		switch e.key {
		case "time_zone":
			o.TimeZone, _ = d.str(p, e.value)
		case "windows":
			for i, s := range d.strs(p, e.value) {
				ip := indexPath(p, i)
				w, err := ParseWindow(s)
				if err != nil && !d.col.m.failed[ip] {
					d.col.field(ip, ErrInvalid, "%v", err)
				}
				o.Windows = append(o.Windows, w) // a zero Window when invalid, so that indexes hold
			}
		case "away":
			o.Away = d.messages(p, e.value)
		}
	}
	return o
}

// str decodes a single value as a string, references expanded. It
// returns false after an error and for a null.
func (d *decoder) str(path string, n ast.Node) (string, bool) {
	r, ok := d.node(path, n)
	if !ok {
		return "", false
	}
	return d.leafString(path, r)
}

// leafString reads the resolved node r as a string.
func (d *decoder) leafString(path string, r ast.Node) (string, bool) {
	s, ok := d.scalar(path, r, false)
	if !ok || s.isNull {
		return "", false
	}
	return d.expandString(path, s)
}

// boolean decodes true or false.
func (d *decoder) boolean(path string, n ast.Node) (bool, bool) {
	s, ok := d.str(path, n)
	if !ok {
		return false, false
	}
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		d.col.add(path, nodePos(n), ErrInvalid, "must be true or false")
		return false, false
	}
	return b, true
}

// strs decodes one string or a list of strings, never split at commas.
// An item that cannot be read is kept as "", so that indexes hold; its
// error is reported already.
func (d *decoder) strs(path string, n ast.Node) []string {
	r, ok := d.node(path, n)
	if !ok || isNull(r) {
		return nil
	}
	seq, isSeq := r.(*ast.SequenceNode)
	if !isSeq {
		s, _ := d.leafString(path, r)
		return []string{s}
	}
	out := make([]string, 0, len(seq.Values))
	for i, item := range seq.Values {
		p := indexPath(path, i)
		d.col.m.pos[p] = nodePos(item)
		s, _ := d.str(p, item)
		out = append(out, s)
	}
	return out
}
