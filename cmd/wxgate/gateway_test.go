package main

import (
	"slices"
	"testing"

	"github.com/wxgate/wxgate/gateway/config"
)

// The stream the gateway creates captures every nats destination's
// subjects, default and custom prefixes alike.
func TestStreamSubjects(t *testing.T) {
	cfg := &config.Config{Apps: map[string]*config.App{
		"shop": {Name: "shop", Destinations: []config.Destination{{Name: "n", NATS: &config.NATSDestination{}}}},
		"blog": {Name: "blog", Destinations: []config.Destination{{Name: "n", NATS: &config.NATSDestination{SubjectPrefix: "events.blog"}},
			{Name: "w", Webhook: &config.Webhook{URL: "https://example.com"}}}},
		"news": {Name: "news", Destinations: []config.Destination{{Name: "n", NATS: &config.NATSDestination{SubjectPrefix: "wxgate.custom"}}}},
	}}
	got := streamSubjects(cfg)
	slices.Sort(got)
	if want := []string{"events.blog.>", "wxgate.>"}; !slices.Equal(got, want) {
		t.Fatalf("subjects %v, want %v", got, want)
	}
	if p := natsPrefix("shop", &config.NATSDestination{}); p != "wxgate.shop" {
		t.Fatalf("default prefix %q", p)
	}
}
