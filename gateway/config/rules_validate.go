package config

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"regexp/syntax"
	"strings"
	"time"
	_ "time/tzdata"
	"unicode"
	"unicode/utf8" // time zones check and work on hosts without a zoneinfo database
)

// ruleNamePattern is what a rule's name may be: it goes into logs and
// records.
var ruleNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// rules checks an app's rules section; a is the app.
func (v *validator) rules(p string, a *App) {
	r := &a.Rules
	if r.needsOpenAPI() && !a.Secret.IsSet() {
		v.errf(joinPath(strings.TrimSuffix(p, ".rules"), "secret"), "must be set: the rules send messages through the Open API, which needs the AppSecret")
	}
	away := 0
	if o := r.OfficeHours; o != nil {
		op := joinPath(p, "office_hours")
		v.officeHours(op, o)
		away = len(o.Away)
	}
	rp := joinPath(p, "rules")
	names := map[string]int{}
	for i := range r.Rules {
		rule := &r.Rules[i]
		ip := indexPath(rp, i)
		if rule.Name != "" {
			np := joinPath(ip, "name")
			switch {
			case !ruleNamePattern.MatchString(rule.Name):
				v.errf(np, "must be 1 to 64 letters, digits, - _ and ., starting with a letter or digit")
			case rule.Name == RuleNameFallback || rule.Name == RuleNameAway:
				v.errf(np, "%s is the engine's own name for the %s message", rule.Name, rule.Name)
			default:
				if j, dup := names[rule.Name]; dup {
					v.errf(np, "%s is also the name of rules[%d]", rule.Name, j)
				}
				names[rule.Name] = i
			}
		}
		event := v.match(ip, &rule.Match)
		v.actions(ip, &rule.Actions, event, away)
	}
	if r.Fallback != nil {
		v.actions(joinPath(p, "fallback"), r.Fallback, false, away)
	}
}

// match checks the match of the rule at rp and reports whether it
// matches an event.
func (v *validator) match(rp string, m *Match) (event bool) {
	p := joinPath(rp, "match")
	kinds := m.Kinds()
	switch len(kinds) {
	case 0:
		if !v.col.m.failed[rp] { // not after an error in the rule, which may be why
			v.errf(p, "must say what the rule matches: keyword, contains, regex or enter_session: true")
		}
		return false
	case 1:
	default:
		v.errf(p, "has %s and %s: give one kind of match per rule (and one rule per kind)", kinds[0], kinds[1])
		return m.EnterSession
	}
	for _, list := range []struct {
		name  string
		items []string
	}{{"keyword", m.Keyword}, {"contains", m.Contains}} {
		for i, s := range list.items {
			if strings.TrimSpace(s) == "" {
				v.errf(indexPath(joinPath(p, list.name), i), "must not be empty")
			}
		}
	}
	if m.Regex != "" {
		if _, err := CompileRegex(m.Regex, m.IgnoreCase); err != nil {
			v.errf(joinPath(p, "regex"), "%v", err)
		}
	}
	if m.EnterSession && m.IgnoreCase {
		v.errf(joinPath(p, "ignore_case"), "applies to keyword, contains and regex, not enter_session")
	}
	if m.SessionFrom != nil && !m.EnterSession {
		v.errf(joinPath(p, "session_from"), "applies to enter_session only")
	}
	return m.EnterSession
}

// CompileRegex compiles a rule's regex as the engine does: Go's RE2
// syntax, (?i) added for ignore_case. Its error says what is wrong in
// plain words.
func CompileRegex(expr string, ignoreCase bool) (*regexp.Regexp, error) {
	re, err := regexp.Compile(expr) // as written first, so that errors quote what the user wrote
	if err == nil && ignoreCase {
		re, err = regexp.Compile("(?i)" + expr)
	}
	if err == nil {
		return re, nil
	}
	var se *syntax.Error
	if errors.As(err, &se) {
		hint := ""
		if se.Code == syntax.ErrInvalidPerlOp || se.Code == syntax.ErrInvalidEscape {
			hint = " (Go's RE2 syntax has no look-around or backreferences)"
		}
		return nil, fmt.Errorf("is not a valid regular expression: %s in %s%s", se.Code, quoteExpr(se.Expr), hint)
	}
	return nil, fmt.Errorf("is not a valid regular expression: %v", err)
}

// quoteExpr shows a regular expression between backquotes, as written,
// when it can; cut to 64 bytes.
func quoteExpr(s string) string {
	if len(s) > 64 || strings.ContainsAny(s, "`\n\r") || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return quoteShort(s)
	}
	return "`" + s + "`"
}

// actions checks the actions of a rule (event: of a rule matching an
// event) or of the fallback; away is the number of away messages, which
// WeChat counts with the replies.
func (v *validator) actions(p string, a *Actions, event bool, away int) {
	if len(a.Reply) == 0 && !a.Transfer && !a.Typing && !a.continueSet && !v.col.m.failed[p] {
		v.errf(p, "has no action: give reply, transfer, typing or continue")
	}
	if a.Transfer && event {
		v.errf(joinPath(p, "transfer"), "answers user messages only: user_enter_tempsession is an event, which takes no passive reply")
	}
	if a.Typing && !a.Continue {
		v.errf(joinPath(p, "typing"), "has no effect with continue: false: no destination works on the message")
	}
	rp := joinPath(p, "reply")
	limit, after := MaxRepliesAfterMessage, "in answer to a message"
	if event {
		limit, after = MaxRepliesAfterEnter, "within a minute of the user entering the session"
	}
	if n := len(a.Reply); n > 0 && n+away > limit {
		withAway := ""
		if away > 0 {
			withAway = fmt.Sprintf(" (with office_hours.away's %d, which may come along)", away)
		}
		v.errf(rp, "sends %d messages%s: WeChat allows %d %s", n+away, withAway, limit, after)
	}
	v.messages(rp, a.Reply)
}

// messages checks a list of messages.
func (v *validator) messages(p string, ms []Message) {
	for i := range ms {
		m := &ms[i]
		ip := indexPath(p, i)
		if v.col.m.failed[ip] {
			continue
		}
		switch m.Type() {
		case "text":
		case "image":
			v.image(joinPath(ip, "image"), m.Image)
		case "link":
			lp := joinPath(ip, "link")
			l := m.Link
			if strings.TrimSpace(l.Title) == "" {
				v.errf(joinPath(lp, "title"), "must be set")
			}
			if !httpURL(l.URL) {
				v.errf(joinPath(lp, "url"), "must be an absolute http(s) URL")
			}
			if l.ThumbURL != "" && !httpURL(l.ThumbURL) {
				v.errf(joinPath(lp, "thumb_url"), "must be an absolute http(s) URL")
			}
		case "miniprogrampage":
			pp := joinPath(ip, "miniprogrampage")
			pg := m.MiniProgramPage
			if strings.TrimSpace(pg.Title) == "" {
				v.errf(joinPath(pp, "title"), "must be set")
			}
			if strings.TrimSpace(pg.PagePath) == "" {
				v.errf(joinPath(pp, "pagepath"), "must be set: the page the card opens, like pages/index/index")
			}
			switch {
			case pg.ThumbMedia == "" && pg.ThumbMediaID == "":
				v.errf(pp, "must have thumb_media (an image file) or thumb_media_id")
			case pg.ThumbMedia != "" && pg.ThumbMediaID != "":
				v.errf(pp, "must have thumb_media or thumb_media_id, not both")
			case pg.ThumbMedia != "":
				v.image(joinPath(pp, "thumb_media"), pg.ThumbMedia)
			}
		default:
			v.errf(ip, "must be one of text, image, link and miniprogrampage")
		}
	}
}

// image checks that the file at path is an image WeChat takes.
func (v *validator) image(p, path string) {
	if err := CheckImage(path); err != nil {
		v.errf(p, "%v", err)
	}
}

// CheckImage checks that path is a regular file holding a PNG, JPEG or
// GIF image of at most MaxImageSize bytes. Its error names the file.
func CheckImage(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", path, describeFSError(err))
	}
	defer f.Close()
	st, err := f.Stat()
	switch {
	case err != nil:
		return fmt.Errorf("cannot read %s: %v", path, describeFSError(err))
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case st.Size() == 0:
		return fmt.Errorf("%s is empty", path)
	case st.Size() > MaxImageSize:
		return fmt.Errorf("%s is %d bytes: WeChat takes images of at most %v", path, st.Size(), ByteSize(MaxImageSize))
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("cannot read %s: %v", path, describeFSError(err))
	}
	switch ct := http.DetectContentType(head[:n]); ct {
	case "image/png", "image/jpeg", "image/gif":
		return nil
	default:
		return fmt.Errorf("%s is not a PNG, JPEG or GIF image (it looks like %s)", path, ct)
	}
}

// officeHours checks the office hours and loads their time zone.
func (v *validator) officeHours(p string, o *OfficeHours) {
	// After an error in the section (an unknown or misspelt field), a
	// missing field is likely that error again: say nothing of it.
	failed := v.col.m.failed[p]
	tp := joinPath(p, "time_zone")
	switch loc, err := LoadTimeZone(o.TimeZone); {
	case err != nil && (o.TimeZone != "" || !failed):
		v.errf(tp, "%v", err)
	case err == nil:
		o.loc = loc
	}
	wp := joinPath(p, "windows")
	if len(o.Windows) == 0 && !failed {
		v.errf(wp, `must list when the office is open, like ["mon-fri 09:00-18:00"]`)
	}
	for i, w := range o.Windows {
		for j := range i {
			if day, ok := overlap(w, o.Windows[j]); ok {
				v.errf(indexPath(wp, i), "%s overlaps windows[%d] (%s) on %s", w, j, o.Windows[j], day)
				break
			}
		}
	}
	ap := joinPath(p, "away")
	switch {
	case len(o.Away) == 0 && !failed:
		v.errf(ap, "must be set: the message sent outside the windows")
	case len(o.Away) > MaxRepliesAfterEnter:
		v.errf(ap, "sends %d messages: WeChat allows %d within a minute of the user entering the session", len(o.Away), MaxRepliesAfterEnter)
	}
	v.messages(ap, o.Away)
}

// LoadTimeZone loads an IANA time zone by name. "Local", which depends on
// the host, and "" are refused.
func LoadTimeZone(name string) (*time.Location, error) {
	switch strings.TrimSpace(name) {
	case "":
		return nil, errors.New("must be set: an IANA time zone like Asia/Shanghai")
	case "Local":
		return nil, errors.New("must name a time zone, not Local (which depends on the host), like Asia/Shanghai")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("%s is not a known time zone: use an IANA name like Asia/Shanghai or UTC", quoteShort(name))
	}
	return loc, nil
}

// overlap reports whether two windows share a minute, and the day (in
// the first's days) it is on.
func overlap(a, b Window) (string, bool) {
	for _, x := range a.Spans() {
		for _, y := range b.Spans() {
			if x[0] < y[1] && y[0] < x[1] {
				at := max(x[0], y[0])
				return time.Weekday(at / 1440).String(), true
			}
		}
	}
	return "", false
}

// needsOpenAPI reports whether the rules send messages or show typing,
// which the Open API does.
func (r *Rules) needsOpenAPI() bool {
	uses := func(a *Actions) bool { return len(a.Reply) > 0 || a.Typing }
	if r.OfficeHours != nil || r.Fallback != nil && uses(r.Fallback) {
		return true
	}
	for i := range r.Rules {
		if uses(&r.Rules[i].Actions) {
			return true
		}
	}
	return false
}
