package core

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxgate/wxgate/store"
)

// checkName validates a destination name; what names the field in errors.
func checkName(what, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: %s is empty", store.ErrInvalid, what)
	case len(name) > store.MaxDestinationLen:
		return fmt.Errorf("%w: %s is longer than %d bytes", store.ErrInvalid, what, store.MaxDestinationLen)
	case strings.IndexByte(name, 0) >= 0 || !utf8.ValidString(name):
		return fmt.Errorf("%w: %s is not valid UTF-8 without NUL bytes", store.ErrInvalid, what)
	}
	return nil
}

// CheckDestination validates a destination name given to a DeliveryStore
// method.
func CheckDestination(name string) error { return checkName("destination", name) }

// checkDestinations validates message i's destinations.
func checkDestinations(i int, names []string) error {
	if len(names) > store.MaxDestinations {
		return invalid(i, "Destinations", "has more than "+strconv.Itoa(store.MaxDestinations)+" names")
	}
	for j, n := range names {
		if err := checkName(fmt.Sprintf("message %d: Destinations[%d]", i, j), n); err != nil {
			return err
		}
		if slices.Contains(names[:j], n) {
			return invalid(i, fmt.Sprintf("Destinations[%d]", j), "repeats an earlier name")
		}
	}
	return nil
}

// CheckOwner validates a lease owner.
func CheckOwner(owner string) error {
	switch {
	case owner == "":
		return fmt.Errorf("%w: owner is empty", store.ErrInvalid)
	case len(owner) > store.MaxFieldLen || strings.IndexByte(owner, 0) >= 0 || !utf8.ValidString(owner):
		return fmt.Errorf("%w: owner is not valid UTF-8 of at most %d bytes without NUL bytes", store.ErrInvalid, store.MaxFieldLen)
	}
	return nil
}

// Result is what a counted outcome makes of its delivery.
type Result string

// The results of an outcome, as the backends' SQL spells them.
const (
	ResultDone  Result = "done"
	ResultDead  Result = "dead"
	ResultRetry Result = "retry"
)

// Outcome is a validated store.Outcome, its times to the microsecond.
type Outcome struct {
	MessageID   string
	Destination string
	N           int
	StartedAt   time.Time
	DurationUS  int64
	Status      int
	Error       string
	Result      Result
	RetryAt     time.Time // when Result is ResultRetry
}

// Cycle is a validated Cycle call.
type Cycle struct {
	Destination, Owner string
	Outcomes           []Outcome // sorted by (message id, destination): one lock order
	Limit              int
	Now, LeaseUntil    time.Time
}

// CleanError makes an attempt error storable: valid UTF-8 (PostgreSQL's
// text refuses anything else), without NUL bytes, at most MaxErrorLen
// bytes, cut at a character boundary.
func CleanError(s string) string { return CleanText(s, "\uFFFD", store.MaxErrorLen) }

// CleanText makes s storable as text: valid UTF-8 (invalid bytes become
// U+FFFD), each NUL replaced by nul, and at most max bytes, cut at a rune
// boundary.
func CleanText(s, nul string, max int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", nul)
	}
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// CheckCycle validates a Cycle call and normalises its outcomes.
func CheckCycle(destination, owner string, finished []store.Outcome, limit int, lease time.Duration, now time.Time) (*Cycle, error) {
	if err := CheckDestination(destination); err != nil {
		return nil, err
	}
	if err := CheckOwner(owner); err != nil {
		return nil, err
	}
	switch {
	case limit < 0 || limit > store.MaxCycle:
		return nil, fmt.Errorf("%w: limit must be between 0 and %d", store.ErrInvalid, store.MaxCycle)
	case limit > 0 && lease <= 0:
		return nil, fmt.Errorf("%w: lease must be positive", store.ErrInvalid)
	case len(finished) > store.MaxCycle:
		return nil, fmt.Errorf("%w: %d outcomes in one cycle, at most %d", store.ErrInvalid, len(finished), store.MaxCycle)
	}
	now = Micro(now)
	c := &Cycle{Destination: destination, Owner: owner, Limit: limit, Now: now}
	if limit > 0 {
		c.LeaseUntil = Micro(now.Add(lease))
	}
	c.Outcomes = make([]Outcome, len(finished))
	for i := range finished {
		f := &finished[i]
		a := &f.Attempt
		switch {
		case !store.ValidID(a.MessageID):
			return nil, fmt.Errorf("%w: outcome %d: MessageID is not a message id", store.ErrInvalid, i)
		case a.N < 1:
			return nil, fmt.Errorf("%w: outcome %d: N must be 1 or more", store.ErrInvalid, i)
		}
		if err := checkName(fmt.Sprintf("outcome %d: Destination", i), a.Destination); err != nil {
			return nil, err
		}
		o := &c.Outcomes[i]
		*o = Outcome{MessageID: a.MessageID, Destination: a.Destination, N: a.N, StartedAt: a.StartedAt,
			DurationUS: max(a.Duration.Microseconds(), 0), Status: a.Status, Error: CleanError(a.Error)}
		if o.StartedAt.IsZero() {
			o.StartedAt = now
		}
		o.StartedAt = Micro(o.StartedAt)
		switch {
		case f.Done:
			o.Result = ResultDone
		case f.Dead:
			o.Result = ResultDead
		default:
			o.Result = ResultRetry
			o.RetryAt = now
			if !f.RetryAt.IsZero() {
				o.RetryAt = Micro(f.RetryAt)
			}
		}
	}
	slices.SortFunc(c.Outcomes, func(x, y Outcome) int {
		if d := strings.Compare(x.MessageID, y.MessageID); d != 0 {
			return d
		}
		return strings.Compare(x.Destination, y.Destination)
	})
	for i := 1; i < len(c.Outcomes); i++ {
		if x, y := &c.Outcomes[i-1], &c.Outcomes[i]; x.MessageID == y.MessageID && x.Destination == y.Destination {
			return nil, fmt.Errorf("%w: two outcomes for one delivery", store.ErrInvalid)
		}
	}
	return c, nil
}

// CheckDeadFilter validates f and applies the default limit.
func CheckDeadFilter(f store.DeadFilter) (store.DeadFilter, error) {
	switch {
	case f.Limit < 0 || f.Limit > store.MaxListLimit:
		return f, fmt.Errorf("%w: filter limit must be between 1 and %d", store.ErrInvalid, store.MaxListLimit)
	case f.Limit == 0:
		f.Limit = store.DefaultListLimit
	}
	if len(f.App) > store.MaxAppLen || strings.IndexByte(f.App, 0) >= 0 || !utf8.ValidString(f.App) {
		return f, fmt.Errorf("%w: filter App is not a valid value", store.ErrInvalid)
	}
	if f.Destination != "" {
		if err := checkName("filter Destination", f.Destination); err != nil {
			return f, err
		}
	}
	return f, nil
}

const deadCursorVersion = 2

// EncodeDeadCursor returns the opaque cursor that continues after the dead
// letter that died at micro (Unix microseconds), of message id to
// destination.
func EncodeDeadCursor(micro int64, id, destination string) string {
	b := make([]byte, 0, 9+len(id)+len(destination))
	b = append(b, deadCursorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(micro))
	b = append(b, id...)
	b = append(b, destination...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeDeadCursor parses a cursor made by EncodeDeadCursor, or returns
// store.ErrInvalidCursor.
func DecodeDeadCursor(s string) (micro int64, id, destination string, err error) {
	if len(s) > base64.RawURLEncoding.EncodedLen(9+store.IDLen+store.MaxDestinationLen) {
		return 0, "", "", store.ErrInvalidCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) <= 9+store.IDLen || b[0] != deadCursorVersion {
		return 0, "", "", store.ErrInvalidCursor
	}
	id, destination = string(b[9:9+store.IDLen]), string(b[9+store.IDLen:])
	if !store.ValidID(id) || CheckDestination(destination) != nil {
		return 0, "", "", store.ErrInvalidCursor
	}
	return int64(binary.BigEndian.Uint64(b[1:9])), id, destination, nil
}
