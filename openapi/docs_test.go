package openapi

import (
	"os"
	"strings"
	"testing"
)

// TestDocReplySnippetIsCompiled checks that the reply snippet of
// docs/openapi.md fits in 15 lines and is, apart from its import line, the
// code of example_reply_test.go, which the compiler checks and Example_reply
// runs.
func TestDocReplySnippetIsCompiled(t *testing.T) {
	doc, err := os.ReadFile("../docs/openapi.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_reply_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "## Sending a reply\n")
	if ok {
		_, section, ok = strings.Cut(section, "```go\n")
	}
	if ok {
		section, _, ok = strings.Cut(section, "```")
	}
	if !ok {
		t.Fatal("docs/openapi.md: no Go block under \"## Sending a reply\"")
	}
	lines := strings.Split(strings.TrimSuffix(section, "\n"), "\n")
	if len(lines) > 15 {
		t.Errorf("the reply snippet has %d lines, want at most 15", len(lines))
	}
	if !strings.HasPrefix(lines[0], "import ") {
		t.Fatalf("the snippet should start with its import line, not %q", lines[0])
	}
	code := strings.TrimLeft(strings.Join(lines[1:], "\n"), "\n")
	if !strings.Contains(string(example), code) {
		t.Errorf("docs/openapi.md's reply snippet differs from example_reply_test.go; keep them identical:\n%s", code)
	}
}
