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
// any fmt verb, slog, JSON and text marshalling) shows "REDACTED" instead,
// and a Token in an unexported field of a printed struct shows only an
// address.
//
// The zero Token is empty and expired.
type Token struct {
	// value is kept behind a pointer so that a Token held in an unexported
	// struct field, which fmt prints without calling Format, shows an
	// address rather than the secret.
	value    *string
	issuedAt time.Time
	expires  time.Time
}

// NewToken returns a Token with the given value, the time it was obtained and
// the time it stops being valid. Stores that persist tokens (see SharedStore)
// use it to rebuild a Token.
func NewToken(value string, issuedAt, expiresAt time.Time) Token {
	t := Token{issuedAt: issuedAt, expires: expiresAt}
	if value != "" {
		t.value = &value
	}
	return t
}

// Value returns the secret access_token. Never log it.
func (t Token) Value() string {
	if t.value == nil {
		return ""
	}
	return *t.value
}

// IssuedAt returns when the token was obtained, by the clock of the process
// that fetched it.
func (t Token) IssuedAt() time.Time { return t.issuedAt }

// ExpiresAt returns when the token stops being valid.
func (t Token) ExpiresAt() time.Time { return t.expires }

// IsZero reports whether t holds no token.
func (t Token) IsZero() bool { return t.value == nil }

// Valid reports whether t holds a token that has not expired at now.
func (t Token) Valid(now time.Time) bool { return t.value != nil && now.Before(t.expires) }

// String describes t without its value.
func (t Token) String() string {
	if t.value == nil {
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
