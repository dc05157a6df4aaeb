package config

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Limits of the rules section.
const (
	// MaxImageSize is the largest image file a rule may send (image, or a
	// mini program card's thumb_media).
	MaxImageSize = 2 << 20
	// MaxRepliesAfterMessage is how many customer-service messages WeChat
	// lets a mini program send in answer to one user message.
	MaxRepliesAfterMessage = 5
	// MaxRepliesAfterEnter is how many it allows within a minute of the
	// user entering the session.
	MaxRepliesAfterEnter = 2
)

// Names a rule may not take: the engine uses them for the fallback and
// the away message.
const (
	RuleNameFallback = "fallback"
	RuleNameAway     = "away"
)

// Rules are an app's automatic answers (docs/configuration.md, "Rules"):
// rules tried in order, the first that matches wins; a fallback for the
// user messages that no rule matched; office hours with an away message.
// Package gateway/rules compiles them into an engine. They cannot be set
// by variables or flags.
type Rules struct {
	// Rules are tried in order; the first that matches wins.
	Rules []Rule `yaml:"rules" json:"rules,omitempty"`
	// Fallback answers a user message (not an event) no rule matched.
	Fallback *Actions `yaml:"fallback" json:"fallback,omitempty"`
	// OfficeHours, when set, sends an away message outside them.
	OfficeHours *OfficeHours `yaml:"office_hours" json:"office_hours,omitempty"`

	pos Position
}

// IsSet reports whether the app has any rule, fallback or office hours.
func (r Rules) IsSet() bool {
	return len(r.Rules) > 0 || r.Fallback != nil || r.OfficeHours != nil
}

// Pos returns where the section is in the file.
func (r Rules) Pos() Position { return r.pos }

// Rule is one rule: what it matches and what it does.
type Rule struct {
	// Name identifies the rule in logs and in the outbound records.
	// Optional: the default is its path, "rules[2]".
	Name string `yaml:"name" json:"name,omitempty"`
	// Match says which pushes the rule answers.
	Match Match `yaml:"match" json:"match"`
	// Actions are what the rule does.
	Actions `yaml:",inline"`
}

// Match selects pushes. Exactly one of Keyword, Contains, Regex and
// EnterSession is set. Keyword, Contains and Regex match text messages,
// their content trimmed of surrounding space.
type Match struct {
	// Keyword matches a text equal to one of these.
	Keyword []string `yaml:"keyword" json:"keyword,omitempty"`
	// Contains matches a text holding one of these.
	Contains []string `yaml:"contains" json:"contains,omitempty"`
	// Regex matches a text the Go (RE2) regular expression matches
	// anywhere; anchor it with ^ and $ to match the whole text.
	Regex string `yaml:"regex" json:"regex,omitempty"`
	// IgnoreCase makes Keyword, Contains and Regex case-insensitive.
	IgnoreCase bool `yaml:"ignore_case" json:"ignore_case,omitempty"`
	// EnterSession matches the user_enter_tempsession event.
	EnterSession bool `yaml:"enter_session" json:"enter_session,omitempty"`
	// SessionFrom, with EnterSession, matches only the event whose
	// SessionFrom equals it (the contact button's session-from); nil
	// matches any.
	SessionFrom *string `yaml:"session_from" json:"session_from,omitempty"`
}

// Kinds lists the kinds of match set ("keyword", "contains", "regex",
// "enter_session"): exactly one in a valid rule.
func (m *Match) Kinds() []string {
	var out []string
	if len(m.Keyword) > 0 {
		out = append(out, "keyword")
	}
	if len(m.Contains) > 0 {
		out = append(out, "contains")
	}
	if m.Regex != "" {
		out = append(out, "regex")
	}
	if m.EnterSession {
		out = append(out, "enter_session")
	}
	return out
}

// Actions are what a rule (or the fallback) does.
type Actions struct {
	// Reply are customer-service messages sent to the user, in order.
	Reply []Message `yaml:"reply" json:"reply,omitempty"`
	// Transfer answers the push passively with transfer_customer_service,
	// handing the conversation to the customer-service tool. User
	// messages only.
	Transfer bool `yaml:"transfer" json:"transfer,omitempty"`
	// Typing shows the typing indicator while the destinations work.
	Typing bool `yaml:"typing" json:"typing,omitempty"`
	// Continue still delivers the push to the destinations. The file's
	// default is true; Actions built in code must set it.
	Continue bool `yaml:"continue" json:"continue"`

	continueSet bool
}

// Message is one customer-service message: exactly one of its fields is
// set. In the file a message may also be a plain string, a text.
type Message struct {
	// Text is a text message.
	Text string `yaml:"text" json:"text,omitempty"`
	// Image is an image file (PNG, JPEG or GIF, at most MaxImageSize),
	// uploaded as temporary media. A relative path is relative to the
	// configuration file's directory; this holds the resolved path.
	Image string `yaml:"image" json:"image,omitempty"`
	// Link is a link card.
	Link *Link `yaml:"link" json:"link,omitempty"`
	// MiniProgramPage is a mini program card.
	MiniProgramPage *MiniProgramPage `yaml:"miniprogrampage" json:"miniprogrampage,omitempty"`
}

// Type returns the message's msgtype ("text", "image", "link",
// "miniprogrampage"), or "" when none or several of its fields are set.
func (m *Message) Type() string {
	typ, n := "", 0
	if m.Text != "" {
		typ, n = "text", n+1
	}
	if m.Image != "" {
		typ, n = "image", n+1
	}
	if m.Link != nil {
		typ, n = "link", n+1
	}
	if m.MiniProgramPage != nil {
		typ, n = "miniprogrampage", n+1
	}
	if n != 1 {
		return ""
	}
	return typ
}

// Link is a link card.
type Link struct {
	// Title is the card's title. Required.
	Title string `yaml:"title" json:"title"`
	// Description is the card's text.
	Description string `yaml:"description" json:"description,omitempty"`
	// URL is opened when the user taps the card. Required.
	URL string `yaml:"url" json:"url"`
	// ThumbURL is the card's picture.
	ThumbURL string `yaml:"thumb_url" json:"thumb_url,omitempty"`
}

// MiniProgramPage is a mini program card.
type MiniProgramPage struct {
	// Title is the card's title. Required.
	Title string `yaml:"title" json:"title"`
	// PagePath is the page the card opens, with its query. Required.
	PagePath string `yaml:"pagepath" json:"pagepath"`
	// ThumbMedia is the cover image file, uploaded like Message.Image; or
	// give ThumbMediaID.
	ThumbMedia string `yaml:"thumb_media" json:"thumb_media,omitempty"`
	// ThumbMediaID is a cover image already uploaded (a permanent media).
	ThumbMediaID string `yaml:"thumb_media_id" json:"thumb_media_id,omitempty"`
}

// OfficeHours are the weekly windows in which the team answers; outside
// them the Away message is sent, at most once per user per closed
// period.
type OfficeHours struct {
	// TimeZone is an IANA time zone name, like Asia/Shanghai. Required.
	TimeZone string `yaml:"time_zone" json:"time_zone"`
	// Windows are when the office is open, in TimeZone's wall-clock time.
	Windows []Window `yaml:"windows" json:"windows"`
	// Away is sent outside the windows.
	Away []Message `yaml:"away" json:"away"`

	loc *time.Location
}

// Location returns TimeZone loaded, once the configuration is validated;
// until then, nil.
func (o *OfficeHours) Location() *time.Location { return o.loc }

// Window is a weekly window, written "mon-fri 09:00-18:00": on each of
// Days, from Start to End, in wall-clock minutes after midnight. End at
// or before Start means the window ends on the next day ("fri
// 22:00-02:00" is open from Friday 22:00 to Saturday 02:00); End may be
// 1440 (24:00).
type Window struct {
	// Days are the days the window starts on, by time.Weekday.
	Days [7]bool
	// Start and End are minutes after midnight.
	Start, End int
}

// dayNames are the days as written, by time.Weekday.
var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// ParseWindow parses a window: days (a day, a range like mon-fri or
// fri-mon, a comma-separated list of those, or daily) and a time range
// HH:MM-HH:MM.
func ParseWindow(s string) (Window, error) {
	var w Window
	f := strings.Fields(s)
	if len(f) < 2 {
		return w, fmt.Errorf("%s is not days and hours, like mon-fri 09:00-18:00", quoteShort(s))
	}
	if err := w.parseDays(strings.ToLower(f[0])); err != nil {
		return w, err
	}
	from, to, ok := strings.Cut(strings.Join(f[1:], ""), "-")
	if !ok {
		return w, fmt.Errorf("%s is not a time range like 09:00-18:00", quoteShort(strings.Join(f[1:], " ")))
	}
	var err error
	if w.Start, err = parseClock(from, false); err != nil {
		return w, err
	}
	if w.End, err = parseClock(to, true); err != nil {
		return w, err
	}
	if w.Start == w.End {
		return w, fmt.Errorf("%s-%s is empty: the end must differ from the start (00:00-24:00 is the whole day)", from, to)
	}
	return w, nil
}

func (w *Window) parseDays(s string) error {
	if s == "daily" {
		w.Days = [7]bool{true, true, true, true, true, true, true}
		return nil
	}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(part, "-")
		from, ok := parseDay(a)
		if !ok {
			return fmt.Errorf("%s is not a day: use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, or daily", quoteShort(a))
		}
		to := from
		if isRange {
			if to, ok = parseDay(b); !ok {
				return fmt.Errorf("%s is not a day: use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, or daily", quoteShort(b))
			}
			if to == from {
				return fmt.Errorf("%s is a range of one day: write %s", quoteShort(part), dayNames[from])
			}
		}
		for d := from; ; d = (d + 1) % 7 {
			w.Days[d] = true
			if d == to {
				break
			}
		}
	}
	return nil
}

// parseDay reads a day's English name, short or full.
func parseDay(s string) (int, bool) {
	for i, n := range dayNames {
		full := time.Weekday(i).String()
		if s == n || s == strings.ToLower(full) {
			return i, true
		}
	}
	return 0, false
}

// parseClock reads HH:MM; 24:00 only as an end.
func parseClock(s string, end bool) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(h) < 1 || len(h) > 2 || len(m) != 2 ||
		hh < 0 || mm < 0 || mm > 59 || hh > 24 || hh == 24 && (mm != 0 || !end) {
		return 0, fmt.Errorf("%s is not a time of day: HH:MM from 00:00 to 23:59 (24:00 as an end)", quoteShort(s))
	}
	return hh*60 + mm, nil
}

// String returns the window as written: "mon-fri 09:00-18:00".
func (w Window) String() string {
	return w.daysString() + " " + clock(w.Start) + "-" + clock(w.End)
}

// daysString writes the days as ranges, Monday first.
func (w Window) daysString() string {
	all := true
	for _, d := range w.Days {
		all = all && d
	}
	if all {
		return "daily"
	}
	var parts []string
	order := [7]int{1, 2, 3, 4, 5, 6, 0}
	for i := 0; i < 7; {
		if !w.Days[order[i]] {
			i++
			continue
		}
		j := i
		for j+1 < 7 && w.Days[order[j+1]] {
			j++
		}
		switch {
		case j == i:
			parts = append(parts, dayNames[order[i]])
		default:
			parts = append(parts, dayNames[order[i]]+"-"+dayNames[order[j]])
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

func clock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// MarshalText writes the window as String does.
func (w Window) MarshalText() ([]byte, error) { return []byte(w.String()), nil }

// UnmarshalText parses a window as ParseWindow does.
func (w *Window) UnmarshalText(b []byte) error {
	v, err := ParseWindow(string(b))
	if err != nil {
		return err
	}
	*w = v
	return nil
}

// MinutesPerWeek is the length of the week of Spans, which counts
// wall-clock minutes from Sunday 00:00.
const MinutesPerWeek = 7 * 24 * 60

// Spans returns the window's intervals in minutes of the week,
// [start, end), each within [0, MinutesPerWeek]; one that runs past
// Saturday midnight is split in two.
func (w Window) Spans() [][2]int {
	var out [][2]int
	end := w.End
	if end <= w.Start {
		end += 1440
	}
	for d, on := range w.Days {
		if !on {
			continue
		}
		s, e := d*1440+w.Start, d*1440+end
		if e > MinutesPerWeek {
			out = append(out, [2]int{s, MinutesPerWeek}, [2]int{0, e - MinutesPerWeek})
			continue
		}
		out = append(out, [2]int{s, e})
	}
	return out
}

// resolvePath makes a relative media path relative to the configuration
// file's directory.
func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}
