package push

import (
	"errors"
	"net/http"
)

// Sentinel errors of Open and the Handler. Every error they return wraps
// one of these, so callers branch with errors.Is and map it to an HTTP
// status with StatusCode.
var (
	// ErrMalformed: a parameter or the body is missing or not what WeChat
	// sends (400).
	ErrMalformed = errors.New("push: malformed request")
	// ErrSignature: signature or msg_signature does not match the Token
	// (403).
	ErrSignature = errors.New("push: signature mismatch")
	// ErrReplay: the timestamp is outside the replay window, or its
	// (timestamp, nonce) pair already signed a different body (403).
	ErrReplay = errors.New("push: replayed or stale request")
	// ErrMode: the request's encryption mode is refused by the
	// configuration, e.g. plaintext while an EncodingAESKey is configured
	// (403).
	ErrMode = errors.New("push: encryption mode refused")
	// ErrDecrypt: msg_signature verified, but the message does not decrypt
	// with the configured EncodingAESKeys: they do not match the server's
	// (400).
	ErrDecrypt = errors.New("push: message could not be decrypted")
	// ErrAppID: the message decrypted but is addressed to another AppID
	// (403).
	ErrAppID = errors.New("push: AppID mismatch")
	// ErrTooLarge: the body exceeds Config.MaxBody (413).
	ErrTooLarge = errors.New("push: body too large")
	// ErrMethod: neither GET nor POST (405).
	ErrMethod = errors.New("push: method not allowed")
	// ErrBusy: a nonce store or deduper is full or unavailable; WeChat
	// retries the push later (503).
	ErrBusy = errors.New("push: temporarily unable to accept pushes")
	// ErrHandler: a handler failed or panicked; WeChat retries (500).
	ErrHandler = errors.New("push: handler failed")
)

// Error is a refused or failed request. Its message is one plain sentence
// that is safe to send back and to log: it never holds a secret.
type Error struct {
	// Code is a short snake_case label for logs and metrics, such as
	// "bad_signature" or "stale_timestamp".
	Code string
	// Message is the sentence sent back as the response body.
	Message string
	// Err is the sentinel (ErrSignature, ...) the error wraps.
	Err error
	// cause is an underlying error (from wxcrypt or message), for the log
	// and for errors.Is.
	cause error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return e.Message + ": " + e.cause.Error()
	}
	return e.Message
}

// Unwrap returns the sentinel and the underlying cause, if any.
func (e *Error) Unwrap() []error {
	if e.cause != nil {
		return []error{e.Err, e.cause}
	}
	return []error{e.Err}
}

func newError(sentinel error, code, msg string) *Error {
	return &Error{Code: code, Message: msg, Err: sentinel}
}

// StatusCode returns the HTTP status that answers err: 400, 403, 405, 413,
// 503, or 500 for anything else.
func StatusCode(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrDecrypt):
		return http.StatusBadRequest
	case errors.Is(err, ErrSignature), errors.Is(err, ErrReplay), errors.Is(err, ErrMode), errors.Is(err, ErrAppID):
		return http.StatusForbidden
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrMethod):
		return http.StatusMethodNotAllowed
	case errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
