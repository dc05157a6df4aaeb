package rules

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hoursEngine compiles office hours with the given zone and windows.
func hoursEngine(t *testing.T, zone, windows string, opts ...Option) *Engine {
	t.Helper()
	return compile(t, `
rules:
  - match: {keyword: hi}
    reply: hello
  - match: {enter_session: true}
    reply: welcome
office_hours:
  time_zone: `+zone+`
  windows: `+windows+`
  away: We are closed.
`, opts...)
}

// closedSince evaluates a text at now and returns the closed period's
// start, or the zero time when the office is open.
func closedSince(e *Engine, now time.Time) time.Time {
	d := e.Evaluate(textMsg("u", "hi"), now)
	if !d.Away.Due {
		return time.Time{}
	}
	return d.Away.Period
}

type hoursCase struct {
	name string
	now  time.Time
	want time.Time // zero: open
}

func runHours(t *testing.T, e *Engine, cases []hoursCase) {
	t.Helper()
	for _, c := range cases {
		got := closedSince(e, c.now)
		if !got.Equal(c.want) {
			t.Errorf("%s (%v): closed since %v, want %v (zero: open)", c.name, c.now, got, c.want)
		}
		if !got.IsZero() && got.Location() != time.UTC {
			t.Errorf("%s: period not in UTC", c.name)
		}
	}
}

// TestOfficeHoursWeekdays checks a plain week: open, closed in the
// evening, over the weekend, at the edges.
func TestOfficeHoursWeekdays(t *testing.T) {
	e := hoursEngine(t, "Asia/Shanghai", `["mon-fri 09:00-18:00", "sat 10:00-12:00"]`)
	sh := func(d, h, m int) time.Time { return at(t, "Asia/Shanghai", 2025, time.June, d, h, m) } // June 2: Monday
	runHours(t, e, []hoursCase{
		{"monday 09:00 opens", sh(2, 9, 0), time.Time{}},
		{"monday 17:59", sh(2, 17, 59), time.Time{}},
		{"monday 18:00 closes", sh(2, 18, 0), sh(2, 18, 0).UTC()},
		{"monday night", sh(2, 23, 30), sh(2, 18, 0).UTC()},
		{"tuesday early", sh(3, 8, 59), sh(2, 18, 0).UTC()},
		{"friday evening", sh(6, 20, 0), sh(6, 18, 0).UTC()},
		{"saturday morning", sh(7, 9, 0), sh(6, 18, 0).UTC()},
		{"saturday 11:00", sh(7, 11, 0), time.Time{}},
		{"saturday afternoon", sh(7, 15, 0), sh(7, 12, 0).UTC()},
		{"sunday", sh(8, 12, 0), sh(7, 12, 0).UTC()},
		{"monday before opening", sh(9, 8, 0), sh(7, 12, 0).UTC()},
	})
}

// TestOfficeHoursTimeZones checks that the same instant is open in one
// zone and closed in another.
func TestOfficeHoursTimeZones(t *testing.T) {
	instant := time.Date(2025, 6, 4, 2, 0, 0, 0, time.UTC) // Wed 10:00 Shanghai, Tue 22:00 New York
	sh := hoursEngine(t, "Asia/Shanghai", `["mon-fri 09:00-18:00"]`)
	ny := hoursEngine(t, "America/New_York", `["mon-fri 09:00-18:00"]`)
	utc := hoursEngine(t, "UTC", `["mon-fri 09:00-18:00"]`)
	if got := closedSince(sh, instant); !got.IsZero() {
		t.Errorf("Shanghai closed since %v", got)
	}
	if got, want := closedSince(ny, instant), at(t, "America/New_York", 2025, time.June, 3, 18, 0).UTC(); !got.Equal(want) {
		t.Errorf("New York closed since %v, want %v", got, want)
	}
	if got, want := closedSince(utc, instant), time.Date(2025, 6, 3, 18, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("UTC closed since %v, want %v", got, want)
	}
	// The instant's own zone does not matter, only the configured one.
	if got := closedSince(sh, instant.In(time.FixedZone("X", -11*3600))); !got.IsZero() {
		t.Errorf("Shanghai, instant in another zone: closed since %v", got)
	}
}

// TestOfficeHoursOvernight checks windows that end the next day, also
// across the end of the week.
func TestOfficeHoursOvernight(t *testing.T) {
	e := hoursEngine(t, "Asia/Shanghai", `["fri 22:00-02:00", "sat 22:00-02:00", "sun 12:00-13:00"]`)
	sh := func(d, h, m int) time.Time { return at(t, "Asia/Shanghai", 2025, time.June, d, h, m) } // June 6: Friday
	runHours(t, e, []hoursCase{
		{"friday 21:59", sh(6, 21, 59), sh(1, 13, 0).UTC()},
		{"friday 22:00", sh(6, 22, 0), time.Time{}},
		{"friday 23:59", sh(6, 23, 59), time.Time{}},
		{"saturday 00:00", sh(7, 0, 0), time.Time{}},
		{"saturday 01:59", sh(7, 1, 59), time.Time{}},
		{"saturday 02:00", sh(7, 2, 0), sh(7, 2, 0).UTC()},
		{"saturday noon", sh(7, 12, 0), sh(7, 2, 0).UTC()},
		{"saturday 23:00", sh(7, 23, 0), time.Time{}},
		{"sunday 01:00 (across the week's end)", sh(8, 1, 0), time.Time{}},
		{"sunday 02:00", sh(8, 2, 0), sh(8, 2, 0).UTC()},
		{"sunday 12:30", sh(8, 12, 30), time.Time{}},
		{"sunday 13:00", sh(8, 13, 0), sh(8, 13, 0).UTC()},
		{"thursday", sh(12, 12, 0), sh(8, 13, 0).UTC()},
	})

	// Windows that touch make one: no closed period at midnight.
	joined := hoursEngine(t, "UTC", `["mon 18:00-24:00", "tue 00:00-02:00"]`)
	utc := func(d, h, m int) time.Time { return time.Date(2025, 6, d, h, m, 0, 0, time.UTC) } // June 2: Monday
	runHours(t, joined, []hoursCase{
		{"monday 23:59", utc(2, 23, 59), time.Time{}},
		{"tuesday 00:00", utc(3, 0, 0), time.Time{}},
		{"tuesday 02:00", utc(3, 2, 0), utc(3, 2, 0)},
	})

	// Open all week: never closed.
	always := hoursEngine(t, "UTC", `["daily 00:00-24:00"]`)
	wrapped := hoursEngine(t, "UTC", `["mon-sat 00:00-24:00", "sun 00:00-24:00"]`)
	for i := range 7 * 24 {
		now := utc(2, 0, 30).Add(time.Duration(i) * time.Hour)
		if !closedSince(always, now).IsZero() || !closedSince(wrapped, now).IsZero() {
			t.Fatalf("open all week, but closed at %v", now)
		}
	}
}

// TestOfficeHoursDST checks closed periods across daylight saving time
// changes: the period's start is the window's wall-clock end, the same
// for every instant of the period.
func TestOfficeHoursDST(t *testing.T) {
	e := hoursEngine(t, "America/New_York", `["daily 09:00-17:00"]`)
	ny := func(mo time.Month, d, h, m int) time.Time { return at(t, "America/New_York", 2025, mo, d, h, m) }
	// Clocks go forward on Sunday 9 March 2025 at 02:00 EST to 03:00 EDT.
	spring := time.Date(2025, 3, 8, 22, 0, 0, 0, time.UTC) // Saturday 17:00 EST
	runHours(t, e, []hoursCase{
		{"saturday 16:59 EST", ny(time.March, 8, 16, 59), time.Time{}},
		{"saturday 23:00 EST", ny(time.March, 8, 23, 0), spring},
		{"sunday 01:59 EST", time.Date(2025, 3, 9, 6, 59, 0, 0, time.UTC), spring},
		{"sunday 03:00 EDT", time.Date(2025, 3, 9, 7, 0, 0, 0, time.UTC), spring},
		{"sunday 08:59 EDT", ny(time.March, 9, 8, 59), spring},
		{"sunday 09:00 EDT opens", time.Date(2025, 3, 9, 13, 0, 0, 0, time.UTC), time.Time{}},
		{"sunday 17:00 EDT", ny(time.March, 9, 17, 0), time.Date(2025, 3, 9, 21, 0, 0, 0, time.UTC)},
	})
	// Clocks go back on Sunday 2 November 2025 at 02:00 EDT to 01:00 EST.
	autumn := time.Date(2025, 11, 1, 21, 0, 0, 0, time.UTC) // Saturday 17:00 EDT
	runHours(t, e, []hoursCase{
		{"saturday 17:00 EDT", ny(time.November, 1, 17, 0), autumn},
		{"sunday 01:30 EDT", time.Date(2025, 11, 2, 5, 30, 0, 0, time.UTC), autumn},
		{"sunday 01:30 EST (again)", time.Date(2025, 11, 2, 6, 30, 0, 0, time.UTC), autumn},
		{"sunday 08:59 EST", ny(time.November, 2, 8, 59), autumn},
		{"sunday 09:00 EST opens", time.Date(2025, 11, 2, 14, 0, 0, 0, time.UTC), time.Time{}},
		{"sunday 17:00 EST", time.Date(2025, 11, 2, 22, 0, 0, 0, time.UTC), time.Date(2025, 11, 2, 22, 0, 0, 0, time.UTC)},
	})

	// A window that ends inside the skipped hour: the office closes when
	// the clocks jump, and the period's key is the same all through it.
	gap := hoursEngine(t, "America/New_York", `["sun 00:00-02:30"]`)
	a := closedSince(gap, time.Date(2025, 3, 9, 7, 0, 0, 0, time.UTC))  // 03:00 EDT
	b := closedSince(gap, time.Date(2025, 3, 9, 12, 0, 0, 0, time.UTC)) // 08:00 EDT
	c := closedSince(gap, time.Date(2025, 3, 12, 12, 0, 0, 0, time.UTC))
	if a.IsZero() || !a.Equal(b) || !a.Equal(c) {
		t.Errorf("closed period around the gap: %v, %v, %v", a, b, c)
	}
	if open := closedSince(gap, time.Date(2025, 3, 9, 6, 59, 0, 0, time.UTC)); !open.IsZero() { // 01:59 EST
		t.Errorf("01:59 EST closed since %v", open)
	}
}

// TestAwayOncePerUserPerPeriod checks that Outbox sends the away message
// once per user and closed period, before the rule's messages.
func TestAwayOncePerUserPerPeriod(t *testing.T) {
	e := hoursEngine(t, "Asia/Shanghai", `["mon-fri 09:00-18:00"]`)
	ctx := context.Background()
	sh := func(d, h, m int) time.Time { return at(t, "Asia/Shanghai", 2025, time.June, d, h, m) } // June 2: Monday
	send := func(openid, text string, now time.Time) []string {
		t.Helper()
		out, err := e.Outbox(ctx, e.Evaluate(textMsg(openid, text), now))
		if err != nil {
			t.Fatal(err)
		}
		return texts(out)
	}
	check := func(what string, got []string, want ...string) {
		t.Helper()
		if len(want) == 0 {
			want = []string{}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: sends %q, want %q", what, got, want)
		}
	}
	check("alice, monday night", send("alice", "hi", sh(2, 20, 0)), "We are closed.", "hello")
	check("alice again", send("alice", "hi", sh(2, 22, 0)), "hello")
	check("alice, no rule", send("alice", "??", sh(3, 7, 0)))
	check("bob, same night", send("bob", "??", sh(3, 7, 0)), "We are closed.")
	check("alice, in office hours", send("alice", "hi", sh(3, 10, 0)), "hello")
	check("alice, tuesday night", send("alice", "hi", sh(3, 19, 0)), "We are closed.", "hello")
	check("alice, friday night", send("alice", "??", sh(6, 18, 30)), "We are closed.")
	check("alice, sunday: the same period", send("alice", "??", sh(8, 12, 0)))

	// Entering the session gets it too, once.
	d := e.Evaluate(enterSession("carol", ""), sh(2, 20, 0))
	out, _ := e.Outbox(ctx, d)
	check("carol enters", texts(out), "We are closed.", "welcome")
	out, _ = e.Outbox(ctx, e.Evaluate(textMsg("carol", "x"), sh(2, 21, 0)))
	check("carol writes", texts(out))
	if d.Away.Send[0].Rule != "away" {
		t.Errorf("away message's rule %q", d.Away.Send[0].Rule)
	}
}

// TestAwayConcurrentClaims checks that one of many concurrent evaluations
// of the same user and period sends the away message, as replicas sharing
// a ledger would.
func TestAwayConcurrentClaims(t *testing.T) {
	ledger := NewMemoryLedger()
	replicas := []*Engine{
		hoursEngine(t, "UTC", `["mon 09:00-10:00"]`, WithLedger(ledger)),
		hoursEngine(t, "UTC", `["mon 09:00-10:00"]`, WithLedger(ledger)),
	}
	var sent atomic.Int32
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			e := replicas[i%2]
			out, err := e.Outbox(context.Background(), e.Evaluate(textMsg("u", "x"), noon.Add(time.Duration(i)*time.Minute)))
			if err != nil {
				t.Error(err)
			}
			if len(out) > 0 {
				sent.Add(1)
			}
		})
	}
	wg.Wait()
	if sent.Load() != 1 {
		t.Errorf("away sent %d times", sent.Load())
	}
}

// failingLedger fails every claim.
type failingLedger struct{}

func (failingLedger) Claim(context.Context, string, string, time.Time) (bool, error) {
	return false, context.DeadlineExceeded
}

// TestAwayLedgerFails checks that a failing ledger skips the away message
// and still returns the rule's.
func TestAwayLedgerFails(t *testing.T) {
	e := hoursEngine(t, "UTC", `["mon 09:00-10:00"]`, WithLedger(failingLedger{}))
	out, err := e.Outbox(context.Background(), e.Evaluate(textMsg("u", "hi"), noon))
	if !errors.Is(err, ErrLedger) || !errors.Is(err, context.DeadlineExceeded) || !reflect.DeepEqual(texts(out), []string{"hello"}) {
		t.Errorf("out %q, err %v", texts(out), err)
	}
}

// TestMemoryLedger checks claims and the sweep of old ones.
func TestMemoryLedger(t *testing.T) {
	l := NewMemoryLedger()
	ctx := context.Background()
	p1 := time.Date(2025, 6, 2, 18, 0, 0, 0, time.UTC)
	p2 := p1.Add(24 * time.Hour)
	claim := func(app, openid string, p time.Time) bool {
		ok, err := l.Claim(ctx, app, openid, p)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, c := range []struct {
		app, openid string
		p           time.Time
		want        bool
	}{
		{"shop", "u", p1, true}, {"shop", "u", p1, false}, {"blog", "u", p1, true}, {"shop", "v", p1, true},
		{"shop", "u", p2, true}, {"shop", "u", p1, false}, {"shop", "u", p2, false},
	} {
		if got := claim(c.app, c.openid, c.p); got != c.want {
			t.Errorf("Claim(%s, %s, %v) = %v", c.app, c.openid, c.p, got)
		}
	}
	// Claims older than ledgerKeep are swept once enough claims come.
	late := p2.Add(30 * 24 * time.Hour)
	for i := range ledgerSweepEvery {
		claim("shop", "x"+strconv.Itoa(i), late)
	}
	if n := l.Len(); n != ledgerSweepEvery {
		t.Errorf("%d claims kept after the sweep, want only the %d recent ones", n, ledgerSweepEvery)
	}
}
