package push

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wxcrypt"
)

// Mode is message.Mode: which encryption modes a Handler accepts. ModeAuto,
// the zero value, accepts any mode that verifies, so a switch in the WeChat
// console needs no restart; see Config.AllowPlaintext for plaintext pushes
// once an EncodingAESKey is configured.
type Mode = message.Mode

// The modes, re-exported so that push users need not import message.
const (
	ModeAuto   = message.ModeAuto
	ModePlain  = message.ModePlain
	ModeCompat = message.ModeCompat
	ModeSafe   = message.ModeSafe
)

// ParseMode parses "auto", "plain", "compat" or "safe".
func ParseMode(s string) (Mode, error) { return message.ParseMode(s) }

// Defaults for a Config's zero fields.
const (
	DefaultReplayWindow   = 5 * time.Minute
	DefaultMaxBody        = 1 << 20
	DefaultHandlerTimeout = 4 * time.Second
	DefaultDedupTTL       = 15 * time.Minute
	// MaxHandlerTimeout leaves half a second of WeChat's 5 s for the answer
	// to travel.
	MaxHandlerTimeout = 4500 * time.Millisecond
)

// NoReplayCheck, as Config.ReplayWindow, switches the timestamp check off.
const NoReplayCheck time.Duration = -1

// Config configures a Handler for one mini program. The zero value of each
// optional field selects a safe default.
type Config struct {
	// AppID is the mini program's AppID. Encrypted pushes must carry it.
	AppID string
	// Token is the Token set in the console (3 to 32 letters and digits).
	Token string
	// AESKeys are EncodingAESKeys, the current one first, then previous ones
	// still accepted during a rotation. Required for ModeCompat and ModeSafe.
	AESKeys []string
	// Mode selects the accepted encryption modes; ModeAuto by default.
	Mode Mode
	// ReplayWindow bounds how far a push's timestamp may be from the clock,
	// either way. Zero means DefaultReplayWindow, so that a Config literal is
	// safe; NoReplayCheck switches the check off. (wxgate serve's
	// --replay-window 0 maps to NoReplayCheck.)
	ReplayWindow time.Duration
	// MaxBody caps the request body in bytes; DefaultMaxBody when zero.
	MaxBody int64
	// HandlerTimeout is the deadline given to handlers. When it passes, the
	// Handler answers "success" so that WeChat's 5 s limit is kept.
	// DefaultHandlerTimeout when zero; at most MaxHandlerTimeout.
	HandlerTimeout time.Duration
	// Deduper remembers handled pushes. A MemoryDeduper with DefaultDedupTTL
	// (at least twice the replay window) when nil.
	Deduper Deduper
	// Logger receives one line per request; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// errConfig marks configuration errors.
var errConfig = errors.New("push: invalid config")

// resolved is a Config with defaults applied and keys parsed.
type resolved struct {
	Config
	cipher *wxcrypt.Cipher
}

func (c Config) resolve() (*resolved, error) {
	r := &resolved{Config: c}
	if !wxcrypt.ValidToken(c.Token) {
		return nil, fmt.Errorf("%w: Token must be 3 to 32 letters and digits (got %d characters)", errConfig, len(c.Token))
	}
	if c.Mode > ModeSafe {
		return nil, fmt.Errorf("%w: unknown mode %d", errConfig, c.Mode)
	}
	var keys []*wxcrypt.Key
	for i, s := range c.AESKeys {
		k, err := wxcrypt.ParseKey(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%w: EncodingAESKey %d: %w", errConfig, i+1, err)
		}
		keys = append(keys, k)
	}
	switch {
	case (c.Mode == ModeCompat || c.Mode == ModeSafe) && len(keys) == 0:
		return nil, fmt.Errorf("%w: mode %s needs an EncodingAESKey", errConfig, c.Mode)
	case len(keys) > 0 && c.AppID == "":
		return nil, fmt.Errorf("%w: an AppID is needed to check encrypted pushes", errConfig)
	case c.Mode == ModePlain && len(keys) > 0:
		return nil, fmt.Errorf("%w: mode plain takes no EncodingAESKey (use auto to accept both)", errConfig)
	}
	if len(keys) > 0 {
		var err error
		if r.cipher, err = wxcrypt.NewCipher(c.AppID, keys...); err != nil {
			return nil, fmt.Errorf("%w: %w", errConfig, err)
		}
	}
	if r.ReplayWindow == 0 {
		r.ReplayWindow = DefaultReplayWindow
	} else if r.ReplayWindow < 0 {
		r.ReplayWindow = 0
	}
	if r.MaxBody <= 0 {
		r.MaxBody = DefaultMaxBody
	}
	if r.HandlerTimeout <= 0 {
		r.HandlerTimeout = DefaultHandlerTimeout
	}
	if r.HandlerTimeout > MaxHandlerTimeout {
		return nil, fmt.Errorf("%w: HandlerTimeout %v exceeds %v: WeChat gives up after 5 s", errConfig, r.HandlerTimeout, MaxHandlerTimeout)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Deduper == nil {
		ttl := DefaultDedupTTL
		if 2*r.ReplayWindow > ttl {
			ttl = 2 * r.ReplayWindow
		}
		r.Deduper = NewMemoryDeduper(ttl)
		if d, ok := r.Deduper.(*MemoryDeduper); ok {
			// A claim whose holder vanished (a bug, a crash in a custom
			// Deduper) must not block the key forever.
			d.inflightTTL = 2 * MaxHandlerTimeout
		}
	}
	return r, nil
}
