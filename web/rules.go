package web

import (
	"path/filepath"
	"strings"

	"github.com/wxgate/wxgate/gateway/config"
)

// appRules are an app's rules, explained in words.
type appRules struct {
	App   string
	None  string // "this app has no rules", when it has none
	Rules []ruleView
}

// ruleView is one rule: its name, when it applies and what it does.
type ruleView struct {
	Name    string
	When    string
	Actions []string
}

// explainRules describes every app's rules in the page's language.
func explainRules(loc *localizer, cfg *config.Config) []appRules {
	if cfg == nil {
		return nil
	}
	var out []appRules
	for _, name := range cfg.AppNames() {
		app := cfg.Apps[name]
		ar := appRules{App: name}
		rs := app.Rules
		if !rs.IsSet() {
			ar.None = loc.Tf("server.no_rules", name)
			out = append(out, ar)
			continue
		}
		for _, r := range rs.Rules {
			ar.Rules = append(ar.Rules, ruleView{Name: r.Name, When: loc.Tf("rule.when", explainMatch(loc, r.Match)),
				Actions: explainActions(loc, r.Actions)})
		}
		if rs.Fallback != nil {
			ar.Rules = append(ar.Rules, ruleView{Name: config.RuleNameFallback, When: loc.T("rule.fallback"),
				Actions: explainActions(loc, *rs.Fallback)})
		}
		if oh := rs.OfficeHours; oh != nil {
			windows := make([]string, len(oh.Windows))
			for i, w := range oh.Windows {
				windows[i] = w.String()
			}
			ar.Rules = append(ar.Rules, ruleView{Name: config.RuleNameAway,
				When:    loc.Tf("rule.hours", oh.TimeZone, strings.Join(windows, ", ")),
				Actions: explainMessages(loc, oh.Away)})
		}
		out = append(out, ar)
	}
	return out
}

func explainMatch(loc *localizer, m config.Match) string {
	quoted := func(list []string) string {
		q := make([]string, len(list))
		for i, s := range list {
			q[i] = "“" + s + "”"
		}
		return strings.Join(q, loc.T("rule.or"))
	}
	ic := ""
	if m.IgnoreCase {
		ic = loc.T("rule.ignore_case")
	}
	switch {
	case len(m.Keyword) > 0:
		return loc.Tf("rule.keyword", quoted(m.Keyword)) + ic
	case len(m.Contains) > 0:
		return loc.Tf("rule.contains", quoted(m.Contains)) + ic
	case m.Regex != "":
		return loc.Tf("rule.regex", "“"+m.Regex+"”") + ic
	case m.EnterSession && m.SessionFrom != nil:
		return loc.Tf("rule.enter_from", "“"+*m.SessionFrom+"”")
	}
	return loc.T("rule.enter")
}

func explainActions(loc *localizer, a config.Actions) []string {
	var out []string
	if a.Typing {
		out = append(out, loc.T("rule.typing"))
	}
	out = append(out, explainMessages(loc, a.Reply)...)
	if a.Transfer {
		out = append(out, loc.T("rule.transfer"))
	}
	if a.Continue {
		out = append(out, loc.T("rule.continue"))
	} else {
		out = append(out, loc.T("rule.stop"))
	}
	return out
}

func explainMessages(loc *localizer, ms []config.Message) []string {
	var out []string
	for _, m := range ms {
		switch {
		case m.Text != "":
			out = append(out, loc.Tf("rule.reply_text", "“"+m.Text+"”"))
		case m.Image != "":
			out = append(out, loc.Tf("rule.reply_image", filepath.Base(m.Image)))
		case m.Link != nil:
			out = append(out, loc.Tf("rule.reply_link", "“"+m.Link.Title+"”"))
		case m.MiniProgramPage != nil:
			out = append(out, loc.Tf("rule.reply_card", "“"+m.MiniProgramPage.Title+"”"))
		}
	}
	return out
}
