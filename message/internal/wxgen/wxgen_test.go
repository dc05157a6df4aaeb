package wxgen

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const base = `package message

type Header struct{ Extra []Field }
type Field struct{}
type MsgID string
type Number string
`

func gen(t *testing.T, src string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.go"), []byte(base+src), 0o600); err != nil {
		t.Fatal(err)
	}
	// Tests and the output itself are ignored.
	os.WriteFile(filepath.Join(dir, "a_test.go"), []byte("package message\ntype T struct{ X int `wx:\"x\"` }\n"), 0o600)
	os.WriteFile(filepath.Join(dir, Output), []byte("package message\nthis is not Go"), 0o600)
	out, err := Generate(dir)
	return string(out), err
}

func TestGenerate(t *testing.T) {
	out, err := gen(t, "type Item struct {\n\tA string `wx:\"a\"`\n\tExtra []Field\n}\n"+
		"type Inner struct{ P string `wx:\"p\"` }\n"+
		"type Ev struct {\n\tHeader `wx:\"event:ev_a event:ev_b\"`\n\tInner\n\tID MsgID `wx:\"ID,string,key\"`\n\tN int64 `wx:\"N,key\"`\n"+
		"\tW Number `wx:\"W\"`\n\tL []Item `wx:\"List,objarr,container=Box\"`\n\tR []Item `wx:\"r\"`\n\tO Item `wx:\"o\"`\n\tSkip string `wx:\"-\"`\n}\n"+
		"type Msg struct {\n\tHeader `wx:\"text\"`\n\tC string `wx:\"Content\"`\n}\n"+
		"func (m *Msg) DedupKey() string { return \"\" }\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`return "p", mScalar, &m.Inner.P`,
		`return "ID", mMsgIDString, &m.ID`,
		`return "W", mScalar, &m.W`,
		`return "Box", mListContainer, list[Item, *Item]{&m.L}`,
		`return "List", mListObjOrArr, list[Item, *Item]{&m.L}`,
		`return "r", mListRepeated, list[Item, *Item]{&m.R}`,
		`return "r", mListArr, list[Item, *Item]{&m.R}`,
		`return "o", mStruct, &m.O`,
		`func (m *Item) extra() *[]Field { return &m.Extra }`,
		`return bizKey(m, string(m.ID), itoa(m.N))`,
		`case "ev_a", "ev_b":` + "\n\t\treturn &Ev{}",
		`case "text":` + "\n\t\treturn &Msg{}",
		`{MsgType: "event", Event: "ev_a"},` + "\n\t{MsgType: \"event\", Event: \"ev_b\"},\n\t{MsgType: \"text\", Event: \"\"},",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Skip") || strings.Contains(out, "func (m *Msg) DedupKey") || strings.Contains(out, "func (m *Inner)") {
		t.Errorf("unexpected output:\n%s", out)
	}
	// A type without key fields gets the digest key.
	out, err = gen(t, "type E struct {\n\tHeader `wx:\"event:e\"`\n\tA string `wx:\"a\"`\n}\n")
	if err != nil || !strings.Contains(out, "func (m *E) DedupKey() string { return digestKey(m) }") {
		t.Fatalf("%v\n%s", err, out)
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"type E struct {\n\tHeader `wx:\"event:e\"`\n\tA string\n}\n", "has no wx tag"},
		{"type E struct {\n\tHeader\n\tA string `wx:\"a\"`\n}\n", "needs a wx tag"},
		{"type E struct {\n\tHeader `wx:\"\"`\n\tA string `wx:\"a\"`\n}\n", "lists no kind"},
		{"type E struct {\n\tHeader `wx:\"event:e\"`\n\tA float64 `wx:\"a\"`\n}\n", "not a scalar"},
		{"type E struct {\n\tHeader `wx:\"event:e\"`\n\tA string `wx:\"a,objarr\"`\n}\n", "does not apply"},
		{"type E struct {\n\tHeader `wx:\"event:e\"`\n\tA string `wx:\"a\"`\n\tB string `wx:\"a\"`\n}\n", "used twice"},
		{"type E struct {\n\tHeader `wx:\"event:e\"`\n\tA string `wx:\"a\"`\n}\ntype F struct {\n\tHeader `wx:\"event:e\"`\n\tB string `wx:\"b\"`\n}\n", "claimed by E and F"},
		{"type I struct{ A string `wx:\"a\"` }\ntype E struct {\n\tHeader `wx:\"event:e\"`\n\tI I `wx:\"i\"`\n}\n", "needs an Extra"},
		{"type I struct{ A string `wx:\"a\"`; Extra []Field }\n", "neither a push type nor used"},
		{"type E struct {\n\tHeader `wx:\"event:e\"`\n\tL []string `wx:\"l\"`\n}\n", "lists of scalars"},
		{"type E struct {\n\tHeader `wx:\"event:e\"`\n\tA string `wx:\",key\"`\n}\n", "empty wire name"},
	} {
		if _, err := gen(t, c.src); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.src, err, c.want)
		}
	}
	if _, err := Generate(t.TempDir()); err == nil {
		t.Error("empty directory accepted")
	}
}
