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
	// MaxReplayWindow bounds Config.ReplayWindow: a longer window keeps a
	// captured request usable, and its nonce remembered, for longer.
	MaxReplayWindow = time.Hour
)

// Config configures a Handler or an Opener for one mini program. The zero
// value of each optional field selects a safe default.
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
	// AllowPlaintext lets ModeAuto accept plaintext pushes although an
	// EncodingAESKey is configured. It is off by default because the URL
	// signature of a plaintext push does not cover the body: anyone who saw
	// one genuine push URL (in a proxy's log, say) could send any body with
	// it. Turn it on only while the console is switched to plaintext.
	AllowPlaintext bool
	// ReplayWindow bounds how far a push's timestamp may be from the clock,
	// either way, and how long its (timestamp, nonce) pair is remembered so
	// that it is accepted once. Zero means DefaultReplayWindow; a negative
	// value or one above MaxReplayWindow is a configuration error. The
	// check cannot be switched off.
	ReplayWindow time.Duration
	// MaxBody caps the request body in bytes; DefaultMaxBody when zero.
	MaxBody int64
	// HandlerTimeout is the deadline given to handlers. When it passes, the
	// Handler answers "success" so that WeChat's 5 s limit is kept.
	// DefaultHandlerTimeout when zero; at most MaxHandlerTimeout. Pushes
	// that WeChat waits less for (message.ReplyDeadline) get less.
	HandlerTimeout time.Duration
	// Deduper remembers handled pushes. A MemoryDeduper with DefaultDedupTTL
	// (at least twice the replay window) when nil. A Deduper that reports
	// a TTL (a TTL() time.Duration method) shorter than twice the replay
	// window is a configuration error: a replay accepted late in the
	// window would find its key forgotten and run the handler again.
	Deduper Deduper
	// Nonces remembers each (timestamp, nonce) pair with the body it
	// signed, so that a captured URL cannot carry another body. A
	// MemoryNonceStore when nil; ExternalNonceCheck when the caller checks
	// Request.NonceKey and Request.BodyDigest itself.
	Nonces NonceStore
	// Logger receives one line per request; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// ErrConfig is wrapped by every configuration error of NewHandler and
// NewOpener.
var ErrConfig = errors.New("push: invalid config")

// resolved is a Config with defaults applied and keys parsed.
type resolved struct {
	Config
	cipher *wxcrypt.Cipher
}

// ttlReporter is implemented by Dedupers that forget after a fixed time.
type ttlReporter interface{ TTL() time.Duration }

func (c Config) resolve() (*resolved, error) {
	r := &resolved{Config: c}
	if !wxcrypt.ValidToken(c.Token) {
		return nil, fmt.Errorf("%w: Token must be 3 to 32 letters and digits (got %d characters)", ErrConfig, len(c.Token))
	}
	if c.Mode > ModeSafe {
		return nil, fmt.Errorf("%w: unknown mode %d", ErrConfig, c.Mode)
	}
	var keys []*wxcrypt.Key
	for i, s := range c.AESKeys {
		k, err := wxcrypt.ParseKey(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%w: EncodingAESKey %d: %w", ErrConfig, i+1, err)
		}
		keys = append(keys, k)
	}
	switch {
	case (c.Mode == ModeCompat || c.Mode == ModeSafe) && len(keys) == 0:
		return nil, fmt.Errorf("%w: mode %s needs an EncodingAESKey", ErrConfig, c.Mode)
	case len(keys) > 0 && c.AppID == "":
		return nil, fmt.Errorf("%w: an AppID is needed to check encrypted pushes", ErrConfig)
	case c.Mode == ModePlain && len(keys) > 0:
		return nil, fmt.Errorf("%w: mode plain takes no EncodingAESKey (use auto with AllowPlaintext to accept both)", ErrConfig)
	case c.AllowPlaintext && (c.Mode == ModeCompat || c.Mode == ModeSafe):
		return nil, fmt.Errorf("%w: AllowPlaintext has no effect in mode %s, which refuses plaintext (use auto)", ErrConfig, c.Mode)
	}
	if len(keys) > 0 {
		var err error
		if r.cipher, err = wxcrypt.NewCipher(c.AppID, keys...); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	switch {
	case r.ReplayWindow == 0:
		r.ReplayWindow = DefaultReplayWindow
	case r.ReplayWindow < 0:
		return nil, fmt.Errorf("%w: ReplayWindow %v is negative", ErrConfig, r.ReplayWindow)
	case r.ReplayWindow > MaxReplayWindow:
		return nil, fmt.Errorf("%w: ReplayWindow %v exceeds %v", ErrConfig, r.ReplayWindow, MaxReplayWindow)
	}
	if r.MaxBody <= 0 {
		r.MaxBody = DefaultMaxBody
	}
	if r.HandlerTimeout <= 0 {
		r.HandlerTimeout = DefaultHandlerTimeout
	}
	if r.HandlerTimeout > MaxHandlerTimeout {
		return nil, fmt.Errorf("%w: HandlerTimeout %v exceeds %v: WeChat gives up after 5 s", ErrConfig, r.HandlerTimeout, MaxHandlerTimeout)
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	// The defaults keep time with the Config's clock, which decides the
	// timestamps they are given.
	if r.Deduper == nil {
		d := NewMemoryDeduper(max(DefaultDedupTTL, 2*r.ReplayWindow), 0)
		d.now = r.Now
		r.Deduper = d
	} else if d, ok := r.Deduper.(ttlReporter); ok && d.TTL() < 2*r.ReplayWindow {
		return nil, fmt.Errorf("%w: the Deduper forgets after %v, less than twice the replay window (%v)", ErrConfig, d.TTL(), r.ReplayWindow)
	}
	if r.Nonces == nil {
		n := NewMemoryNonceStore()
		n.now = r.Now
		r.Nonces = n
	}
	return r, nil
}
