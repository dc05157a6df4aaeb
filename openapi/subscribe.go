package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Subscribe messages (订阅消息) reach a user outside the customer-service
// window: each time the user accepts a template in the mini program's
// subscribe popup (一次性订阅), the app may send that template once.
// API: POST /cgi-bin/message/subscribe/send, documented at
// https://developers.weixin.qq.com/miniprogram/dev/OpenApiDoc/mp-message-management/subscribe-message/sendMessage.html

// MiniProgramState is the version of the mini program a subscribe message
// opens when tapped (miniprogram_state).
type MiniProgramState string

// The values of MiniProgramState. The empty state lets WeChat use formal.
const (
	// StateDeveloper opens the development version.
	StateDeveloper MiniProgramState = "developer"
	// StateTrial opens the trial version.
	StateTrial MiniProgramState = "trial"
	// StateFormal opens the released version (WeChat's default).
	StateFormal MiniProgramState = "formal"
)

// Lang is the language of the "enter the mini program" link of a subscribe
// message (lang).
type Lang string

// The values of Lang. The empty Lang lets WeChat use zh_CN.
const (
	// LangZhCN is simplified Chinese (WeChat's default).
	LangZhCN Lang = "zh_CN"
	// LangEnUS is English.
	LangEnUS Lang = "en_US"
	// LangZhHK is traditional Chinese (Hong Kong).
	LangZhHK Lang = "zh_HK"
	// LangZhTW is traditional Chinese (Taiwan).
	LangZhTW Lang = "zh_TW"
)

// SubscribeData holds the values of a template's keywords, keyed by the
// keyword name from the template ("thing1", "time2", "amount3", ...). It is
// sent as WeChat's {"thing1":{"value":"…"}}; it decodes from that shape or
// from the flat {"thing1":"…"}, and takes numbers as their decimal text.
type SubscribeData map[string]string

// MarshalJSON encodes d as {"key":{"value":"…"}}, keys sorted, without HTML
// escaping.
func (d SubscribeData) MarshalJSON() ([]byte, error) {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, err := marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := marshal(d[k])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteString(`:{"value":`)
		b.Write(vb)
		b.WriteByte('}')
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes {"key":{"value":V}} or {"key":V}, where V is a
// string or a number; null gives a nil map.
func (d *SubscribeData) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("subscribe data must be an object of keyword values: %s", jsonReason(err))
	}
	if raw == nil {
		*d = nil
		return nil
	}
	out := make(SubscribeData, len(raw))
	for k, v := range raw {
		v = bytes.TrimSpace(v)
		if len(v) > 0 && v[0] == '{' {
			var item struct {
				Value json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal(v, &item); err != nil {
				return fmt.Errorf("data.%s: %s", k, jsonReason(err))
			}
			v = bytes.TrimSpace(item.Value)
		}
		s, ok := scalarText(v)
		if !ok {
			return fmt.Errorf("data.%s.value must be a string or a number", k)
		}
		out[k] = s
	}
	*d = out
	return nil
}

// scalarText returns a JSON string's content or a JSON number's text. A
// missing value gives "", which Validate reports as empty.
func scalarText(v json.RawMessage) (string, bool) {
	if len(v) == 0 || string(v) == "null" {
		return "", true
	}
	if v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	}
	var n json.Number
	if json.Unmarshal(v, &n) != nil {
		return "", false
	}
	return n.String(), true
}

// SubscribeMessage is the body of subscribeMessage.send. Its JSON encoding
// is WeChat's, so a request in WeChat's shape decodes into it.
type SubscribeMessage struct {
	// ToUser is the recipient's openid.
	ToUser string `json:"touser"`
	// TemplateID is the subscribe template, as listed in the mini program's
	// console (priTmplId).
	TemplateID string `json:"template_id"`
	// Page is the mini program page opened when the user taps the message,
	// e.g. "pages/order/index?id=7"; empty means the message opens nothing.
	Page string `json:"page,omitempty"`
	// Data holds the template's keyword values.
	Data SubscribeData `json:"data"`
	// MiniProgramState is the version Page opens; empty means formal.
	MiniProgramState MiniProgramState `json:"miniprogram_state,omitempty"`
	// Lang is the language of the message's link; empty means zh_CN.
	Lang Lang `json:"lang,omitempty"`
}

// argError is a local validation failure. It matches ErrInvalidArgument and
// the sentinel of the errcode WeChat would have answered, so a caller can
// handle both the same way.
type argError struct {
	also error
	msg  string
}

// Error returns "openapi: invalid argument: MSG".
func (e *argError) Error() string { return "openapi: invalid argument: " + e.msg }

// Is matches ErrInvalidArgument and the errcode's sentinel.
func (e *argError) Is(target error) bool {
	return target == ErrInvalidArgument || (e.also != nil && target == e.also)
}

func invalid(also error, format string, args ...any) error {
	return &argError{also: also, msg: fmt.Sprintf(format, args...)}
}

// maxPageLen bounds Page; WeChat documents no limit, this only stops
// absurd input.
const maxPageLen = 1024

// Validate checks m as WeChat would, without a round trip: an openid, a
// template id, a page without spaces or a scheme, a known miniprogram_state
// and lang, and every data value against the documented rules of its
// keyword's type (the prefix of the key: thing, number, letter, symbol,
// character_string, time, date, amount, phone_number, car_number, name,
// phrase, enum). Keys of other types need only be non-empty. Errors
// match ErrInvalidArgument and, where WeChat has an errcode for the
// problem, its sentinel: ErrInvalidOpenID, ErrInvalidTemplateID,
// ErrInvalidPage or ErrTemplateData. They name the field, never its
// value.
// Validate cannot know the template's keywords: a missing keyword is
// WeChat's 47003.
func (m SubscribeMessage) Validate() error {
	switch {
	case strings.TrimSpace(m.ToUser) == "":
		return invalid(ErrInvalidOpenID, "empty touser")
	case !printableNoSpace(m.ToUser):
		return invalid(ErrInvalidOpenID, "touser holds spaces or control characters")
	}
	switch {
	case strings.TrimSpace(m.TemplateID) == "":
		return invalid(ErrInvalidTemplateID, "empty template_id")
	case !printableNoSpace(m.TemplateID):
		return invalid(ErrInvalidTemplateID, "template_id holds spaces or control characters")
	}
	if m.Page != "" {
		switch {
		case len(m.Page) > maxPageLen:
			return invalid(ErrInvalidPage, "page longer than %d bytes", maxPageLen)
		case !printableNoSpace(m.Page):
			return invalid(ErrInvalidPage, "page holds spaces or control characters")
		case strings.Contains(m.Page, "://"):
			return invalid(ErrInvalidPage, "page must be a page of the mini program such as \"pages/index/index?id=1\", not a URL")
		}
	}
	switch m.MiniProgramState {
	case "", StateDeveloper, StateTrial, StateFormal:
	default:
		return invalid(nil, "miniprogram_state must be developer, trial or formal")
	}
	switch m.Lang {
	case "", LangZhCN, LangEnUS, LangZhHK, LangZhTW:
	default:
		return invalid(nil, "lang must be zh_CN, en_US, zh_HK or zh_TW")
	}
	if len(m.Data) == 0 {
		return invalid(ErrTemplateData, "empty data: give the template's keyword values, e.g. {\"thing1\":\"…\"}")
	}
	keys := make([]string, 0, len(m.Data))
	for k := range m.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the same error every time
	for _, k := range keys {
		kind, ok := keywordType(k)
		if !ok {
			return invalid(ErrTemplateData, "data key %q is not a template keyword such as thing1 or character_string2", truncateRunes(k, 40))
		}
		if reason := checkKeywordValue(kind, m.Data[k]); reason != "" {
			return invalid(ErrTemplateData, "data.%s.value %s", k, reason)
		}
	}
	return nil
}

// printableNoSpace reports whether s is valid UTF-8 without spaces or
// control characters.
func printableNoSpace(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func truncateRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i] + "…"
		}
		n--
	}
	return s
}

// keywordType returns the type of a keyword such as "thing1" or
// "character_string02": lower-case letters and underscores, then digits.
func keywordType(key string) (string, bool) {
	i := len(key)
	for i > 0 && key[i-1] >= '0' && key[i-1] <= '9' {
		i--
	}
	if i == 0 || i == len(key) || len(key) > 64 {
		return "", false
	}
	kind := key[:i]
	if kind[0] == '_' || kind[len(kind)-1] == '_' {
		return "", false
	}
	for j := 0; j < len(kind); j++ {
		if c := kind[j]; !(c >= 'a' && c <= 'z' || c == '_') {
			return "", false
		}
	}
	return kind, true
}

// Character classes of WeChat's value rules: 字母 are ASCII letters, 数字
// ASCII digits, 符号 any other printable character that is neither a letter
// nor a digit (no line breaks or other control characters).
func isASCIILetter(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
func isDigit(r rune) bool       { return r >= '0' && r <= '9' }
func isHan(r rune) bool         { return unicode.Is(unicode.Han, r) }
func isSymbol(r rune) bool {
	return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsControl(r) && (unicode.IsPrint(r) || unicode.IsSpace(r))
}

// checkKeywordValue returns why v breaks the rule of its type, or "". The
// rules are WeChat's (参数值内容限制说明); where WeChat's wording leaves room,
// the check accepts, since WeChat has the last word (47003).
func checkKeywordValue(kind, v string) string {
	if strings.TrimSpace(v) == "" {
		return "is empty"
	}
	if !utf8.ValidString(v) {
		return "is not valid UTF-8"
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return "holds a line break or another control character"
		}
	}
	n := utf8.RuneCountInString(v)
	all := func(ok func(rune) bool) bool {
		for _, r := range v {
			if !ok(r) {
				return false
			}
		}
		return true
	}
	switch kind {
	case "thing":
		if n > 20 {
			return fmt.Sprintf("has %d characters; thing allows 20", n)
		}
	case "number":
		if n > 32 || !isDecimal(v) {
			return "must be a number of at most 32 digits, such as 12 or 3.5"
		}
	case "letter":
		if n > 32 || !all(isASCIILetter) {
			return "must be at most 32 letters (a-z, A-Z)"
		}
	case "symbol":
		if n > 5 || !all(isSymbol) {
			return "must be at most 5 symbols (no letters or digits)"
		}
	case "character_string":
		if n > 32 || !all(func(r rune) bool { return isDigit(r) || isASCIILetter(r) || isSymbol(r) }) {
			return "must be at most 32 digits, letters (a-z, A-Z) or symbols, without Chinese"
		}
	case "time":
		if !isTimeValue(v, false) {
			return "must be a 24-hour time such as 15:01 or 2019年10月1日 15:01, or two joined by ~"
		}
	case "date":
		if !isTimeValue(v, true) {
			return "must be a date such as 2019年10月1日, 2019-10-01 or 2019-10-01 15:01, or two joined by ~"
		}
	case "amount":
		if !isAmount(v) {
			return "must be an amount such as ￥100, 100.50 or 100元: at most one currency sign and 10 integer digits"
		}
	case "phone_number":
		if n > 17 || !all(func(r rune) bool { return isDigit(r) || isSymbol(r) }) {
			return "must be at most 17 digits or symbols, such as +86-0766-66888866"
		}
	case "car_number":
		if !isCarNumber(v) {
			return "must be a plate of at most 8 characters, letters or digits, the first and last may be Chinese, such as 粤A8Z888挂"
		}
	case "name":
		hasHan := strings.IndexFunc(v, isHan) >= 0
		switch {
		case hasHan && n > 10:
			return fmt.Sprintf("has %d characters; a Chinese name allows 10", n)
		case !hasHan && n > 20:
			return fmt.Sprintf("has %d characters; a name in letters allows 20", n)
		}
	case "phrase":
		if n > 5 || !all(isHan) {
			return "must be at most 5 Chinese characters, such as 配送中"
		}
	default: // enum and types this package does not know
		if n > 200 {
			return fmt.Sprintf("has %d characters", n)
		}
	}
	return ""
}

// isDecimal reports whether s is digits with an optional fraction.
func isDecimal(s string) bool {
	whole, frac, hasDot := strings.Cut(s, ".")
	return digitsOnly(whole) && whole != "" && (!hasDot || frac != "" && digitsOnly(frac))
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isAmount accepts an optional currency sign, at most 10 integer digits,
// an optional fraction and an optional trailing 元.
func isAmount(s string) bool {
	if r, size := utf8.DecodeRuneInString(s); unicode.Is(unicode.Sc, r) {
		s = s[size:]
	}
	s = strings.TrimSuffix(s, "元")
	whole, _, _ := strings.Cut(s, ".")
	return isDecimal(s) && len(whole) <= 10
}

// isCarNumber: at most 8 characters, letters or digits, the first and the
// last may also be Chinese.
func isCarNumber(s string) bool {
	rs := []rune(s)
	if len(rs) > 8 {
		return false
	}
	for i, r := range rs {
		if isDigit(r) || isASCIILetter(r) || (i == 0 || i == len(rs)-1) && isHan(r) {
			continue
		}
		return false
	}
	return true
}

// isTimeValue accepts WeChat's time and date values: a date (y年m月d日,
// y年m月, m月d日, or y-m-d, y-m, m-d with -, / or . between the numbers), a
// 24-hour time (HH:MM or HH:MM:SS), or a date followed by a time, and two
// such points joined by an ASCII ~ (a period). needDate requires the date
// part (the date type); the time type takes any of the three forms.
func isTimeValue(s string, needDate bool) bool {
	parts := strings.Split(s, "~")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		p = strings.TrimSpace(p)
		date, clock := p, ""
		if i := strings.LastIndexAny(p, " \u3000"); i >= 0 {
			date, clock = strings.TrimSpace(p[:i]), p[i+1:]
		} else if isClock(p) {
			date, clock = "", p
		} else if i := strings.LastIndex(p, "日"); i >= 0 && i+len("日") < len(p) { // 2019年10月1日15:01
			date, clock = p[:i+len("日")], p[i+len("日"):]
		}
		if date == "" && (needDate || clock == "") || date != "" && !isDate(date) || clock != "" && !isClock(clock) {
			return false
		}
	}
	return true
}

// isClock accepts HH:MM and HH:MM:SS on a 24-hour clock (H:MM too).
func isClock(s string) bool {
	f := strings.Split(s, ":")
	if len(f) < 2 || len(f) > 3 {
		return false
	}
	if h, ok := smallInt(f[0], 2); !ok || h > 23 {
		return false
	}
	for _, x := range f[1:] {
		if n, ok := smallInt(x, 2); !ok || len(x) != 2 || n > 59 {
			return false
		}
	}
	return true
}

// isDate accepts y年m月d日, y年m月, m月d日 and the same with -, / or .
// between the numbers (2018-01-01, 2018-01, 01-01).
func isDate(s string) bool {
	var fields []string
	if strings.ContainsAny(s, "年月日") {
		rest := s
		for _, unit := range []string{"年", "月", "日"} {
			if i := strings.Index(rest, unit); i >= 0 {
				fields = append(fields, rest[:i]+unit)
				rest = rest[i+len(unit):]
			}
		}
		if rest != "" {
			return false
		}
		var units string
		for i, f := range fields {
			u := f[len(f)-len("年"):]
			units += u
			fields[i] = f[:len(f)-len(u)]
		}
		switch units {
		case "年月日", "年月", "月日":
		default:
			return false
		}
		return dateFields(fields, units[:len("年")] == "年")
	}
	sep := ""
	for _, c := range []string{"-", "/", "."} {
		if strings.Contains(s, c) {
			if sep != "" {
				return false
			}
			sep = c
		}
	}
	if sep == "" {
		return false
	}
	fields = strings.Split(s, sep)
	if len(fields) < 2 || len(fields) > 3 {
		return false
	}
	return dateFields(fields, len(fields) == 3 || len(fields[0]) == 4)
}

// dateFields checks [year,] month [, day] (withYear) or month, day.
func dateFields(f []string, withYear bool) bool {
	if withYear {
		if _, ok := smallInt(f[0], 4); !ok || len(f[0]) != 4 {
			return false
		}
		f = f[1:]
	}
	if len(f) == 0 || len(f) > 2 {
		return false
	}
	if m, ok := smallInt(f[0], 2); !ok || m < 1 || m > 12 {
		return false
	}
	if len(f) == 2 {
		if d, ok := smallInt(f[1], 2); !ok || d < 1 || d > 31 {
			return false
		}
	}
	return true
}

// smallInt parses 1 to maxDigits ASCII digits.
func smallInt(s string, maxDigits int) (int, bool) {
	if s == "" || len(s) > maxDigits || !digitsOnly(s) {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// subscribeAnswer is subscribe/send's success answer.
type subscribeAnswer struct {
	MsgID json.RawMessage `json:"msgid"`
}

// SendSubscribeMessage validates m (see Validate) and sends it with
// subscribeMessage.send. It returns the msgid WeChat gives, which the
// subscribe_msg_sent_event push carries later, or "" when the answer has
// none. Each acceptance of the template by the user allows one message:
// without one WeChat answers 43101 (ErrNotSubscribed). Other errors:
// 40003 (ErrInvalidOpenID), 40037 (ErrInvalidTemplateID), 41030
// (ErrInvalidPage), 47003 (ErrTemplateData; the errmsg names the field).
// Token errors and -1 are handled as for every call; no other errcode is
// retried.
func (c *Client) SendSubscribeMessage(ctx context.Context, m SubscribeMessage) (string, error) {
	if err := m.Validate(); err != nil {
		return "", err
	}
	body, err := marshal(&m)
	if err != nil {
		return "", fmt.Errorf("%w: encoding message: %v", ErrInvalidArgument, err)
	}
	var ans subscribeAnswer
	if err := c.call(ctx, &exchange{op: "cgi-bin/message/subscribe/send", method: "POST", body: body,
		contentType: "application/json", out: &ans}, nil); err != nil {
		return "", err
	}
	return msgIDText(ans.MsgID), nil
}

// msgIDText returns the msgid as decimal text, from a JSON number (19
// digits: not through float64) or string. Anything else gives "": the
// message was sent, and failing the call would only make the caller send
// it again.
func msgIDText(raw json.RawMessage) string {
	s, ok := scalarText(bytes.TrimSpace(raw))
	if !ok || s == "" || len(s) > 32 || !digitsOnly(s) {
		return ""
	}
	return s
}
