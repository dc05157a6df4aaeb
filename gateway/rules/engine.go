package rules

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/openapi"
)

// Sentinels for errors.Is.
var (
	// ErrInvalid marks rules that cannot be compiled. config.Load refuses
	// such rules already; Compile checks again for rules built in code.
	ErrInvalid = errors.New("rules: invalid rules")
	// ErrNoMedia marks a message with a media file rendered by an engine
	// without a MediaCache.
	ErrNoMedia = errors.New("rules: no media cache to upload the file")
	// ErrUpload marks a media file that could not be uploaded.
	ErrUpload = errors.New("rules: media upload failed")
	// ErrLedger marks an away ledger that failed; the away message is not
	// sent, so that it is never sent twice.
	ErrLedger = errors.New("rules: away ledger failed")
)

// Message types of Outbound.MsgType: the customer-service API's msgtype.
const (
	MsgText            = "text"
	MsgImage           = "image"
	MsgLink            = "link"
	MsgMiniProgramPage = "miniprogrampage"
)

// Outbound is one customer-service message that a rule sends. Engines
// share their Outbound values between decisions: read them, never change
// them.
type Outbound struct {
	// Rule is the rule that sends it: its name, "fallback" or "away".
	Rule string
	// MsgType is MsgText, MsgImage, MsgLink or MsgMiniProgramPage.
	MsgType string
	// Text is a text message's content.
	Text string
	// Image is an image message's file, uploaded through the MediaCache.
	Image string
	// Link is a link card.
	Link openapi.Link
	// Page is a mini program card. Page.ThumbMediaID is set when the
	// configuration gives it; else Thumb is set.
	Page openapi.MiniProgramPage
	// Thumb is a card's cover file, uploaded through the MediaCache.
	Thumb string
}

// Decision is what to do with one push. Its zero value but for Continue
// (true) means "nothing": no rule matched.
type Decision struct {
	// Rule is the matched rule's name, "fallback", or "" when none
	// matched.
	Rule string
	// OpenID is the user's, from the push.
	OpenID string
	// Passive is the push's passive answer: message.TransferCustomerService()
	// or nil (answer as usual). Store it with the message.
	Passive message.Reply
	// Send are the matched rule's messages, in order (see Outbox).
	Send []Outbound
	// Away is due outside office hours.
	Away Away
	// Typing shows the typing indicator while the destinations work.
	Typing bool
	// Continue delivers the push to the destinations.
	Continue bool
}

// Matched reports whether a rule or the fallback matched.
func (d Decision) Matched() bool { return d.Rule != "" }

// Away is the away message of a push outside office hours.
type Away struct {
	// Due is set outside office hours, for user messages and
	// user_enter_tempsession.
	Due bool
	// Period is when the closed period began (UTC): the end of the last
	// window. The away message goes once per user and period.
	Period time.Time
	// Send is the away message.
	Send []Outbound
}

// Engine evaluates an app's rules. It is safe for concurrent use.
type Engine struct {
	app      string
	rules    []rule
	fallback *action
	hours    *hours
	away     []Outbound
	ledger   AwayLedger
	media    *MediaCache
	files    []string // media files, for Warm
}

type matchKind uint8

const (
	matchKeyword matchKind = iota + 1
	matchContains
	matchRegex
	matchEnter
)

// rule is a compiled rule.
type rule struct {
	kind    matchKind
	fold    bool
	words   []string // keywords trimmed; contains lowered when fold
	folds   []foldKind
	re      *regexp.Regexp
	from    string
	anyFrom bool
	act     action
}

// action is what a rule or the fallback does.
type action struct {
	name     string
	send     []Outbound
	transfer bool
	typing   bool
	cont     bool
}

// Option configures Compile.
type Option func(*Engine)

// WithLedger sets the away ledger; the default is a NewMemoryLedger of
// the engine's own, right for one instance only.
func WithLedger(l AwayLedger) Option { return func(e *Engine) { e.ledger = l } }

// WithMediaCache sets the cache that uploads the rules' media files;
// without one, rendering an image or a card with thumb_media fails with
// ErrNoMedia.
func WithMediaCache(c *MediaCache) Option { return func(e *Engine) { e.media = c } }

// Compile compiles app's rules. The rules should come from config.Load,
// which has checked them; Compile checks again what it relies on and
// returns every problem as one error matching ErrInvalid.
func Compile(app string, cfg config.Rules, opts ...Option) (*Engine, error) {
	e := &Engine{app: app}
	for _, o := range opts {
		o(e)
	}
	if e.ledger == nil {
		e.ledger = NewMemoryLedger()
	}
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, path, fmt.Sprintf(format, args...)))
	}
	seen := map[string]bool{}
	e.rules = make([]rule, 0, len(cfg.Rules))
	for i := range cfg.Rules {
		c := &cfg.Rules[i]
		p := "rules[" + strconv.Itoa(i) + "]"
		name := c.Name
		if name == "" {
			name = p
		}
		if seen[name] || name == config.RuleNameFallback || name == config.RuleNameAway {
			bad(p+".name", "%q is taken", name)
		}
		seen[name] = true
		r, err := compileMatch(&c.Match)
		if err != nil {
			bad(p+".match", "%v", err)
			continue
		}
		r.act = e.compileActions(name, p, &c.Actions, r.kind == matchEnter, bad)
		e.rules = append(e.rules, r)
	}
	if cfg.Fallback != nil {
		a := e.compileActions(config.RuleNameFallback, "fallback", cfg.Fallback, false, bad)
		e.fallback = &a
	}
	if o := cfg.OfficeHours; o != nil {
		h, err := newHours(o)
		if err != nil {
			bad("office_hours", "%v", err)
		}
		e.hours = h
		if len(o.Away) == 0 {
			bad("office_hours.away", "must be set")
		}
		e.away = e.messages(config.RuleNameAway, "office_hours.away", o.Away, bad)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return e, nil
}

// compileMatch compiles a rule's match.
func compileMatch(m *config.Match) (rule, error) {
	kinds := m.Kinds()
	if len(kinds) != 1 {
		return rule{}, fmt.Errorf("needs exactly one of keyword, contains, regex and enter_session (has %d)", len(kinds))
	}
	r := rule{fold: m.IgnoreCase}
	switch kinds[0] {
	case "keyword":
		r.kind = matchKeyword
		for _, w := range m.Keyword {
			if w = strings.TrimSpace(w); w == "" {
				return rule{}, errors.New("keyword: empty")
			}
			r.words = append(r.words, w)
		}
	case "contains":
		r.kind = matchContains
		for _, w := range m.Contains {
			if strings.TrimSpace(w) == "" {
				return rule{}, errors.New("contains: empty")
			}
			if r.fold {
				w = strings.ToLower(w)
			}
			r.words = append(r.words, w)
			r.folds = append(r.folds, foldOf(w, r.fold))
		}
	case "regex":
		re, err := config.CompileRegex(m.Regex, m.IgnoreCase)
		if err != nil {
			return rule{}, fmt.Errorf("regex %v", err)
		}
		r.kind, r.re, r.fold = matchRegex, re, false
	case "enter_session":
		r.kind, r.fold = matchEnter, false
		r.anyFrom = m.SessionFrom == nil
		if !r.anyFrom {
			r.from = *m.SessionFrom
		}
	}
	return r, nil
}

// compileActions compiles the actions of the rule named name at path p.
func (e *Engine) compileActions(name, p string, a *config.Actions, event bool, bad func(string, string, ...any)) action {
	if a.Transfer && event {
		bad(p+".transfer", "answers user messages only, not events")
	}
	return action{
		name:     name,
		send:     e.messages(name, p+".reply", a.Reply, bad),
		transfer: a.Transfer && !event,
		typing:   a.Typing,
		cont:     a.Continue,
	}
}

// messages compiles a list of messages.
func (e *Engine) messages(name, p string, ms []config.Message, bad func(string, string, ...any)) []Outbound {
	if len(ms) == 0 {
		return nil
	}
	out := make([]Outbound, 0, len(ms))
	for i := range ms {
		m := &ms[i]
		o := Outbound{Rule: name, MsgType: m.Type()}
		switch o.MsgType {
		case MsgText:
			o.Text = m.Text
		case MsgImage:
			o.Image = m.Image
			e.addFile(m.Image)
		case MsgLink:
			l := m.Link
			o.Link = openapi.Link{Title: l.Title, Description: l.Description, URL: l.URL, ThumbURL: l.ThumbURL}
		case MsgMiniProgramPage:
			pg := m.MiniProgramPage
			o.Page = openapi.MiniProgramPage{Title: pg.Title, PagePath: pg.PagePath, ThumbMediaID: pg.ThumbMediaID}
			o.Thumb = pg.ThumbMedia
			if o.Thumb == "" && o.Page.ThumbMediaID == "" {
				bad(p+"["+strconv.Itoa(i)+"].miniprogrampage", "needs thumb_media or thumb_media_id")
			}
			if o.Thumb != "" {
				e.addFile(o.Thumb)
			}
		default:
			bad(p+"["+strconv.Itoa(i)+"]", "must be exactly one of text, image, link and miniprogrampage")
			continue
		}
		out = append(out, o)
	}
	return out
}

// addFile lists a media file once.
func (e *Engine) addFile(path string) {
	if !slices.Contains(e.files, path) {
		e.files = append(e.files, path)
	}
}

// input is what the rules look at in a push.
type input struct {
	openid  string
	text    string // trimmed
	hasText bool
	message bool // a user message, not an event
	enter   bool // user_enter_tempsession
	session string
}

// classify reads a push; ok is false for what the rules never answer.
func classify(p message.Push) (in input, ok bool) {
	if p == nil {
		return in, false
	}
	if v := reflect.ValueOf(p); v.Kind() == reflect.Pointer && v.IsNil() {
		return in, false
	}
	h := p.Head()
	if h == nil || h.FromUserName == "" {
		return in, false
	}
	in.openid = h.FromUserName
	switch m := p.(type) {
	case *message.Text:
		in.message, in.hasText, in.text = true, true, strings.TrimSpace(m.Content)
	case *message.UserEnterTempSession:
		in.enter, in.session = true, m.SessionFrom
	default:
		switch {
		case h.MsgType == message.MsgTypeEvent:
			return in, false // events other than entering the session
		case h.MsgType == "":
			return in, false
		}
		in.message = true // an image, a card, or a message type this model does not know
	}
	return in, true
}

// Evaluate decides what to do with push p, received at now. It does no
// I/O and is safe for concurrent use.
func (e *Engine) Evaluate(p message.Push, now time.Time) Decision {
	d := Decision{Continue: true}
	in, ok := classify(p)
	if !ok {
		return d
	}
	d.OpenID = in.openid
	var lower string // in.text lowered, computed once when needed
	lowered := false
	var act *action
	for i := range e.rules {
		r := &e.rules[i]
		if r.match(&in, &lower, &lowered) {
			act = &r.act
			break
		}
	}
	if act == nil && in.message {
		act = e.fallback
	}
	if act != nil {
		d.Rule, d.Send, d.Typing, d.Continue = act.name, act.send, act.typing, act.cont
		if act.transfer && in.message {
			d.Passive = message.TransferCustomerService()
		}
	}
	if e.hours != nil {
		if start, closed := e.hours.closedSince(now); closed {
			d.Away = Away{Due: true, Period: start, Send: e.away}
		}
	}
	return d
}

// match reports whether r matches in; lower and lowered cache the
// lowered text across rules.
func (r *rule) match(in *input, lower *string, lowered *bool) bool {
	switch r.kind {
	case matchKeyword:
		if !in.hasText {
			return false
		}
		for _, w := range r.words {
			if in.text == w || r.fold && strings.EqualFold(in.text, w) {
				return true
			}
		}
	case matchContains:
		if !in.hasText {
			return false
		}
		for i, w := range r.words {
			switch r.folds[i] {
			case foldNone:
				if strings.Contains(in.text, w) {
					return true
				}
			case foldASCII:
				if containsFoldASCII(in.text, w) {
					return true
				}
			default:
				if !*lowered {
					*lower, *lowered = strings.ToLower(in.text), true
				}
				if strings.Contains(*lower, w) {
					return true
				}
			}
		}
	case matchRegex:
		return in.hasText && r.re.MatchString(in.text)
	case matchEnter:
		return in.enter && (r.anyFrom || in.session == r.from)
	}
	return false
}

// Outbox returns what to send for d, in order: the away message first
// when it is due and the ledger grants this user's closed period, then
// the matched rule's messages. When the ledger fails it returns the
// rule's messages and an error matching ErrLedger: the away message is
// skipped rather than risk sending it twice. The slice may be shared
// with the engine: do not change it.
func (e *Engine) Outbox(ctx context.Context, d Decision) ([]Outbound, error) {
	if !d.Away.Due || d.OpenID == "" || len(d.Away.Send) == 0 {
		return d.Send, nil
	}
	ok, err := e.ledger.Claim(ctx, e.app, d.OpenID, d.Away.Period)
	if err != nil {
		return d.Send, fmt.Errorf("%w: %w", ErrLedger, err)
	}
	if !ok {
		return d.Send, nil
	}
	out := make([]Outbound, 0, len(d.Away.Send)+len(d.Send))
	return append(append(out, d.Away.Send...), d.Send...), nil
}

// App returns the app the engine is for.
func (e *Engine) App() string { return e.app }

// Files returns the media files the rules send, for checks and warming.
func (e *Engine) Files() []string { return append([]string(nil), e.files...) }

// Warm uploads every media file of the rules that the cache does not
// hold yet, so that the first reply does not wait for an upload. It
// returns the uploads' errors joined; nil without a MediaCache.
func (e *Engine) Warm(ctx context.Context) error {
	if e.media == nil {
		return nil
	}
	var errs []error
	for _, f := range e.files {
		if _, err := e.media.MediaID(ctx, e.app, f); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// foldKind is how a contains word is compared.
type foldKind uint8

const (
	foldNone    foldKind = iota // exactly: case-sensitive, or a word without case (人工)
	foldASCII                   // an ASCII word, ignoring ASCII case, without allocating
	foldLowered                 // against the lowered text
)

// foldOf chooses how to compare the (lowered, when fold) word w.
func foldOf(w string, fold bool) foldKind {
	if !fold {
		return foldNone
	}
	ascii, cased := true, false
	for _, r := range w {
		ascii = ascii && r < utf8.RuneSelf
		cased = cased || unicode.SimpleFold(r) != r
	}
	switch {
	case !cased:
		return foldNone
	case ascii:
		return foldASCII
	}
	return foldLowered
}

// containsFoldASCII reports whether s holds sub, a lowercase ASCII word,
// in any ASCII case.
func containsFoldASCII(s, sub string) bool {
	n := len(sub)
	first, upper := sub[0], sub[0]
	if 'a' <= first && first <= 'z' {
		upper = first - 'a' + 'A'
	}
	for i := 0; i+n <= len(s); i++ {
		if s[i] != first && s[i] != upper {
			continue
		}
		j := 1
		for ; j < n; j++ {
			c := s[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == n {
			return true
		}
	}
	return false
}
