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
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxgate/wxgate/push"
)

func init() { rootCmd.AddCommand(newServeCmd()) }

// serveOptions are the flags of wxgate serve.
type serveOptions struct {
	addr, path, appID, token, mode string
	aesKeys                        []string
	replayWindow                   time.Duration
	maxBody                        int64
	logFormat, logLevel            string
	stateDir                       string
	debugAddr                      string
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

Every flag can also be set with an environment variable: WXGATE_ and the
flag's name in capitals, dashes as underscores (--aes-key is WXGATE_AES_KEY;
several keys are separated by commas). Prefer the environment for the token
and keys, so that they do not show in the process list.`,
		Example: `  # Plaintext or encrypted pushes, XML or JSON, whatever the console is set to:
  WXGATE_TOKEN=... WXGATE_AES_KEY=... wxgate serve --appid wx0123456789abcdef

  # Safe mode only, during a key rotation (current key first):
  wxgate serve --appid wx0123456789abcdef --mode safe --aes-key NEWKEY --aes-key OLDKEY`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			return runServe(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", ":8080", "address to listen on")
	f.StringVar(&o.path, "path", "/wechat", "URL path of the push endpoint")
	f.StringVar(&o.appID, "appid", "", "the mini program's AppID (required for encrypted pushes)")
	f.StringVar(&o.token, "token", "", "the Token from the console (3-32 letters and digits)")
	f.StringSliceVar(&o.aesKeys, "aes-key", nil, "EncodingAESKey; repeat for previous keys, current first")
	f.StringVar(&o.mode, "mode", "auto", "accepted modes: auto, plain, compat or safe")
	f.DurationVar(&o.replayWindow, "replay-window", push.DefaultReplayWindow, "maximum clock skew of a push's timestamp; 0 switches the check off")
	f.Int64Var(&o.maxBody, "max-body", push.DefaultMaxBody, "maximum request body in bytes")
	f.StringVar(&o.stateDir, "state-dir", defaultStateDir, "where development credentials are kept when no --token is given")
	f.StringVar(&o.debugAddr, "debug-addr", "", "if set, serve Go's pprof profiles on this address (keep it private, e.g. 127.0.0.1:6060)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}

// newLogger returns a slog logger writing to w in format ("text" or
// "json") at level.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %q is not debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format: %q is not text or json", format)
}

// pushConfig turns the flags into a push.Config.
func (o *serveOptions) pushConfig(logger *slog.Logger) (push.Config, error) {
	mode, err := push.ParseMode(o.mode)
	if err != nil {
		return push.Config{}, err
	}
	window := o.replayWindow
	if window == 0 {
		window = push.NoReplayCheck
	} else if window < 0 {
		return push.Config{}, errors.New("--replay-window must not be negative")
	}
	if !strings.HasPrefix(o.path, "/") {
		return push.Config{}, fmt.Errorf("--path %q must start with /", o.path)
	}
	return push.Config{
		AppID: o.appID, Token: o.token, AESKeys: o.aesKeys, Mode: mode,
		ReplayWindow: window, MaxBody: o.maxBody, Logger: logger,
	}, nil
}

func runServe(ctx context.Context, o *serveOptions) error {
	logOut := newBufferedLog(os.Stderr, 100*time.Millisecond)
	defer logOut.Close()
	logger, err := newLogger(logOut, o.logFormat, o.logLevel)
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
		if len(o.aesKeys) == 0 {
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
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(o.path, handler)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	if o.debugAddr != "" {
		startDebugServer(logger, o.debugAddr)
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	return serveUntilSignal(ctx, logger, ln, mux, func() {
		logger.Info("wxgate serve listening", "addr", ln.Addr().String(), "path", o.path,
			"appid", o.appID, "mode", cfg.Mode.String(), "aes_keys", len(o.aesKeys))
	})
}

// serveUntilSignal serves on ln until ctx ends or SIGINT/SIGTERM arrives,
// then drains in-flight requests for up to 10 s.
func serveUntilSignal(ctx context.Context, logger *slog.Logger, ln net.Listener, h http.Handler, started func()) error {
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
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
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
