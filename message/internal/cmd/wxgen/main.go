// Command wxgen writes message/fields_gen.go from the wx struct tags of
// package message. Run it with go generate in the message directory.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/wxgate/wxgate/message/internal/wxgen"
)

func main() {
	dir := "."
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	out, err := wxgen.Generate(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wxgen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(filepath.Join(dir, wxgen.Output), out, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "wxgen:", err)
		os.Exit(1)
	}
}
