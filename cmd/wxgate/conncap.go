package main

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/net/netutil"
)

// defaultMaxConns caps serve's open connections. WeChat answers each push
// within 5 s and wxgate usually in well under a millisecond, so 1024
// connections carry tens of thousands of pushes a second, and still 256 a
// second if every handler ran to the 4 s watchdog. An idle keep-alive
// connection costs about 37 KB (15,000 took 552 MB), so the cap bounds
// that to about 40 MB, and it stays below the usual file descriptor limit.
const defaultMaxConns = 1024

// serveIdleTimeout closes keep-alive connections idle this long. WeChat's
// pushes come in bursts; half a minute keeps a burst on warm connections
// without letting idle ones pile up.
const serveIdleTimeout = 30 * time.Second

// connLimiter caps a server's open connections. Past the cap, new
// connections wait in the kernel's accept queue (netutil.LimitListener)
// until one closes. While the cap is reached no connection is kept idle:
// idle keep-alive connections, a client's or an attacker's, are closed so
// that they cannot hold every slot while pushes wait.
type connLimiter struct {
	max  int
	mu   sync.Mutex
	open int
	idle map[net.Conn]struct{}
}

// newConnLimiter returns a limiter for max connections (max > 0).
func newConnLimiter(max int) *connLimiter {
	return &connLimiter{max: max, idle: map[net.Conn]struct{}{}}
}

// listener wraps ln so that it accepts at most l.max connections at once.
func (l *connLimiter) listener(ln net.Listener) net.Listener {
	return netutil.LimitListener(ln, l.max)
}

// connState is the http.Server's ConnState hook.
func (l *connLimiter) connState(c net.Conn, s http.ConnState) {
	var closing []net.Conn
	l.mu.Lock()
	switch s {
	case http.StateNew:
		l.open++
		if l.open >= l.max {
			for ic := range l.idle {
				closing = append(closing, ic)
			}
			clear(l.idle)
		}
	case http.StateActive:
		delete(l.idle, c)
	case http.StateIdle:
		if l.open >= l.max {
			closing = append(closing, c)
		} else {
			l.idle[c] = struct{}{}
		}
	case http.StateHijacked, http.StateClosed:
		l.open--
		delete(l.idle, c)
	}
	l.mu.Unlock()
	// Closing frees the connection's slot in the LimitListener; the server
	// then reports StateClosed.
	for _, ic := range closing {
		ic.Close()
	}
}
