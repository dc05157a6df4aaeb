package web

import (
	"bytes"
	"encoding/json"
	"html/template"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wechatsim"
)

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"short":     shortID,
	"prettyb":   func(b []byte) string { return prettyBody(b) },
	"dur":       formatDuration,
	"clock":     func(t time.Time) string { return t.Local().Format("15:04:05.000") },
	"apitime":   apiTimeText,
	"modename":  func(m wechatsim.Mode) string { return "mode." + m.String() },
	"upper":     func(f message.Format) string { return strings.ToUpper(f.String()) },
	"clip":      clip,
	"statekey":  func(s string) string { return "server.state." + s },
	"jsstrings": jsStrings,
}

// shortID shortens an openid or message id for a table.
func shortID(s string) string {
	if utf8.RuneCountInString(s) <= 14 {
		return s
	}
	r := []rune(s)
	return string(r[:8]) + "…" + string(r[len(r)-4:])
}

// clip cuts s to n characters.
func clip(n int, s string) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// prettyJSON indents a JSON value; anything else comes back as it is.
func prettyJSON(b json.RawMessage) string {
	var out bytes.Buffer
	if len(b) == 0 {
		return ""
	}
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// prettyBody indents a JSON body and leaves XML as WeChat sent it.
func prettyBody(b []byte) string {
	t := bytes.TrimSpace(b)
	if len(t) > 0 && t[0] == '{' {
		return prettyJSON(t)
	}
	return string(b)
}

// formatDuration shows a latency in milliseconds with one decimal below
// ten.
func formatDuration(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	}
	return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
}

// apiTimeText shows an RFC 3339 time of the API in local time.
func apiTimeText(s string) string {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.Local().Format("01-02 15:04:05.000")
}

// jsStrings is the script's strings as JSON, for a data attribute.
func jsStrings(l *localizer) string {
	b, _ := json.Marshal(l.JS())
	return string(b)
}
