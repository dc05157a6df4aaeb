package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Each command reads only the environment variables it declares, so that
// a variable exported for one command never configures another by
// accident (WXGATE_ADDR for serve once moved mockapi onto serve's port).
// serve reads WXGATE_<FLAG>; push and verify read the server's credentials
// from the same variables as serve (sharedEnvFlags) and their other flags
// from WXGATE_PUSH_… and WXGATE_VERIFY_…; mockapi reads WXGATE_MOCKAPI_….
const (
	serveEnvPrefix   = "WXGATE_"
	pushEnvPrefix    = "WXGATE_PUSH_"
	verifyEnvPrefix  = "WXGATE_VERIFY_"
	mockAPIEnvPrefix = "WXGATE_MOCKAPI_"
)

// sharedEnvFlags mean the same thing for serve, push and verify: the
// credentials of one server and where its development credentials live.
var sharedEnvFlags = []string{"token", "appid", "aes-key", "state-dir"}

// Flag annotations.
const (
	envAnnotation    = "wxgate_env"    // the flag's environment variable
	secretAnnotation = "wxgate_secret" // the flag's value is a secret
)

// errConfig marks a bad flag or environment value; every such error is a
// *flagError naming the flag and its variable.
var errConfig = errors.New("invalid configuration")

// flagError is a bad value of a flag or its environment variable. It never
// holds the value of a secret.
type flagError struct {
	flag, env, msg string
}

// Error reads "--flag / VARIABLE: message".
func (e *flagError) Error() string {
	if e.env == "" {
		return "--" + e.flag + ": " + e.msg
	}
	return "--" + e.flag + " / " + e.env + ": " + e.msg
}

// Is makes errors.Is(err, errConfig) true.
func (e *flagError) Is(target error) bool { return target == errConfig }

// badFlag returns a *flagError for flag, whose variable is prefix and the
// flag's name (envName).
func badFlag(prefix, flag, format string, args ...any) error {
	return &flagError{flag: flag, env: envName(prefix, flag), msg: fmt.Sprintf(format, args...)}
}

// envName is the environment variable for flag under prefix: the flag's
// name in upper case with dashes as underscores (--aes-key is
// WXGATE_AES_KEY with the prefix WXGATE_).
func envName(prefix, flag string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// declareEnv names the environment variable of every flag defined on cmd
// and its subcommands: WXGATE_ and the flag's name for the flags in
// shared, prefix and the flag's name for the others. It also shows the
// variable in the flag's help. Flags declared nowhere (--help) read no
// variable.
func declareEnv(cmd *cobra.Command, prefix string, shared ...string) {
	isShared := map[string]bool{}
	for _, s := range shared {
		isShared[s] = true
	}
	visit := func(f *pflag.Flag) {
		if _, done := f.Annotations[envAnnotation]; done {
			return
		}
		name := envName(prefix, f.Name)
		if isShared[f.Name] {
			name = envName(serveEnvPrefix, f.Name)
		}
		if f.Annotations == nil {
			f.Annotations = map[string][]string{}
		}
		f.Annotations[envAnnotation] = []string{name}
		f.Usage += " [$" + name + "]"
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.PersistentFlags().VisitAll(visit)
		c.Flags().VisitAll(visit)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cmd)
}

// markSecret marks flags of fs whose values are secrets: they are redacted
// wherever the command line is shown.
func markSecret(fs *pflag.FlagSet, names ...string) {
	for _, n := range names {
		if f := fs.Lookup(n); f != nil {
			if f.Annotations == nil {
				f.Annotations = map[string][]string{}
			}
			f.Annotations[secretAnnotation] = []string{"true"}
		}
	}
}

// isSecret reports whether f was marked with markSecret.
func isSecret(f *pflag.Flag) bool {
	_, ok := f.Annotations[secretAnnotation]
	return ok
}

// flagEnv returns the environment variable declared for f, or "".
func flagEnv(f *pflag.Flag) string {
	if v := f.Annotations[envAnnotation]; len(v) == 1 {
		return v[0]
	}
	return ""
}

// envVars lists the environment variables cmd and its subcommands read,
// sorted.
func envVars(cmd *cobra.Command) []string {
	seen := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		add := func(f *pflag.Flag) {
			if v := flagEnv(f); v != "" {
				seen[v] = true
			}
		}
		c.PersistentFlags().VisitAll(add)
		c.Flags().VisitAll(add)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cmd)
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// bindEnv fills every flag of cmd not given on the command line from the
// environment variable declared for it (declareEnv). List flags take a
// comma-separated value. Values set this way do not count as given on the
// command line (pflag's Changed stays false).
func bindEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		name := flagEnv(f)
		if err != nil || f.Changed || name == "" {
			return
		}
		v, ok := os.LookupEnv(name)
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
				err = &flagError{flag: f.Name, env: name, msg: "invalid value"}
			}
			return
		}
		if e := f.Value.Set(v); e != nil {
			// The value itself may be a secret: it is not repeated.
			err = &flagError{flag: f.Name, env: name, msg: "invalid value for a " + f.Value.Type() + " flag"}
		}
	})
	return err
}
