package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/push"
)

// Defaults of the global fields; the others are in App and Delivery's
// docs.
const (
	DefaultListen         = ":8080"
	DefaultStateDir       = ".wxgate"
	DefaultNATSStream     = "WXGATE"
	DefaultLogFormat      = "text"
	DefaultLogLevel       = "info"
	DefaultRetain         = 30 * 24 * time.Hour
	DefaultInitialBackoff = time.Second
	DefaultMaxBackoff     = 10 * time.Minute
	DefaultMaxAttempts    = 20
	DefaultTimeout        = 10 * time.Second
	DefaultConcurrency    = 16
	DefaultOpenAPIURL     = "https://api.weixin.qq.com"
	// DefaultAppName is the app that single-app mode (flags) configures.
	DefaultAppName = "default"
	// DefaultPath is the default app's path; other apps default to
	// DefaultPath + "/" + name.
	DefaultPath = "/wechat"
)

// API key scopes.
const (
	ScopeSend  = "send"  // send messages, typing, media
	ScopeToken = "token" // read the access token
	ScopeRead  = "read"  // read stored messages and conversations
	ScopeAdmin = "admin" // redeliver, dead letters, everything else
)

// Config is the gateway's whole configuration. Load, Parse and FromFlags
// return it with every default filled in and every field validated;
// printing it (String, %v) hides the secrets.
type Config struct {
	// Listen is the address of the push endpoints (and the admin API when
	// Admin.Addr is empty). Default ":8080".
	Listen string `yaml:"listen"`
	// StateDir holds the SQLite database and development credentials.
	// Default ".wxgate".
	StateDir string `yaml:"state_dir"`
	// Store is "sqlite:PATH" or "postgres://..." (see StoreDSN). Default
	// "sqlite:<state_dir>/wxgate.db".
	Store string `yaml:"store"`
	// Redis is an optional redis:// or rediss:// URL (a bare host:port is
	// made redis://host:port), for the shared access-token store.
	Redis string `yaml:"redis"`
	// NATS is the JetStream server that nats destinations publish to.
	NATS NATS `yaml:"nats"`
	// Admin configures the admin API.
	Admin Admin `yaml:"admin"`
	// Log configures the log.
	Log Log `yaml:"log"`
	// Retain is how long delivered messages are kept. Default 720h.
	Retain time.Duration `yaml:"retain"`
	// Delivery holds the retry policy and the destinations' defaults.
	Delivery Delivery `yaml:"delivery"`
	// OpenAPIURL is WeChat's Open API base URL; point it at wxgate mockapi
	// for tests. Default DefaultOpenAPIURL.
	OpenAPIURL string `yaml:"openapi_url"`
	// AllowInlineSecrets accepts secrets written in the file itself, for
	// local development only.
	AllowInlineSecrets bool `yaml:"allow_inline_secrets"`
	// APIKeys are the keys of the /v1/ API.
	APIKeys []APIKey `yaml:"api_keys"`
	// Apps are the mini programs, by name.
	Apps map[string]*App `yaml:"apps"`

	meta *meta
}

// NATS is the JetStream server.
type NATS struct {
	// URL is the server, nats://host:4222 (several separated by commas).
	// Empty: no NATS.
	URL string `yaml:"url"`
	// Stream is the JetStream stream, created if missing. Default "WXGATE".
	Stream string `yaml:"stream"`
}

// Admin configures the admin API.
type Admin struct {
	// Token turns the admin API on; it holds every scope for every app.
	Token Secret `yaml:"token"`
	// Addr serves the admin API on a separate (private) address instead
	// of Listen.
	Addr string `yaml:"addr"`
}

// Log configures the log.
type Log struct {
	// Format is "text" (default) or "json".
	Format string `yaml:"format"`
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `yaml:"level"`
}

// Delivery is the retry policy of every destination, and the defaults of
// the webhooks' own settings.
type Delivery struct {
	// InitialBackoff is the first retry's delay, doubled (with jitter) up
	// to MaxBackoff. Default 1s.
	InitialBackoff time.Duration `yaml:"initial_backoff"`
	// MaxBackoff caps the delay between retries. Default 10m.
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// MaxAttempts is how many attempts make a dead letter. Default 20.
	MaxAttempts int `yaml:"max_attempts"`
	// Timeout bounds one webhook call. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Concurrency is the number of calls in flight per destination.
	// Default 16.
	Concurrency int `yaml:"concurrency"`
}

// APIKey is a key of the /v1/ API.
type APIKey struct {
	// Name identifies the key in logs and records (never the secret).
	Name string `yaml:"name"`
	// Secret is the key itself, from ${ENV} or secret_file; or give
	// SecretHash instead.
	Secret Secret `yaml:"secret"`
	// SecretHash is HashAPIKey of the key: "sha256:" and 64 hex digits. It
	// is not a secret and may be written in the file.
	SecretHash string `yaml:"secret_hash"`
	// Apps the key may use; "*" is every app.
	Apps []string `yaml:"apps"`
	// Scopes among ScopeSend, ScopeToken, ScopeRead and ScopeAdmin.
	Scopes []string `yaml:"scopes"`
}

// App is one mini program.
type App struct {
	// Name is the app's key in apps: [a-z0-9][a-z0-9_-]*, at most 64.
	Name string `yaml:"-"`
	// Path is the push URL's path. Default "/wechat/<name>", "/wechat" for
	// the app named "default".
	Path string `yaml:"path"`
	// AppID is "wx" and 16 hex digits; needed with AESKeys or Secret.
	AppID string `yaml:"appid"`
	// Token is the console's Token (3 to 32 letters and digits). Required.
	Token Secret `yaml:"token"`
	// AESKeys are the EncodingAESKeys, current first.
	AESKeys []Secret `yaml:"aes_keys"`
	// Mode is the accepted encryption mode. Default auto.
	Mode message.Mode `yaml:"mode"`
	// AllowPlaintext accepts plaintext pushes in mode auto although an
	// EncodingAESKey is configured.
	AllowPlaintext bool `yaml:"allow_plaintext"`
	// ReplayWindow is the maximum skew of a push's timestamp, at most
	// push.MaxReplayWindow. Default push.DefaultReplayWindow (5m).
	ReplayWindow time.Duration `yaml:"replay_window"`
	// MaxBody caps a push's body. Default 1 MiB.
	MaxBody ByteSize `yaml:"max_body"`
	// Secret is the AppSecret, for the Open API. Optional.
	Secret Secret `yaml:"secret"`
	// Destinations receive every push, in the order given.
	Destinations []Destination `yaml:"destinations"`
	// Rules are the app's automatic answers (see Rules).
	Rules Rules `yaml:"rules"`
}

// Destination is where an app's pushes are delivered: exactly one of
// Webhook and NATS is set.
type Destination struct {
	// Name identifies the destination in the store, metrics and admin
	// API; unique within the app. Required: deliveries are recorded under
	// it, so it must not change when the list is reordered.
	Name string `yaml:"name"`
	// Webhook delivers by signed HTTP POST.
	Webhook *Webhook `yaml:"webhook"`
	// NATS publishes to JetStream.
	NATS *NATSDestination `yaml:"nats"`
}

// Webhook is a signed HTTP destination (docs/webhooks.md).
type Webhook struct {
	// URL is an absolute http(s) URL.
	URL string `yaml:"url"`
	// Secret keys the Wxgate-Signature HMAC. Required, at least 16
	// characters.
	Secret Secret `yaml:"secret"`
	// Timeout of one call. Default Delivery.Timeout.
	Timeout time.Duration `yaml:"timeout"`
	// Concurrency is the calls in flight. Default Delivery.Concurrency.
	Concurrency int `yaml:"concurrency"`
}

// NATSDestination publishes to JetStream (Config.NATS).
type NATSDestination struct {
	// SubjectPrefix is put before "<msg_type>" and "event.<event>".
	// Default "wxgate.<app>".
	SubjectPrefix string `yaml:"subject_prefix"`
}

// Position is a place in the configuration file.
type Position struct {
	Line, Column int
}

// ByteSize is a size in bytes. In the file and the environment it is an
// integer, or a number with a unit: KiB, MiB, GiB (1024-based), KB, MB,
// GB (1000-based) or B.
type ByteSize int64

// String returns the size in the largest binary unit that divides it.
func (b ByteSize) String() string {
	for _, u := range []struct {
		n    ByteSize
		unit string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if b != 0 && b%u.n == 0 {
			return strconv.FormatInt(int64(b/u.n), 10) + u.unit
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// parseByteSize parses an integer with an optional unit.
func parseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	num := strings.TrimRight(s, "KMGiBb ")
	unit := strings.TrimSpace(s[len(num):])
	mult := int64(1)
	switch unit {
	case "", "B":
	case "KiB":
		mult = 1 << 10
	case "MiB":
		mult = 1 << 20
	case "GiB":
		mult = 1 << 30
	case "KB":
		mult = 1000
	case "MB":
		mult = 1000 * 1000
	case "GB":
		mult = 1000 * 1000 * 1000
	default:
		return 0, fmt.Errorf("unknown unit %q (want B, KiB, MiB, GiB, KB, MB or GB)", unit)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number of bytes")
	}
	if n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("out of range")
	}
	return ByteSize(n * mult), nil
}

// AppNames returns the apps' names, sorted.
func (c *Config) AppNames() []string {
	names := make([]string, 0, len(c.Apps))
	for n := range c.Apps {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// StoreDSN splits Store into the driver, "sqlite" or "postgres", and what
// that driver opens: the SQLite file's path or the PostgreSQL URL.
func (c *Config) StoreDSN() (driver, dsn string) {
	if p, ok := strings.CutPrefix(c.Store, "sqlite:"); ok {
		return "sqlite", p
	}
	return "postgres", c.Store
}

// AdminEnabled reports whether the admin API is on (an admin token is set).
func (c *Config) AdminEnabled() bool { return c.Admin.Token.IsSet() }

// APIKey returns the key named name, or nil.
func (c *Config) APIKey(name string) *APIKey {
	for i := range c.APIKeys {
		if c.APIKeys[i].Name == name {
			return &c.APIKeys[i]
		}
	}
	return nil
}

// PushConfig returns the push.Config of the app's push handler; the
// caller adds its Logger and other runtime fields.
func (a *App) PushConfig() push.Config {
	keys := make([]string, len(a.AESKeys))
	for i, k := range a.AESKeys {
		keys[i] = k.Value()
	}
	return push.Config{
		AppID: a.AppID, Token: a.Token.Value(), AESKeys: keys, Mode: a.Mode,
		AllowPlaintext: a.AllowPlaintext, ReplayWindow: a.ReplayWindow, MaxBody: int64(a.MaxBody),
	}
}

// defaultPath is an app's default push path.
func defaultPath(name string) string {
	if name == DefaultAppName {
		return DefaultPath
	}
	return DefaultPath + "/" + name
}

// defaultStore is the SQLite database in stateDir.
func defaultStore(stateDir string) string {
	return "sqlite:" + filepath.Join(stateDir, "wxgate.db")
}
