// Package outcore holds what the two backends' OutboundStore share: input
// validation, outbound ids and the outbound cursor. It is apart from
// package core so that the outbound tables evolve on their own.
package outcore

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"github.com/wxgate/wxgate/store/internal/core"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxgate/wxgate/store"
)

// IDPrefix starts every outbound id.
const IDPrefix = "out_"

// IDLen is the length of an outbound id: the prefix and 26 base32 digits
// (128 random bits).
const IDLen = len(IDPrefix) + 26

// Limits of the token methods.
const (
	// MaxTokenLen is the longest token value, in bytes (WeChat promises
	// at most 512 characters; the room is for other issuers).
	MaxTokenLen = 4096
	// MaxLeaseTTL bounds TryTokenLease's ttl: a lease is meant to cover one
	// refresh, and a bound keeps lease_until far from overflow.
	MaxLeaseTTL = 24 * time.Hour
	// MinLeaseTTL is the shortest lease: anything shorter is gone before
	// the database has stored it.
	MinLeaseTTL = time.Millisecond
	// MaxErrorLen is the longest Outbound.Error kept, in bytes; a longer
	// one is cut at a character boundary.
	MaxErrorLen = 1024
)

// NewID returns a fresh random outbound id.
func NewID() string {
	// rand.Text is 26 characters of base32 (A-Z, 2-7): 128 random bits.
	return IDPrefix + strings.ToLower(rand.Text())
}

// ValidID reports whether id has the form of an outbound id.
func ValidID(id string) bool {
	if len(id) != IDLen || !strings.HasPrefix(id, IDPrefix) {
		return false
	}
	for i := len(IDPrefix); i < len(id); i++ {
		if c := id[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// NewClaim returns a random claim token: it tells the caller whose claim
// an idempotency row holds after a single upsert.
func NewClaim() string { return rand.Text() }

// Micro returns t in UTC, truncated to the microsecond (both backends keep
// microseconds), without its monotonic reading.
func Micro(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// invalid returns an ErrInvalid error that names field and never its value:
// openids, keys and tokens stay out of logs.
func invalid(field, reason string) error {
	return fmt.Errorf("%w: %s %s", store.ErrInvalid, field, reason)
}

func checkString(field, v string, max int, required bool) error {
	switch {
	case v == "" && required:
		return invalid(field, "is empty")
	case len(v) > max:
		return invalid(field, fmt.Sprintf("is longer than %d bytes", max))
	case strings.IndexByte(v, 0) >= 0:
		return invalid(field, "contains a NUL byte")
	case !utf8.ValidString(v):
		return invalid(field, "is not valid UTF-8")
	}
	return nil
}

// CleanError makes an explanation storable: valid UTF-8 (PostgreSQL's text
// refuses anything else), without NUL bytes, at most MaxErrorLen bytes.
func CleanError(s string) string { return core.CleanText(s, "", MaxErrorLen) }

// CheckRecord validates o for RecordOutbound and normalizes it: an id and
// a creation time (now) when missing, times in UTC to the microsecond, an
// empty request as nil, the error cleaned (a record of something sent is
// worth more than a perfect explanation).
func CheckRecord(o store.Outbound, now time.Time) (store.Outbound, error) {
	for _, f := range [...]struct {
		name     string
		v        string
		max      int
		required bool
	}{
		{"App", o.App, store.MaxAppLen, true},
		{"OpenID", o.OpenID, store.MaxFieldLen, true},
		{"Kind", o.Kind, store.MaxFieldLen, true},
		{"MsgType", o.MsgType, store.MaxFieldLen, false},
		{"Sender", o.Sender, store.MaxFieldLen, false},
		{"InReplyTo", o.InReplyTo, store.MaxFieldLen, false},
	} {
		if err := checkString("outbound "+f.name, f.v, f.max, f.required); err != nil {
			return o, err
		}
	}
	if len(o.Request) > store.MaxOutboundRequest {
		return o, invalid("outbound Request", fmt.Sprintf("is larger than %d bytes", store.MaxOutboundRequest))
	}
	if o.ID == "" {
		o.ID = NewID()
	} else if !ValidID(o.ID) {
		return o, invalid("outbound ID", "is not \"out_\" and 26 base32 characters")
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = now
	}
	o.CreatedAt = Micro(o.CreatedAt)
	if len(o.Request) == 0 {
		o.Request = nil
	}
	o.Error = CleanError(o.Error)
	return o, nil
}

// CheckFilter validates f and applies the default limit.
func CheckFilter(f store.OutboundFilter) (store.OutboundFilter, error) {
	switch {
	case f.Limit < 0 || f.Limit > store.MaxListLimit:
		return f, fmt.Errorf("%w: filter limit must be between 1 and %d", store.ErrInvalid, store.MaxListLimit)
	case f.Limit == 0:
		f.Limit = store.DefaultListLimit
	}
	if err := checkString("filter App", f.App, store.MaxAppLen, false); err != nil {
		return f, err
	}
	if err := checkString("filter OpenID", f.OpenID, store.MaxFieldLen, false); err != nil {
		return f, err
	}
	if !f.Since.IsZero() {
		f.Since = Micro(f.Since)
	}
	if !f.Until.IsZero() {
		f.Until = Micro(f.Until)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, fmt.Errorf("%w: filter Since must be before Until", store.ErrInvalid)
	}
	return f, nil
}

// cursorVersion tells an outbound cursor from a message cursor.
const cursorVersion = 0x6f // 'o'

// EncodeCursor returns the opaque cursor that continues after the record
// created at createdMicro (Unix microseconds) with id.
func EncodeCursor(createdMicro int64, id string) string {
	b := make([]byte, 0, 9+len(id))
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(createdMicro))
	b = append(b, id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a cursor made by EncodeCursor, or returns
// store.ErrInvalidCursor.
func DecodeCursor(s string) (createdMicro int64, id string, err error) {
	if len(s) != base64.RawURLEncoding.EncodedLen(9+IDLen) {
		return 0, "", store.ErrInvalidCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 9+IDLen || b[0] != cursorVersion {
		return 0, "", store.ErrInvalidCursor
	}
	id = string(b[9:])
	if !ValidID(id) {
		return 0, "", store.ErrInvalidCursor
	}
	return int64(binary.BigEndian.Uint64(b[1:9])), id, nil
}

// Idem is a validated ClaimIdempotency call.
type Idem struct {
	Scope, Key, Hash string
	Claim            string    // this call's claim token
	Now              time.Time // the store's clock, to the microsecond
	Lapsed           time.Time // claims made at or before it have lapsed
	Expires          time.Time
}

// CheckKey validates an idempotency (scope, key).
func CheckKey(scope, key string) error {
	if err := checkString("idempotency scope", scope, store.MaxFieldLen, true); err != nil {
		return err
	}
	return checkString("idempotency key", key, store.MaxFieldLen, true)
}

// CheckClaim validates a ClaimIdempotency call made at now.
func CheckClaim(scope, key, hash string, expires, now time.Time) (Idem, error) {
	if err := CheckKey(scope, key); err != nil {
		return Idem{}, err
	}
	if err := checkString("idempotency request hash", hash, store.MaxFieldLen, true); err != nil {
		return Idem{}, err
	}
	now = Micro(now)
	if expires.IsZero() || !Micro(expires).After(now) {
		return Idem{}, invalid("idempotency expires", "is not in the future")
	}
	return Idem{Scope: scope, Key: key, Hash: hash, Claim: NewClaim(), Now: now,
		Lapsed: now.Add(-store.IdempotencyClaimLapse), Expires: Micro(expires)}, nil
}

// Resolve turns the row a claim upsert returned into the record: New when
// the row holds this call's claim, else what the other claim's row says.
func (c *Idem) Resolve(claim, hash string, status int, response []byte) store.IdempotencyRecord {
	switch {
	case claim == c.Claim:
		return store.IdempotencyRecord{State: store.IdempotencyNew}
	case hash != c.Hash:
		return store.IdempotencyRecord{State: store.IdempotencyMismatch}
	case status > 0:
		if len(response) == 0 {
			response = nil
		}
		return store.IdempotencyRecord{State: store.IdempotencyDone, Status: status, Response: response}
	}
	return store.IdempotencyRecord{State: store.IdempotencyInFlight}
}

// CheckComplete validates a CompleteIdempotency call.
func CheckComplete(scope, key string, status int, response []byte) error {
	if err := CheckKey(scope, key); err != nil {
		return err
	}
	if status < 100 || status > 599 {
		return invalid("idempotency status", "is not an HTTP status (100 to 599)")
	}
	if len(response) > store.MaxBodySize {
		return invalid("idempotency response", fmt.Sprintf("is larger than %d bytes", store.MaxBodySize))
	}
	return nil
}

// CheckAway validates a ClaimAway call.
func CheckAway(app, openid string, period time.Time) error {
	if err := checkString("away app", app, store.MaxAppLen, true); err != nil {
		return err
	}
	if err := checkString("away openid", openid, store.MaxFieldLen, true); err != nil {
		return err
	}
	if period.IsZero() {
		return invalid("away period", "is zero")
	}
	return nil
}

// CheckTokenApp validates the app a token is kept under.
func CheckTokenApp(app string) error {
	return checkString("token app", app, store.MaxFieldLen, true)
}

// CheckToken validates a SaveToken call and normalizes its times.
func CheckToken(app string, tok store.StoredToken) (store.StoredToken, error) {
	if err := CheckTokenApp(app); err != nil {
		return tok, err
	}
	if err := checkString("token value", tok.Value, MaxTokenLen, true); err != nil {
		return tok, err
	}
	if tok.ExpiresAt.IsZero() {
		return tok, invalid("token ExpiresAt", "is zero")
	}
	tok.ExpiresAt = Micro(tok.ExpiresAt)
	if !tok.IssuedAt.IsZero() {
		tok.IssuedAt = Micro(tok.IssuedAt)
	}
	return tok, nil
}

// CheckTokenValue validates the value InvalidateToken compares.
func CheckTokenValue(app, value string) error {
	if err := CheckTokenApp(app); err != nil {
		return err
	}
	return checkString("token value", value, MaxTokenLen, true)
}

// CheckLease validates a token-lease call; ttl is ignored when release.
func CheckLease(app, owner string, ttl time.Duration, release bool) error {
	if err := CheckTokenApp(app); err != nil {
		return err
	}
	if err := checkString("lease owner", owner, store.MaxFieldLen, true); err != nil {
		return err
	}
	if !release && (ttl < MinLeaseTTL || ttl > MaxLeaseTTL) {
		return invalid("lease ttl", fmt.Sprintf("is not between %v and %v", MinLeaseTTL, MaxLeaseTTL))
	}
	return nil
}

// ClaimSQL claims an idempotency key in one statement, valid in both
// dialects. $1 scope, $2 key, $3 request hash, $4 claim token, $5 now, $6
// expires, $7 the lapse limit (now - IdempotencyClaimLapse). A free row
// (absent, expired, or a lapsed claim of the same request) takes the new
// claim; any other is left as it is. Every column is set (to itself when
// not free) so that RETURNING always gives the row the key now holds, and
// Idem.Resolve reads it; the row lock that the upsert takes makes
// concurrent claims, on several replicas too, see each other's commit.
var ClaimSQL = claimSQL()

func claimSQL() string {
	const t = `idempotency_keys`
	free := `(` + t + `.expires_at <= $5 OR (` + t + `.status = 0 AND ` + t + `.request_hash = excluded.request_hash AND ` + t + `.claimed_at <= $7))`
	var b strings.Builder
	b.WriteString(`INSERT INTO idempotency_keys (scope, key, request_hash, claim, status, response, claimed_at, expires_at)
	VALUES ($1, $2, $3, $4, 0, NULL, $5, $6)
	ON CONFLICT (scope, key) DO UPDATE SET `)
	for i, c := range [...]struct{ col, val string }{
		{"request_hash", "excluded.request_hash"}, {"claim", "excluded.claim"}, {"status", "0"},
		{"response", "NULL"}, {"claimed_at", "excluded.claimed_at"}, {"expires_at", "excluded.expires_at"},
	} {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(c.col + ` = CASE WHEN ` + free + ` THEN ` + c.val + ` ELSE ` + t + `.` + c.col + ` END`)
	}
	b.WriteString(`
	RETURNING claim, request_hash, status, response`)
	return b.String()
}
