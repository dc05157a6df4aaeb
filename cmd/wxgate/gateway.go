package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wxgate/wxgate/gateway"
	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/gateway/deliver"
	"github.com/wxgate/wxgate/gateway/rules"
	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/openapi/redistoken"
	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/backend"
)

// gatewayRuntime is an assembled gateway: its store, delivery engine and
// handlers, ready to serve.
type gatewayRuntime struct {
	cfg     *config.Config
	rules   map[string]*rules.Engine
	media   *rules.MediaCache
	store   store.Store
	engine  *deliver.Engine
	gateway *gateway.Gateway
	dests   []deliver.Destination
	redis   *redis.Client // the shared token store's, when --redis is set
	log     *slog.Logger
}

// destinationName is a destination's name in the store and the engine:
// destinations are named per app, deliveries across apps.
func destinationName(app, dest string) string { return app + "/" + dest }

// openGateway opens the store (applying its migrations) and assembles the
// gateway that cfg describes.
func openGateway(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*gatewayRuntime, error) {
	if driver, path := cfg.StoreDSN(); driver == "sqlite" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store: creating the directory of %s: %w", path, err)
		}
		// The database holds decrypted messages: only its owner may read
		// it. SQLite gives its -wal and -shm files the same mode.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		f.Close()
	}
	st, err := backend.Open(ctx, cfg.Store, "", store.Options{})
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	rt := &gatewayRuntime{cfg: cfg, store: st, log: logger}
	ok := false
	defer func() {
		if !ok {
			rt.close()
		}
	}()

	ready := map[string]func(context.Context) error{}
	concurrency := map[string]int{}
	var apps []gateway.App
	var destNames []string
	for _, name := range cfg.AppNames() {
		app := cfg.Apps[name]
		ga := gateway.App{Name: name, Path: app.Path, Push: app.PushConfig()}
		for _, d := range app.Destinations {
			full := destinationName(name, d.Name)
			dest, err := newDestination(cfg, name, full, d)
			if err != nil {
				return nil, fmt.Errorf("apps.%s.destinations %s: %w", name, d.Name, err)
			}
			if n, isNATS := dest.(*deliver.NATS); isNATS {
				ready["nats"] = n.Ready
			}
			if d.Webhook != nil && d.Webhook.Concurrency > 0 {
				concurrency[full] = d.Webhook.Concurrency
			}
			rt.dests = append(rt.dests, dest)
			ga.Destinations = append(ga.Destinations, full)
			destNames = append(destNames, full)
		}
		apps = append(apps, ga)
	}
	metrics := gateway.NewMetrics(st.DeliveryStats, destNames...)
	// The gateway answers through the Open API for the rules and the
	// webhooks' replies; it is made after the engine, which it notifies.
	var gw *gateway.Gateway
	clients := func(app string) (*openapi.Client, error) { return gw.Client(app) }
	if rt.rules, rt.media, err = compileRules(cfg, st, clients); err != nil {
		return nil, err
	}
	rt.engine, err = deliver.New(st, rt.dests, deliver.NewOwnerID(), deliver.Options{
		OnDelivered:    func(ctx context.Context, c store.Claimed, r deliver.Result) { gw.WebhookReplied(ctx, c, r) },
		InitialBackoff: cfg.Delivery.InitialBackoff, MaxBackoff: cfg.Delivery.MaxBackoff,
		MaxAttempts: cfg.Delivery.MaxAttempts, Concurrency: cfg.Delivery.Concurrency, ConcurrencyFor: concurrency,
		Logger: logger, OnAttempt: metrics.Attempt,
	})
	if err != nil {
		return nil, err
	}
	openAPI, err := rt.openAPIClients(cfg, st)
	if err != nil {
		return nil, err
	}
	rt.gateway, err = gateway.New(gateway.Options{
		Apps: apps, Store: st, Notify: rt.engine.Notify, AdminToken: cfg.Admin.Token.Value(),
		Ready: ready, Metrics: metrics, Logger: logger, Rules: rt.rules,
		OpenAPI: func(app string) *openapi.Client { return openAPI[app] }, APIKeys: cfg.APIKeys,
	})
	if err != nil {
		return nil, err
	}
	gw = rt.gateway
	ok = true
	return rt, nil
}

// openAPIClients builds the Open API client of every app with an
// AppSecret. The replicas of a deployment share each app's access token,
// so that one of them refreshes it: in Redis when --redis is set, else in
// the store (PostgreSQL's row lease; on SQLite, which serves one instance,
// the token outlives restarts).
func (rt *gatewayRuntime) openAPIClients(cfg *config.Config, st store.Store) (map[string]*openapi.Client, error) {
	clients := map[string]*openapi.Client{}
	outbound, _ := st.(store.OutboundStore)
	for _, name := range cfg.AppNames() {
		app := cfg.Apps[name]
		if !app.Secret.IsSet() {
			continue
		}
		opts := []openapi.Option{openapi.WithBaseURL(cfg.OpenAPIURL)}
		switch {
		case cfg.Redis != "":
			if rt.redis == nil {
				ropts, err := redis.ParseURL(cfg.Redis)
				if err != nil {
					return nil, fmt.Errorf("redis: %w", err)
				}
				rt.redis = redis.NewClient(ropts)
			}
			opts = append(opts, openapi.WithSharedStore(redistoken.New(rt.redis, app.AppID)))
		case outbound != nil:
			opts = append(opts, openapi.WithSharedStore(gateway.NewTokenStore(outbound, app.AppID)))
		}
		c, err := openapi.New(app.AppID, app.Secret.Value(), opts...)
		if err != nil {
			return nil, fmt.Errorf("apps.%s: the Open API client: %w", name, err)
		}
		clients[name] = c
	}
	return clients, nil
}

func newDestination(cfg *config.Config, app, full string, d config.Destination) (deliver.Destination, error) {
	switch {
	case d.Webhook != nil:
		timeout := d.Webhook.Timeout
		if timeout <= 0 {
			timeout = cfg.Delivery.Timeout
		}
		conc := d.Webhook.Concurrency
		if conc <= 0 {
			conc = cfg.Delivery.Concurrency
		}
		return deliver.NewWebhook(deliver.WebhookConfig{
			Name: full, URL: d.Webhook.URL, Secrets: [][]byte{[]byte(d.Webhook.Secret.Value())},
			Timeout: timeout, Version: versionString(), MaxIdleConns: conc,
		})
	case d.NATS != nil:
		if cfg.NATS.URL == "" {
			return nil, errors.New("a nats destination needs nats.url (--nats)")
		}
		return deliver.NewNATS(deliver.NATSConfig{Name: full, URL: cfg.NATS.URL, Prefix: natsPrefix(app, d.NATS), Stream: cfg.NATS.Stream,
			StreamSubjects: streamSubjects(cfg)})
	}
	return nil, errors.New("neither webhook nor nats is set")
}

// natsPrefix is a nats destination's subject prefix.
func natsPrefix(app string, d *config.NATSDestination) string {
	if d.SubjectPrefix != "" {
		return d.SubjectPrefix
	}
	return "wxgate." + deliver.Token(app)
}

// streamSubjects are the subjects of the stream the gateway creates when
// it is missing: every nats destination's prefix, so that one stream
// captures them all.
func streamSubjects(cfg *config.Config) []string {
	seen := map[string]bool{}
	var out []string
	for _, name := range cfg.AppNames() {
		for _, d := range cfg.Apps[name].Destinations {
			if d.NATS == nil {
				continue
			}
			subject := "wxgate.>"
			if d.NATS.SubjectPrefix != "" && !strings.HasPrefix(d.NATS.SubjectPrefix, "wxgate.") {
				subject = d.NATS.SubjectPrefix + ".>"
			}
			if !seen[subject] {
				seen[subject] = true
				out = append(out, subject)
			}
		}
	}
	return out
}

// close releases the destinations and the store.
func (rt *gatewayRuntime) close() {
	for _, d := range rt.dests {
		if c, ok := d.(interface{ Close() error }); ok {
			c.Close()
		}
	}
	if rt.store != nil {
		rt.store.Close()
	}
	if rt.redis != nil {
		rt.redis.Close()
	}
}

// listenOptions are how the gateway's listeners serve.
type listenOptions struct {
	maxConns        int
	tlsCert, tlsKey string
	onStarted       func(addr, adminAddr string)
}

// run serves the gateway on ln (and the admin API on adminLn when not
// nil) until ctx ends, then shuts down in order: stop accepting and
// finish the requests in flight (every answered push is stored), then let
// the delivery engine finish or release what it holds, then close the
// store.
func (rt *gatewayRuntime) run(ctx context.Context, ln, adminLn net.Listener, o listenOptions) error {
	limit := newConnLimiter(o.maxConns)
	srv := newHTTPServer(rt.gateway.Handler(adminLn == nil), rt.log)
	srv.ConnState = limit.connState
	var tlsConfig *tls.Config
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("--tls-cert / --tls-key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	servingLn := limit.listener(ln)
	if tlsConfig != nil {
		servingLn = tls.NewListener(servingLn, tlsConfig)
	}

	engineCtx, stopEngine := context.WithCancel(context.WithoutCancel(ctx))
	defer stopEngine()
	engineDone := make(chan error, 1)
	go func() { engineDone <- rt.engine.Run(engineCtx) }()
	go rt.gateway.Retain(engineCtx, rt.cfg.Retain, time.Hour)
	if len(rt.rules) > 0 {
		go warmMedia(engineCtx, rt.rules, rt.media, rt.log)
	}

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(servingLn) }()
	var adminSrv *http.Server
	if adminLn != nil {
		adminSrv = newHTTPServer(rt.gateway.AdminHandler(), rt.log)
		go func() { errc <- adminSrv.Serve(adminLn) }()
	}
	if o.onStarted != nil {
		admin := ""
		if adminLn != nil {
			admin = adminLn.Addr().String()
		}
		o.onStarted(ln.Addr().String(), admin)
	}
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	rt.log.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && serveErr == nil {
		serveErr = err
	}
	if adminSrv != nil {
		adminSrv.Shutdown(shutdownCtx)
	}
	rt.log.Info("shutting down: stopping deliveries")
	stopEngine()
	if err := <-engineDone; err != nil && !errors.Is(err, context.Canceled) {
		rt.log.Warn("delivery engine", "err", err)
	}
	rt.close()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       serveIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// describeDestinations lists the destinations for the start-up log line.
func describeDestinations(cfg *config.Config) []string {
	var out []string
	for _, name := range cfg.AppNames() {
		for _, d := range cfg.Apps[name].Destinations {
			kind := "webhook"
			if d.NATS != nil {
				kind = "nats"
			}
			out = append(out, destinationName(name, d.Name)+" ("+kind+")")
		}
	}
	sort.Strings(out)
	return out
}
