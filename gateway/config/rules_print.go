package config

import (
	"strconv"
	"strings"
)

// rulesLines prints the rules section as YAML that loads back to the same
// rules: defaults filled in, media paths resolved.
func rulesLines(head string, r Rules) []string {
	if !r.IsSet() {
		return []string{head + " {}"}
	}
	out := []string{head}
	if len(r.Rules) > 0 {
		out = append(out, "  rules:")
		for _, rule := range r.Rules {
			var lines []string
			if rule.Name != "" {
				lines = append(lines, "name: "+strconv.Quote(rule.Name))
			}
			lines = append(lines, "match:")
			lines = append(lines, indent(matchLines(rule.Match), "  ", "  ")...)
			lines = append(lines, actionLines(rule.Actions)...)
			out = append(out, indent(lines, "    - ", "      ")...)
		}
	}
	if r.Fallback != nil {
		out = append(out, "  fallback:")
		out = append(out, indent(actionLines(*r.Fallback), "    ", "    ")...)
	}
	if o := r.OfficeHours; o != nil {
		windows := make([]string, len(o.Windows))
		for i, w := range o.Windows {
			windows[i] = strconv.Quote(w.String())
		}
		out = append(out, "  office_hours:",
			"    time_zone: "+strconv.Quote(o.TimeZone),
			"    windows: ["+strings.Join(windows, ", ")+"]")
		out = append(out, indent(messageLines("away", o.Away), "    ", "    ")...)
	}
	return out
}

func matchLines(m Match) []string {
	var out []string
	list := func(name string, items []string) {
		if len(items) == 0 {
			return
		}
		quoted := make([]string, len(items))
		for i, s := range items {
			quoted[i] = strconv.Quote(s)
		}
		out = append(out, name+": ["+strings.Join(quoted, ", ")+"]")
	}
	list("keyword", m.Keyword)
	list("contains", m.Contains)
	if m.Regex != "" {
		out = append(out, "regex: "+strconv.Quote(m.Regex))
	}
	if m.IgnoreCase {
		out = append(out, "ignore_case: true")
	}
	if m.EnterSession {
		out = append(out, "enter_session: true")
	}
	if m.SessionFrom != nil {
		out = append(out, "session_from: "+strconv.Quote(*m.SessionFrom))
	}
	if len(out) == 0 {
		return []string{"{}"}
	}
	return out
}

func actionLines(a Actions) []string {
	out := messageLines("reply", a.Reply)
	return append(out,
		"transfer: "+strconv.FormatBool(a.Transfer),
		"typing: "+strconv.FormatBool(a.Typing),
		"continue: "+strconv.FormatBool(a.Continue))
}

// messageLines prints a list of messages under name.
func messageLines(name string, ms []Message) []string {
	if len(ms) == 0 {
		return nil
	}
	out := []string{name + ":"}
	for _, m := range ms {
		var lines []string
		switch {
		case m.Text != "":
			lines = append(lines, "text: "+strconv.Quote(m.Text))
		case m.Image != "":
			lines = append(lines, "image: "+strconv.Quote(m.Image))
		case m.Link != nil:
			l := m.Link
			lines = append(lines, "link:",
				"  title: "+strconv.Quote(l.Title),
				"  description: "+strconv.Quote(l.Description),
				"  url: "+strconv.Quote(redactURL(l.URL)),
				"  thumb_url: "+strconv.Quote(redactURL(l.ThumbURL)))
		case m.MiniProgramPage != nil:
			p := m.MiniProgramPage
			lines = append(lines, "miniprogrampage:",
				"  title: "+strconv.Quote(p.Title),
				"  pagepath: "+strconv.Quote(p.PagePath))
			if p.ThumbMedia != "" {
				lines = append(lines, "  thumb_media: "+strconv.Quote(p.ThumbMedia))
			}
			if p.ThumbMediaID != "" {
				lines = append(lines, "  thumb_media_id: "+strconv.Quote(p.ThumbMediaID))
			}
		default:
			lines = append(lines, "{}")
		}
		out = append(out, indent(lines, "  - ", "    ")...)
	}
	return out
}
