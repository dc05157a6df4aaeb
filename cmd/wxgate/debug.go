package main

import (
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// debugListenAddr decides where the pprof server listens. A host-less
// address (":6060") is bound to loopback: the profiles show the process's
// internals and are no business of other hosts. Any other host that is not
// loopback needs public (--debug-public); exposed then reports that the
// profiles are reachable from other hosts.
func debugListenAddr(addr string, public bool) (listen string, exposed bool, err error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false, badFlag(serveEnvPrefix, "debug-addr", "%q is not host:port or :port", addr)
	}
	switch {
	case host == "" && !public:
		return net.JoinHostPort("127.0.0.1", port), false, nil
	case host == "":
		return addr, true, nil
	case strings.EqualFold(host, "localhost"):
		return addr, false, nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return addr, false, nil
	}
	if !public {
		return "", false, badFlag(serveEnvPrefix, "debug-addr",
			"%s is not a loopback address; the profiles expose the process's internals, so add --debug-public to serve them there anyway", addr)
	}
	return addr, true, nil
}

// newDebugServer serves pprof's profiles, apart from the push listener so
// that they are never on the public port. /debug/pprof/cmdline shows
// cmdline, in which secrets are redacted, instead of the raw os.Args.
func newDebugServer(cmdline []string) *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		io.WriteString(w, strings.Join(cmdline, "\x00"))
	})
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
}

// redactedCmdline rebuilds cmd's command line from its parsed flags, as
// pprof's cmdline would show it: the command path, then every flag given
// on the command line as --name=value, with the values of secret flags
// (markSecret) replaced by REDACTED. Flags set from the environment are
// not shown, as they are not on the command line.
func redactedCmdline(cmd *cobra.Command) []string {
	args := strings.Fields(cmd.CommandPath())
	cmd.Flags().Visit(func(f *pflag.Flag) {
		v := f.Value.String()
		if isSecret(f) {
			v = "REDACTED"
		}
		args = append(args, "--"+f.Name+"="+v)
	})
	return args
}
