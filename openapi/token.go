package openapi

import (
	"fmt"
	"io"
	"log/slog"
	"time"
)

// redacted replaces secret values wherever this package prints them.
const redacted = "REDACTED"

// Token is an access_token with its lifetime. The secret value is only
// reachable through Value; every way of printing a Token (String, GoString,
// any fmt verb, slog, JSON and text marshalling) shows "REDACTED" instead.
//
// The zero Token is empty and expired.
type Token struct {
	value    string
	issuedAt time.Time
	expires  time.Time
}

// NewToken returns a Token with the given value, the time it was obtained and
// the time it stops being valid. Stores that persist tokens (see SharedStore)
// use it to rebuild a Token.
func NewToken(value string, issuedAt, expiresAt time.Time) Token {
	return Token{value: value, issuedAt: issuedAt, expires: expiresAt}
}

// Value returns the secret access_token. Never log it.
func (t Token) Value() string { return t.value }

// IssuedAt returns when the token was obtained, by the clock of the process
// that fetched it.
func (t Token) IssuedAt() time.Time { return t.issuedAt }

// ExpiresAt returns when the token stops being valid.
func (t Token) ExpiresAt() time.Time { return t.expires }

// IsZero reports whether t holds no token.
func (t Token) IsZero() bool { return t.value == "" }

// Valid reports whether t holds a token that has not expired at now.
func (t Token) Valid(now time.Time) bool { return t.value != "" && now.Before(t.expires) }

// String describes t without its value.
func (t Token) String() string {
	if t.value == "" {
		return "openapi.Token(empty)"
	}
	return "openapi.Token(" + redacted + ", expires " + t.expires.UTC().Format(time.RFC3339) + ")"
}

// GoString describes t without its value, for %#v.
func (t Token) GoString() string { return t.String() }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %s, %q,
// %x, ...) prints the redacted description.
func (t Token) Format(f fmt.State, verb rune) {
	_, _ = io.WriteString(f, t.String())
}

// LogValue implements slog.LogValuer with the redacted description.
func (t Token) LogValue() slog.Value { return slog.StringValue(t.String()) }

// MarshalText implements encoding.TextMarshaler with the redacted
// description, so a Token embedded in a logged structure cannot leak. Stores
// persist Value explicitly.
func (t Token) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// MarshalJSON implements json.Marshaler with the redacted description.
func (t Token) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.String() + `"`), nil
}
