package outcore

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wxgate/wxgate/store"
)

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewID()
		if !ValidID(id) || len(id) != 30 {
			t.Fatalf("NewID() = %q: not a valid outbound id", id)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
	for _, id := range []string{"", "out_", "out_" + strings.Repeat("a", 25), "out_" + strings.Repeat("a", 27),
		"msg_" + strings.Repeat("a", 26), "out_" + strings.Repeat("A", 26), "out_" + strings.Repeat("1", 26), "out_" + strings.Repeat("8", 26)} {
		if ValidID(id) {
			t.Fatalf("ValidID(%q) = true", id)
		}
	}
}

func TestCursor(t *testing.T) {
	id := NewID()
	for _, at := range []int64{0, 1, -1, time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC).UnixMicro(), 1<<63 - 1, -1 << 63} {
		gotAt, gotID, err := DecodeCursor(EncodeCursor(at, id))
		if err != nil || gotAt != at || gotID != id {
			t.Fatalf("round trip of (%d, %s): (%d, %s), %v", at, id, gotAt, gotID, err)
		}
	}
	good := EncodeCursor(42, id)
	msgCursor := "AQAAAAAAAAAAbXNnX2FhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFh" // version 1, a message id
	for _, c := range []string{"", "x", good[:len(good)-1], good + "A", "!" + good[1:], msgCursor,
		EncodeCursor(42, "out_"+strings.Repeat("A", 26)), EncodeCursor(42, "out_short")} {
		if _, _, err := DecodeCursor(c); !errors.Is(err, store.ErrInvalidCursor) {
			t.Fatalf("DecodeCursor(%q) = %v, want ErrInvalidCursor", c, err)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(EncodeCursor(1764403200000000, "out_"+strings.Repeat("a", 26)))
	f.Add("")
	f.Add("AQAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, s string) {
		at, id, err := DecodeCursor(s)
		if err != nil {
			if !errors.Is(err, store.ErrInvalidCursor) {
				t.Fatalf("DecodeCursor(%q): %v", s, err)
			}
			return
		}
		if !ValidID(id) || EncodeCursor(at, id) != s {
			t.Fatalf("DecodeCursor(%q) = (%d, %q): not a cursor EncodeCursor makes", s, at, id)
		}
	})
}

func TestCleanError(t *testing.T) {
	for in, want := range map[string]string{"": "", "ok": "ok", "a\x00b": "ab", "bad \xff": "bad \uFFFD", "é": "é"} {
		if got := CleanError(in); got != want {
			t.Fatalf("CleanError(%q) = %q, want %q", in, got, want)
		}
	}
	got := CleanError("x" + strings.Repeat("é", MaxErrorLen)) // 2 bytes each: the cut falls inside one
	if len(got) != MaxErrorLen-1 || !utf8.ValidString(got) {
		t.Fatalf("CleanError cut to %d bytes (valid %v), want %d", len(got), utf8.ValidString(got), MaxErrorLen-1)
	}
}

func TestCheckClaimResolve(t *testing.T) {
	now := time.Date(2026, 11, 29, 8, 0, 0, 1000, time.UTC)
	c, err := CheckClaim("s", "k", "h", now.Add(time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if c.Now.Nanosecond()%1000 != 0 || !c.Lapsed.Equal(c.Now.Add(-store.IdempotencyClaimLapse)) || c.Claim == "" {
		t.Fatalf("CheckClaim: %+v", c)
	}
	if c2, _ := CheckClaim("s", "k", "h", now.Add(time.Hour), now); c2.Claim == c.Claim {
		t.Fatalf("two claims share the token %q", c.Claim)
	}
	for _, tc := range []struct {
		claim, hash string
		status      int
		want        store.IdempotencyState
	}{
		{c.Claim, "h", 0, store.IdempotencyNew},
		{"other", "h", 0, store.IdempotencyInFlight},
		{"other", "h", 200, store.IdempotencyDone},
		{"other", "h2", 0, store.IdempotencyMismatch},
		{"other", "h2", 200, store.IdempotencyMismatch},
	} {
		if got := c.Resolve(tc.claim, tc.hash, tc.status, []byte("r")); got.State != tc.want {
			t.Fatalf("Resolve(%+v) = %+v, want state %d", tc, got, tc.want)
		}
	}
	// Within the microsecond of now is not in the future.
	if _, err := CheckClaim("s", "k", "h", now.Add(500*time.Nanosecond), now); !errors.Is(err, store.ErrInvalid) {
		t.Fatalf("CheckClaim with expiry in the same microsecond: %v", err)
	}
}

func TestClaimSQL(t *testing.T) {
	// Every column the claim writes is guarded by the same condition.
	if n := strings.Count(ClaimSQL, "CASE WHEN"); n != 6 {
		t.Fatalf("ClaimSQL has %d guarded columns, want 6:\n%s", n, ClaimSQL)
	}
}
