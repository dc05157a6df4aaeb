package config

import (
	"fmt"
	"strings"
	"testing"
)

// An app may not have more destinations than the store keeps per message:
// every push would be refused.
func TestTooManyDestinations(t *testing.T) {
	var b strings.Builder
	b.WriteString("allow_inline_secrets: true\napps:\n  shop:\n    token: tok12345\n    destinations:\n")
	for i := range 33 {
		fmt.Fprintf(&b, "      - name: d%d\n        webhook: {url: \"https://example.com/%d\", secret: \"0123456789abcdef0\"}\n", i, i)
	}
	_, err := Parse("many.yaml", []byte(b.String()))
	if err == nil || !strings.Contains(err.Error(), "apps.shop.destinations: at most 32 destinations") {
		t.Fatalf("got %v", err)
	}
}
