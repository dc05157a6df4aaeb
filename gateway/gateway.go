// Package gateway is `wxgate serve`: it receives the pushes of one or
// several mini programs, stores each one with its deliveries in one
// transaction before it answers WeChat, and serves the operator's
// endpoints (/healthz, /readyz, /metrics) and the /v1/ admin API.
//
// The pipeline of a push: the SDK's push.Opener verifies, decrypts and
// decodes it (with the one-use nonce rule left to the store, so that it
// holds across replicas); the store's unique (app, dedup key) deduplicates
// WeChat's retries, also across restarts and replicas; WeChat gets its
// answer only after the commit, and a 503 when the store fails or is
// slower than the acknowledgement deadline, so that it retries. Delivery
// to the destinations is the job of package deliver, woken by Notify.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/gateway/rules"
	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/push"
	"github.com/wxgate/wxgate/store"
)

// App is one mini program the gateway serves.
type App struct {
	// Name identifies the app in stored messages, webhook bodies, metrics
	// and the API ("default" when one app is configured by flags).
	Name string
	// Path is its push URL's path, e.g. /wechat.
	Path string
	// Push configures verification and decryption. Its Nonces is replaced:
	// the store enforces the one-use rule. Deduper and HandlerTimeout are
	// not used.
	Push push.Config
	// Destinations names the destinations every message of the app is
	// delivered to.
	Destinations []string
}

// Options configures a Gateway.
type Options struct {
	Apps  []App
	Store store.Store
	// Notify, when set, is called after a push was stored, to wake the
	// delivery engine.
	Notify func()
	// AckTimeout bounds the store's commit for one push; past it WeChat is
	// answered 503 and retries. DefaultAckTimeout when zero.
	AckTimeout time.Duration
	// AdminToken, when set, turns the /v1/ API on with this bearer token,
	// which holds every scope for every app.
	AdminToken string
	// Ready lists extra readiness checks for /readyz (NATS, say), by name.
	Ready map[string]func(context.Context) error
	// OpenAPI returns an app's Open API client (customer service, media,
	// subscribe messages, the access token), or nil when the app has no
	// AppSecret. Nil turns the Open API off.
	OpenAPI func(app string) *openapi.Client
	// APIKeys are the keys of the /v1/ API besides the admin token, with
	// their apps and scopes.
	APIKeys []config.APIKey
	// Rules are the apps' compiled rules, by app name; an app without
	// rules has none.
	Rules map[string]*rules.Engine
	// Metrics receives the gateway's metrics; nil for none.
	Metrics *Metrics
	// Logger receives one line per push; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// DefaultAckTimeout leaves WeChat's 5 s for the network and the rest of
// the request.
const DefaultAckTimeout = 4 * time.Second

// Gateway serves the push URLs and the operator's endpoints.
type Gateway struct {
	apps       []*appHandler
	openapi    func(app string) *openapi.Client
	apiKeys    []config.APIKey
	rules      map[string]*rules.Engine
	store      store.Store
	notify     func()
	ackTimeout time.Duration
	adminToken string
	ready      map[string]func(context.Context) error
	metrics    *Metrics
	log        *slog.Logger
	now        func() time.Time
}

// New checks opts and returns a Gateway.
func New(opts Options) (*Gateway, error) {
	if opts.Store == nil {
		return nil, errors.New("gateway: a store is required")
	}
	if len(opts.Apps) == 0 {
		return nil, errors.New("gateway: at least one app is required")
	}
	g := &Gateway{
		store: opts.Store, notify: opts.Notify, ackTimeout: opts.AckTimeout, adminToken: opts.AdminToken,
		ready: opts.Ready, metrics: opts.Metrics, log: opts.Logger, now: opts.Now,
		openapi: opts.OpenAPI, apiKeys: opts.APIKeys, rules: opts.Rules,
	}
	if g.notify == nil {
		g.notify = func() {}
	}
	if g.ackTimeout <= 0 {
		g.ackTimeout = DefaultAckTimeout
	}
	if g.log == nil {
		g.log = slog.Default()
	}
	if g.now == nil {
		g.now = time.Now
	}
	names, paths := map[string]bool{}, map[string]bool{}
	for _, app := range opts.Apps {
		switch {
		case app.Name == "":
			return nil, errors.New("gateway: an app has no name")
		case names[app.Name]:
			return nil, fmt.Errorf("gateway: app %q is configured twice", app.Name)
		case !strings.HasPrefix(app.Path, "/"):
			return nil, fmt.Errorf("gateway: app %q: path %q must start with /", app.Name, app.Path)
		case paths[app.Path]:
			return nil, fmt.Errorf("gateway: app %q: path %s is already used by another app", app.Name, app.Path)
		}
		names[app.Name], paths[app.Path] = true, true
		cfg := app.Push
		cfg.Nonces = push.ExternalNonceCheck // checked in the store's transaction
		if cfg.Now == nil {
			cfg.Now = g.now
		}
		if cfg.Logger == nil {
			cfg.Logger = g.log
		}
		opener, err := push.NewOpener(cfg)
		if err != nil {
			return nil, fmt.Errorf("gateway: app %q: %w", app.Name, err)
		}
		if cfg.MaxBody <= 0 {
			cfg.MaxBody = push.DefaultMaxBody
		}
		g.apps = append(g.apps, &appHandler{g: g, app: app, opener: opener, cfg: cfg})
	}
	return g, nil
}

// Handler returns the push URLs, /healthz and /readyz and, when admin is
// true, /metrics (when Metrics is set) and the /v1/ API (when an admin
// token or API keys are set). With admin false, serve those on a private address with
// AdminHandler.
func (g *Gateway) Handler(admin bool) http.Handler {
	mux := http.NewServeMux()
	for _, a := range g.apps {
		mux.Handle(a.app.Path, a)
	}
	g.probeRoutes(mux)
	if admin {
		g.adminRoutes(mux)
	}
	return mux
}

// AdminHandler returns /metrics, the /v1/ API (when an admin token is set)
// and the probes, for a separate, private listener.
func (g *Gateway) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	g.probeRoutes(mux)
	g.adminRoutes(mux)
	return mux
}

// probeRoutes are /healthz and /readyz, for load balancers and
// orchestrators.
func (g *Gateway) probeRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", g.readyz)
}

func (g *Gateway) adminRoutes(mux *http.ServeMux) {
	if g.metrics != nil {
		mux.Handle("GET /metrics", g.metrics.Handler())
	}
	g.apiRoutes(mux)
}

// readyz answers 200 when the store (and every extra check) answers within
// two seconds, 503 with the failing checks otherwise.
func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	var failed []string
	if err := g.store.Ping(ctx); err != nil {
		failed = append(failed, "store")
		g.log.Warn("readiness: store unreachable", "err", err)
	}
	for name, check := range g.ready {
		if err := check(ctx); err != nil {
			failed = append(failed, name)
			g.log.Warn("readiness: check failed", "check", name, "err", err)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if len(failed) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintf(w, "not ready: %s\n", strings.Join(failed, ", "))
		return
	}
	w.Write([]byte("ready\n"))
}

// Retain runs until ctx ends. Every minute it deletes the expired nonces
// (they only guard the replay window, a few minutes); every interval
// (an hour when zero) the messages older than retain whose deliveries are
// all done. Dead letters are kept until redelivered. retain 0 deletes no
// message (the configuration's zero means its 30-day default).
func (g *Gateway) Retain(ctx context.Context, retain, interval time.Duration) {
	if interval <= 0 {
		interval = time.Hour
	}
	nonces := time.NewTicker(time.Minute)
	defer nonces.Stop()
	messages := time.NewTicker(interval)
	defer messages.Stop()
	g.deleteNonces(ctx)
	g.deleteMessages(ctx, retain)
	for {
		select {
		case <-ctx.Done():
			return
		case <-nonces.C:
			g.deleteNonces(ctx)
		case <-messages.C:
			g.deleteMessages(ctx, retain)
		}
	}
}

func (g *Gateway) deleteNonces(ctx context.Context) {
	if n, err := g.store.DeleteExpiredNonces(ctx, g.now()); err != nil && ctx.Err() == nil {
		g.log.Warn("retention: deleting expired nonces", "err", err)
	} else if n > 0 {
		g.log.Debug("retention: expired nonces deleted", "count", n)
	}
}

func (g *Gateway) deleteMessages(ctx context.Context, retain time.Duration) {
	if retain <= 0 {
		return
	}
	before := g.now().Add(-retain)
	if n, err := g.store.DeleteMessagesBefore(ctx, before, store.KeepUndelivered); err != nil && ctx.Err() == nil {
		g.log.Warn("retention: deleting delivered messages", "err", err)
	} else if n > 0 {
		g.log.Info("retention: delivered messages deleted", "count", n, "older_than", retain.String())
	}
	// Outbound records go with the conversations they belong to; expired
	// idempotency keys and away claims with them.
	if out := g.outboundStore(); out != nil {
		if n, err := out.DeleteOutboundBefore(ctx, before); err != nil && ctx.Err() == nil {
			g.log.Warn("retention: deleting outbound records", "err", err)
		} else if n > 0 {
			g.log.Info("retention: outbound records deleted", "count", n, "older_than", retain.String())
		}
	}
}
