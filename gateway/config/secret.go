package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
)

// redacted stands for a secret's value wherever this package prints one.
const redacted = "[redacted]"

// sourceKind is where a secret's value comes from.
type sourceKind uint8

const (
	srcNone   sourceKind = iota // not given
	srcInline                   // written in the file
	srcRef                      // ${NAME} references in the file
	srcFile                     // a *_file path
	srcEnv                      // a WXGATE_* override
	srcFlag                     // a command-line flag
	srcValue                    // NewSecret
)

// Secret is a secret configuration value: a token, an EncodingAESKey, an
// AppSecret, a webhook secret or an API key. The value is reachable only
// through Value; every way of printing a Secret (String, GoString, any fmt
// verb, slog, JSON, text and YAML marshalling) shows "[redacted]", and a
// Secret in an unexported field of a printed struct shows an address.
//
// The zero Secret is unset.
type Secret struct {
	// value is behind a pointer so that fmt, which prints unexported
	// fields without calling their methods, shows an address.
	value *string
	kind  sourceKind
	// ref describes the source without the value: "${WX_TOKEN}", a file
	// path, a variable name or a flag.
	ref string
	// dir is the directory relative file paths are resolved against.
	dir string
	// unresolved marks a reference not looked up (SkipSecrets).
	unresolved bool
}

// NewSecret returns a Secret holding v, for configurations built in code.
func NewSecret(v string) Secret {
	if v == "" {
		return Secret{}
	}
	return Secret{value: &v, kind: srcValue}
}

// Value returns the secret. Never log it.
func (s Secret) Value() string {
	if s.value == nil {
		return ""
	}
	return *s.value
}

// IsSet reports whether s holds a non-empty value, or a reference that was
// not resolved because of SkipSecrets.
func (s Secret) IsSet() bool { return (s.value != nil && *s.value != "") || s.unresolved }

// Resolved reports whether s's value was looked up (false only under
// SkipSecrets).
func (s Secret) Resolved() bool { return !s.unresolved }

// Source describes where the value comes from, without the value:
// "${WX_TOKEN}", "file /run/secrets/wx_token", "env WXGATE_APPS_SHOP_TOKEN",
// "flag --token", "inline" or "" when unset.
func (s Secret) Source() string {
	switch s.kind {
	case srcInline:
		return "inline"
	case srcRef:
		return s.ref
	case srcFile:
		return "file " + s.ref
	case srcEnv:
		return "env " + s.ref
	case srcFlag:
		return "flag " + s.ref
	case srcValue:
		return "code"
	}
	return ""
}

// Equal reports whether v is the secret, in constant time (the lengths are
// hidden too: both sides are hashed first). An unset Secret equals nothing.
func (s Secret) Equal(v string) bool {
	if !s.IsSet() || s.unresolved {
		return false
	}
	a := sha256.Sum256([]byte(*s.value))
	b := sha256.Sum256([]byte(v))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// String returns "[redacted]", or "" when s is unset.
func (s Secret) String() string {
	if !s.IsSet() {
		return ""
	}
	return redacted
}

// GoString is String, for %#v.
func (s Secret) GoString() string { return "config.Secret(" + s.String() + ")" }

// Format implements fmt.Formatter so that every verb prints String.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'v' && f.Flag('#') {
		_, _ = io.WriteString(f, s.GoString())
		return
	}
	_, _ = io.WriteString(f, s.String())
}

// LogValue implements slog.LogValuer with String.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler with String, so that a
// Secret in a marshalled structure cannot leak.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON implements json.Marshaler with String.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.String() + `"`), nil }

// MarshalYAML implements go-yaml's InterfaceMarshaler with String.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }
