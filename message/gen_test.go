package message

import (
	"bytes"
	"os"
	"testing"

	"github.com/wxgate/wxgate/message/internal/wxgen"
)

// TestGeneratedUpToDate fails when fields_gen.go is not what the wx tags
// produce: run `go generate ./message` after changing a push type.
func TestGeneratedUpToDate(t *testing.T) {
	want, err := wxgen.Generate(".")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(wxgen.Output)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is stale: run go generate ./message", wxgen.Output)
	}
}
