package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wxgate/wxgate/gateway"
	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/gateway/rules"
	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/store"
)

// compileRules compiles the rules of every app that has some. Their media
// files are uploaded through the apps' Open API clients, once, and again
// before WeChat forgets them; the away ledger is the store's, so that
// replicas share it.
func compileRules(cfg *config.Config, st store.Store, clients func(app string) (*openapi.Client, error)) (map[string]*rules.Engine, *rules.MediaCache, error) {
	var ledger rules.AwayLedger = rules.NewMemoryLedger()
	if os, ok := st.(store.OutboundStore); ok {
		ledger = gateway.StoreLedger{Store: os}
	}
	media := rules.NewMediaCache(rules.OpenAPIUploader{Client: clients})
	engines := map[string]*rules.Engine{}
	var errs []error
	for _, name := range cfg.AppNames() {
		app := cfg.Apps[name]
		if !app.Rules.IsSet() {
			continue
		}
		eng, err := rules.Compile(name, app.Rules, rules.WithLedger(ledger), rules.WithMediaCache(media))
		if err != nil {
			errs = append(errs, fmt.Errorf("apps.%s.rules: %w", name, err))
			continue
		}
		engines[name] = eng
	}
	return engines, media, errors.Join(errs...)
}

// warmMedia uploads the rules' media files at start, then keeps their
// media_ids fresh every hour until ctx ends. A failure is logged: the
// upload is tried again when a rule needs the file.
func warmMedia(ctx context.Context, engines map[string]*rules.Engine, media *rules.MediaCache, logger *slog.Logger) {
	for name, eng := range engines {
		if err := eng.Warm(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("rules: media files not uploaded yet", "app", name, "err", err)
		}
	}
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := media.Refresh(ctx); err != nil && ctx.Err() == nil {
				logger.Warn("rules: refreshing media", "err", err)
			}
		}
	}
}
