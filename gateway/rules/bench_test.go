package rules

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// benchRules is 20 rules of every text kind, and office hours.
func benchRules() string {
	var b strings.Builder
	b.WriteString("rules:\n")
	for i := range 20 {
		switch i % 4 {
		case 0:
			fmt.Fprintf(&b, "  - match: {keyword: [kw%d, 关键词%d]}\n    reply: r%d\n", i, i, i)
		case 1:
			fmt.Fprintf(&b, "  - match: {contains: [needle%d], ignore_case: true}\n    reply: r%d\n", i, i)
		case 2:
			fmt.Fprintf(&b, "  - match: {regex: '^order\\s*%d\\d{4}$'}\n    reply: r%d\n", i, i)
		case 3:
			fmt.Fprintf(&b, "  - match: {contains: 包含%d}\n    reply: r%d\n", i, i)
		}
	}
	b.WriteString("fallback: {reply: '?'}\n")
	b.WriteString("office_hours: {time_zone: Asia/Shanghai, windows: ['mon-fri 09:00-18:00', 'sat 10:00-14:00'], away: closed}\n")
	return b.String()
}

// BenchmarkEvaluate evaluates a text message against 20 rules: one that
// the last rule matches, and one that none does (the fallback).
func BenchmarkEvaluate(b *testing.B) {
	e := compile(b, benchRules())
	now := time.Date(2025, 6, 4, 12, 0, 0, 0, time.UTC) // closed in Shanghai (20:00)
	for _, bc := range []struct{ name, text string }{
		{"last-rule", "请问包含19是什么"},
		{"no-match", "Hello, I would like to know when my parcel arrives, thanks!"},
		{"first-rule", "kw0"},
	} {
		p := textMsg("oUser0123456789", bc.text)
		want := e.Evaluate(p, now)
		if !want.Matched() || !want.Away.Due {
			b.Fatalf("%s: %+v", bc.name, want)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				d := e.Evaluate(p, now)
				if d.Rule != want.Rule {
					b.Fatal(d.Rule)
				}
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		p := textMsg("oUser0123456789", "Hello there")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				e.Evaluate(p, now)
			}
		})
	})
}
