package openapi

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sentinel errors. An *Error matches them with errors.Is according to its
// Code; see Error.Is for the mapping.
var (
	// ErrBusy matches errcode -1, "system busy". The client already retried
	// it with backoff before returning it.
	ErrBusy = errors.New("openapi: system busy (-1)")
	// ErrTokenRejected matches 40001, 40014 and 42001 returned by an API call:
	// the access_token is invalid, not the latest, or expired. The client
	// already refreshed the token and retried once before returning it.
	ErrTokenRejected = errors.New("openapi: access_token rejected (40001/40014/42001)")
	// ErrInvalidCredential matches 40001 from an API call (not from a token
	// endpoint, where 40001 means a wrong AppSecret: ErrBadCredentials).
	ErrInvalidCredential = errors.New("openapi: invalid credential (40001)")
	// ErrInvalidToken matches 40014 from an API call.
	ErrInvalidToken = errors.New("openapi: invalid access_token (40014)")
	// ErrTokenExpired matches 42001 from an API call.
	ErrTokenExpired = errors.New("openapi: access_token expired (42001)")
	// ErrBadCredentials matches the answers of a token endpoint that mean the
	// AppID or AppSecret is wrong or missing: 40001, 40013, 40125, 41002,
	// 41004. They are never retried.
	ErrBadCredentials = errors.New("openapi: wrong appid or secret")
	// ErrQuota matches 45009, "reach max api daily quota limit". Never retried.
	ErrQuota = errors.New("openapi: daily api quota reached (45009)")
	// ErrWindowExpired matches 45015: the user has not talked to the mini
	// program recently enough (48 h after a message, 1 min after entering
	// the session).
	ErrWindowExpired = errors.New("openapi: customer-service window expired (45015)")
	// ErrCountExceeded matches 45047: too many messages for the current window.
	ErrCountExceeded = errors.New("openapi: customer-service message count exceeded (45047)")
	// ErrInvalidOpenID matches 40003: empty openid or one of another app.
	ErrInvalidOpenID = errors.New("openapi: invalid openid (40003)")
	// ErrInvalidMediaID matches 40007: unknown or expired media_id.
	ErrInvalidMediaID = errors.New("openapi: invalid media_id (40007)")
	// ErrIPNotAllowed matches 40164 and 89501/89503/89506/89507: the caller's
	// IP is not in the whitelist or awaits the administrator's confirmation.
	ErrIPNotAllowed = errors.New("openapi: caller ip not allowed")
	// ErrUnauthorized matches 48001: the app lacks the API permission.
	ErrUnauthorized = errors.New("openapi: api unauthorized (48001)")
	// ErrNotSubscribed matches 43101: the user has not accepted the subscribe
	// template, has used up the acceptances (one message each), or has
	// turned the template off.
	ErrNotSubscribed = errors.New("openapi: user has not subscribed to the template (43101)")
	// ErrInvalidTemplateID matches 40037: an empty or unknown template_id,
	// or one of another app.
	ErrInvalidTemplateID = errors.New("openapi: invalid template_id (40037)")
	// ErrTemplateData matches 47003, "argument invalid": from
	// subscribe/send, a keyword value that is missing or breaks its type's
	// rules; WeChat's errmsg names it ("data.thing1.value").
	ErrTemplateData = errors.New("openapi: argument invalid (47003)")
	// ErrInvalidPage matches 41030: the page does not exist in the released
	// mini program.
	ErrInvalidPage = errors.New("openapi: invalid page (41030)")

	// ErrBadResponse means the Open API answered with something this package
	// cannot use: an HTTP error status without an errcode, an HTML page,
	// invalid JSON, a missing field, an expires_in <= 0, or a body larger
	// than the configured limit.
	ErrBadResponse = errors.New("openapi: bad response")
	// ErrConfig means the client was configured with missing or invalid
	// parameters (empty AppID, unparsable base URL, ...).
	ErrConfig = errors.New("openapi: invalid configuration")
)

// Error is an errcode/errmsg answer from the Open API with a non-zero errcode.
// Msg never contains the access_token or the AppSecret.
type Error struct {
	// Code is the errcode.
	Code int
	// Msg is WeChat's errmsg, trimmed to a sane length, without the request
	// id WeChat appends to it.
	Msg string
	// RID is the request id WeChat appends to errmsg (" rid: 6560a1b2-
	// 3c4d5e6f-1a2b3c4d"), which WeChat support asks for; "" when absent.
	RID string
	// Op is the API path that answered, e.g. "cgi-bin/message/custom/send".
	Op string
	// TokenEndpoint is true when the answer came from cgi-bin/token or
	// cgi-bin/stable_token; it changes what 40001 means.
	TokenEndpoint bool
}

// Error returns "openapi: OP: errcode CODE: MSG (rid: RID)".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("openapi: ")
	if e.Op != "" {
		b.WriteString(e.Op)
		b.WriteString(": ")
	}
	b.WriteString("errcode ")
	b.WriteString(strconv.Itoa(e.Code))
	if e.Msg != "" {
		b.WriteString(": ")
		b.WriteString(e.Msg)
	}
	if e.RID != "" {
		b.WriteString(" (rid: ")
		b.WriteString(e.RID)
		b.WriteString(")")
	}
	return b.String()
}

// maxRIDLen bounds a request id taken out of errmsg.
const maxRIDLen = 64

// splitRID takes the request id off the end of an errmsg: "MSG rid: ID"
// (or "MSG, rid: ID") gives "MSG" and "ID". An errmsg without one is
// returned as is.
func splitRID(msg string) (string, string) {
	i := strings.LastIndex(msg, "rid:")
	if i < 0 || (i > 0 && msg[i-1] != ' ' && msg[i-1] != ',') {
		return msg, ""
	}
	id := strings.TrimSpace(msg[i+len("rid:"):])
	if id == "" || len(id) > maxRIDLen {
		return msg, ""
	}
	for _, c := range []byte(id) {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return msg, ""
		}
	}
	return strings.TrimRight(msg[:i], " ,"), id
}

// Is maps the errcode to the sentinel errors of this package:
//
//	-1                              ErrBusy
//	40001 (API call)                ErrTokenRejected, ErrInvalidCredential
//	40014                           ErrTokenRejected, ErrInvalidToken
//	42001                           ErrTokenRejected, ErrTokenExpired
//	40001 40013 40125 41002 41004
//	  (token endpoint)              ErrBadCredentials
//	45009                           ErrQuota
//	45015                           ErrWindowExpired
//	45047                           ErrCountExceeded
//	40003                           ErrInvalidOpenID
//	40007                           ErrInvalidMediaID
//	40164 89501 89503 89506 89507   ErrIPNotAllowed
//	48001                           ErrUnauthorized
//	43101                           ErrNotSubscribed
//	40037                           ErrInvalidTemplateID
//	47003                           ErrTemplateData
//	41030                           ErrInvalidPage
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBusy:
		return e.Code == -1
	case ErrTokenRejected:
		return !e.TokenEndpoint && isTokenCode(e.Code)
	case ErrInvalidCredential:
		return !e.TokenEndpoint && e.Code == 40001
	case ErrInvalidToken:
		return !e.TokenEndpoint && e.Code == 40014
	case ErrTokenExpired:
		return !e.TokenEndpoint && e.Code == 42001
	case ErrBadCredentials:
		if !e.TokenEndpoint {
			return false
		}
		switch e.Code {
		case 40001, 40013, 40125, 41002, 41004:
			return true
		}
	case ErrQuota:
		return e.Code == 45009
	case ErrWindowExpired:
		return e.Code == 45015
	case ErrCountExceeded:
		return e.Code == 45047
	case ErrInvalidOpenID:
		return e.Code == 40003
	case ErrInvalidMediaID:
		return e.Code == 40007
	case ErrIPNotAllowed:
		switch e.Code {
		case 40164, 89501, 89503, 89506, 89507:
			return true
		}
	case ErrUnauthorized:
		return e.Code == 48001
	case ErrNotSubscribed:
		return e.Code == 43101
	case ErrInvalidTemplateID:
		return e.Code == 40037
	case ErrTemplateData:
		return e.Code == 47003
	case ErrInvalidPage:
		return e.Code == 41030
	}
	return false
}

// isTokenCode reports whether code means "refresh the access_token".
func isTokenCode(code int) bool { return code == 40001 || code == 40014 || code == 42001 }

// maxMsgLen bounds Error.Msg in bytes.
const maxMsgLen = 512

// cleanMsg makes an errmsg safe to show: it removes every secret, replaces
// control characters and invalid UTF-8, and bounds the length.
func cleanMsg(msg string, secrets ...string) string {
	msg = scrub(msg, secrets)
	if len(msg) > maxMsgLen {
		cut := maxMsgLen
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut] + "..."
	}
	msg = strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return ' '
		}
		return r
	}, msg)
	if leaks(msg, secrets) { // a secret cut by the truncation, or split by a control character
		return redacted
	}
	return msg
}

// scrub replaces every secret in s, as is or percent-encoded (as a query
// value or a path segment would carry it), with REDACTED.
func scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec == "" {
			continue
		}
		s = strings.ReplaceAll(s, sec, redacted)
		if q := url.QueryEscape(sec); q != sec {
			s = strings.ReplaceAll(s, q, redacted)
		}
		if p := url.PathEscape(sec); p != sec {
			s = strings.ReplaceAll(s, p, redacted)
		}
	}
	return s
}

// leaks reports whether s still shows a secret once percent-decoded, up to
// three times (a URL nested in a query parameter of a URL nested in ...).
func leaks(s string, secrets []string) bool {
	for range 4 {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(s, sec) {
				return true
			}
		}
		d, err := url.QueryUnescape(s)
		if err != nil || d == s {
			return false
		}
		s = d
	}
	return false
}

// secretParams are the query parameters redacted from URLs in errors.
var secretParams = []string{"access_token", "secret", "appsecret", "component_access_token"}

// redactURL returns raw with the values of secret query parameters
// replaced, and every secret removed wherever else it appears (in the path,
// in another parameter such as a login page's next=URL, encoded or not). A
// URL that still shows a secret once decoded keeps only its scheme and
// host. It never returns the input unchanged when it cannot parse it: in
// that case it drops the query entirely.
func redactURL(raw string, secrets ...string) string {
	out := redactParams(raw)
	out = scrub(out, secrets)
	if leaks(out, secrets) {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			return u.Scheme + "://" + u.Host + "/" + redacted
		}
		return redacted
	}
	return out
}

// redactParams replaces the values of secretParams in raw's query.
func redactParams(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexByte(raw, '?'); i >= 0 {
			return raw[:i] + "?" + redacted
		}
		return raw
	}
	u.User = nil
	if u.RawQuery == "" {
		return u.String()
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		u.RawQuery = redacted
		return u.String()
	}
	for k := range q {
		for _, p := range secretParams {
			if strings.EqualFold(k, p) {
				q[k] = []string{redacted}
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// secretError hides secrets from a transport error. Its message has the
// secrets replaced; Unwrap returns a copy of the *url.Error (if any) whose URL
// is redacted, so errors.As cannot recover the token either. The innermost
// cause stays reachable for errors.Is (context.DeadlineExceeded and the like).
type secretError struct {
	msg   string
	inner error
}

// Error returns the redacted message.
func (e *secretError) Error() string { return e.msg }

// Unwrap returns the redacted cause.
func (e *secretError) Unwrap() error { return e.inner }

// redactErr wraps err so that neither its message nor its chain shows the
// given secrets or secret URL parameters. It returns nil for nil.
func redactErr(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		// The URL may be a redirect target chosen by the server, when the
		// caller's *http.Client follows redirects.
		inner = &url.Error{Op: ue.Op, URL: redactURL(ue.URL, secrets...), Err: redactInner(ue.Err, secrets)}
	} else {
		inner = redactInner(err, secrets)
	}
	msg := scrub(inner.Error(), secrets)
	if leaks(msg, secrets) {
		msg = "openapi: transport error (details withheld: they show a secret)"
	}
	return &secretError{msg: msg, inner: inner}
}

// redactInner keeps err if its text holds no secret, and otherwise replaces
// it with a secretError that still unwraps to err's own cause.
func redactInner(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if !leaks(msg, secrets) {
		return err
	}
	msg = scrub(msg, secrets)
	if leaks(msg, secrets) {
		msg = redacted
	}
	return &secretError{msg: msg, inner: redactInner(errors.Unwrap(err), secrets)}
}
