package config

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinels for errors.Is. Every *FieldError matches ErrInvalid, and also
// the more specific sentinel that caused it, if any.
var (
	// ErrInvalid marks every configuration error.
	ErrInvalid = errors.New("invalid configuration")
	// ErrSyntax marks a file that is not well-formed YAML.
	ErrSyntax = errors.New("YAML syntax error")
	// ErrUnknownField marks a field that the configuration does not have,
	// usually a typo.
	ErrUnknownField = errors.New("unknown field")
	// ErrUnsetEnv marks a ${NAME} reference to an unset variable.
	ErrUnsetEnv = errors.New("environment variable not set")
	// ErrInlineSecret marks a secret written inline in the file without
	// allow_inline_secrets.
	ErrInlineSecret = errors.New("inline secret")
	// ErrSecretFile marks a *_file that cannot be read.
	ErrSecretFile = errors.New("secret file unreadable")
)

// FieldError is one configuration error. It never holds the value of a
// secret.
type FieldError struct {
	// Path is the field, e.g. "apps.shop.destinations[1].webhook.url"; ""
	// for the file as a whole.
	Path string
	// File is the configuration file (empty with none, and when Source is
	// set); Line and Column place the field in it, 0 when it has no place
	// there.
	File         string
	Line, Column int
	// Source names where a value from outside the file came from: an
	// environment variable (WXGATE_APPS_SHOP_TOKEN) or a flag (--token).
	Source string
	// Msg says what is wrong, e.g. "must be 3 to 32 letters and digits".
	Msg string
	// Err is the sentinel (ErrUnknownField, ...) or underlying error, if any.
	Err error
}

// Error returns "file:line:col: path: msg", "path (source): msg" or
// "path: msg".
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		if e.File != "" {
			b.WriteString(e.File)
			b.WriteByte(':')
		} else {
			b.WriteString("line ")
		}
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Column)
	} else if e.File != "" {
		b.WriteString(e.File)
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		if e.Source != "" {
			b.WriteString(" (")
			b.WriteString(e.Source)
			b.WriteByte(')')
		}
		b.WriteString(": ")
	} else if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes errors.Is(err, ErrInvalid) true for every FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

// Unwrap returns the sentinel or underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// Errors is every error found in a configuration, in the order found:
// the file's errors in document order, then the environment's, then the
// flags', then validation's.
type Errors []*FieldError

// Error returns one error per line.
func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the errors, for errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Is makes errors.Is(err, ErrInvalid) true for any non-empty Errors.
func (es Errors) Is(target error) bool { return target == ErrInvalid && len(es) > 0 }
