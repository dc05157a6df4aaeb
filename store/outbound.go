package store

import (
	"context"
	"time"
)

// Outbound is one thing the gateway sent to a user through WeChat's Open
// API (a customer-service message, a subscribe message, the typing
// indicator), or tried to send: every attempt is recorded with WeChat's
// answer.
type Outbound struct {
	ID        string // "out_" and 26 base32 characters; set by RecordOutbound when empty
	App       string
	OpenID    string
	Kind      string // "message" (custom/send), "subscribe", "typing"
	MsgType   string // text, image, link, miniprogrampage; the template id for subscribe
	Sender    string // who asked: "rule:<name>", "webhook:<destination>", "api:<key name>", "admin"
	InReplyTo string // the stored message it answers, "" if none
	Request   []byte // the JSON sent to WeChat (without the access token)
	OK        bool   // WeChat answered errcode 0
	ErrCode   int    // WeChat's errcode; 0 when OK, or when WeChat was not reached
	Error     string // a plain explanation when not OK
	CreatedAt time.Time
}

// Limits and lapses of an OutboundStore.
const (
	// MaxOutboundRequest is the largest Outbound.Request, in bytes.
	MaxOutboundRequest = 64 << 10
	// IdempotencyClaimLapse is how long a claimed idempotency key stays
	// in flight without being completed or released: after it, a holder
	// that crashed no longer blocks the key.
	IdempotencyClaimLapse = time.Minute
)

// OutboundFilter selects outbound records. Zero fields do not filter.
type OutboundFilter struct {
	App    string
	OpenID string
	Since  time.Time // created at or after
	Until  time.Time // created before
	Limit  int       // 0 means DefaultListLimit; at most MaxListLimit
}

// IdempotencyState is where a request with an Idempotency-Key stands.
type IdempotencyState uint8

const (
	// IdempotencyNew: the key was free and is now claimed by the caller,
	// who must complete it.
	IdempotencyNew IdempotencyState = iota + 1
	// IdempotencyInFlight: another request with the key is being served.
	IdempotencyInFlight
	// IdempotencyDone: a request with the key was served; Status and
	// Response are its answer.
	IdempotencyDone
	// IdempotencyMismatch: the key was used for a different request.
	IdempotencyMismatch
)

// IdempotencyRecord is what ClaimIdempotency found.
type IdempotencyRecord struct {
	State    IdempotencyState
	Status   int    // the HTTP status answered (IdempotencyDone)
	Response []byte // the body answered (IdempotencyDone)
}

// StoredToken is an access token shared by every replica.
type StoredToken struct {
	Value     string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// OutboundStore keeps what the gateway sends to users, the idempotency
// keys of the send API, the away-message ledger of the rules, and the
// access token shared by replicas when there is no Redis.
type OutboundStore interface {
	// RecordOutbound stores o and returns its id. App, OpenID and Kind are
	// required, the strings are UTF-8 without NUL (ErrInvalid otherwise; a
	// bad Error is cleaned and cut instead) and Request is at most
	// MaxOutboundRequest bytes. An empty ID gets a random one, a zero
	// CreatedAt the store's clock. A record whose ID is already stored is
	// not stored again (a retry).
	RecordOutbound(ctx context.Context, o Outbound) (string, error)
	// ListOutbound returns a page of outbound records, newest first
	// (CreatedAt, then ID, descending), and the cursor of the next page
	// ("" after the last); a cursor it did not return is ErrInvalidCursor.
	ListOutbound(ctx context.Context, f OutboundFilter, cursor string) ([]Outbound, string, error)

	// ClaimIdempotency claims (scope, key) for a request whose content
	// hashes to requestHash, until expires; see IdempotencyState. A key
	// whose expiry passed counts as free. A claim whose holder never
	// completes it lapses after IdempotencyClaimLapse, and the same
	// request may claim it again (another request gets Mismatch until the
	// key expires). Of concurrent claims of a free key, one gets New.
	ClaimIdempotency(ctx context.Context, scope, key, requestHash string, expires time.Time) (IdempotencyRecord, error)
	// CompleteIdempotency stores the answer (an HTTP status, 100 to 599)
	// to a claimed key, or returns ErrNotFound when the key is not claimed
	// (released, or expired). A key already answered keeps its first answer.
	CompleteIdempotency(ctx context.Context, scope, key string, status int, response []byte) error
	// ReleaseIdempotency frees a claimed key without an answer (the
	// request failed before anything was sent), so that a retry may run.
	// A key already answered, or not claimed, is left as it is.
	ReleaseIdempotency(ctx context.Context, scope, key string) error

	// ClaimAway reports whether the away message for (app, openid) in the
	// closed period starting at period is this caller's to send: true
	// once per period, false after.
	ClaimAway(ctx context.Context, app, openid string, period time.Time) (bool, error)

	// LoadToken returns app's shared access token; ok is false when none
	// is stored.
	LoadToken(ctx context.Context, app string) (tok StoredToken, ok bool, err error)
	// SaveToken replaces app's shared access token.
	SaveToken(ctx context.Context, app string, tok StoredToken) error
	// InvalidateToken deletes app's token only if its value is still
	// value (compare and delete).
	InvalidateToken(ctx context.Context, app, value string) error
	// TryTokenLease takes app's token-refresh lease for owner until ttl
	// passes, without waiting; false when another owner holds it. The
	// holder taking it again extends it. The lease is apart from the
	// token: saving or invalidating the token leaves it.
	TryTokenLease(ctx context.Context, app, owner string, ttl time.Duration) (bool, error)
	// ReleaseTokenLease frees the lease if owner still holds it.
	ReleaseTokenLease(ctx context.Context, app, owner string) error

	// DeleteOutboundBefore deletes the outbound records created before t,
	// the away claims made before t and the idempotency keys that have
	// expired (by the store's clock), in short transactions, and returns
	// how many rows it deleted in all.
	DeleteOutboundBefore(ctx context.Context, t time.Time) (int64, error)
}
