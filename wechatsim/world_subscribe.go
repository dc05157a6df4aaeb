package wechatsim

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Subscribe messages (订阅消息) live in the World: each app's templates, and
// each user's acceptances. In WeChat a user accepts a template in the mini
// program's subscribe popup (wx.requestSubscribeMessage), WeChat pushes a
// subscribe_msg_popup_event, and the app may then send that template to the
// user once (一次性订阅): every acceptance allows one message, acceptances
// add up, and turning the template off in the settings
// (subscribe_msg_change_event with reject) cancels those not used. The push
// client tells the World with NoteSubscribe and CancelSubscribe; the mock's
// message/subscribe/send uses one acceptance per message.

// ErrBadTemplate is returned by AddTemplate for a template the emulator
// cannot register (unknown app, bad keyword, id of another app, ...).
var ErrBadTemplate = errors.New("wechatsim: invalid subscribe template")

// Subscription statuses used in Subscription.Status, as WeChat spells them
// in SubscribeStatusString (SubscribeCanceled is the emulator's name for a
// reject in subscribe_msg_change_event).
const (
	// SubscribeAccepted: the user accepted the template in the popup.
	SubscribeAccepted = "accept"
	// SubscribeRejected: the user rejected it in the popup; acceptances
	// noted earlier still hold.
	SubscribeRejected = "reject"
	// SubscribeCanceled: the user turned the template off in the settings;
	// the acceptances not used are gone.
	SubscribeCanceled = "cancel"
)

// maxTemplates bounds the templates a World keeps.
const maxTemplates = 10000

// KeywordTypes are the keyword types a template may use, the prefix of a
// keyword name such as "thing1" (WeChat's 参数值内容限制说明).
var KeywordTypes = []string{"thing", "number", "letter", "symbol", "character_string", "time", "date", "amount",
	"phone_number", "car_number", "name", "phrase", "enum"}

// Template is a subscribe-message template of an app.
type Template struct {
	// AppID is the app that owns the template; its tokens alone may send it.
	AppID string `json:"appid"`
	// TemplateID identifies the template in subscribe/send (WeChat's
	// priTmplId, 43 base64url characters).
	TemplateID string `json:"template_id"`
	// Title is the template's title, e.g. "订单发货提醒".
	Title string `json:"title,omitempty"`
	// Keywords are the template's data keys in order, e.g. ["thing1",
	// "character_string2", "time3"]. Every one must be filled when sending.
	Keywords []string `json:"keywords"`
}

// Subscription is what a user allowed for one template.
type Subscription struct {
	// OpenID is the user.
	OpenID string `json:"openid"`
	// TemplateID is the template.
	TemplateID string `json:"template_id"`
	// Remaining is how many messages the app may still send: acceptances
	// not yet used.
	Remaining int `json:"remaining"`
	// Accepted counts the acceptances noted.
	Accepted int `json:"accepted"`
	// Sent counts the messages sent with them.
	Sent int `json:"sent"`
	// Status is the user's last choice: SubscribeAccepted,
	// SubscribeRejected, SubscribeCanceled, or "" when never asked.
	Status string `json:"status,omitempty"`
	// UpdatedAt is when Status last changed.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

type subKey struct{ openid, templateID string }

// subscribeState is the World's subscribe data; World.mu guards it.
type subscribeState struct {
	templates map[string]*Template // by template id
	order     []string             // template ids as added
	grants    map[subKey]*Subscription
	grantList []subKey
}

// AddTemplate registers a subscribe template and returns it as stored. An
// empty AppID means the first app registered; an empty TemplateID gets a
// random one. Keywords must be one or more distinct names of a type in
// KeywordTypes followed by digits ("thing1"). Adding a template id the app
// already has replaces it. Errors wrap ErrBadTemplate.
func (w *World) AddTemplate(t Template) (Template, error) {
	t.Keywords = append([]string(nil), t.Keywords...)
	if len(t.Keywords) == 0 || len(t.Keywords) > 20 {
		return Template{}, fmt.Errorf("%w: give 1 to 20 keywords such as thing1, time2", ErrBadTemplate)
	}
	seen := make(map[string]bool, len(t.Keywords))
	for _, k := range t.Keywords {
		kind, ok := keywordKind(k)
		if !ok || !knownKeywordType(kind) {
			return Template{}, fmt.Errorf("%w: keyword %q is not a type of %s followed by digits", ErrBadTemplate,
				truncate(k, 40), strings.Join(KeywordTypes, ", "))
		}
		if seen[k] {
			return Template{}, fmt.Errorf("%w: keyword %q given twice", ErrBadTemplate, k)
		}
		seen[k] = true
	}
	if t.TemplateID != "" && (len(t.TemplateID) > 128 || strings.IndexFunc(t.TemplateID, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
	}) >= 0) {
		return Template{}, fmt.Errorf("%w: template_id must be at most 128 characters without spaces", ErrBadTemplate)
	}
	if utf8.RuneCountInString(t.Title) > 100 {
		return Template{}, fmt.Errorf("%w: title longer than 100 characters", ErrBadTemplate)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.AppID == "" {
		if len(w.appOrder) == 0 {
			return Template{}, fmt.Errorf("%w: the World has no app", ErrBadTemplate)
		}
		t.AppID = w.appOrder[0]
	}
	if _, ok := w.apps[t.AppID]; !ok {
		return Template{}, fmt.Errorf("%w: unknown appid %q", ErrBadTemplate, truncate(t.AppID, 40))
	}
	s := &w.subs
	if s.templates == nil {
		s.templates = make(map[string]*Template)
		s.grants = make(map[subKey]*Subscription)
	}
	if t.TemplateID == "" {
		for t.TemplateID == "" || s.templates[t.TemplateID] != nil {
			t.TemplateID = randomString(43)
		}
	}
	if old := s.templates[t.TemplateID]; old != nil {
		if old.AppID != t.AppID {
			return Template{}, fmt.Errorf("%w: template_id %q belongs to app %s", ErrBadTemplate, t.TemplateID, old.AppID)
		}
	} else {
		if len(s.order) >= maxTemplates {
			return Template{}, fmt.Errorf("%w: the World keeps at most %d templates", ErrBadTemplate, maxTemplates)
		}
		s.order = append(s.order, t.TemplateID)
	}
	stored := t
	s.templates[t.TemplateID] = &stored
	return copyTemplate(stored), nil
}

func copyTemplate(t Template) Template {
	t.Keywords = append([]string(nil), t.Keywords...)
	return t
}

// RemoveTemplate deletes a template (sending it then gives 40037) and
// reports whether it existed. Acceptances noted for it are kept, as WeChat
// keeps them for a template added again.
func (w *World) RemoveTemplate(templateID string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := &w.subs
	if s.templates[templateID] == nil {
		return false
	}
	delete(s.templates, templateID)
	for i, id := range s.order {
		if id == templateID {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	return true
}

// Template returns the template with the given id.
func (w *World) Template(templateID string) (Template, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t := w.subs.templates[templateID]
	if t == nil {
		return Template{}, false
	}
	return copyTemplate(*t), true
}

// Templates returns the templates of appID (of every app when appID is
// empty) in the order they were added.
func (w *World) Templates(appID string) []Template {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []Template{}
	for _, id := range w.subs.order {
		if t := w.subs.templates[id]; appID == "" || t.AppID == appID {
			out = append(out, copyTemplate(*t))
		}
	}
	return out
}

// NoteSubscribe tells the World what the user chose for a template in the
// subscribe popup, as a subscribe_msg_popup_event reports it
// (SubscribeStatusString "accept" or "reject"). Each acceptance allows one
// more message of that template; a rejection allows nothing and leaves
// earlier acceptances alone. The template need not be registered yet. The
// user is added when unknown; an empty openid or template id is ignored.
func (w *World) NoteSubscribe(openid, templateID string, accept bool) {
	status := SubscribeRejected
	if accept {
		status = SubscribeAccepted
	}
	w.updateGrant(openid, templateID, func(g *Subscription) {
		if accept {
			g.Accepted++
			g.Remaining++
		}
		g.Status = status
	})
}

// CancelSubscribe tells the World that the user turned the template off in
// the mini program's settings, as a subscribe_msg_change_event with
// SubscribeStatusString "reject" reports it: the acceptances not used are
// gone, and sending gives 43101 until the user accepts again.
func (w *World) CancelSubscribe(openid, templateID string) {
	w.updateGrant(openid, templateID, func(g *Subscription) {
		g.Remaining = 0
		g.Status = SubscribeCanceled
	})
}

func (w *World) updateGrant(openid, templateID string, f func(*Subscription)) {
	if openid == "" || templateID == "" {
		return
	}
	now := w.clock.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ensureLocked(openid)
	s := &w.subs
	if s.grants == nil {
		s.templates = make(map[string]*Template)
		s.grants = make(map[subKey]*Subscription)
	}
	k := subKey{openid, templateID}
	g := s.grants[k]
	if g == nil {
		g = &Subscription{OpenID: openid, TemplateID: templateID}
		s.grants[k] = g
		s.grantList = append(s.grantList, k)
	}
	f(g)
	g.UpdatedAt = now
}

// useSubscription takes one acceptance of the template from the user; it
// reports false when none is left.
func (w *World) useSubscription(openid, templateID string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	g := w.subs.grants[subKey{openid, templateID}]
	if g == nil || g.Remaining <= 0 {
		return false
	}
	g.Remaining--
	g.Sent++
	return true
}

// Subscription returns what the user allowed for the template (the zero
// counts when nothing was noted).
func (w *World) Subscription(openid, templateID string) Subscription {
	w.mu.Lock()
	defer w.mu.Unlock()
	if g := w.subs.grants[subKey{openid, templateID}]; g != nil {
		return *g
	}
	return Subscription{OpenID: openid, TemplateID: templateID}
}

// Subscriptions returns the user's subscriptions (everyone's when openid is
// empty) in the order they were first noted.
func (w *World) Subscriptions(openid string) []Subscription {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := []Subscription{}
	for _, k := range w.subs.grantList {
		if openid == "" || k.openid == openid {
			out = append(out, *w.subs.grants[k])
		}
	}
	return out
}

// ---- keyword values, as subscribe/send checks them ----

var keywordRE = regexp.MustCompile(`^([a-z]+(?:_[a-z]+)*)[0-9]+$`)

// keywordKind returns the type prefix of a keyword name ("thing1" gives
// "thing").
func keywordKind(key string) (string, bool) {
	m := keywordRE.FindStringSubmatch(key)
	if m == nil || len(key) > 64 {
		return "", false
	}
	return m[1], true
}

func knownKeywordType(kind string) bool {
	for _, k := range KeywordTypes {
		if k == kind {
			return true
		}
	}
	return false
}

// sym is WeChat's 符号: anything printable but a letter or a digit.
const sym = `[^\p{L}\p{Nd}\p{C}]`

var (
	numberRE  = regexp.MustCompile(`^[0-9]+(?:\.[0-9]+)?$`)
	letterRE  = regexp.MustCompile(`^[A-Za-z]+$`)
	symbolRE  = regexp.MustCompile(`^` + sym + `+$`)
	charStrRE = regexp.MustCompile(`^(?:[0-9A-Za-z]|` + sym + `)+$`)
	phoneRE   = regexp.MustCompile(`^(?:[0-9]|` + sym + `)+$`)
	carRE     = regexp.MustCompile(`^\p{Han}?[0-9A-Za-z]*\p{Han}?$`)
	phraseRE  = regexp.MustCompile(`^\p{Han}+$`)
	amountRE  = regexp.MustCompile(`^\p{Sc}?[0-9]{1,10}(?:\.[0-9]+)?元?$`)
	clockRE   = regexp.MustCompile(`^(?P<date>.*?)(?P<gap>[ \x{3000}]*)(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2}))?$`)
	dateREs   = []*regexp.Regexp{
		regexp.MustCompile(`^(?P<y>[0-9]{4})年(?P<m>[0-9]{1,2})月(?:(?P<d>[0-9]{1,2})日)?$`),
		regexp.MustCompile(`^(?P<m>[0-9]{1,2})月(?P<d>[0-9]{1,2})日$`),
		regexp.MustCompile(`^(?P<y>[0-9]{4})-(?P<m>[0-9]{1,2})(?:-(?P<d>[0-9]{1,2}))?$`),
		regexp.MustCompile(`^(?P<y>[0-9]{4})/(?P<m>[0-9]{1,2})(?:/(?P<d>[0-9]{1,2}))?$`),
		regexp.MustCompile(`^(?P<y>[0-9]{4})\.(?P<m>[0-9]{1,2})(?:\.(?P<d>[0-9]{1,2}))?$`),
		regexp.MustCompile(`^(?P<m>[0-9]{1,2})[-/.](?P<d>[0-9]{1,2})$`),
	}
)

// keywordValueProblem returns why v is not a valid value for a keyword of
// the given type, or "" when it is.
func keywordValueProblem(kind, v string) string {
	if strings.TrimSpace(v) == "" {
		return "is empty"
	}
	if !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return "holds invalid UTF-8 or a control character"
	}
	n := utf8.RuneCountInString(v)
	bad := func(limit int, re *regexp.Regexp) bool { return n > limit || (re != nil && !re.MatchString(v)) }
	switch kind {
	case "thing":
		if bad(20, nil) {
			return "thing allows 20 characters"
		}
	case "number":
		if bad(32, numberRE) {
			return "number allows 32 digits, with an optional fraction"
		}
	case "letter":
		if bad(32, letterRE) {
			return "letter allows 32 letters"
		}
	case "symbol":
		if bad(5, symbolRE) {
			return "symbol allows 5 symbols"
		}
	case "character_string":
		if bad(32, charStrRE) {
			return "character_string allows 32 digits, letters or symbols"
		}
	case "phone_number":
		if bad(17, phoneRE) {
			return "phone_number allows 17 digits or symbols"
		}
	case "car_number":
		if bad(8, carRE) {
			return "car_number allows 8 letters or digits, the first and last may be Chinese"
		}
	case "phrase":
		if bad(5, phraseRE) {
			return "phrase allows 5 Chinese characters"
		}
	case "amount":
		if !amountRE.MatchString(v) {
			return "amount is a currency sign, at most 10 integer digits, an optional fraction and 元"
		}
	case "name":
		if strings.IndexFunc(v, func(r rune) bool { return unicode.Is(unicode.Han, r) }) >= 0 {
			if n > 10 {
				return "a Chinese name allows 10 characters"
			}
		} else if n > 20 {
			return "a name in letters allows 20 characters"
		}
	case "time", "date":
		for _, p := range strings.Split(v, "~") {
			if !timePoint(strings.TrimSpace(p), kind == "date") {
				return kind + " must read like 15:01, 2019年10月1日 or 2019-10-01 15:01 (two joined by ~)"
			}
		}
		if strings.Count(v, "~") > 1 {
			return kind + " allows one ~"
		}
	default: // enum: the emulator does not know the values
		if n > 200 {
			return "too long"
		}
	}
	return ""
}

// timePoint checks one date, time, or date and time.
func timePoint(p string, needDate bool) bool {
	date := p
	if m := clockRE.FindStringSubmatch(p); m != nil {
		g := func(name string) string { return m[clockRE.SubexpIndex(name)] }
		if !inRange(g("h"), 0, 23) || !inRange(g("mi"), 0, 59) || g("s") != "" && !inRange(g("s"), 0, 59) {
			return false
		}
		date = g("date")
		if date != "" && g("gap") == "" && !strings.HasSuffix(date, "日") {
			return false
		}
		if date == "" {
			return !needDate
		}
	}
	for _, re := range dateREs {
		m := re.FindStringSubmatch(date)
		if m == nil {
			continue
		}
		month, day := m[re.SubexpIndex("m")], ""
		if i := re.SubexpIndex("d"); i >= 0 {
			day = m[i]
		}
		return inRange(month, 1, 12) && (day == "" || inRange(day, 1, 31))
	}
	return false
}

func inRange(digits string, lo, hi int) bool {
	n := 0
	for _, c := range digits {
		n = n*10 + int(c-'0')
	}
	return digits != "" && n >= lo && n <= hi
}
