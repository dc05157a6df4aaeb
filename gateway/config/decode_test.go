package config

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestYAMLErrors checks the errors of the file itself: each with its path
// (when there is one), its line and its sentinel.
func TestYAMLErrors(t *testing.T) {
	tests := []struct {
		name, src  string
		path       string
		line       int
		sentinel   error
		msg        string
		otherErrOK bool
	}{
		{"syntax", "apps:\n  shop:\n    token: \"abc\n", "", 3, ErrSyntax, "", false},
		{"bad indent", "apps:\n  shop:\n    token: abc\n   mode: safe\n", "", 4, ErrSyntax, "", false},
		{"duplicate key", "listen: :1\nlisten: :2\n", "", 2, ErrSyntax, `"listen" already defined`, false},
		{"two documents", "listen: :1\n---\nlisten: :2\n", "", 3, ErrSyntax, "second YAML document", false},
		{"not a mapping", "- a\n- b\n", "", 1, ErrInvalid, "must be a mapping of fields, not a list", true},
		{"unknown top", "listn: :8080\n" + app(), "listn", 1, ErrUnknownField, "unknown field (did you mean listen?)", false},
		{"unknown nested", "delivery:\n  max_attempt: 3\n" + app(), "delivery.max_attempt", 2, ErrUnknownField, "did you mean max_attempts?", false},
		{"unknown in app", app("tokn_file: /x"), "apps.shop.tokn_file", 6, ErrUnknownField, "did you mean token_file?", false},
		{"unknown in list", app("destinations: [{name: a, nats: {}, webhok: {}}]"), "apps.shop.destinations[0].webhok", 6, ErrUnknownField, "did you mean webhook?", true},
		{"unknown far", app("colour: red"), "apps.shop.colour", 6, ErrUnknownField, "unknown field", false},
		{"mapping for scalar", app("path: {a: b}"), "apps.shop.path", 6, ErrInvalid, "must be a single value, not a mapping", false},
		{"list for scalar", app("token: [a, b]"), "apps.shop.token", 5, ErrInvalid, "must be a single value, not a list", true},
		{"scalar for mapping", "delivery: fast\n" + app(), "delivery", 1, ErrInvalid, "must be a mapping of fields, not a single value", false},
		{"scalar for list", app("destinations: webhook"), "apps.shop.destinations", 6, ErrInvalid, "must be a list, not a single value", false},
		{"int", "delivery: {max_attempts: many}\n" + app(), "delivery.max_attempts", 1, ErrInvalid, "must be an integer", false},
		{"bool", app("allow_plaintext: maybe"), "apps.shop.allow_plaintext", 6, ErrInvalid, "must be true or false", false},
		{"duration unit", "retain: 30\n" + app(), "retain", 1, ErrInvalid, "must be a duration with a unit", false},
		{"duration", "retain: soon\n" + app(), "retain", 1, ErrInvalid, "must be a duration like", false},
		{"byte size", app("max_body: 1 parsec"), "apps.shop.max_body", 6, ErrInvalid, "must be a number of bytes", false},
		{"unset variable", app("path: ${NOPE}"), "apps.shop.path", 6, ErrUnsetEnv, "${NOPE} is not set", false},
		{"bad reference", app("path: /a${}"), "apps.shop.path", 6, ErrInvalid, "invalid reference at character 3", false},
		{"unterminated reference", app("path: /a${X"), "apps.shop.path", 6, ErrInvalid, "unterminated ${ at character 3", false},
		{"undefined alias", app("path: *nowhere"), "apps.shop.path", 6, ErrInvalid, "alias *nowhere refers to no anchor", true},
		{"tag", app("path: !env PATH"), "apps.shop.path", 6, ErrInvalid, `tag "!env" is not supported`, false},
		{"secret twice", app("secret: a", "secret_file: /b"), "apps.shop.secret_file", 7, ErrInvalid, "conflicts with secret", false},
		{"merge of scalar", "x: &x 1\n" + app("<<: *x"), "apps.shop", 7, ErrInvalid, "<< merges mappings", true},
		{"key not a name", app("? [a]\n: b"), "", 7, ErrSyntax, "invalid key", false},
		{"empty secret file path", app("secret_file: ''"), "apps.shop.secret_file", 6, ErrInvalid, "must be a file path", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, es := parse(t, tt.src)
			var e *FieldError
			for _, x := range es {
				if x.Path == tt.path && errors.Is(x, tt.sentinel) {
					e = x
					break
				}
			}
			if e == nil {
				t.Fatalf("no %v at %q in:\n%v\nfile:\n%s", tt.sentinel, tt.path, es, tt.src)
			}
			if e.Line != tt.line || e.Column == 0 {
				t.Errorf("at %d:%d, want line %d: %v", e.Line, e.Column, tt.line, e)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", e.Msg, tt.msg)
			}
			if !strings.HasPrefix(e.Error(), "testdata/test.yaml:") {
				t.Errorf("Error() %q does not start with the file", e.Error())
			}
			if len(es) != 1 && !tt.otherErrOK {
				t.Errorf("want one error, got:\n%v", es)
			}
		})
	}
}

func TestYAMLFeatures(t *testing.T) {
	// Anchors, aliases and merge keys share settings between apps; x-
	// keys at the top are ignored, a place to define anchors.
	src := "x-common: &common\n  appid: wx0123456789abcdef\n  replay_window: 1m\n" +
		"allow_inline_secrets: true\napps:\n  shop:\n    <<: *common\n    token: abc\n"
	if c := mustParse(t, src); c.Apps["shop"].AppID != "wx0123456789abcdef" || c.Apps["shop"].ReplayWindow != time.Minute {
		t.Errorf("x- anchor: %+v", c.Apps["shop"])
	}
	// Only at the top.
	_, es := parse(t, app("x-note: hi"))
	if e := findErr(es, "apps.shop.x-note"); e == nil || !errors.Is(e, ErrUnknownField) {
		t.Errorf("nested x-: %v", es)
	}
	src = `
allow_inline_secrets: true
apps:
  shop: &base
    appid: wx0123456789abcdef
    token: Token123
    replay_window: 1m
    max_body: 2MiB
    destinations: &dests
      - name: hooks
        webhook: {url: "https://h.example", secret: "0123456789abcdefg"}
  blog:
    <<: *base
    path: /blog
    replay_window: 2m
  news:
    <<: [{path: /news, token: First1}, *base]
    destinations: *dests
  tagged:
    token: !!str 12345
    path: /tagged
  nulls:
    ? token
    : abc
    path: /nulls
    mode:
    aes_keys:
    destinations: ~
`
	c := mustParse(t, src)
	blog := c.Apps["blog"]
	if blog.Path != "/blog" || blog.ReplayWindow != 2*time.Minute || blog.MaxBody != 2<<20 || blog.Token.Value() != "Token123" ||
		len(blog.Destinations) != 1 || blog.AppID != "wx0123456789abcdef" {
		t.Errorf("merged app: %+v", blog)
	}
	news := c.Apps["news"]
	if news.Path != "/news" || news.Token.Value() != "First1" || news.ReplayWindow != time.Minute || len(news.Destinations) != 1 {
		t.Errorf("merge of a list: %+v", news)
	}
	if c.Apps["tagged"].Token.Value() != "12345" {
		t.Errorf("!!str: %q", c.Apps["tagged"].Token.Value())
	}
	if n := c.Apps["nulls"]; n.Token.Value() != "abc" || len(n.AESKeys) != 0 || n.Destinations != nil {
		t.Errorf("nulls: %+v", n)
	}
}

func TestScalars(t *testing.T) {
	c := mustParse(t, app("max_body: 1000", "replay_window: 0")+"retain: 7d\ndelivery: {max_attempts: '${N}', timeout: '${T}'}\n", "N=3", "T=90s")
	if c.Apps["shop"].MaxBody != 1000 || c.Apps["shop"].ReplayWindow != 5*time.Minute || c.Retain != 7*24*time.Hour ||
		c.Delivery.MaxAttempts != 3 || c.Delivery.Timeout != 90*time.Second {
		t.Errorf("scalars: max_body %v replay %v retain %v attempts %d timeout %v", c.Apps["shop"].MaxBody,
			c.Apps["shop"].ReplayWindow, c.Retain, c.Delivery.MaxAttempts, c.Delivery.Timeout)
	}
	for in, want := range map[string]ByteSize{"1": 1, "1B": 1, "2KiB": 2048, "3MiB": 3 << 20, "1GiB": 1 << 30, "5KB": 5000, "2MB": 2e6, "1GB": 1e9} {
		if got, err := parseByteSize(in); err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1TiB", "x", "1.5MiB", "99999999999999999999"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) accepted", in)
		}
	}
	for in, want := range map[ByteSize]string{1 << 20: "1MiB", 1536: "1536", 0: "0", 3 << 30: "3GiB", 2048: "2KiB"} {
		if got := in.String(); got != want {
			t.Errorf("ByteSize(%d) = %q, want %q", int64(in), got, want)
		}
	}
}

func TestExpand(t *testing.T) {
	env := map[string]string{"A": "1", "B_2": "two", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, out string
		literal bool
		refs    string
		unset   []string
		err     string
	}{
		{in: "plain", out: "plain", literal: true},
		{in: "", out: ""},
		{in: "${A}", out: "1", refs: "${A}"},
		{in: "${A}${B_2}", out: "1two", refs: "${A}${B_2}"},
		{in: "x${A}y", out: "x1y", literal: true, refs: "${A}"},
		{in: "$$", out: "$", literal: true},
		{in: "$${A}", out: "${A}", literal: true},
		{in: "cost $5 $", out: "cost $5 $", literal: true},
		{in: "${EMPTY}", out: "", refs: "${EMPTY}"},
		{in: "${MISSING}-${A}", out: "-1", literal: true, refs: "${MISSING}${A}", unset: []string{"MISSING"}},
		{in: "${}", err: "invalid reference at character 1"},
		{in: "ab${1X}", err: "invalid reference at character 3"},
		{in: "${A-B}", err: "invalid reference"},
		{in: "${A", err: "unterminated ${ at character 1"},
	}
	for _, tt := range tests {
		x, err := expand(tt.in, lookup)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expand(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || x.value != tt.out || x.literal != tt.literal || x.refsText() != tt.refs || strings.Join(x.unset, ",") != strings.Join(tt.unset, ",") {
			t.Errorf("expand(%q) = %+v, %v; want %q literal %v refs %q unset %v", tt.in, x, err, tt.out, tt.literal, tt.refs, tt.unset)
		}
	}
}

// TestKeysNotExpanded checks that ${NAME} in a key stays as written.
func TestKeysNotExpanded(t *testing.T) {
	_, es := parse(t, "allow_inline_secrets: true\napps:\n  ${APP}:\n"+appLines()+"${FIELD}: 1\n", "APP=shop", "FIELD=listen")
	if e := findErr(es, `apps["${APP}"]`); e == nil || !strings.Contains(e.Msg, "app names are") {
		t.Errorf("app key: %v", es)
	}
	if e := findErr(es, `["${FIELD}"]`); e == nil || !errors.Is(e, ErrUnknownField) {
		t.Errorf("field key: %v", es)
	}
}

// TestAliasBomb checks that aliases that multiply stop at the budget
// instead of exhausting memory.
func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("allow_inline_secrets: true\napps:\n  a0: &a0\n    token: abc\n    aes_keys: &k [")
	for i := 0; i < 2000; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("x")
	}
	b.WriteString("]\n")
	for i := 1; i < 500; i++ {
		b.WriteString("  a" + strconv.Itoa(i) + ": {aes_keys: *k, token: abc}\n")
	}
	_, es := parse(t, b.String())
	found := false
	for _, e := range es {
		found = found || strings.Contains(e.Msg, "values once aliases are expanded")
	}
	if !found {
		t.Errorf("no budget error in %d errors", len(es))
	}
}
