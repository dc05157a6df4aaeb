package openapi

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// transport performs Open API exchanges: it builds URLs without ever putting
// secrets in a string that an error could quote, bounds and decodes answers,
// and retries -1 with backoff.
type transport struct {
	base        *url.URL
	hc          *http.Client
	now         func() time.Time
	timeout     time.Duration
	maxResponse int64
	maxMedia    int64
	attempts    int
	backoff     time.Duration
	maxBackoff  time.Duration
}

func newTransport(c *config) (*transport, error) {
	u, err := url.Parse(strings.TrimRight(c.baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("%w: base URL must be http(s)://host[/path] without query or user info", ErrConfig)
	}
	return &transport{
		base:        u,
		hc:          c.httpClient,
		now:         c.now,
		timeout:     c.timeout,
		maxResponse: c.maxResponse,
		maxMedia:    c.maxMedia,
		attempts:    c.busyAttempts,
		backoff:     c.busyBackoff,
		maxBackoff:  c.busyMax,
	}, nil
}

// exchange is one Open API request.
type exchange struct {
	op            string     // path below the base URL, e.g. "cgi-bin/stable_token"
	method        string     // GET or POST
	query         url.Values // may hold secrets; never printed unredacted
	body          []byte     // resent on each attempt
	contentType   string     // of body
	tokenEndpoint bool       // answers come from a token endpoint
	secrets       []string   // values to scrub from errors (token, AppSecret)
	out           any        // JSON answer target, may be nil
	media         *mediaAnswer
}

// mediaAnswer receives a binary answer (GetTempMedia).
type mediaAnswer struct {
	data        []byte
	contentType string
}

// do runs ex once: one HTTP attempt bounded by the transport timeout.
func (t *transport) do(ctx context.Context, ex *exchange) error {
	if t.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.timeout)
		defer cancel()
	}
	// The URL string given to NewRequest holds no secret, so a parse error
	// cannot leak one; the query is attached afterwards.
	u := *t.base
	u.Path = t.base.Path + "/" + ex.op
	u.RawPath = ""
	var body *bytes.Reader
	if ex.body != nil {
		body = bytes.NewReader(ex.body)
	}
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, ex.method, u.String(), body)
	} else {
		req, err = http.NewRequestWithContext(ctx, ex.method, u.String(), nil)
	}
	if err != nil {
		return fmt.Errorf("openapi: %s: %w", ex.op, redactErr(err, ex.secrets...))
	}
	req.URL.RawQuery = ex.query.Encode()
	if ex.contentType != "" {
		req.Header.Set("Content-Type", ex.contentType)
	}
	if ex.media == nil {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := t.hc.Do(req)
	if err != nil {
		return fmt.Errorf("openapi: %s: %w", ex.op, redactErr(err, ex.secrets...))
	}
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	if ex.media != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		mt := mediaType(ct)
		if strings.HasPrefix(mt, "image/") || mt == "application/octet-stream" {
			data, err := readLimited(ex.op, resp.Body, t.maxMedia)
			if err != nil {
				return redactErr(err, ex.secrets...)
			}
			if len(data) == 0 {
				return badResponse(ex.op, "empty media body")
			}
			ex.media.data, ex.media.contentType = data, mt
			return nil
		}
		if mt != "application/json" && mt != "text/plain" && mt != "text/json" && mt != "" {
			return badResponse(ex.op, "unexpected %s for media", describeType(ct))
		}
	}
	data, err := readLimited(ex.op, resp.Body, t.maxResponse)
	if err != nil {
		return redactErr(err, ex.secrets...)
	}
	if err := decodeAnswer(ex.op, ex.tokenEndpoint, resp.StatusCode, ct, data, ex.out, ex.secrets...); err != nil {
		return err
	}
	if ex.media != nil {
		return badResponse(ex.op, "JSON answer without media")
	}
	return nil
}

// doBusy runs ex and retries it while it is answered with -1, within the
// configured number of attempts and ctx.
func (t *transport) doBusy(ctx context.Context, ex *exchange) error {
	for attempt := 1; ; attempt++ {
		err := t.do(ctx, ex)
		if !isBusy(err) || attempt >= t.attempts {
			return err
		}
		if serr := t.sleep(ctx, attempt); serr != nil {
			return err
		}
	}
}

// isBusy reports whether err is a -1 answer.
func isBusy(err error) bool {
	e, ok := err.(*Error)
	return ok && e.Code == -1
}

// delay returns the backoff after the given failed attempt (1-based): a
// random duration in [d/2, d] where d = backoff * 2^(attempt-1), capped at
// maxBackoff.
func (t *transport) delay(attempt int) time.Duration {
	d := t.backoff
	for i := 1; i < attempt && d < t.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, t.maxBackoff)
	if d > 1 {
		d = d/2 + rand.N(d/2+1)
	}
	return d
}

// sleep waits delay(attempt). It returns ctx.Err() if ctx ends first.
func (t *transport) sleep(ctx context.Context, attempt int) error {
	d := t.delay(attempt)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
