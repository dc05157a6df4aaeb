package main

import (
	"log/slog"
	"net/http"
	"net/http/pprof"
	"time"
)

// startDebugServer serves pprof's profiles on addr, apart from the push
// listener so that they are never exposed on the public port.
func startDebugServer(logger *slog.Logger, addr string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		logger.Info("debug server listening", "addr", addr)
		if err := srv.ListenAndServe(); err != nil {
			logger.Error("debug server stopped", "err", err)
		}
	}()
}
