// Package webhook is wxgate's webhook contract: the JSON body every webhook
// destination of `wxgate serve` receives, its Wxgate-Signature header, and
// the check a Go receiver makes of it.
//
// The signature is `t=<unix seconds>,v1=<hex>`, where v1 is the lowercase
// hex HMAC-SHA256, keyed with the webhook secret, of the decimal t, a dot
// and the exact body. During a secret rotation the header carries one v1
// per active secret. A receiver checks it with Verify (or ParseEvent, which
// also decodes the body) and refuses a t more than DefaultTolerance away,
// so that a captured delivery cannot be replayed later.
//
// The contract is public: docs/webhooks.md shows receivers in other
// languages, and tests outside this project check it.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header names of a delivery.
const (
	HeaderID        = "Wxgate-Id"
	HeaderAttempt   = "Wxgate-Attempt"
	HeaderSignature = "Wxgate-Signature"
)

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock, either way.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify and ParseEvent.
var (
	// ErrNoSignature: the header is missing, or has no t or no v1.
	ErrNoSignature = errors.New("webhook: no valid Wxgate-Signature header")
	// ErrSignature: no v1 matches the body under any of the secrets.
	ErrSignature = errors.New("webhook: signature mismatch")
	// ErrTimestamp: t is further from now than the tolerance.
	ErrTimestamp = errors.New("webhook: signature timestamp outside the tolerance")
	// ErrBody: the body is not the contract's JSON object.
	ErrBody = errors.New("webhook: malformed body")
)

// Event is one delivered push: the body of a delivery.
type Event struct {
	// ID is the message's stable id, the same on every attempt and when
	// WeChat retries the push; equal to the Wxgate-Id header.
	ID string `json:"id"`
	// App is the app's name in the gateway's configuration ("default" for
	// a single app configured by flags).
	App string `json:"app"`
	// AppID is the mini program's AppID.
	AppID string `json:"appid"`
	// OpenID is the user: the push's FromUserName.
	OpenID string `json:"openid"`
	// MsgType is the push's MsgType; Event its Event, "" for messages.
	MsgType string `json:"msg_type"`
	Event   string `json:"event"`
	// CreateTime is the push's CreateTime, Unix seconds.
	CreateTime int64 `json:"create_time"`
	// ReceivedAt is when the gateway received the push, in RFC 3339 with
	// exactly three fractional digits (see FormatTime).
	ReceivedAt string `json:"received_at"`
	// Message holds every field of the decrypted push under WeChat's own
	// names, as WeChat sends them in JSON mode. Decode it with
	// json.Decoder.UseNumber (or into message.Decode) to keep 64-bit ids.
	Message json.RawMessage `json:"message"`
}

// FormatTime formats t for received_at: UTC, RFC 3339, milliseconds.
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// AppendEvent appends the delivery body of e to dst. Message must be a
// JSON object; it is copied as it is, so that 64-bit integers in it keep
// every digit.
func AppendEvent(dst []byte, e *Event) ([]byte, error) {
	msg := e.Message
	if len(msg) == 0 || msg[0] != '{' || !json.Valid(msg) {
		return dst, fmt.Errorf("%w: message must be a JSON object", ErrBody)
	}
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, e.ID)
	dst = append(dst, `,"app":`...)
	dst = appendString(dst, e.App)
	dst = append(dst, `,"appid":`...)
	dst = appendString(dst, e.AppID)
	dst = append(dst, `,"openid":`...)
	dst = appendString(dst, e.OpenID)
	dst = append(dst, `,"msg_type":`...)
	dst = appendString(dst, e.MsgType)
	dst = append(dst, `,"event":`...)
	dst = appendString(dst, e.Event)
	dst = append(dst, `,"create_time":`...)
	dst = strconv.AppendInt(dst, e.CreateTime, 10)
	dst = append(dst, `,"received_at":`...)
	dst = appendString(dst, e.ReceivedAt)
	dst = append(dst, `,"message":`...)
	dst = append(dst, msg...)
	return append(dst, '}'), nil
}

func appendString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}

// Sign returns the Wxgate-Signature header value for body at time t, with
// one v1 per secret (the current secret first during a rotation).
func Sign(body []byte, t time.Time, secrets ...[]byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a delivery's Wxgate-Signature header against body with
// secret, and its timestamp against now within tolerance (DefaultTolerance
// when zero). Comparisons are constant-time. A header with several v1
// values passes when any one matches.
func Verify(body []byte, header string, secret []byte, tolerance time.Duration, now time.Time) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	want := mac(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return ErrSignature
}

// ParseEvent verifies a delivery (see Verify, with DefaultTolerance and
// the current time) and decodes its body: the one call a Go receiver
// needs.
func ParseEvent(body []byte, header string, secret []byte) (*Event, error) {
	if err := Verify(body, header, secret, DefaultTolerance, time.Now()); err != nil {
		return nil, err
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBody, err)
	}
	if e.ID == "" || len(e.Message) == 0 {
		return nil, fmt.Errorf("%w: id and message are required", ErrBody)
	}
	return &e, nil
}
