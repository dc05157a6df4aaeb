package deliver

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxgate/wxgate/store"
)

// MaxResponseBody is the most of a response body a Result keeps.
const MaxResponseBody = 64 << 10

// DefaultTimeout is the default per-attempt timeout of a destination.
const DefaultTimeout = 10 * time.Second

// Errors of the destinations and the engine, matched with errors.Is. Their
// text names the destination, never its URL or a secret.
var (
	// ErrConfig: a destination or engine setting is missing or invalid.
	ErrConfig = errors.New("deliver: invalid configuration")
	// ErrStatus: the endpoint answered something other than 2xx
	// (redirects included).
	ErrStatus = errors.New("deliver: not a 2xx answer")
	// ErrTimeout: no answer within the attempt's timeout.
	ErrTimeout = errors.New("deliver: no answer within the timeout")
	// ErrUnreachable: the destination could not be reached (connection
	// refused or reset, DNS, TLS, NATS disconnected).
	ErrUnreachable = errors.New("deliver: destination unreachable")
	// ErrPublish: JetStream refused the message or no stream captures it.
	ErrPublish = errors.New("deliver: publish refused")
	// ErrPanic: the destination panicked; the attempt counts as failed.
	ErrPanic = errors.New("deliver: destination panicked")
	// ErrNotDelivered: the destination returned no error but did not
	// report the message delivered.
	ErrNotDelivered = errors.New("deliver: not delivered")
	// ErrPermanent marks a failure no retry can fix (a message without a
	// stored payload): the delivery becomes a dead letter at once.
	ErrPermanent = errors.New("deliver: permanent failure")
	// ErrCanceled: the attempt was cut short by the engine's shutdown; it
	// is retried at once and never makes a dead letter.
	ErrCanceled = errors.New("deliver: attempt canceled by shutdown")
	// ErrRunning: Run was called while the engine was already running.
	ErrRunning = errors.New("deliver: engine already running")
)

// Result is what one delivery attempt got from its destination.
type Result struct {
	// Status is the HTTP status answered; 0 when there was none (NATS, or
	// no answer at all).
	Status int
	// Body is the start of the response body, at most MaxResponseBody
	// bytes; nil for NATS.
	Body []byte
	// Truncated reports that Body is not the whole response body (it was
	// longer than MaxResponseBody, or reading it failed).
	Truncated bool
	// Delivered reports that the destination took the message: a 2xx
	// answer, a JetStream PubAck.
	Delivered bool
}

// Destination is where deliveries go. Implementations are safe for
// concurrent use: the engine calls Deliver from up to its concurrency
// limit of goroutines at once.
type Destination interface {
	// Name is the destination's name, as given in
	// store.NewMessage.Destinations and stored with its deliveries.
	Name() string
	// Deliver makes one attempt at delivering c. It returns when ctx ends.
	// A nil error with Result.Delivered counts as delivered; anything else
	// is a failed attempt, retried later. Errors never contain a secret.
	Deliver(ctx context.Context, c store.Claimed) (Result, error)
}

// Starter is a Destination with work to do before its first delivery
// (connecting, creating a stream). The engine calls Start when it starts
// the destination's loop; an error is logged and the destination is
// expected to try again on its next Deliver, so that one destination being
// down at start does not stop the others.
type Starter interface {
	Start(ctx context.Context) error
}

// Timeouter is a Destination that bounds each attempt itself. The engine
// checks that its Lease exceeds the timeout, so that a lease never runs
// out under an attempt still in flight. A Destination without it has each
// attempt bounded by half the Lease.
type Timeouter interface {
	Timeout() time.Duration
}

// maxErrorLen bounds the error text recorded with an attempt.
const maxErrorLen = 512

// clip shortens s to at most n bytes without splitting a UTF-8 sequence.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// redact replaces every occurrence of the secrets in s; empty secrets and
// very short ones (which would mangle the text) are skipped.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
