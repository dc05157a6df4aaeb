package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// rulesApp builds a file with one app "shop" (with a secret) whose rules
// section is rules, written at column 0.
func rulesApp(rules string) string {
	lines := strings.Split(strings.TrimRight(rules, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + l
	}
	return app("secret: appsecret0123", "rules:\n"+strings.Join(lines, "\n"))
}

// TestRulesErrors has one case per error of the rules section: the
// section, the error's path under apps.shop.rules and words of its
// message.
func TestRulesErrors(t *testing.T) {
	dir := t.TempDir()
	notImage := filepath.Join(dir, "notes.txt")
	big := filepath.Join(dir, "big.png")
	empty := filepath.Join(dir, "empty.png")
	os.WriteFile(notImage, []byte("just some text\n"), 0o644)
	os.WriteFile(big, append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, MaxImageSize)...), 0o644)
	os.WriteFile(empty, nil, 0o644)
	const hi = "match: {keyword: hi}\n"
	rule := func(lines string) string {
		return "rules:\n  - " + strings.ReplaceAll(strings.TrimRight(lines, "\n"), "\n", "\n    ") + "\n"
	}
	hours := func(lines string) string {
		return "office_hours:\n  " + strings.ReplaceAll(strings.TrimRight(lines, "\n"), "\n", "\n  ") + "\n"
	}
	tests := []struct {
		name, rules, path, msg string
		sentinel               error
	}{
		// The section.
		{"not a mapping", "[a]", "", "must be a mapping with rules, fallback and office_hours, not a list", nil},
		{"unknown section field", "rulez: []", ".rulez", "unknown field (did you mean rules?): rules has rules, fallback and office_hours", ErrUnknownField},
		{"rules not a list", "rules: {match: {keyword: hi}}", ".rules", "must be a list of rules, not a mapping", nil},
		{"rule not a mapping", "rules: [hello]", ".rules[0]", "must be a mapping with match and actions", nil},

		// Matches.
		{"unknown action", rule(hi + "replay: hi"), ".rules[0].replay", "unknown action (did you mean reply?)", ErrUnknownField},
		{"unknown action word", rule(hi + "forward: true"), ".rules[0].forward", "unknown action: a rule has name and match, and the actions reply, transfer, typing and continue", ErrUnknownField},
		{"unknown match", rule("match: {keywords: hi}\nreply: x"), ".rules[0].match.keywords", "unknown match (did you mean keyword?)", ErrUnknownField},
		{"match not a mapping", rule("match: hi\nreply: x"), ".rules[0].match", "must be a mapping: keyword, contains, regex or enter_session", nil},
		{"no match", rule("reply: x"), ".rules[0].match", "must say what the rule matches", nil},
		{"two matches", rule("match: {keyword: a, regex: b}\nreply: x"), ".rules[0].match", "has keyword and regex: give one kind of match per rule", nil},
		{"empty keyword", rule("match: {keyword: [a, '  ']}\nreply: x"), ".rules[0].match.keyword[1]", "must not be empty", nil},
		{"empty contains", rule("match: {contains: ''}\nreply: x"), ".rules[0].match.contains[0]", "must not be empty", nil},
		{"bad regex", rule("match: {regex: '(abc'}\nreply: x"), ".rules[0].match.regex", "is not a valid regular expression: missing closing ) in `(abc`", nil},
		{"look-ahead", rule("match: {regex: 'a(?=b)'}\nreply: x"), ".rules[0].match.regex", "Go's RE2 syntax has no look-around", nil},
		{"ignore_case on enter", rule("match: {enter_session: true, ignore_case: true}\nreply: x"), ".rules[0].match.ignore_case", "applies to keyword, contains and regex", nil},
		{"session_from alone", rule("match: {keyword: a, session_from: home}\nreply: x"), ".rules[0].match.session_from", "applies to enter_session only", nil},
		{"bad bool", rule("match: {enter_session: yes please}\nreply: x"), ".rules[0].match.enter_session", "must be true or false", nil},

		// Actions.
		{"no action", rule(hi), ".rules[0]", "has no action: give reply, transfer, typing or continue", nil},
		{"transfer on an event", rule("match: {enter_session: true}\ntransfer: true"), ".rules[0].transfer", "answers user messages only: user_enter_tempsession is an event", nil},
		{"typing with continue false", rule(hi + "typing: true\ncontinue: false"), ".rules[0].typing", "has no effect with continue: false", nil},
		{"too many replies", rule(hi + "reply: [a, b, c, d, e, f]"), ".rules[0].reply", "sends 6 messages: WeChat allows 5 in answer to a message", nil},
		{"too many on enter", rule("match: {enter_session: true}\nreply: [a, b, c]"), ".rules[0].reply", "sends 3 messages: WeChat allows 2 within a minute of the user entering the session", nil},
		{"with away", rule("match: {enter_session: true}\nreply: [a, b]") + hours("time_zone: UTC\nwindows: ['mon 09:00-10:00']\naway: closed"),
			".rules[0].reply", "sends 3 messages (with office_hours.away's 1, which may come along): WeChat allows 2", nil},
		{"name", rule("name: 'a b'\n" + hi + "reply: x"), ".rules[0].name", "must be 1 to 64 letters, digits", nil},
		{"name reserved", rule("name: fallback\n" + hi + "reply: x"), ".rules[0].name", "fallback is the engine's own name", nil},
		{"name dup", "rules:\n  - {name: a, match: {keyword: x}, reply: x}\n  - {name: a, match: {keyword: y}, reply: y}", ".rules[1].name", "a is also the name of rules[0]", nil},
		{"fallback unknown action", "fallback: {match: {keyword: x}, reply: x}", ".fallback.match", "unknown action: the fallback has the actions", ErrUnknownField},
		{"fallback no action", "fallback: {}", ".fallback", "has no action", nil},
		{"fallback not a mapping", "fallback: hello", ".fallback", "must be a mapping of actions", nil},

		// Messages.
		{"message kinds", rule(hi + "reply: {text: a, image: b.png}"), ".rules[0].reply[0]", "has text and image: a message is one of text, image, link and miniprogrampage", nil},
		{"message type", rule(hi + "reply: {video: a.mp4}"), ".rules[0].reply[0].video", "unknown message type: a reply is text, image, link or miniprogrampage", ErrUnknownField},
		{"message type typo", "fallback: {reply: [ok, {imgae: a.png}]}", ".fallback.reply[1].imgae", "unknown message type (did you mean image?)", ErrUnknownField},
		{"empty message", rule(hi + "reply: [{}]"), ".rules[0].reply[0]", "must have text, image, link or miniprogrampage", nil},
		{"nested list", rule(hi + "reply: [[a]]"), ".rules[0].reply[0]", "not a list", nil},
		{"empty text", rule(hi + "reply: {text: ''}"), ".rules[0].reply[0].text", "must not be empty", nil},
		{"unset variable", rule(hi + "reply: {text: '${NOPE}'}"), ".rules[0].reply[0].text", "${NOPE} is not set", ErrUnsetEnv},
		{"missing media", rule(hi + "reply: {image: media/missing.png}"), ".rules[0].reply[0].image", "cannot read testdata/media/missing.png: no such file or directory", nil},
		{"not an image", rule(hi + "reply: {image: " + notImage + "}"), ".rules[0].reply[0].image", "is not a PNG, JPEG or GIF image (it looks like text/plain", nil},
		{"image too big", rule(hi + "reply: {image: " + big + "}"), ".rules[0].reply[0].image", "WeChat takes images of at most 2MiB", nil},
		{"image empty file", rule(hi + "reply: {image: " + empty + "}"), ".rules[0].reply[0].image", "is empty", nil},
		{"image a directory", rule(hi + "reply: {image: media}"), ".rules[0].reply[0].image", "testdata/media is not a regular file", nil},
		{"image no path", rule(hi + "reply: {image: ''}"), ".rules[0].reply[0].image", "must be an image file's path", nil},
		{"link url", rule(hi + "reply: {link: {title: t, url: /x}}"), ".rules[0].reply[0].link.url", "must be an absolute http(s) URL", nil},
		{"link title", rule(hi + "reply: {link: {url: 'https://x.example'}}"), ".rules[0].reply[0].link.title", "must be set", nil},
		{"link thumb", rule(hi + "reply: {link: {title: t, url: 'https://x.example', thumb_url: x.png}}"), ".rules[0].reply[0].link.thumb_url", "must be an absolute http(s) URL", nil},
		{"link field", rule(hi + "reply: {link: {titel: t}}"), ".rules[0].reply[0].link.titel", "unknown field (did you mean title?)", ErrUnknownField},
		{"link scalar", rule(hi + "reply: {link: x}"), ".rules[0].reply[0].link", "must be a mapping with title, description, url and thumb_url", nil},
		{"card thumb", rule(hi + "reply: {miniprogrampage: {title: t, pagepath: p}}"), ".rules[0].reply[0].miniprogrampage", "must have thumb_media (an image file) or thumb_media_id", nil},
		{"card both thumbs", rule(hi + "reply: {miniprogrampage: {title: t, pagepath: p, thumb_media: media/welcome.png, thumb_media_id: X}}"), ".rules[0].reply[0].miniprogrampage", "not both", nil},
		{"card pagepath", rule(hi + "reply: {miniprogrampage: {title: t, thumb_media_id: X}}"), ".rules[0].reply[0].miniprogrampage.pagepath", "must be set", nil},
		{"card title", rule(hi + "reply: {miniprogrampage: {pagepath: p, thumb_media_id: X}}"), ".rules[0].reply[0].miniprogrampage.title", "must be set", nil},
		{"card thumb file", rule(hi + "reply: {miniprogrampage: {title: t, pagepath: p, thumb_media: nope.png}}"), ".rules[0].reply[0].miniprogrampage.thumb_media", "cannot read testdata/nope.png", nil},

		// Office hours.
		{"hours not a mapping", "office_hours: [a]", ".office_hours", "must be a mapping with time_zone, windows and away", nil},
		{"hours field", hours("timezone: UTC\nwindows: ['mon 09:00-10:00']\naway: x"), ".office_hours.timezone", "unknown field (did you mean time_zone?)", ErrUnknownField},
		{"no time zone", hours("windows: ['mon 09:00-10:00']\naway: x"), ".office_hours.time_zone", "must be set: an IANA time zone like Asia/Shanghai", nil},
		{"bad time zone", hours("time_zone: Mars/Olympus\nwindows: ['mon 09:00-10:00']\naway: x"), ".office_hours.time_zone", `"Mars/Olympus" is not a known time zone`, nil},
		{"local time zone", hours("time_zone: Local\nwindows: ['mon 09:00-10:00']\naway: x"), ".office_hours.time_zone", "not Local", nil},
		{"no windows", hours("time_zone: UTC\naway: x"), ".office_hours.windows", "must list when the office is open", nil},
		{"window shape", hours("time_zone: UTC\nwindows: ['mon-fri']\naway: x"), ".office_hours.windows[0]", `"mon-fri" is not days and hours`, nil},
		{"window day", hours("time_zone: UTC\nwindows: ['mon 09:00-10:00', 'mun 09:00-10:00']\naway: x"), ".office_hours.windows[1]", `"mun" is not a day`, nil},
		{"window one-day range", hours("time_zone: UTC\nwindows: ['mon-mon 09:00-10:00']\naway: x"), ".office_hours.windows[0]", "is a range of one day: write mon", nil},
		{"window time", hours("time_zone: UTC\nwindows: ['mon 9-18']\naway: x"), ".office_hours.windows[0]", `"9" is not a time of day`, nil},
		{"window no range", hours("time_zone: UTC\nwindows: ['mon 09:00']\naway: x"), ".office_hours.windows[0]", `"09:00" is not a time range like 09:00-18:00`, nil},
		{"window clock", hours("time_zone: UTC\nwindows: ['mon 09:00-18:60']\naway: x"), ".office_hours.windows[0]", `"18:60" is not a time of day`, nil},
		{"window 24:00 start", hours("time_zone: UTC\nwindows: ['mon 24:00-02:00']\naway: x"), ".office_hours.windows[0]", `"24:00" is not a time of day`, nil},
		{"window empty", hours("time_zone: UTC\nwindows: ['mon 09:00-09:00']\naway: x"), ".office_hours.windows[0]", "09:00-09:00 is empty", nil},
		{"overlap", hours("time_zone: UTC\nwindows: ['mon-fri 09:00-18:00', 'fri 17:00-19:00']\naway: x"), ".office_hours.windows[1]", "fri 17:00-19:00 overlaps windows[0] (mon-fri 09:00-18:00) on Friday", nil},
		{"overlap overnight", hours("time_zone: UTC\nwindows: ['sun 22:00-02:00', 'mon 01:00-03:00']\naway: x"), ".office_hours.windows[1]", "overlaps windows[0] (sun 22:00-02:00) on Monday", nil},
		{"overlap across the week", hours("time_zone: UTC\nwindows: ['sat 22:00-02:00', 'sun 00:30-01:00']\naway: x"), ".office_hours.windows[1]", "overlaps windows[0] (sat 22:00-02:00) on Sunday", nil},
		{"overlap same days", hours("time_zone: UTC\nwindows: ['daily 00:00-24:00', 'wed 12:00-13:00']\naway: x"), ".office_hours.windows[1]", "on Wednesday", nil},
		{"no away", hours("time_zone: UTC\nwindows: ['mon 09:00-10:00']"), ".office_hours.away", "must be set: the message sent outside the windows", nil},
		{"away too long", hours("time_zone: UTC\nwindows: ['mon 09:00-10:00']\naway: [a, b, c]"), ".office_hours.away", "sends 3 messages: WeChat allows 2", nil},
		{"away message", hours("time_zone: UTC\nwindows: ['mon 09:00-10:00']\naway: {link: {title: t}}"), ".office_hours.away[0].link.url", "must be an absolute http(s) URL", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, es := parse(t, rulesApp(tt.rules))
			path := "apps.shop.rules" + tt.path
			e := findErr(es, path)
			if e == nil {
				t.Fatalf("no error at %s; got:\n%v", path, es)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("error at %s: %q, want it to contain %q", path, e.Msg, tt.msg)
			}
			if e.Line == 0 || e.File != "testdata/test.yaml" {
				t.Errorf("error not placed in the file: %v", e)
			}
			if tt.sentinel != nil && !errors.Is(e, tt.sentinel) {
				t.Errorf("error %v does not match %v", e, tt.sentinel)
			}
			if len(es) != 1 {
				t.Errorf("%d errors, want 1:\n%v", len(es), es)
			}
		})
	}
}

// TestRulesErrorsAtOnce checks that the rules' errors come all at once,
// each on its line.
func TestRulesErrorsAtOnce(t *testing.T) {
	src := rulesApp(`rules:
  - match: {regex: '(a'}
    reply: x
  - match: {keyword: b}
    reply: {image: media/missing.png}
  - match: {keyword: c}
    forward: yes
office_hours:
  time_zone: Nowhere/City
  windows: ["mon-fri 09:00-18:00", "tue 08:00-10:00"]
  away: closed
`)
	_, es := parse(t, src)
	want := map[string]int{ // path → line
		"apps.shop.rules.rules[0].match.regex":    9,
		"apps.shop.rules.rules[1].reply[0].image": 12,
		"apps.shop.rules.rules[2].forward":        14,
		"apps.shop.rules.office_hours.time_zone":  16,
		"apps.shop.rules.office_hours.windows[1]": 17,
	}
	for path, line := range want {
		e := findErr(es, path)
		if e == nil {
			t.Errorf("no error at %s", path)
			continue
		}
		if e.Line != line {
			t.Errorf("%s at line %d, want %d", path, e.Line, line)
		}
	}
	if len(es) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(es), len(want), es)
	}
	if !strings.Contains(es.Error(), "testdata/test.yaml:9:19: apps.shop.rules.rules[0].match.regex") {
		t.Errorf("errors:\n%v", es)
	}
}

// TestRulesNeedSecret checks that rules that send need the AppSecret,
// and rules that only transfer do not.
func TestRulesNeedSecret(t *testing.T) {
	_, es := parse(t, app("rules:\n  fallback: {reply: hi}"))
	if e := findErr(es, "apps.shop.secret"); e == nil || !strings.Contains(e.Msg, "the rules send messages through the Open API") {
		t.Errorf("errors: %v", es)
	}
	mustParse(t, app("rules:\n  fallback: {transfer: true}"))
}

// TestRulesDecode checks what valid rules decode to: short forms,
// defaults, paths resolved against the file's directory.
func TestRulesDecode(t *testing.T) {
	c := mustParse(t, rulesApp(`rules:
  - name: welcome
    match: {enter_session: true}
    reply: Welcome!
  - match: {enter_session: true, session_from: ""}
    reply: {text: "${GREETING}, there"}
  - match: {keyword: "hi, there", ignore_case: true}
    reply:
      - Hello
      - image: media/welcome.png
    typing: true
  - match: {contains: [人工, human]}
    transfer: true
    continue: false
  - match: {regex: '^\d+$'}
    continue: true
fallback:
  transfer: true
office_hours:
  time_zone: Asia/Shanghai
  windows: "Mon-Fri 9:00 - 18:00"
  away: [closed]
`), "GREETING=Good morning")
	r := c.Apps["shop"].Rules
	empty := ""
	want := Rules{
		Rules: []Rule{
			{Name: "welcome", Match: Match{EnterSession: true}, Actions: Actions{Reply: []Message{{Text: "Welcome!"}}, Continue: true}},
			{Match: Match{EnterSession: true, SessionFrom: &empty}, Actions: Actions{Reply: []Message{{Text: "Good morning, there"}}, Continue: true}},
			{Match: Match{Keyword: []string{"hi, there"}, IgnoreCase: true}, Actions: Actions{Reply: []Message{{Text: "Hello"}, {Image: "testdata/media/welcome.png"}}, Typing: true, Continue: true}},
			{Match: Match{Contains: []string{"人工", "human"}}, Actions: Actions{Transfer: true, Continue: false, continueSet: true}},
			{Match: Match{Regex: `^\d+$`}, Actions: Actions{Continue: true, continueSet: true}},
		},
		Fallback: &Actions{Transfer: true, Continue: true},
		OfficeHours: &OfficeHours{TimeZone: "Asia/Shanghai", Windows: []Window{{Days: [7]bool{1: true, 2: true, 3: true, 4: true, 5: true}, Start: 540, End: 1080}},
			Away: []Message{{Text: "closed"}}, loc: r.OfficeHours.Location()},
		pos: r.pos,
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("rules:\n got %#v\nwant %#v", r, want)
	}
	if r.OfficeHours.Location() == nil || r.OfficeHours.Location().String() != "Asia/Shanghai" {
		t.Errorf("location %v", r.OfficeHours.Location())
	}

	// An empty section is no rules.
	for _, src := range []string{"rules:", "rules: {}", "rules: {rules: []}"} {
		if c := mustParse(t, app(src)); c.Apps["shop"].Rules.IsSet() {
			t.Errorf("%q: rules set", src)
		}
	}
	// Rules cannot be set by variables.
	_, es := parse(t, app(), "WXGATE_APPS_SHOP_RULES_RULES_0_MATCH_KEYWORD=x")
	if len(es) != 1 || !errors.Is(es[0], ErrUnknownField) {
		t.Errorf("variable: %v", es)
	}
}

// TestParseWindow checks the window syntax and its printing.
func TestParseWindow(t *testing.T) {
	for _, tt := range []struct{ in, out string }{
		{"mon-fri 09:00-18:00", "mon-fri 09:00-18:00"},
		{"MON-FRI 9:00 - 18:00", "mon-fri 09:00-18:00"},
		{"Saturday 10:00-14:00", "sat 10:00-14:00"},
		{"fri-mon 22:00-02:00", "mon,fri-sun 22:00-02:00"},
		{"mon,wed,fri 08:30-12:00", "mon,wed,fri 08:30-12:00"},
		{"sat,sun 00:00-24:00", "sat-sun 00:00-24:00"},
		{"daily 00:00-24:00", "daily 00:00-24:00"},
		{"mon-sun 12:00-13:00", "daily 12:00-13:00"},
		{"sun 23:00-00:00", "sun 23:00-00:00"},
	} {
		w, err := ParseWindow(tt.in)
		if err != nil || w.String() != tt.out {
			t.Errorf("ParseWindow(%q) = %q, %v; want %q", tt.in, w, err, tt.out)
			continue
		}
		if back, err := ParseWindow(w.String()); err != nil || back != w {
			t.Errorf("%q does not parse back: %v", w, err)
		}
		var u Window
		if b, _ := w.MarshalText(); u.UnmarshalText(b) != nil || u != w {
			t.Errorf("%q: text round trip", w)
		}
	}
	for _, bad := range []string{"", "mon", "09:00-18:00 mon", "mon 09:00", "mon 09-18:00", "mon 09:00-18", "mon 25:00-26:00", "mon -1:00-02:00",
		"mon-fry 09:00-10:00", "mon, 09:00-10:00", "mon 09:00-09:00", "mon 00:00-00:00", "mon 009:00-10:00"} {
		if w, err := ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) = %v, want an error", bad, w)
		}
	}
	// Spans: an overnight window past Saturday splits at the week's end.
	w, _ := ParseWindow("sat 22:00-02:00")
	if got := w.Spans(); !reflect.DeepEqual(got, [][2]int{{6*1440 + 1320, MinutesPerWeek}, {0, 120}}) {
		t.Errorf("Spans = %v", got)
	}
}

// TestDocListsRulesFields checks that docs/configuration.md names every
// field of the rules section.
func TestDocListsRulesFields(t *testing.T) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, list := range [][]string{rulesKeys, ruleKeys, matchKeys, messageKeys, hoursKeys} {
		names = append(names, list...)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[Link](), reflect.TypeFor[MiniProgramPage]()} {
		for _, f := range fieldsOf(typ) {
			names = append(names, f.name)
		}
	}
	for _, n := range names {
		if !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("docs/configuration.md does not name `%s`", n)
		}
	}
}
