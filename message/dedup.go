package message

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// The dedup keys (see Push.DedupKey).

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// msgKey is "msg:"+id, or the digest key without an id.
func msgKey(t typed, id MsgID) string {
	if id == "" {
		return digestKey(t)
	}
	return "msg:" + string(id)
}

// bizKey is "biz:"+Event+":"+parts joined with ":", or the digest key when
// a part is empty.
func bizKey(t typed, parts ...string) string {
	n := 5 + len(t.Head().Event)
	for _, p := range parts {
		if p == "" {
			return digestKey(t)
		}
		n += len(p) + 1
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString("biz:")
	b.WriteString(t.Head().Event)
	for _, p := range parts {
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// digestKey is "ev:"+From+":"+CreateTime+":"+Event (MsgType when empty)+
// ":"+32 hex digits of SHA-256 over the canonical form of p.
func digestKey(p Push) string {
	h := p.Head()
	ev := h.Event
	if ev == "" {
		ev = h.MsgType
	}
	sum := digest(p)
	var stack [128]byte
	b := append(stack[:0], "ev:"...)
	b = append(b, h.FromUserName...)
	b = append(b, ':')
	b = strconv.AppendInt(b, h.CreateTime, 10)
	b = append(b, ':')
	b = append(b, ev...)
	b = append(b, ':')
	b = hex.AppendEncode(b, sum[:16])
	return string(b)
}

// leaf is one non-empty scalar of a push: its path (length-prefixed
// segments: member names, "#i" for array items) and its text, both as
// offsets into canon.arena.
type leaf struct {
	p0, p1, t1 int32 // path arena[p0:p1], text arena[p1:t1]
}

// canon flattens a push into leaves. The canonical form is the leaves
// sorted by path (stably, so repeated members keep their order): it does
// not depend on which Go type or slot models a field, on the order of
// members, or on whether a scalar was a JSON string or number, so a key
// stays the same when the model learns a field.
type canon struct {
	leaves []leaf
	path   []byte
	arena  []byte
}

func (c *canon) push(seg string) int {
	n := len(c.path)
	c.path = binary.AppendUvarint(c.path, uint64(len(seg)))
	c.path = append(c.path, seg...)
	return n
}

func (c *canon) pushIndex(j int) int {
	n := len(c.path)
	var num [24]byte
	d := strconv.AppendInt(append(num[:0], '#'), int64(j), 10)
	c.path = binary.AppendUvarint(c.path, uint64(len(d)))
	c.path = append(c.path, d...)
	return n
}

// add records name (below the current path) holding text, unless empty.
func (c *canon) add(name, text string) {
	if text == "" {
		return
	}
	n := c.push(name)
	p0 := len(c.arena)
	c.arena = append(c.arena, c.path...)
	p1 := len(c.arena)
	c.arena = append(c.arena, text...)
	c.leaves = append(c.leaves, leaf{p0: int32(p0), p1: int32(p1), t1: int32(len(c.arena))})
	c.path = c.path[:n]
}

func (c *canon) addInt(name string, v int64) {
	if v == 0 {
		return
	}
	var num [24]byte
	c.add(name, string(strconv.AppendInt(num[:0], v, 10)))
}

func (c *canon) fields(fd fielder) {
	for i := 0; ; i++ {
		name, _, p := fd.at(i, FormatJSON)
		switch v := p.(type) {
		case nil:
			c.extra(*fd.extra())
			return
		case *string:
			c.add(name, *v)
		case *MsgID:
			c.add(name, string(*v))
		case *Number:
			c.add(name, string(*v))
		case *int64:
			c.addInt(name, *v)
		case lister:
			n := c.push(name)
			for j := range v.len() {
				m := c.pushIndex(j)
				c.fields(v.item(j))
				c.path = c.path[:m]
			}
			c.path = c.path[:n]
		case fielder:
			n := c.push(name)
			c.fields(v)
			c.path = c.path[:n]
		}
	}
}

func (c *canon) extra(fs []Field) {
	for i := range fs {
		c.value(fs[i].Name, -1, &fs[i].Value)
	}
}

// value records v, named name, or item j of an array when j >= 0.
func (c *canon) value(name string, j int, v *Value) {
	switch v.Kind {
	case ValueNull:
		return
	case ValueObject, ValueArray:
	default:
		if j < 0 {
			c.add(name, v.Text)
			return
		}
	}
	var n int
	if j < 0 {
		n = c.push(name)
	} else {
		n = c.pushIndex(j)
	}
	switch v.Kind {
	case ValueObject:
		c.extra(v.Fields)
	case ValueArray:
		for k := range v.Items {
			c.value("", k, &v.Items[k])
		}
	default:
		if v.Text != "" {
			p0 := len(c.arena)
			c.arena = append(c.arena, c.path...)
			p1 := len(c.arena)
			c.arena = append(c.arena, v.Text...)
			c.leaves = append(c.leaves, leaf{p0: int32(p0), p1: int32(p1), t1: int32(len(c.arena))})
		}
	}
	c.path = c.path[:n]
}

// digest hashes the canonical form of p.
func digest(p Push) [sha256.Size]byte {
	var leaves [32]leaf
	var path [128]byte
	var arena [1024]byte
	c := canon{leaves: leaves[:0], path: path[:0], arena: arena[:0]}
	h := p.Head()
	c.add("ToUserName", h.ToUserName)
	c.add("FromUserName", h.FromUserName)
	c.addInt("CreateTime", h.CreateTime)
	c.add("MsgType", h.MsgType)
	c.add("Event", h.Event)
	switch t := p.(type) {
	case *Unknown:
		c.extra(t.Fields)
		c.extra(t.Extra)
	case typed:
		c.fields(t)
	}
	a := c.arena
	slices.SortStableFunc(c.leaves, func(x, y leaf) int { return bytes.Compare(a[x.p0:x.p1], a[y.p0:y.p1]) })
	start := len(a)
	for _, l := range c.leaves {
		a = binary.AppendUvarint(a, uint64(l.p1-l.p0))
		a = append(a, a[l.p0:l.p1]...)
		a = binary.AppendUvarint(a, uint64(l.t1-l.p1))
		a = append(a, a[l.p1:l.t1]...)
	}
	return sha256.Sum256(a[start:])
}
