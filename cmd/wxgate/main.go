// Command wxgate receives WeChat Mini Program message pushes, emulates
// WeChat's side for tests, and answers users through the Open API.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// rootCmd is the wxgate command; each subcommand file adds itself in init.
var rootCmd = &cobra.Command{
	Use:           "wxgate",
	Short:         "WeChat Mini Program message push gateway, SDK tools and emulator",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "wxgate:", err)
		os.Exit(1)
	}
}
