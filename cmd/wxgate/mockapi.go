package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wxgate/wxgate/wechatsim"
)

func init() { rootCmd.AddCommand(newMockAPICmd()) }

// mockAPIOptions are the flags of wxgate mockapi.
type mockAPIOptions struct {
	addr, appID, secret, originalID string
	users, quota                    int
	openWindow                      bool
	logFormat, logLevel             string
}

func newMockAPICmd() *cobra.Command {
	o := &mockAPIOptions{}
	cmd := &cobra.Command{
		Use:   "mockapi",
		Short: "Serve a mock of WeChat's Open API (tokens, customer-service messages, media)",
		Long: `Serve a mock of https://api.weixin.qq.com for one mini program, so that a
server (or wxgate itself) can fetch access tokens, send customer-service
messages, show the typing state and upload media without WeChat.

The mock follows the platform's rules: tokens last 7200 s and a new
/cgi-bin/token fetch leaves the previous token 5 more minutes; stable_token
returns one token until its last 5 minutes; custom/send needs an open send
window (a user message allows 5 messages in 48 h, entering the session 2 in
1 min) and answers 45015/45047 otherwise; typing lasts 15 s; media last 3
days. It uses the system clock.

Besides /cgi-bin/..., it serves /_sim/... endpoints to inject faults and read
back what happened (see "go doc github.com/wxgate/wxgate/wechatsim"):
  POST /_sim/users                      add a user (body {"openid":"..."} optional)
  POST /_sim/window                     {"openid":"...","event":"user_message"|"enter_session"}
  POST /_sim/faults                     {"latency":"200ms","busy_rate":0.1,"revoke_tokens":true,
                                         "fail_next":{"n":1,"errcode":-1}}
  GET  /_sim/messages, /_sim/transcript, /_sim/tokens, /_sim/stats, /_sim/typing, /_sim/users

The AppSecret is a fake that only this mock accepts; it is printed at start.
Access tokens and secrets are never logged. Every flag can also be set with
an environment variable: WXGATE_MOCKAPI_ and the flag's name in capitals,
dashes as underscores (--addr is WXGATE_MOCKAPI_ADDR). mockapi reads no
other variable, so the WXGATE_ADDR or WXGATE_APPID of wxgate serve do not
reach it.`,
		Example: `  # Start the mock and point your server's API base URL at it:
  wxgate mockapi --addr 127.0.0.1:9400

  # Use your own (fake) credentials and three users whose send window is open:
  wxgate mockapi --appid wx0123456789abcdef --secret testsecret --users 3 --open-window

  # Then, from another shell:
  curl 'http://127.0.0.1:9400/cgi-bin/token?grant_type=client_credential&appid=APPID&secret=SECRET'
  curl -d '{"openid":"OPENID","event":"user_message"}' http://127.0.0.1:9400/_sim/window
  curl -d '{"touser":"OPENID","msgtype":"text","text":{"content":"hi"}}' \
       'http://127.0.0.1:9400/cgi-bin/message/custom/send?access_token=TOKEN'
  curl 'http://127.0.0.1:9400/_sim/messages?openid=OPENID'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			return runMockAPI(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	def := wechatsim.DefaultApp()
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:9400", "address to listen on")
	f.StringVar(&o.appID, "appid", def.AppID, "AppID the mock accepts")
	f.StringVar(&o.secret, "secret", def.Secret, "AppSecret the mock accepts (a fake; printed at start)")
	f.StringVar(&o.originalID, "original-id", def.OriginalID, "the mini program's original ID (gh_...)")
	f.IntVar(&o.users, "users", 1, "number of users (openids) to create at start")
	f.BoolVar(&o.openWindow, "open-window", false, "open a 48 h / 5 message send window for the users created at start")
	f.IntVar(&o.quota, "token-quota", wechatsim.DefaultDailyTokenQuota, "daily /cgi-bin/token quota (45009 beyond it)")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	markSecret(f, "secret")
	declareEnv(cmd, mockAPIEnvPrefix)
	return cmd
}

func runMockAPI(ctx context.Context, stdout, stderr io.Writer, o *mockAPIOptions) error {
	switch {
	case o.appID == "":
		return badFlag(mockAPIEnvPrefix, "appid", "must not be empty")
	case o.secret == "":
		return badFlag(mockAPIEnvPrefix, "secret", "must not be empty")
	case o.users < 0:
		return badFlag(mockAPIEnvPrefix, "users", "must not be negative")
	case o.quota <= 0:
		return badFlag(mockAPIEnvPrefix, "token-quota", "must be positive")
	}
	logger, err := newLogger(stderr, mockAPIEnvPrefix, o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	clock := wechatsim.SystemClock{}
	world := wechatsim.NewWorld(clock)
	app := wechatsim.App{AppID: o.appID, Secret: o.secret, OriginalID: o.originalID}
	api := wechatsim.NewOpenAPI(wechatsim.WithWorld(world), wechatsim.WithClock(clock),
		wechatsim.WithApp(app), wechatsim.WithDailyTokenQuota(o.quota))
	var openids []string
	for range o.users {
		u := world.NewUser()
		if o.openWindow {
			world.NoteUserMessage(u.OpenID, clock.Now())
		}
		openids = append(openids, u.OpenID)
	}

	ln, err := listenFlag(mockAPIEnvPrefix, "addr", o.addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	return serveUntilSignal(ctx, logger, ln, logRequests(logger, api), nil, func() {
		fmt.Fprintf(stdout, "wxgate mockapi: mock WeChat Open API at %s\n", base)
		fmt.Fprintf(stdout, "  base URL     %s   (use it instead of https://api.weixin.qq.com)\n", base)
		fmt.Fprintf(stdout, "  AppID        %s\n", app.AppID)
		// Only the built-in fake secret is shown: one given with --secret may
		// be a real one that someone reused.
		shownSecret := "(the one you gave)"
		if app.Secret == wechatsim.DefaultSecret {
			shownSecret = app.Secret + "   (fake: accepted by this mock only)"
		}
		fmt.Fprintf(stdout, "  AppSecret    %s\n", shownSecret)
		fmt.Fprintf(stdout, "  Original ID  %s\n", app.OriginalID)
		for _, id := range openids {
			fmt.Fprintf(stdout, "  user         %s\n", id)
		}
		if len(openids) > 0 && !o.openWindow {
			fmt.Fprintf(stdout, "  open a user's send window: curl -d '{\"openid\":\"%s\",\"event\":\"user_message\"}' %s/_sim/window\n", openids[0], base)
		}
		secretParam := "SECRET"
		if app.Secret == wechatsim.DefaultSecret {
			secretParam = url.QueryEscape(app.Secret)
		}
		fmt.Fprintf(stdout, "  token:        curl '%s/cgi-bin/token?grant_type=client_credential&appid=%s&secret=%s'\n",
			base, url.QueryEscape(app.AppID), secretParam)
		logger.Info("wxgate mockapi listening", "addr", ln.Addr().String(), "appid", app.AppID, "users", len(openids))
	})
}

// secretParams are query parameters whose values never reach a log line.
var secretParams = map[string]bool{"access_token": true, "secret": true}

// redactQuery returns rawQuery with the values of access_token and secret
// replaced by "REDACTED". An unparsable query is dropped entirely.
func redactQuery(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "(unparsable query omitted)"
	}
	for k := range q {
		if secretParams[strings.ToLower(k)] {
			for i := range q[k] {
				q[k][i] = "REDACTED"
			}
		}
	}
	return q.Encode()
}

// statusWriter remembers the status code and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	size   int
}

// WriteHeader records the status code and forwards it.
func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records the size and forwards the bytes.
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.size += n
	return n, err
}

// logRequests logs one line per request: method, path, redacted query,
// status, size and duration. Request bodies (which may carry a secret, as
// stable_token's does) are never logged.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		logger.Info("request",
			"method", r.Method,
			"path", r.URL.Path,
			"query", redactQuery(r.URL.RawQuery),
			"status", sw.status,
			"bytes", sw.size,
			"duration", time.Since(start).Round(time.Microsecond).String(),
		)
	})
}
