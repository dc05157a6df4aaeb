package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxgate/wxgate/push"
	"github.com/wxgate/wxgate/wxcrypt"
)

func init() { rootCmd.AddCommand(newServeCmd()) }

// serveOptions are the flags of wxgate serve.
type serveOptions struct {
	addr, path, appID, token, mode string
	aesKeys                        []string
	allowPlaintext                 bool
	replayWindow                   time.Duration
	maxBody                        int64
	maxConns                       int
	logFormat, logLevel            string
	stateDir                       string
	debugAddr                      string
	debugPublic                    bool

	// Set by check.
	parsedMode  push.Mode
	debugListen string // debugAddr bound to loopback unless debugPublic
	debugOpen   bool   // the pprof server is reachable from other hosts
}

func newServeCmd() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Receive one mini program's message pushes",
		Long: `Serve the push URL of one mini program. wxgate answers WeChat's URL
verification, checks every push's signatures, timestamp and size, decrypts
and decodes it, logs it, and answers "success".

With no --token, wxgate makes development credentials in .wxgate/ (an AppID,
Token and EncodingAESKey that wxgate push and wxgate verify pick up), so that
a first run works with no setup. Real pushes need the values from the console.

Once an EncodingAESKey is configured, plaintext pushes are refused: their
URL signature does not cover the body, so a captured push URL could carry
any body. --allow-plaintext accepts them (mode auto only) while the console
is switched to plaintext.

Every flag can also be set with an environment variable: WXGATE_ and the
flag's name in capitals, dashes as underscores (--aes-key is WXGATE_AES_KEY;
several keys are separated by commas). Prefer the environment for the token
and keys, so that they do not show in the process list.`,
		Example: `  # Plaintext or encrypted pushes, XML or JSON, whatever the console is set to:
  WXGATE_TOKEN=... WXGATE_AES_KEY=... wxgate serve --appid wx0123456789abcdef

  # Safe mode only, during a key rotation (current key first):
  wxgate serve --appid wx0123456789abcdef --mode safe --aes-key NEWKEY --aes-key OLDKEY

  # Profiles on http://127.0.0.1:6060/debug/pprof/ (loopback only):
  wxgate serve --debug-addr :6060`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			return runServe(cmd, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", ":8080", "address to listen on")
	f.StringVar(&o.path, "path", "/wechat", "URL path of the push endpoint")
	f.StringVar(&o.appID, "appid", "", `the mini program's AppID, "wx" and 16 hex digits (required for encrypted pushes)`)
	f.StringVar(&o.token, "token", "", "the Token from the console (3-32 letters and digits)")
	f.StringSliceVar(&o.aesKeys, "aes-key", nil, "EncodingAESKey; repeat for previous keys, current first")
	f.StringVar(&o.mode, "mode", "auto", "accepted modes: auto, plain, compat or safe")
	f.BoolVar(&o.allowPlaintext, "allow-plaintext", false, "in mode auto, accept plaintext pushes although an EncodingAESKey is configured")
	f.DurationVar(&o.replayWindow, "replay-window", push.DefaultReplayWindow,
		fmt.Sprintf("maximum clock skew of a push's timestamp, at most %v; 0 means the default", push.MaxReplayWindow))
	f.Int64Var(&o.maxBody, "max-body", push.DefaultMaxBody, "maximum request body in bytes")
	f.IntVar(&o.maxConns, "max-conns", defaultMaxConns, "maximum open connections; more wait until one closes")
	f.StringVar(&o.stateDir, "state-dir", defaultStateDir, "where development credentials are kept when no --token is given")
	f.StringVar(&o.debugAddr, "debug-addr", "", "serve Go's pprof profiles on this address; a host-less :port means 127.0.0.1:port")
	f.BoolVar(&o.debugPublic, "debug-public", false, "allow --debug-addr on an address other hosts can reach")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	markSecret(f, "token", "aes-key")
	declareEnv(cmd, serveEnvPrefix)
	return cmd
}

// newLogger returns a slog logger writing to w in format ("text" or
// "json") at level. Errors name the flags under the environment prefix.
func newLogger(w io.Writer, envPrefix, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, badFlag(envPrefix, "log-level", "%q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, badFlag(envPrefix, "log-format", "%q is not text or json", format)
}

// appIDPattern is the shape of a mini program's AppID.
var appIDPattern = regexp.MustCompile(`^wx[0-9a-f]{16}$`)

// checkAppID checks an AppID's shape. The value is not repeated: a secret
// pasted into the wrong field must not reach a log.
func checkAppID(envPrefix, appID string) error {
	if !appIDPattern.MatchString(appID) {
		return badFlag(envPrefix, "appid", `must be "wx" and 16 lowercase hexadecimal characters, as the console shows it (got %d characters)`, len(appID))
	}
	return nil
}

// checkToken checks a Token's shape without repeating it.
func checkToken(envPrefix, token string) error {
	if !wxcrypt.ValidToken(token) {
		return badFlag(envPrefix, "token", "must be 3 to 32 letters and digits (got %d characters)", len(token))
	}
	return nil
}

// checkAESKeys checks each EncodingAESKey without repeating it.
func checkAESKeys(envPrefix string, keys []string) error {
	for i, k := range keys {
		if _, err := wxcrypt.ParseKey(strings.TrimSpace(k)); err != nil {
			which := ""
			if len(keys) > 1 {
				which = fmt.Sprintf("key %d of %d ", i+1, len(keys))
			}
			return badFlag(envPrefix, "aes-key", "%smust be the console's EncodingAESKey, 43 letters and digits (got %d characters)",
				which, len(strings.TrimSpace(k)))
		}
	}
	return nil
}

// check validates every flag that does not depend on the development
// credentials, so that a mistake fails before anything is created.
func (o *serveOptions) check() error {
	p := serveEnvPrefix
	mode, err := push.ParseMode(o.mode)
	if err != nil {
		return badFlag(p, "mode", "%q is not auto, plain, compat or safe", o.mode)
	}
	o.parsedMode = mode
	switch {
	case !strings.HasPrefix(o.path, "/"):
		return badFlag(p, "path", "%q must start with /", o.path)
	case o.replayWindow < 0:
		return badFlag(p, "replay-window", "must not be negative (0 means the default, %v; the check cannot be switched off)", push.DefaultReplayWindow)
	case o.replayWindow > push.MaxReplayWindow:
		return badFlag(p, "replay-window", "must be at most %v: a longer window keeps a captured push usable for longer", push.MaxReplayWindow)
	case o.maxBody <= 0:
		return badFlag(p, "max-body", "must be a positive number of bytes")
	case o.maxConns < 1:
		return badFlag(p, "max-conns", "must be at least 1")
	case o.allowPlaintext && (mode == push.ModeCompat || mode == push.ModeSafe):
		return badFlag(p, "allow-plaintext", "has no effect in mode %s, which refuses plaintext (use --mode auto)", mode)
	}
	if o.appID != "" {
		if err := checkAppID(p, o.appID); err != nil {
			return err
		}
	}
	if o.token != "" {
		if err := checkToken(p, o.token); err != nil {
			return err
		}
	}
	if err := checkAESKeys(p, o.aesKeys); err != nil {
		return err
	}
	if o.debugAddr != "" {
		if o.debugListen, o.debugOpen, err = debugListenAddr(o.debugAddr, o.debugPublic); err != nil {
			return err
		}
	}
	return nil
}

// pushConfig turns the checked flags, credentials filled in, into a
// push.Config. The combinations push.NewHandler refuses are checked here
// first, so that the error names the flags.
func (o *serveOptions) pushConfig(logger *slog.Logger) (push.Config, error) {
	p := serveEnvPrefix
	switch mode := o.parsedMode; {
	case (mode == push.ModeCompat || mode == push.ModeSafe) && len(o.aesKeys) == 0:
		return push.Config{}, badFlag(p, "aes-key", "mode %s needs an EncodingAESKey", mode)
	case mode == push.ModePlain && len(o.aesKeys) > 0:
		return push.Config{}, badFlag(p, "mode", "plain takes no EncodingAESKey (use auto with --allow-plaintext to accept both)")
	case len(o.aesKeys) > 0 && o.appID == "":
		return push.Config{}, badFlag(p, "appid", "needed with --aes-key: encrypted pushes carry the AppID, which is checked")
	}
	return push.Config{
		AppID: o.appID, Token: o.token, AESKeys: o.aesKeys, Mode: o.parsedMode,
		AllowPlaintext: o.allowPlaintext, ReplayWindow: o.replayWindow, MaxBody: o.maxBody, Logger: logger,
	}, nil
}

// pushConfigFields maps the words of push's configuration errors to the
// flags that set them.
var pushConfigFields = []struct{ word, flag string }{
	{"AllowPlaintext", "allow-plaintext"},
	{"EncodingAESKey", "aes-key"},
	{"AESKey", "aes-key"},
	{"AppID", "appid"},
	{"Token", "token"},
	{"ReplayWindow", "replay-window"},
	{"MaxBody", "max-body"},
	{"mode", "mode"},
}

// mapPushConfigError rewrites an error of push.NewHandler so that it names
// the flag and its variable instead of the Config field and the package:
// "push: invalid config: Token must be …" becomes "--token / WXGATE_TOKEN:
// must be …". push's messages never hold a secret.
func mapPushConfigError(err error) error {
	msg := err.Error()
	for _, prefix := range []string{"push: invalid config: ", "push: invalid configuration: ", "push: "} {
		if rest, ok := strings.CutPrefix(msg, prefix); ok {
			msg = rest
			break
		}
	}
	msg = strings.ReplaceAll(msg, "wxcrypt: ", "")
	// The field named first is the one the message is about.
	best, at := -1, len(msg)
	for i, m := range pushConfigFields {
		if j := strings.Index(msg, m.word); j >= 0 && j < at {
			best, at = i, j
		}
	}
	if best < 0 {
		return fmt.Errorf("%w: %s", errConfig, msg)
	}
	m := pushConfigFields[best]
	if at == 0 {
		// "Token must be …" → "must be …"; "EncodingAESKey 2: …" → "key 2: …"
		msg = strings.TrimSpace(strings.TrimPrefix(msg[len(m.word):], ":"))
		if n, rest, ok := strings.Cut(msg, ": "); ok && n != "" && strings.Trim(n, "0123456789") == "" {
			msg = "key " + n + ": " + rest
		}
	}
	return &flagError{flag: m.flag, env: envName(serveEnvPrefix, m.flag), msg: msg}
}

// listenFlag listens on addr for the flag named flag, with an error that
// names the flag and its variable.
func listenFlag(envPrefix, flag, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	reason := err.Error()
	var opErr *net.OpError
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		reason = "address already in use"
	case errors.As(err, &opErr) && opErr.Err != nil:
		reason = opErr.Err.Error()
	}
	return nil, &listenError{
		msg: fmt.Sprintf("--%s %s: %s (choose another with --%s or %s)", flag, addr, reason, flag, envName(envPrefix, flag)),
		err: err,
	}
}

// listenError is a failure to listen on a flag's address.
type listenError struct {
	msg string
	err error
}

// Error names the flag, the address and the variable.
func (e *listenError) Error() string { return e.msg }

// Unwrap returns the net error, for errors.Is(err, syscall.EADDRINUSE).
func (e *listenError) Unwrap() error { return e.err }

func runServe(cmd *cobra.Command, o *serveOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	logOut := newBufferedLog(cmd.ErrOrStderr(), 100*time.Millisecond)
	defer logOut.Close()
	logger, err := newLogger(logOut, serveEnvPrefix, o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	if o.token == "" {
		// No credentials configured: use local development ones, so that a
		// first run and the emulator work with no setup.
		creds, created, err := loadOrCreateDevCredentials(o.stateDir)
		if err != nil {
			return fmt.Errorf("no --token given and no development credentials: %w", err)
		}
		o.token = creds.Token
		if o.appID == "" {
			o.appID = creds.AppID
		}
		if len(o.aesKeys) == 0 && o.parsedMode != push.ModePlain {
			o.aesKeys = []string{creds.AESKey}
		}
		logger.Warn("no --token given: using development credentials (for the emulator, not for WeChat)",
			"file", credentialsPath(o.stateDir), "created", created, "appid", o.appID)
	}
	cfg, err := o.pushConfig(logger)
	if err != nil {
		return err
	}
	handler, err := push.NewHandler(cfg, nil)
	if err != nil {
		return mapPushConfigError(err)
	}
	mux := http.NewServeMux()
	mux.Handle(o.path, handler)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	ln, err := listenFlag(serveEnvPrefix, "addr", o.addr)
	if err != nil {
		return err
	}
	if o.debugListen != "" {
		dln, err := listenFlag(serveEnvPrefix, "debug-addr", o.debugListen)
		if err != nil {
			ln.Close()
			return err
		}
		dsrv := newDebugServer(redactedCmdline(cmd))
		defer dsrv.Close()
		go dsrv.Serve(dln)
		if o.debugOpen {
			logger.Warn("the pprof profiles are reachable from other hosts (--debug-public): they expose the process's internals",
				"addr", dln.Addr().String())
		}
		logger.Info("debug server listening", "addr", dln.Addr().String())
	}
	limit := newConnLimiter(o.maxConns)
	return serveUntilSignal(cmd.Context(), logger, limit.listener(ln), mux, limit, func() {
		logger.Info("wxgate serve listening", "addr", ln.Addr().String(), "path", o.path,
			"appid", o.appID, "mode", cfg.Mode.String(), "aes_keys", len(o.aesKeys),
			"allow_plaintext", o.allowPlaintext, "max_conns", o.maxConns)
	})
}

// serveUntilSignal serves on ln until ctx ends or SIGINT/SIGTERM arrives,
// then drains in-flight requests for up to 10 s. limit, when not nil, is
// the connection cap that ln was wrapped for.
func serveUntilSignal(ctx context.Context, logger *slog.Logger, ln net.Listener, h http.Handler, limit *connLimiter, started func()) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       serveIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if limit != nil {
		srv.ConnState = limit.connState
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	started()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
