package main

import (
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// The docs describe the commands; these tests keep them in step.

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadmeOpening: the two commands come first, the install line right
// after them.
func TestReadmeOpening(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatchIndex(readme, 2)
	if len(blocks) < 2 {
		t.Fatal("README has fewer than two sh blocks")
	}
	first := strings.Split(strings.TrimSpace(readme[blocks[0][2]:blocks[0][3]]), "\n")
	if len(first) != 2 || !strings.HasPrefix(first[0], "go run ./cmd/wxgate dev ") || !strings.HasPrefix(first[1], "go test ./... ") {
		t.Fatalf("README does not open with dev and test: %q", first)
	}
	if before := strings.TrimSpace(readme[:blocks[0][0]]); before != "# wxgate" {
		t.Fatalf("something comes before the opening commands: %q", before)
	}
	between := strings.TrimSpace(readme[blocks[0][1]:blocks[1][0]])
	second := readme[blocks[1][2]:blocks[1][3]]
	if between != "" || !strings.HasPrefix(second, "go install github.com/wxgate/wxgate/cmd/wxgate@latest") {
		t.Fatalf("the install line does not follow the opening commands: %q then %q", between, second)
	}
}

// TestReadmeTestVariables: the README lists exactly the test variables
// that .ci/run sets.
func TestReadmeTestVariables(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	ci := regexp.MustCompile(`(?m)^export (WXGATE_TEST_[A-Z_]+)="\$\{[A-Z_]+:-(.*)\}"$`).FindAllStringSubmatch(readRepoFile(t, ".ci/run"), -1)
	var want []string
	for _, m := range ci {
		want = append(want, m[1])
		// With the value CI gives it.
		if row := "| `" + m[1] + "` | `" + m[2] + "` |"; !strings.Contains(readme, row) {
			t.Errorf("README lacks %q", row)
		}
	}
	found := map[string]bool{}
	for _, m := range regexp.MustCompile(`WXGATE_TEST_[A-Z_]+`).FindAllString(readme, -1) {
		found[m] = true
	}
	var got []string
	for v := range found {
		got = append(got, v)
	}
	sort.Strings(got)
	sort.Strings(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("README lists %v, .ci/run sets %v", got, want)
	}
}

// TestReadmeServeTable: every flag of serve has its row, with its
// variable and default.
func TestReadmeServeTable(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	newServeCmd().Flags().VisitAll(func(f *pflag.Flag) {
		if f.Name == "help" {
			return
		}
		row := "| `--" + f.Name + "` | `" + flagEnv(f) + "` | "
		i := strings.Index(readme, row)
		if i < 0 {
			t.Errorf("README's serve table lacks %q", row)
			return
		}
		line, _, _ := strings.Cut(readme[i+len(row):], "\n")
		def := f.DefValue
		if def == "[]" || def == "" {
			return
		}
		if f.Value.Type() == "duration" {
			// README writes 5m for 5m0s.
			shown, _, _ := strings.Cut(strings.TrimPrefix(line, "`"), "`")
			if d, err := time.ParseDuration(shown); err == nil && d.String() == def {
				return
			}
		}
		if !strings.HasPrefix(line, "`"+def+"` |") {
			t.Errorf("--%s: README's default is not %q: %q", f.Name, def, line)
		}
	})
}

// TestReadmeMockAPIWalkthrough: the walkthrough's mock has an open send
// window, so that its first customer-service message is not a 45015.
func TestReadmeMockAPIWalkthrough(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	for _, line := range strings.Split(readme, "\n") {
		if strings.HasPrefix(line, "go run ./cmd/wxgate mockapi") && !strings.Contains(line, "--open-window") {
			t.Fatalf("mockapi without an open window: %q", line)
		}
	}
	if !strings.Contains(readme, "go run ./cmd/wxgate mockapi --open-window") {
		t.Fatal("README has no mockapi walkthrough line")
	}
}

// TestArchitectureMatchesCode: compat refuses plaintext, auto refuses it
// once a key is configured, and handlers run inline with a watchdog.
func TestArchitectureMatchesCode(t *testing.T) {
	doc := strings.Join(strings.Fields(readRepoFile(t, "docs/architecture.md")), " ")
	for _, bad := range []string{"`compat` accept both", "in its own goroutine", "or off)"} {
		if strings.Contains(doc, bad) {
			t.Errorf("architecture.md still says %q", bad)
		}
	}
	for _, want := range []string{"`safe` and `compat` refuse plaintext", "`--allow-plaintext`",
		"inline on the request's goroutine", "A watchdog timer fires at the deadline and answers `success`"} {
		if !strings.Contains(doc, want) {
			t.Errorf("architecture.md lacks %q", want)
		}
	}
}
