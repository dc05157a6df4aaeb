package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envName is the environment variable that sets a flag: WXGATE_ and the
// flag's name in upper case with dashes as underscores (--aes-key is
// WXGATE_AES_KEY).
func envName(flag string) string {
	return "WXGATE_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// bindEnv fills every flag of cmd not given on the command line from its
// environment variable. List flags take a comma-separated value.
func bindEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		v, ok := os.LookupEnv(envName(f.Name))
		if !ok {
			return
		}
		if sv, isSlice := f.Value.(pflag.SliceValue); isSlice {
			var items []string
			for _, s := range strings.Split(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					items = append(items, s)
				}
			}
			if e := sv.Replace(items); e != nil {
				err = fmt.Errorf("%s: %w", envName(f.Name), e)
			}
			return
		}
		if e := f.Value.Set(v); e != nil {
			// The value itself may be a secret: name the variable only.
			err = fmt.Errorf("%s: invalid value for --%s", envName(f.Name), f.Name)
		}
	})
	return err
}
