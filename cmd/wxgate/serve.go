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
	"github.com/spf13/pflag"

	"github.com/wxgate/wxgate/gateway/config"
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
	configFile, storeSpec          string
	webhooks                       []string
	webhookSecret, secret          string
	natsURL, redisURL, openAPIURL  string
	adminToken, adminAddr          string
	retain                         time.Duration
	tlsCert, tlsKey                string

	// Set by check.
	parsedMode  push.Mode
	debugListen string // debugAddr bound to loopback unless debugPublic
	debugOpen   bool   // the pprof server is reachable from other hosts
}

func newServeCmd() *cobra.Command {
	o := &serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Receive, store and deliver the message pushes of mini programs",
		Long: `Serve the push URL of one mini program (flags) or several (--config).
wxgate answers WeChat's URL verification, checks every push's signatures,
timestamp and size, decrypts and decodes it, stores it (SQLite by default,
PostgreSQL with --store postgres://...) and answers WeChat only once it is
stored. Its workers then deliver it to your code: a signed webhook
(--webhook, docs/webhooks.md) or NATS JetStream (--nats). With no
destination every push is still stored; the admin API (--admin-token)
lists them.

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

  # Deliver every push to your code, signed with a secret it checks:
  WXGATE_TOKEN=... WXGATE_AES_KEY=... WXGATE_WEBHOOK_SECRET=... wxgate serve \
    --appid wx0123456789abcdef --webhook https://api.example.com/wechat

  # Several mini programs, several replicas on PostgreSQL:
  wxgate serve --config wxgate.yaml --store postgres://wxgate@db/wxgate

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
	f.StringVar(&o.configFile, "config", "", "YAML configuration file for one or several apps (docs/configuration.md); flags override it")
	f.StringVar(&o.storeSpec, "store", "", `where pushes are stored: "sqlite:PATH" (default: wxgate.db in --state-dir) or "postgres://..."`)
	f.StringSliceVar(&o.webhooks, "webhook", nil, "deliver every push to this URL, signed (repeatable; docs/webhooks.md)")
	f.StringVar(&o.webhookSecret, "webhook-secret", "", "the secret that signs webhook deliveries (at least 16 characters)")
	f.StringVar(&o.natsURL, "nats", "", "publish every push to NATS JetStream at this URL (nats://host:4222)")
	f.StringVar(&o.redisURL, "redis", "", "Redis URL for the access token shared by replicas")
	f.StringVar(&o.secret, "secret", "", "the mini program's AppSecret, for the Open API")
	f.StringVar(&o.openAPIURL, "openapi-url", "", "WeChat's Open API base URL (point it at wxgate mockapi to test)")
	f.StringVar(&o.adminToken, "admin-token", "", "turn the /v1/ admin API on with this bearer token (at least 16 characters)")
	f.StringVar(&o.adminAddr, "admin-addr", "", "serve the admin API and /metrics on this separate (private) address")
	f.DurationVar(&o.retain, "retain", config.DefaultRetain, "delete delivered messages older than this; dead letters are kept")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this certificate file (PEM; with --tls-key)")
	f.StringVar(&o.tlsKey, "tls-key", "", "the private key file of --tls-cert (PEM)")
	markSecret(f, "token", "aes-key", "webhook-secret", "secret", "admin-token")
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
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return badFlag(p, "tls-cert", "--tls-cert and --tls-key go together")
	case o.retain < 0:
		return badFlag(p, "retain", "must not be negative")
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

// configFlags turns the flags into config.Flags. given names the flags
// the user set (on the command line or through their variables); nil
// means every non-zero value counts, as when there is no file.
func (o *serveOptions) configFlags(given map[string]bool) config.Flags {
	return config.Flags{
		Addr: o.addr, Path: o.path, AppID: o.appID, Token: o.token, AESKeys: o.aesKeys, Mode: o.mode,
		AllowPlaintext: o.allowPlaintext, ReplayWindow: o.replayWindow, MaxBody: o.maxBody,
		Webhooks: o.webhooks, WebhookSecret: o.webhookSecret, Secret: o.secret, NATS: o.natsURL, Redis: o.redisURL,
		Store: o.storeSpec, AdminToken: o.adminToken, AdminAddr: o.adminAddr, Retain: o.retain, OpenAPIURL: o.openAPIURL,
		StateDir: o.stateDir, LogFormat: o.logFormat, LogLevel: o.logLevel, Changed: given,
	}
}

// givenFlags names the flags set on the command line or through their
// environment variables.
func givenFlags(cmd *cobra.Command) map[string]bool {
	given := map[string]bool{}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			given[f.Name] = true
		} else if env := flagEnv(f); env != "" {
			if _, ok := os.LookupEnv(env); ok {
				given[f.Name] = true
			}
		}
	})
	return given
}

// loadConfig builds the gateway's configuration: from --config with the
// flags laid over it, or from the flags alone.
func (o *serveOptions) loadConfig(cmd *cobra.Command) (*config.Config, error) {
	var cfg *config.Config
	var err error
	if o.configFile != "" {
		cfg, err = config.Load(o.configFile, config.WithFlags(o.configFlags(givenFlags(cmd))))
	} else {
		cfg, err = config.FromFlags(o.configFlags(nil))
	}
	if err != nil {
		return nil, flagNamedConfigError(err, o.configFile == "")
	}
	return cfg, nil
}

// flagOfPath names the flag that sets a configuration field in single-app
// mode, where every value comes from a flag.
var flagOfPath = map[string]string{
	"listen": "addr", "state_dir": "state-dir", "store": "store", "redis": "redis", "nats.url": "nats",
	"admin.token": "admin-token", "admin.addr": "admin-addr", "log.format": "log-format", "log.level": "log-level",
	"retain": "retain", "openapi_url": "openapi-url",
	"apps.default.path": "path", "apps.default.appid": "appid", "apps.default.token": "token",
	"apps.default.aes_keys": "aes-key", "apps.default.mode": "mode", "apps.default.allow_plaintext": "allow-plaintext",
	"apps.default.replay_window": "replay-window", "apps.default.max_body": "max-body", "apps.default.secret": "secret",
}

// flagFor returns the flag behind a configuration error, if any.
func flagFor(e *config.FieldError, flagsOnly bool) string {
	if flag, ok := strings.CutPrefix(e.Source, "--"); ok {
		return flag
	}
	if !flagsOnly {
		return ""
	}
	if flag, ok := flagOfPath[e.Path]; ok {
		return flag
	}
	if strings.HasPrefix(e.Path, "apps.default.destinations") {
		if strings.HasSuffix(e.Path, ".secret") {
			return "webhook-secret"
		}
		return "webhook"
	}
	return ""
}

// flagNamedConfigError rewrites the configuration's errors that come from
// a flag so that they name the flag and its variable, as every other flag
// error does; errors from a file keep their field path and line.
func flagNamedConfigError(err error, flagsOnly bool) error {
	var errs config.Errors
	if !errors.As(err, &errs) {
		return err
	}
	var lines []string
	for _, e := range errs {
		if flag := flagFor(e, flagsOnly); flag != "" {
			fe := &flagError{flag: flag, env: envName(serveEnvPrefix, flag), msg: e.Msg}
			if len(errs) == 1 {
				return fe
			}
			lines = append(lines, fe.Error())
			continue
		}
		lines = append(lines, e.Error())
	}
	return fmt.Errorf("%w:\n%s", errConfig, strings.Join(lines, "\n"))
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
	if o.token == "" && o.configFile == "" {
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
	cfg, err := o.loadConfig(cmd)
	if err != nil {
		return err
	}
	if o.configFile != "" {
		// The file may set the log's format and level.
		if logger, err = newLogger(logOut, serveEnvPrefix, cfg.Log.Format, cfg.Log.Level); err != nil {
			return err
		}
	}
	ln, err := listenFlag(serveEnvPrefix, "addr", cfg.Listen)
	if err != nil {
		return err
	}
	var adminLn net.Listener
	if cfg.Admin.Addr != "" {
		if adminLn, err = listenFlag(serveEnvPrefix, "admin-addr", cfg.Admin.Addr); err != nil {
			ln.Close()
			return err
		}
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
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	rt, err := openGateway(ctx, cfg, logger)
	if err != nil {
		ln.Close()
		if adminLn != nil {
			adminLn.Close()
		}
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	driver, _ := cfg.StoreDSN()
	return rt.run(ctx, ln, adminLn, listenOptions{
		maxConns: o.maxConns, tlsCert: o.tlsCert, tlsKey: o.tlsKey,
		onStarted: func(addr, adminAddr string) {
			for _, name := range cfg.AppNames() {
				app := cfg.Apps[name]
				logger.Info("app", "name", name, "path", app.Path, "appid", app.AppID, "mode", app.Mode.String(),
					"aes_keys", len(app.AESKeys), "allow_plaintext", app.AllowPlaintext, "destinations", len(app.Destinations))
			}
			attrs := []any{"addr", addr, "store", driver, "destinations", describeDestinations(cfg),
				"admin_api", cfg.AdminEnabled(), "max_conns", o.maxConns, "tls", o.tlsCert != ""}
			if len(cfg.Apps) == 1 {
				app := cfg.Apps[cfg.AppNames()[0]]
				attrs = append(attrs, "path", app.Path, "mode", app.Mode.String())
			}
			if adminAddr != "" {
				attrs = append(attrs, "admin_addr", adminAddr)
			}
			logger.Info("wxgate serve listening", attrs...)
		},
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
	srv := newHTTPServer(h, logger)
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
