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
	// RecordOutbound stores o and returns its id.
	RecordOutbound(ctx context.Context, o Outbound) (string, error)
	// ListOutbound returns a page of outbound records, newest first, and
	// the cursor of the next page ("" after the last).
	ListOutbound(ctx context.Context, f OutboundFilter, cursor string) ([]Outbound, string, error)

	// ClaimIdempotency claims (scope, key) for a request whose content
	// hashes to requestHash, until expires; see IdempotencyState. A claim
	// whose holder never completes it lapses after a minute.
	ClaimIdempotency(ctx context.Context, scope, key, requestHash string, expires time.Time) (IdempotencyRecord, error)
	// CompleteIdempotency stores the answer to a claimed key.
	CompleteIdempotency(ctx context.Context, scope, key string, status int, response []byte) error
	// ReleaseIdempotency frees a claimed key without an answer (the
	// request failed before anything was sent), so that a retry may run.
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
	// passes, without waiting; false when another owner holds it.
	TryTokenLease(ctx context.Context, app, owner string, ttl time.Duration) (bool, error)
	// ReleaseTokenLease frees the lease if owner still holds it.
	ReleaseTokenLease(ctx context.Context, app, owner string) error

	// DeleteOutboundBefore deletes outbound records and expired
	// idempotency keys and away claims older than t.
	DeleteOutboundBefore(ctx context.Context, t time.Time) (int64, error)
}
