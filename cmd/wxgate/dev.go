package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/web"
	"github.com/wxgate/wxgate/wechatsim"
)

func init() { rootCmd.AddCommand(newDevCmd()) }

// devEnvPrefix: dev reads WXGATE_DEV_… and, like serve, WXGATE_STATE_DIR.
const devEnvPrefix = "WXGATE_DEV_"

// devOptions are the flags of wxgate dev.
type devOptions struct {
	addr, configFile, mode, format, stateDir, logLevel string

	parsedMode   wechatsim.Mode
	parsedFormat message.Format
}

func newDevCmd() *cobra.Command {
	o := &devOptions{}
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the gateway, WeChat's emulator and a web console to chat and watch every push",
		Long: `Run, in one process, the gateway (on SQLite in --state-dir, with sample rules),
a mock of WeChat's Open API, WeChat's push emulator with its simulated users,
and a web console at http://127.0.0.1:8080/ to chat as a WeChat user, watch
every push on the wire, read what the gateway stored and delivered, and
switch WeChat's mode and format live. Nothing to configure, no WeChat account.

The development credentials (AppID, Token, EncodingAESKey) are those of
wxgate serve, kept in --state-dir; dev prints them with the push URL, to
paste into WeChat's console later. The /v1/ API's bearer token is in
dev.json in --state-dir. It opens no browser.

With --config, the console runs in front of your own configuration: its
apps, rules and destinations, with the emulator and the mock in WeChat's
place (openapi_url, redis and the store are replaced: dev never talks to
WeChat or writes to your database).

The console has no login: keep --addr on a loopback address.`,
		Example: `  wxgate dev                              # then open http://127.0.0.1:8080/
  wxgate dev --mode compat --format json  # how the emulator pushes at first
  wxgate dev --config wxgate.yaml         # your rules and webhooks, WeChat emulated`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmdContext(cmd), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runDev(ctx, cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:8080", "address of the console, the push URL and the /v1/ API")
	f.StringVar(&o.configFile, "config", "", "run in front of this configuration file instead of the sample one")
	f.StringVar(&o.mode, "mode", "auto", "how the emulator pushes at first: plain, compat or safe; auto is the app's own mode, else safe")
	f.StringVar(&o.format, "format", "xml", "the data format the emulator pushes at first: xml or json")
	f.StringVar(&o.stateDir, "state-dir", defaultStateDir, "where the development credentials and dev.db live")
	f.StringVar(&o.logLevel, "log-level", "warn", "log level: debug, info, warn or error")
	declareEnv(cmd, devEnvPrefix, "state-dir")
	return cmd
}

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// check validates the flags before anything is created.
func (o *devOptions) check() error {
	m, err := wechatsim.ParseMode(o.mode)
	if err != nil {
		return badFlag(devEnvPrefix, "mode", "%q is not auto, plain, compat or safe", o.mode)
	}
	o.parsedMode = m
	switch strings.ToLower(o.format) {
	case "xml":
		o.parsedFormat = message.FormatXML
	case "json":
		o.parsedFormat = message.FormatJSON
	default:
		return badFlag(devEnvPrefix, "format", "%q is not xml or json", o.format)
	}
	if o.stateDir == "" {
		return badFlag(serveEnvPrefix, "state-dir", "must not be empty") // shared with serve
	}
	return nil
}

// runDev runs wxgate dev until ctx ends.
func runDev(ctx context.Context, stdout, stderr io.Writer, o *devOptions) error {
	if err := o.check(); err != nil {
		return err
	}
	logOut := newBufferedLog(stderr, 100*time.Millisecond)
	defer logOut.Close()
	logger, err := newLogger(logOut, devEnvPrefix, "text", o.logLevel)
	if err != nil {
		return err
	}
	d, err := startDev(ctx, o, logger)
	if err != nil {
		return err
	}
	d.printBanner(stdout)
	return d.wait(ctx)
}

// devSecrets are the development secrets besides the credentials of
// wxgate serve: the /v1/ API's admin token (scripts read it from the
// file), the AppSecret the mock accepts and the sample webhook's secret.
type devSecrets struct {
	AdminToken    string `json:"admin_token"`
	AppSecret     string `json:"app_secret"`
	WebhookSecret string `json:"webhook_secret"`
}

func devSecretsPath(stateDir string) string { return filepath.Join(stateDir, "dev.json") }

// loadOrCreateDevSecrets reads dev.json in stateDir, creating it (0600)
// on first use.
func loadOrCreateDevSecrets(stateDir string) (devSecrets, error) {
	path := devSecretsPath(stateDir)
	var s devSecrets
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if json.Unmarshal(data, &s) != nil || len(s.AdminToken) < 16 || len(s.AppSecret) < 16 || len(s.WebhookSecret) < 16 {
			return s, fmt.Errorf("%s is not valid; delete it to make new development secrets", path)
		}
		return s, nil
	case !errors.Is(err, fs.ErrNotExist):
		return s, err
	}
	s = devSecrets{AdminToken: randomHex(24), AppSecret: randomHex(16), WebhookSecret: randomHex(24)}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return s, err
	}
	data, _ = json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return s, err
	}
	return s, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// devRuntime is a running wxgate dev.
type devRuntime struct {
	o       *devOptions
	log     *slog.Logger
	cfg     *config.Config
	rt      *gatewayRuntime
	world   *wechatsim.World
	mock    *wechatsim.OpenAPI
	console *web.Console
	apps    []web.App
	ln      net.Listener
	srv     *http.Server
	mockLn  net.Listener
	mockSrv *http.Server
	baseURL string // the console's, http://127.0.0.1:8080
	mockURL string
	demo    bool // the sample configuration, with generated credentials
	ownKey  bool // the configuration had no admin token: the console made one

	stopEngine context.CancelFunc
	engineDone chan error
	serveDone  chan error
}

// startDev assembles and starts everything; wait serves until ctx ends.
func startDev(ctx context.Context, o *devOptions, logger *slog.Logger) (*devRuntime, error) {
	d := &devRuntime{o: o, log: logger, demo: o.configFile == ""}
	started := false
	defer func() {
		if !started {
			d.abort()
		}
	}()
	var err error
	if d.ln, err = listenFlag(devEnvPrefix, "addr", o.addr); err != nil {
		return nil, err
	}
	host := consoleHost(d.ln.Addr())
	d.baseURL = "http://" + host
	if d.mockLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("the mock Open API: %w", err)
	}
	d.mockURL = "http://" + d.mockLn.Addr().String()
	d.world = wechatsim.NewWorld(wechatsim.SystemClock{})

	var webhook *web.Webhook
	var mockApps []wechatsim.App
	var suggestions []string
	if d.demo {
		creds, created, err := loadOrCreateDevCredentials(o.stateDir)
		if err != nil {
			return nil, fmt.Errorf("development credentials: %w", err)
		}
		secrets, err := loadOrCreateDevSecrets(o.stateDir)
		if err != nil {
			return nil, fmt.Errorf("development secrets: %w", err)
		}
		picture, cover, err := web.WriteSampleMedia(o.stateDir)
		if err != nil {
			return nil, fmt.Errorf("sample media: %w", err)
		}
		dc := web.DevConfig{
			Listen: d.ln.Addr().String(), StateDir: o.stateDir, AppID: creds.AppID, Token: creds.Token, AESKey: creds.AESKey, Secret: secrets.AppSecret,
			AdminToken: secrets.AdminToken, OpenAPIURL: d.mockURL, WebhookURL: d.baseURL + web.WebhookPath,
			WebhookSecret: secrets.WebhookSecret, PictureFile: picture, CoverFile: cover,
		}
		if d.cfg, err = config.Parse("(wxgate dev)", dc.YAML(), config.WithEnviron(dc.Environ())); err != nil {
			return nil, fmt.Errorf("the development configuration: %w", err)
		}
		webhook = web.NewWebhook(secrets.WebhookSecret)
		suggestions = []string{"订单 42", "hello"} // the order rule's typing, the webhook's echo
		mockApps = append(mockApps, wechatsim.App{AppID: creds.AppID, Secret: secrets.AppSecret})
		logger.Debug("development credentials", "file", credentialsPath(o.stateDir), "created", created, "appid", creds.AppID)
	} else {
		if d.cfg, err = config.Load(o.configFile); err != nil {
			return nil, err
		}
		// WeChat is emulated: the Open API is the mock's, and nothing of
		// the file's environment is written to (its store, its Redis).
		d.cfg.OpenAPIURL = d.mockURL
		d.cfg.Listen = d.ln.Addr().String()
		d.cfg.Redis = ""
		d.cfg.StateDir = o.stateDir
		d.cfg.Store = "sqlite:" + filepath.Join(o.stateDir, "dev.db")
		d.cfg.Admin.Addr = ""
		if !d.cfg.Admin.Token.IsSet() {
			d.cfg.Admin.Token = config.NewSecret(randomHex(24)) // the console's own key
			d.ownKey = true
		}
		for _, name := range d.cfg.AppNames() {
			app := d.cfg.Apps[name]
			if app.AppID != "" {
				mockApps = append(mockApps, wechatsim.App{AppID: app.AppID, Secret: app.Secret.Value()})
			}
		}
	}
	opts := []wechatsim.OpenAPIOption{wechatsim.WithWorld(d.world)}
	for _, a := range mockApps {
		opts = append(opts, wechatsim.WithApp(a))
	}
	d.mock = wechatsim.NewOpenAPI(opts...)
	d.mockSrv = &http.Server{Handler: d.mock, ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go d.mockSrv.Serve(d.mockLn)

	if d.rt, err = openGateway(ctx, d.cfg, logger); err != nil {
		return nil, err
	}
	for _, name := range d.cfg.AppNames() {
		app := d.cfg.Apps[name]
		wa := web.App{Name: name, AppID: app.AppID, Token: app.Token.Value(), PushURL: d.baseURL + app.Path}
		if len(app.AESKeys) > 0 {
			wa.AESKey = app.AESKeys[0].Value()
		}
		d.apps = append(d.apps, wa)
	}
	mode := o.parsedMode
	if first := d.cfg.Apps[d.cfg.AppNames()[0]]; mode == wechatsim.ModeAuto && first.Mode != wechatsim.ModeAuto {
		mode = first.Mode // the app takes only that mode: push it that way
	}
	if mode != wechatsim.ModePlain && d.apps[0].AESKey == "" {
		if mode != wechatsim.ModeAuto {
			logger.Warn("the app has no EncodingAESKey: the emulator pushes plaintext", "app", d.apps[0].Name)
		}
		mode = wechatsim.ModePlain
	}
	gw := d.rt.gateway.Handler(true)
	stateDir := o.stateDir
	if filepath.Clean(stateDir) == defaultStateDir || !d.demo {
		stateDir = ""
	}
	d.console, err = web.New(web.Options{
		API: gw, AdminToken: d.cfg.Admin.Token.Value(), Config: d.cfg, Apps: d.apps, World: d.world, Mock: d.mock,
		Mode: mode, Format: o.parsedFormat, Webhook: webhook, ShowCredentials: d.demo, StateDir: stateDir,
		Suggestions: suggestions, Hosts: consoleHosts(d.ln.Addr()), Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	for _, name := range d.cfg.AppNames() {
		mux.Handle(d.cfg.Apps[name].Path, gw)
	}
	for _, p := range []string{"/v1/", "/healthz", "/readyz", "/metrics"} {
		mux.Handle(p, gw)
	}
	mux.Handle("/", d.console.Handler())
	d.srv = &http.Server{
		Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: serveIdleTimeout, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}

	// The gateway's background work, as serve runs it.
	engineCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	d.stopEngine, d.engineDone = stop, make(chan error, 1)
	go func() { d.engineDone <- d.rt.engine.Run(engineCtx) }()
	go d.rt.gateway.Retain(engineCtx, d.cfg.Retain, time.Hour)
	if len(d.rt.rules) > 0 {
		go warmMedia(engineCtx, d.rt.rules, d.rt.media, logger)
	}
	d.serveDone = make(chan error, 1)
	go func() { d.serveDone <- d.srv.Serve(d.ln) }()
	started = true
	return d, nil
}

// consoleHost is the host:port of the console's URLs: a listener on every
// interface is reached on loopback.
func consoleHost(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// consoleHosts are the Host names the console answers to: the loopback
// names when it listens on loopback, so that a page of another site
// cannot reach it by DNS rebinding; any on other addresses.
func consoleHosts(addr net.Addr) []string {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return []string{"localhost", "127.0.0.1", "::1", host}
	}
	return nil
}

// abort releases what startDev made before it failed.
func (d *devRuntime) abort() {
	if d.stopEngine != nil {
		d.stopEngine()
		<-d.engineDone
	}
	if d.console != nil {
		d.console.Close()
	}
	if d.mockSrv != nil {
		d.mockSrv.Close()
	} else if d.mockLn != nil {
		d.mockLn.Close()
	}
	if d.ln != nil {
		d.ln.Close()
	}
	if d.rt != nil {
		d.rt.close()
	}
}

// wait serves until ctx ends, then shuts down in order: the console's
// streams, the requests in flight, the mock, the deliveries, the store.
func (d *devRuntime) wait(ctx context.Context) error {
	var serveErr error
	select {
	case serveErr = <-d.serveDone:
	case <-ctx.Done():
	}
	d.log.Info("shutting down")
	d.console.Close()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.srv.Shutdown(shutdownCtx); err != nil && serveErr == nil {
		serveErr = err
	}
	d.mockSrv.Shutdown(shutdownCtx)
	d.stopEngine()
	if err := <-d.engineDone; err != nil && !errors.Is(err, context.Canceled) {
		d.log.Warn("delivery engine", "err", err)
	}
	d.rt.close()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// printBanner says where everything is. The Token and EncodingAESKey are
// printed only when they are generated development ones, to paste into
// WeChat's console; a configuration's real ones never are.
func (d *devRuntime) printBanner(w io.Writer) {
	fmt.Fprintf(w, "wxgate dev: the console is at %s/\n\n", d.baseURL)
	for _, a := range d.apps {
		if len(d.apps) > 1 {
			fmt.Fprintf(w, "  app %s\n", a.Name)
		}
		fmt.Fprintf(w, "  Push URL        %s\n", a.PushURL)
		if d.demo {
			fmt.Fprintf(w, "  Token           %s\n", a.Token)
			fmt.Fprintf(w, "  EncodingAESKey  %s\n", a.AESKey)
		} else {
			fmt.Fprintf(w, "  Token, EncodingAESKey: from %s (not printed)\n", d.o.configFile)
		}
		if a.AppID != "" {
			fmt.Fprintf(w, "  AppID           %s\n", a.AppID)
		}
	}
	fmt.Fprintln(w)
	if d.demo {
		fmt.Fprintf(w, "  WeChat's console needs a public HTTPS push URL: put a tunnel in front of %s/wechat.\n", d.baseURL)
		fmt.Fprintf(w, "  The /v1/ API is at %s/v1/; its bearer token is admin_token in %s.\n", d.baseURL, devSecretsPath(d.o.stateDir))
	} else if !d.ownKey {
		fmt.Fprintf(w, "  The /v1/ API is at %s/v1/, with the admin token of %s.\n", d.baseURL, d.o.configFile)
	}
	fmt.Fprintf(w, "  The mock Open API is at %s (/_sim/ to script it).\n", d.mockURL)
	fmt.Fprintf(w, "  Store: %s\n", strings.TrimPrefix(d.cfg.Store, "sqlite:"))
	if consoleHosts(d.ln.Addr()) == nil {
		fmt.Fprintf(w, "\n  Warning: the console has no login and listens on %s, which other hosts may reach.\n", d.ln.Addr())
	}
	fmt.Fprintln(w, "\nPress Ctrl+C to stop.")
}
