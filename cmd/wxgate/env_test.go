package main

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestEnvScopes: each command reads its own variables; only the server's
// credentials are shared, by serve, push and verify, which give them the
// same meaning.
func TestEnvScopes(t *testing.T) {
	cmds := map[string]*cobra.Command{
		"serve": newServeCmd(), "push": newPushCmd(), "verify": newVerifyCmd(), "mockapi": newMockAPICmd(),
	}
	prefixes := map[string]string{"serve": serveEnvPrefix, "push": pushEnvPrefix, "verify": verifyEnvPrefix, "mockapi": mockAPIEnvPrefix}
	shared := map[string]bool{}
	for _, f := range sharedEnvFlags {
		shared[envName(serveEnvPrefix, f)] = true
	}
	readers := map[string][]string{}
	for name, cmd := range cmds {
		for _, v := range envVars(cmd) {
			readers[v] = append(readers[v], name)
			if !shared[v] && !strings.HasPrefix(v, prefixes[name]) {
				t.Errorf("%s reads %s, outside its prefix %s", name, v, prefixes[name])
			}
			for other, p := range prefixes {
				if other != name && p != serveEnvPrefix && strings.HasPrefix(v, p) {
					t.Errorf("%s reads %s, which belongs to %s", name, v, other)
				}
			}
		}
	}
	for v, who := range readers {
		sort.Strings(who)
		if len(who) > 1 && !shared[v] {
			t.Errorf("%s is read by %v", v, who)
		}
		if shared[v] && slices.Contains(who, "mockapi") {
			t.Errorf("mockapi reads serve's %s", v)
		}
	}
	for name, want := range map[string][]string{
		"serve":   {"WXGATE_ADDR", "WXGATE_MAX_CONNS", "WXGATE_ALLOW_PLAINTEXT", "WXGATE_DEBUG_PUBLIC", "WXGATE_REPLAY_WINDOW", "WXGATE_TOKEN"},
		"mockapi": {"WXGATE_MOCKAPI_ADDR", "WXGATE_MOCKAPI_APPID", "WXGATE_MOCKAPI_SECRET"},
		"push":    {"WXGATE_TOKEN", "WXGATE_APPID", "WXGATE_AES_KEY", "WXGATE_STATE_DIR", "WXGATE_PUSH_URL", "WXGATE_PUSH_MODE", "WXGATE_PUSH_TITLE"},
		"verify":  {"WXGATE_TOKEN", "WXGATE_APPID", "WXGATE_AES_KEY", "WXGATE_VERIFY_URL", "WXGATE_VERIFY_URL_ONLY"},
	} {
		for _, v := range want {
			if !slices.Contains(readers[v], name) {
				t.Errorf("%s does not read %s", name, v)
			}
		}
	}
	// Every flag has a variable, except --help.
	for name, cmd := range cmds {
		var walk func(c *cobra.Command)
		walk = func(c *cobra.Command) {
			check := func(f *pflag.Flag) {
				if f.Name != "help" && flagEnv(f) == "" {
					t.Errorf("%s: --%s has no variable", name, f.Name)
				}
			}
			c.Flags().VisitAll(check)
			c.PersistentFlags().VisitAll(check)
			for _, sub := range c.Commands() {
				walk(sub)
			}
		}
		walk(cmd)
	}
}

// TestPushReadsOnlyItsVariables: serve's WXGATE_MODE does not set push's
// mode; WXGATE_PUSH_MODE does.
func TestPushReadsOnlyItsVariables(t *testing.T) {
	url, stateDir, _ := devServer(t)
	t.Setenv("WXGATE_MODE", "plain") // serve's
	out, errOut, err := runCLI(t, newPushCmd(), "", "text", "hi", "--url", url, "--state-dir", stateDir)
	if err != nil || !strings.Contains(out, "(safe, xml") {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	t.Setenv("WXGATE_PUSH_MODE", "compat")
	out, errOut, err = runCLI(t, newPushCmd(), "", "text", "hi", "--url", url, "--state-dir", stateDir)
	if err != nil || !strings.Contains(out, "(compat, xml") {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
	// The credentials are shared with serve.
	t.Setenv("WXGATE_STATE_DIR", stateDir)
	out, errOut, err = runCLI(t, newPushCmd(), "", "text", "hi", "--url", url)
	if err != nil || !strings.Contains(out, "ACCEPTED") {
		t.Fatalf("%v\n%s%s", err, out, errOut)
	}
}

// TestFlagHelpNamesVariables: --help shows each flag's variable.
func TestFlagHelpNamesVariables(t *testing.T) {
	out, _, err := runCLI(t, newMockAPICmd(), "", "--help")
	if err != nil || !strings.Contains(out, "[$WXGATE_MOCKAPI_ADDR]") || strings.Contains(out, "[$WXGATE_ADDR]") {
		t.Fatalf("%v\n%s", err, out)
	}
	out, _, err = runCLI(t, newServeCmd(), "", "--help")
	if err != nil || !strings.Contains(out, "[$WXGATE_MAX_CONNS]") {
		t.Fatalf("%v\n%s", err, out)
	}
}
