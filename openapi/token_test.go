package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wxgate/wxgate/wechatsim"
)

func TestTokenNeverPrintsValue(t *testing.T) {
	const secret = "86_SECRETSECRETSECRETSECRET"
	tok := NewToken(secret, time.Unix(0, 0), time.Unix(7200, 0))
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
		outs = append(outs, fmt.Sprintf(verb, tok), fmt.Sprintf(verb, &tok), fmt.Sprintf(verb, struct{ T Token }{tok}),
			fmt.Sprintf(verb, struct{ t Token }{tok}), fmt.Sprintf(verb, []Token{tok}), fmt.Sprintf(verb, map[string]Token{"k": tok}))
	}
	outs = append(outs, tok.String(), tok.GoString())
	j, _ := json.Marshal(struct{ T Token }{tok})
	outs = append(outs, string(j))
	txt, _ := tok.MarshalText()
	outs = append(outs, string(txt))
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("tok", "t", tok)
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("tok", "t", tok)
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, "SECRET") {
			t.Errorf("token value printed: %s", o)
		}
	}
	if tok.Value() != secret {
		t.Fatal("Value lost the token")
	}
	if got := fmt.Sprint(Token{}); !strings.Contains(got, "empty") {
		t.Errorf("zero token prints %q", got)
	}
}

func TestSourcesNeverPrintSecret(t *testing.T) {
	s, err := NewStableTokenSource("wxapp", "TOPSECRET")
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClassicTokenSource("wxapp", "TOPSECRET")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := New("wxapp", "TOPSECRET")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{s, c, *s, *c, cl, *cl, cl.TokenCache(), *cl.TokenCache(), struct{ s StableTokenSource }{*s}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			if out := fmt.Sprintf(verb, v); strings.Contains(out, "TOPSECRET") {
				t.Errorf("%s printed the secret: %s", verb, out)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		appID, secret string
		opts          []Option
	}{
		{"", "s", nil},
		{"wx", "", nil},
		{"wx", "s", []Option{WithBaseURL("ftp://x")}},
		{"wx", "s", []Option{WithBaseURL("http://host/?access_token=x")}},
		{"wx", "s", []Option{WithBaseURL("::")}},
	} {
		if _, err := New(tc.appID, tc.secret, tc.opts...); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%q, %q): err = %v, want ErrConfig", tc.appID, "…", err)
		}
	}
	if _, err := New("", "", WithTokenSource(fixedSource{})); err != nil {
		t.Errorf("New with a TokenSource and no credentials: %v", err)
	}
}

// fixedSource hands out numbered tokens valid for an hour.
type fixedSource struct{}

func (fixedSource) FetchToken(context.Context) (Token, error) {
	now := time.Now()
	return NewToken("fixed-token-value-0001", now, now.Add(time.Hour)), nil
}

func TestStableTokenIsFetchedOnceAndCached(t *testing.T) {
	s := newSim(t)
	c := s.client(t)
	ctx := context.Background()
	openid := s.user()
	for i := range 3 {
		if err := c.SendText(ctx, openid, fmt.Sprintf("hello %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.api.StableTokenFetches(); n != 1 {
		t.Errorf("stable_token fetches = %d, want 1", n)
	}
	if n := s.api.TokenFetches(); n != 0 {
		t.Errorf("classic token fetches = %d, want 0", n)
	}
	if got := len(s.api.SentMessages(openid)); got != 3 {
		t.Errorf("sent %d messages, want 3", got)
	}
}

func TestClassicTokenOption(t *testing.T) {
	s := newSim(t)
	c := s.client(t, WithClassicToken())
	if err := c.SendText(context.Background(), s.user(), "hi"); err != nil {
		t.Fatal(err)
	}
	if s.api.TokenFetches() != 1 || s.api.StableTokenFetches() != 0 {
		t.Errorf("fetches: token=%d stable=%d, want 1 and 0", s.api.TokenFetches(), s.api.StableTokenFetches())
	}
}

func TestSingleFlightPerProcess(t *testing.T) {
	s := newSim(t)
	s.api.SetLatency(20 * time.Millisecond) // keep the fetch in flight while everyone arrives
	c := s.client(t)
	const n = 100
	var wg sync.WaitGroup
	tokens := make([]Token, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { tokens[i], errs[i] = c.Token(context.Background()) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if tokens[i].Value() != tokens[0].Value() {
			t.Fatal("goroutines got different tokens")
		}
	}
	if got := s.api.StableTokenFetches(); got != 1 {
		t.Errorf("stable_token fetches = %d, want 1", got)
	}
	if got := c.TokenCache().Stats().Fetches; got != 1 {
		t.Errorf("cache fetches = %d, want 1", got)
	}
}

func TestRefreshAheadOnFakeClock(t *testing.T) {
	s := newSim(t)
	c := s.client(t)
	ctx := context.Background()
	tok1, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := s.clock.Now().Add(wechatsim.TokenLifetime); !tok1.ExpiresAt().Equal(want) {
		t.Fatalf("expiry %v, want %v", tok1.ExpiresAt(), want)
	}
	// Just before the refresh point: cached.
	s.clock.Advance(wechatsim.TokenLifetime - DefaultRefreshAhead - time.Second)
	if tok, _ := c.Token(ctx); tok.Value() != tok1.Value() {
		t.Fatal("token changed before the refresh point")
	}
	if n := s.api.StableTokenFetches(); n != 1 {
		t.Fatalf("fetches = %d before the refresh point, want 1", n)
	}
	// At the refresh point: the still-valid token is served at once and one
	// renewal runs behind.
	s.clock.Advance(time.Second)
	if tok, err := c.Token(ctx); err != nil || tok.Value() != tok1.Value() {
		t.Fatalf("the caller that starts the renewal must get the current token at once (err=%v)", err)
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.Token(ctx); err != nil {
				t.Errorf("during renewal: %v", err)
			}
		})
	}
	wg.Wait()
	c.TokenCache().waitIdle()
	if n := s.api.StableTokenFetches(); n != 2 {
		t.Fatalf("fetches = %d after the refresh point, want 2", n)
	}
	tok2, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tok2.Value() == tok1.Value() {
		t.Fatal("stable_token in its last 5 minutes must hand out a new token")
	}
	// Both tokens work until the old one expires (the 5-minute overlap).
	openid := s.user()
	if err := c.SendText(ctx, openid, "with the new token"); err != nil {
		t.Fatal(err)
	}
	if err := sendWith(ctx, s, tok1, openid); err != nil {
		t.Fatalf("old token rejected inside the overlap: %v", err)
	}
	// After a whole lifetime without calls, the expired token is replaced
	// before use: callers wait for one fetch.
	s.clock.Advance(wechatsim.TokenLifetime)
	if err := c.SendText(ctx, s.user(), "after expiry"); err != nil {
		t.Fatal(err)
	}
	if n := s.api.StableTokenFetches(); n != 3 {
		t.Fatalf("fetches = %d after expiry, want 3", n)
	}
	if st := c.TokenCache().Stats(); st.Invalidations != 0 {
		t.Errorf("unexpected invalidations: %+v", st)
	}
}

// sendWith sends a text with a fixed token, bypassing any cache.
func sendWith(ctx context.Context, s *sim, tok Token, openid string) error {
	c, err := New("", "", append(s.options(), WithTokenSource(staticSource{tok}), WithBusyRetry(1, 0, 0))...)
	if err != nil {
		return err
	}
	return c.SendText(ctx, openid, "with a fixed token")
}

// staticSource always returns the same token.
type staticSource struct{ tok Token }

func (s staticSource) FetchToken(context.Context) (Token, error) { return s.tok, nil }

func TestClassicOverlapThenRecovery(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	a := s.client(t, WithClassicToken())
	openid := s.user()
	if err := a.SendText(ctx, openid, "1"); err != nil {
		t.Fatal(err)
	}
	// Someone else fetches a classic token: ours is superseded but keeps
	// working for 5 minutes.
	other, err := NewClassicTokenSource(wechatsim.DefaultAppID, wechatsim.DefaultSecret, s.sourceOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.FetchToken(ctx); err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(wechatsim.TokenOverlap - time.Second)
	if err := a.SendText(ctx, openid, "2"); err != nil {
		t.Fatalf("superseded token rejected inside the overlap: %v", err)
	}
	if n := s.api.TokenFetches(); n != 2 {
		t.Fatalf("token fetches = %d, want 2", n)
	}
	// Past the overlap: 40001, one invalidation, one fetch, one retry.
	s.clock.Advance(time.Second)
	sendsBefore := s.calls(wechatsim.PathCustomSend)
	if err := a.SendText(ctx, openid, "3"); err != nil {
		t.Fatalf("no recovery after the overlap: %v", err)
	}
	if n := s.api.TokenFetches(); n != 3 {
		t.Errorf("token fetches = %d, want 3", n)
	}
	if n := s.calls(wechatsim.PathCustomSend) - sendsBefore; n != 2 {
		t.Errorf("custom/send calls = %d, want 2 (failure + one retry)", n)
	}
	if got := a.TokenCache().Stats().Invalidations; got != 1 {
		t.Errorf("invalidations = %d, want 1", got)
	}
}

func TestRevokedTokenRecoversWithExactlyOneRetry(t *testing.T) {
	for _, classic := range []bool{false, true} {
		t.Run(fmt.Sprintf("classic=%v", classic), func(t *testing.T) {
			s := newSim(t)
			var opts []Option
			if classic {
				opts = append(opts, WithClassicToken())
			}
			c := s.client(t, opts...)
			ctx := context.Background()
			openid := s.user()
			if err := c.SendText(ctx, openid, "before"); err != nil {
				t.Fatal(err)
			}
			fetches := func() int { return s.api.TokenFetches() + s.api.StableTokenFetches() }
			before, sends := fetches(), s.calls(wechatsim.PathCustomSend)

			s.api.RevokeTokens()
			if err := c.SendText(ctx, openid, "after revocation"); err != nil {
				t.Fatalf("send after revocation: %v", err)
			}
			if got := fetches() - before; got != 1 {
				t.Errorf("token fetches after revocation = %d, want 1", got)
			}
			if got := s.calls(wechatsim.PathCustomSend) - sends; got != 2 {
				t.Errorf("custom/send calls = %d, want 2 (rejected + one retry)", got)
			}

			// Many goroutines hit the revoked token at once: each retries
			// at most once; the CAS invalidation lets one fetch through.
			before, sends = fetches(), s.calls(wechatsim.PathCustomSend)
			s.api.RevokeTokens()
			const n = 20
			var wg sync.WaitGroup
			for i := range n {
				to := s.user() // 5 messages per window: one user each
				wg.Go(func() {
					if err := c.SendText(ctx, to, fmt.Sprint("concurrent ", i)); err != nil {
						t.Errorf("send after revocation: %v", err)
					}
				})
			}
			wg.Wait()
			if got := fetches() - before; got != 1 {
				t.Errorf("token fetches after concurrent revocation = %d, want 1", got)
			}
			if got := s.calls(wechatsim.PathCustomSend) - sends; got < n+1 || got > 2*n {
				t.Errorf("custom/send calls = %d, want between %d and %d", got, n+1, 2*n)
			}
			if got := c.TokenCache().Stats().Invalidations; got != 2 {
				t.Errorf("invalidations = %d, want 2 (one per revocation)", got)
			}
		})
	}
}

func TestTokenRejectionIsRetriedOnlyOnce(t *testing.T) {
	for _, code := range []int{40001, 40014, 42001} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			s := newSim(t)
			c := s.client(t)
			ctx := context.Background()
			openid := s.user()
			if _, err := c.Token(ctx); err != nil {
				t.Fatal(err)
			}
			s.api.FailNextOn(wechatsim.PathCustomSend, 10, code)
			err := c.SendText(ctx, openid, "never delivered")
			var ae *Error
			if !errors.As(err, &ae) || ae.Code != code || !errors.Is(err, ErrTokenRejected) {
				t.Fatalf("err = %v, want errcode %d matching ErrTokenRejected", err, code)
			}
			if errors.Is(err, ErrBadCredentials) {
				t.Error("a rejected call token must not look like bad credentials")
			}
			if got := s.calls(wechatsim.PathCustomSend); got != 2 {
				t.Errorf("custom/send calls = %d, want 2", got)
			}
			if got := s.api.StableTokenFetches(); got != 2 {
				t.Errorf("stable_token fetches = %d, want 2", got)
			}
		})
	}
}

func TestQuota45009IsTypedAndNotRetried(t *testing.T) {
	t.Run("classic daily quota", func(t *testing.T) {
		s := newSim(t, wechatsim.WithDailyTokenQuota(1))
		c := s.client(t, WithClassicToken())
		ctx := context.Background()
		openid := s.user()
		if err := c.SendText(ctx, openid, "1"); err != nil {
			t.Fatal(err)
		}
		s.api.RevokeTokens()
		err := c.SendText(ctx, openid, "2")
		if !errors.Is(err, ErrQuota) {
			t.Fatalf("err = %v, want ErrQuota", err)
		}
		if errors.Is(err, ErrTokenRejected) || errors.Is(err, ErrBusy) {
			t.Errorf("45009 matches another sentinel: %v", err)
		}
		if n := s.api.TokenFetches(); n != 2 {
			t.Errorf("token fetches = %d, want 2 (no retry of 45009)", n)
		}
		s.checkNoSecret(t, err.Error())
	})
	t.Run("stable", func(t *testing.T) {
		s := newSim(t)
		c := s.client(t)
		s.api.FailNextOn(wechatsim.PathStableToken, 5, 45009)
		_, err := c.Token(context.Background())
		var ae *Error
		if !errors.As(err, &ae) || ae.Code != 45009 || !ae.TokenEndpoint || !errors.Is(err, ErrQuota) {
			t.Fatalf("err = %v, want a token-endpoint 45009", err)
		}
		if n := s.api.StableTokenFetches(); n != 1 {
			t.Errorf("stable_token fetches = %d, want 1", n)
		}
	})
	t.Run("api call", func(t *testing.T) {
		s := newSim(t)
		c := s.client(t)
		s.api.FailNextOn(wechatsim.PathCustomSend, 5, 45009)
		if err := c.SendText(context.Background(), s.user(), "x"); !errors.Is(err, ErrQuota) {
			t.Fatalf("err = %v, want ErrQuota", err)
		}
		if n := s.calls(wechatsim.PathCustomSend); n != 1 {
			t.Errorf("custom/send calls = %d, want 1", n)
		}
	})
}

func TestBadCredentialsAreTypedAndNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name          string
		appID, secret string
		inject        int
		code          int
	}{
		{"wrong secret", wechatsim.DefaultAppID, "0000000000wrongsecret0000000000", 0, 40125},
		{"unknown appid", "wx0000000000000000", wechatsim.DefaultSecret, 0, 40013},
		{"40001 at token time", wechatsim.DefaultAppID, wechatsim.DefaultSecret, 40001, 40001},
	} {
		for _, classic := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/classic=%v", tc.name, classic), func(t *testing.T) {
				s := newSim(t)
				opts := s.options()
				path := wechatsim.PathStableToken
				if classic {
					opts = append(opts, WithClassicToken())
					path = wechatsim.PathToken
				}
				if tc.inject != 0 {
					s.api.FailNextOn(path, 5, tc.inject)
				}
				c, err := New(tc.appID, tc.secret, opts...)
				if err != nil {
					t.Fatal(err)
				}
				err = c.SendText(context.Background(), s.user(), "x")
				var ae *Error
				if !errors.As(err, &ae) || ae.Code != tc.code || !errors.Is(err, ErrBadCredentials) {
					t.Fatalf("err = %v, want errcode %d matching ErrBadCredentials", err, tc.code)
				}
				if errors.Is(err, ErrTokenRejected) {
					t.Error("bad credentials must not match ErrTokenRejected")
				}
				if n := s.calls(path); n != 1 {
					t.Errorf("%s calls = %d, want 1", path, n)
				}
				if n := s.calls(wechatsim.PathCustomSend); n != 0 {
					t.Errorf("custom/send called %d times without a token", n)
				}
				if strings.Contains(err.Error(), tc.secret) {
					t.Errorf("secret in error: %v", err)
				}
			})
		}
	}
}

func TestBusyIsRetriedWithBackoff(t *testing.T) {
	t.Run("recovers", func(t *testing.T) {
		s := newSim(t)
		c := s.client(t)
		s.api.FailNextOn(wechatsim.PathCustomSend, 2, -1)
		if err := c.SendText(context.Background(), s.user(), "x"); err != nil {
			t.Fatal(err)
		}
		if n := s.calls(wechatsim.PathCustomSend); n != 3 {
			t.Errorf("custom/send calls = %d, want 3", n)
		}
	})
	t.Run("bounded", func(t *testing.T) {
		s := newSim(t)
		c := s.client(t)
		s.api.FailNextOn(wechatsim.PathCustomSend, 10, -1)
		err := c.SendText(context.Background(), s.user(), "x")
		if !errors.Is(err, ErrBusy) {
			t.Fatalf("err = %v, want ErrBusy", err)
		}
		if n := s.calls(wechatsim.PathCustomSend); n != 3 {
			t.Errorf("custom/send calls = %d, want 3 attempts", n)
		}
	})
	t.Run("token endpoint", func(t *testing.T) {
		s := newSim(t)
		c := s.client(t)
		s.api.FailNextOn(wechatsim.PathStableToken, 2, -1)
		if _, err := c.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n := s.api.StableTokenFetches(); n != 3 {
			t.Errorf("stable_token calls = %d, want 3", n)
		}
	})
	t.Run("token endpoint bounded", func(t *testing.T) {
		s := newSim(t)
		c := s.client(t)
		s.api.FailNextOn(wechatsim.PathStableToken, 10, -1)
		if _, err := c.Token(context.Background()); !errors.Is(err, ErrBusy) {
			t.Fatalf("err = %v, want ErrBusy", err)
		}
		if n := s.api.StableTokenFetches(); n != 3 {
			t.Errorf("stable_token calls = %d, want 3 attempts", n)
		}
	})
	t.Run("context ends the backoff", func(t *testing.T) {
		s := newSim(t)
		c := s.client(t, WithBusyRetry(10, time.Hour, time.Hour))
		openid := s.user()
		if _, err := c.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.api.FailNextOn(wechatsim.PathCustomSend, 10, -1)
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			for s.calls(wechatsim.PathCustomSend) == 0 {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		if err := c.SendText(ctx, openid, "x"); !errors.Is(err, ErrBusy) {
			t.Fatalf("err = %v, want ErrBusy", err)
		}
		if n := s.calls(wechatsim.PathCustomSend); n != 1 {
			t.Errorf("custom/send calls = %d, want 1", n)
		}
	})
	t.Run("busy rate", func(t *testing.T) {
		s := newSim(t)
		c := s.client(t, WithBusyRetry(30, time.Microsecond, time.Microsecond))
		openid := s.user()
		s.api.SetBusyRate(0.3)
		for i := range 5 {
			if err := c.SendText(context.Background(), openid, fmt.Sprint(i)); err != nil {
				t.Fatal(err)
			}
		}
		if got := len(s.api.SentMessages(openid)); got != 5 {
			t.Errorf("delivered %d, want 5", got)
		}
	})
}

func TestBackoffGrowsWithJitterAndIsCapped(t *testing.T) {
	tr := &transport{backoff: 10 * time.Millisecond, maxBackoff: 25 * time.Millisecond}
	for attempt, want := range map[int]time.Duration{1: 10 * time.Millisecond, 2: 20 * time.Millisecond, 3: 25 * time.Millisecond, 60: 25 * time.Millisecond} {
		seen := map[time.Duration]bool{}
		for range 200 {
			d := tr.delay(attempt)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: delay %v outside [%v, %v]", attempt, d, want/2, want)
			}
			seen[d] = true
		}
		if len(seen) < 2 {
			t.Errorf("attempt %d: no jitter", attempt)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (&transport{backoff: time.Hour, maxBackoff: time.Hour}).sleep(ctx, 1); err == nil {
		t.Fatal("sleep ignored a cancelled context")
	}
}

func TestInvalidateIsCompareAndSwap(t *testing.T) {
	src := &countingSource{}
	tc := NewTokenCache(src)
	ctx := context.Background()
	t1, _ := tc.Token(ctx)
	if tc.Invalidate(ctx, NewToken("some-other-token", time.Time{}, time.Time{})) {
		t.Error("invalidated a token the cache does not hold")
	}
	if !tc.Invalidate(ctx, t1) {
		t.Fatal("did not invalidate the cached token")
	}
	if tc.Invalidate(ctx, t1) {
		t.Error("invalidated twice")
	}
	t2, _ := tc.Token(ctx)
	if t2.Value() == t1.Value() {
		t.Fatal("served the invalidated token")
	}
	if tc.Invalidate(ctx, t1) {
		t.Error("a late failure of the old token dropped the new one")
	}
	if got, _ := tc.Token(ctx); got.Value() != t2.Value() || src.calls() != 2 {
		t.Errorf("calls = %d, want 2", src.calls())
	}
}

func TestRejectedTokenHandedBackIsFetchedOnce(t *testing.T) {
	src := &countingSource{repeat: 1}
	tc := NewTokenCache(src)
	ctx := context.Background()
	t1, _ := tc.Token(ctx)
	tc.Invalidate(ctx, t1)
	t2, err := tc.Token(ctx)
	if err != nil || t2.Value() != t1.Value() {
		t.Fatalf("err=%v, want the handed-back token", err)
	}
	if got := tc.Stats().Fetches; got != 2 {
		t.Errorf("fetches = %d, want 2 (no loop)", got)
	}
}

// countingSource hands out token-1, token-2, ...; with repeat > 0 it hands
// the previous token back that many times.
type countingSource struct {
	mu     sync.Mutex
	n      int
	repeat int
}

func (s *countingSource) FetchToken(context.Context) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n > 0 && s.repeat > 0 {
		s.repeat--
	} else {
		s.n++
	}
	now := time.Now()
	return NewToken(fmt.Sprintf("token-%d", s.n), now, now.Add(time.Hour)), nil
}

func (s *countingSource) calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

func TestPanickingSourceBecomesError(t *testing.T) {
	tc := NewTokenCache(panicSource{})
	if _, err := tc.Token(context.Background()); err == nil || strings.Contains(err.Error(), "86_") {
		t.Fatalf("err = %v", err)
	}
}

type panicSource struct{}

func (panicSource) FetchToken(context.Context) (Token, error) { panic("86_secret token") }

func TestWaitingCallerHonoursContext(t *testing.T) {
	block := make(chan struct{})
	tc := NewTokenCache(blockingSource{block})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tc.Token(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	close(block)
	tc.waitIdle()
	if _, err := tc.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
}

type blockingSource struct{ c chan struct{} }

func (b blockingSource) FetchToken(ctx context.Context) (Token, error) {
	<-b.c
	now := time.Now()
	return NewToken("after-block", now, now.Add(time.Hour)), nil
}

func TestShortLivedTokensDoNotRefetchPerCall(t *testing.T) {
	clk := wechatsim.NewFakeClock(time.Time{})
	var calls int
	src := sourceFunc(func(context.Context) (Token, error) {
		calls++
		now := clk.Now()
		return NewToken(fmt.Sprint("short-", calls), now, now.Add(time.Minute)), nil // shorter than refresh-ahead
	})
	tc := NewTokenCache(src, WithClock(clk.Now))
	for range 10 {
		if _, err := tc.Token(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Errorf("fetches = %d, want 1", calls)
	}
}

func TestSourceHandingBackDueTokenIsNotHammered(t *testing.T) {
	// A central token service hands back its current token, with its own
	// issue and expiry times, until it renews it itself. Inside the refresh
	// window every renewal brings the same, still due token: renewals must
	// be paced like failed ones, not run once per call.
	clk := wechatsim.NewFakeClock(time.Unix(1714000000, 0))
	issued := clk.Now()
	var calls atomic.Int32
	src := sourceFunc(func(context.Context) (Token, error) {
		calls.Add(1)
		return NewToken("service-token", issued, issued.Add(2*time.Hour)), nil
	})
	tc := NewTokenCache(src, WithClock(clk.Now))
	ctx := context.Background()
	if _, err := tc.Token(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2*time.Hour - time.Minute) // due for renewal, still valid
	for range 20 {
		tok, err := tc.Token(ctx)
		if err != nil || tok.Value() != "service-token" {
			t.Fatalf("Token = %v, %v", tok, err)
		}
		tc.waitIdle()
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("fetches = %d, want 2 (one renewal, then paced)", n)
	}
	// Once it has expired, callers wait for a renewal again.
	clk.Advance(time.Minute)
	if _, err := tc.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 3 {
		t.Errorf("fetches after expiry = %d, want 3", n)
	}
}

type sourceFunc func(context.Context) (Token, error)

func (f sourceFunc) FetchToken(ctx context.Context) (Token, error) { return f(ctx) }

func TestFailedRefreshAheadKeepsServingValidToken(t *testing.T) {
	s := newSim(t)
	c := s.client(t)
	ctx := context.Background()
	openid := s.user()
	tok1, err := c.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.clock.Advance(wechatsim.TokenLifetime - time.Minute) // inside the refresh window
	s.api.FailNextOn(wechatsim.PathStableToken, 100, 45009)
	for i := range 5 {
		if err := c.SendText(ctx, openid, fmt.Sprint("still fine ", i)); err != nil {
			t.Fatalf("send with a valid token failed because renewal failed: %v", err)
		}
		c.TokenCache().waitIdle()
	}
	if n := s.api.StableTokenFetches(); n != 2 {
		t.Errorf("stable_token calls = %d, want 2 (failed renewals are not hammered)", n)
	}
	if st := c.TokenCache().Stats(); st.RefreshFailures != 1 {
		t.Errorf("stats = %+v", st)
	}
	// Once the token has expired, the failure reaches the caller.
	s.clock.Set(tok1.ExpiresAt())
	if err := c.SendText(ctx, openid, "expired"); !errors.Is(err, ErrQuota) {
		t.Fatalf("err = %v, want ErrQuota", err)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	target := fakeWeChat(t, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("redirect followed to %s", r.URL.Path)
	})
	srv := fakeWeChat(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.RequestURI(), http.StatusFound)
	})
	c, err := New("wxtest", testSecret, WithBaseURL(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	err = c.SendText(context.Background(), "o", "x")
	if !errors.Is(err, ErrBadResponse) {
		t.Fatalf("err = %v, want ErrBadResponse", err)
	}
	checkClean(t, err)
}
