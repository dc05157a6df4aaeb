package store

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"time"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotFound means no message has the id.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed means the Store was closed.
	ErrClosed = errors.New("store: closed")
	// ErrInvalidCursor means a List cursor was not one that List returned.
	ErrInvalidCursor = errors.New("store: invalid cursor")
	// ErrInvalid means bad input: a message, filter or option the store
	// refuses. The error's text names the field, never its value.
	ErrInvalid = errors.New("store: invalid input")
)

// Limits on what Append accepts. They are far above what WeChat sends; they
// exist so that a bug upstream gets a clear error instead of a huge row.
const (
	// MaxAppendItems is the most messages one Append call takes.
	MaxAppendItems = 1024
	// MaxAppLen is the longest app name, in bytes.
	MaxAppLen = 64
	// MaxFieldLen is the longest of the other string fields, in bytes.
	MaxFieldLen = 1024
	// MaxBodySize is the largest Raw, Payload or Reply, in bytes.
	MaxBodySize = 4 << 20
)

// Defaults and bounds of Options and Filter.
const (
	// DefaultMaxBatch is the default Options.MaxBatch.
	DefaultMaxBatch = 256
	// DefaultQueueSize is the default Options.QueueSize.
	DefaultQueueSize = 4096
	// DefaultCommitTimeout is the default Options.CommitTimeout.
	DefaultCommitTimeout = 10 * time.Second
	// DefaultListLimit is the page size of a Filter without Limit.
	DefaultListLimit = 50
	// MaxListLimit is the largest Filter.Limit.
	MaxListLimit = 1000
)

// Dialect names a backend's SQL dialect.
type Dialect string

// The dialects of the two backends.
const (
	// SQLite is store/sqlite's dialect.
	SQLite Dialect = "sqlite"
	// PostgreSQL is store/postgres's dialect.
	PostgreSQL Dialect = "postgres"
)

// NewMessage is one push to store.
type NewMessage struct {
	App        string // the app's name ("default" in single-app mode); required
	AppID      string
	OpenID     string // the push's FromUserName
	MsgType    string
	Event      string // "" for messages
	CreateTime int64
	ReceivedAt time.Time // zero means now; kept to the microsecond, in UTC
	DedupKey   string    // the push's dedup key, unique per app; required
	Format     string    // "xml" or "json"
	Mode       string    // "plain", "compat" or "safe"
	Raw        []byte    // the decrypted push; required
	Payload    []byte    // the webhook JSON body, built by the caller
	Reply      []byte    // the passive reply a retry is answered with; nil for none

	// Destinations names where the message is delivered: Append inserts one
	// pending delivery per name, due at once, in the message's transaction
	// (a Duplicate or Replay inserts none). Names are 1 to MaxDestinationLen
	// bytes of UTF-8, at most MaxDestinations of them, without repeats.
	Destinations []string

	// NonceKey identifies the request's one-use (timestamp, nonce);
	// "" skips the nonce check. NonceDigest is a digest of what the request
	// signed, so that a retransmission of the same request is told apart from
	// a replay with other content. The key is taken until NonceExpires.
	NonceKey     string
	NonceDigest  string
	NonceExpires time.Time
}

// Message is a stored push.
type Message struct {
	ID         string
	App        string
	AppID      string
	OpenID     string
	MsgType    string
	Event      string
	CreateTime int64
	ReceivedAt time.Time // UTC, microsecond precision
	DedupKey   string
	Format     string
	Mode       string
	Raw        []byte
	Payload    []byte // nil when none was stored
	Reply      []byte // nil when none was stored
}

// Status is what Append did with one message.
type Status uint8

const (
	// Stored means the message is new and was stored under ID.
	Stored Status = iota + 1
	// Duplicate means a message with the same (app, dedup key) was already
	// stored: ID and Reply are the stored one's. Nothing was written.
	Duplicate
	// Replay means the nonce key was already used by a request with another
	// digest and has not expired: nothing was stored and the caller answers 403.
	Replay
)

var statusNames = [...]string{"", "stored", "duplicate", "replay"}

// String returns "stored", "duplicate" or "replay".
func (s Status) String() string {
	if int(s) < len(statusNames) && s != 0 {
		return statusNames[s]
	}
	return "invalid"
}

// AppendResult is the outcome of one message of an Append call.
type AppendResult struct {
	Status Status
	// ID is the message's id (Stored and Duplicate), "" for Replay.
	ID string
	// Reply is the stored passive reply of a Duplicate, nil if none.
	Reply []byte
}

// StoredMessage is a message that the current batch stores, as given to
// Options.BeforeCommit.
type StoredMessage struct {
	ID string
	NewMessage
}

// Tx is the open transaction of a batch, given to Options.BeforeCommit.
// The hook must neither commit nor roll it back.
type Tx interface {
	// Dialect tells which SQL the transaction speaks.
	Dialect() Dialect
	// Exec runs one statement in the transaction and returns the number of
	// rows it affected. Placeholders are $1, $2, ... in both dialects.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Handle returns the driver's transaction: a *sql.Tx on SQLite, a
	// pgx.Tx on PostgreSQL (see sqlite.SQLTx and postgres.PgxTx).
	Handle() any
}

// BatchInfo describes one committed or failed batch, for metrics.
type BatchInfo struct {
	Items      int // messages in the transaction (replays included)
	Stored     int
	Duplicates int
	Replays    int
	Duration   time.Duration // from BEGIN to the end of COMMIT
	Err        error         // nil when the batch committed
}

// Options are the backend-independent settings of a Store.
type Options struct {
	// BeforeCommit, when set, runs inside each batch's transaction after its
	// messages were inserted and before COMMIT, with the messages the batch
	// stores (never empty; duplicates and replays are not in it), after
	// their deliveries (NewMessage.Destinations), for anything else that must
	// commit with them. An error (or a
	// panic) rolls the whole batch back and every Append in it fails. stored
	// is reused after the call: keep no reference to it. The hook may run
	// more than once for a batch (when a deadlock makes it start over).
	BeforeCommit func(ctx context.Context, tx Tx, stored []StoredMessage) error
	// OnBatch, when set, is called by the writer after each batch. It must
	// be quick: the next batch waits for it.
	OnBatch func(BatchInfo)
	// MaxBatch bounds the messages taken into one transaction (one Append
	// call is never split). Default DefaultMaxBatch.
	MaxBatch int
	// QueueSize bounds the Append calls waiting for the writer; beyond it
	// Append waits for room (or for its context). Default DefaultQueueSize.
	QueueSize int
	// CommitTimeout bounds one batch's transaction. Default DefaultCommitTimeout.
	CommitTimeout time.Duration
	// Now is the clock that nonce expiry, delivery due times and leases are
	// judged by. Default time.Now.
	Now func() time.Time
	// Migrations are extra schema migrations applied on Open after the
	// store's own, for tables that other packages keep next to the messages.
	Migrations []Migration
}

// Migration is one versioned schema change. Migrations of a component are
// applied once each, in Version order, and recorded in schema_migrations.
type Migration struct {
	Component string // who owns it; "store" is reserved for this package
	Version   int    // 1, 2, ...: unique within the component
	Name      string // a short description
	SQL       string // one or more statements in the backend's dialect
}

// Filter selects the messages List returns. Zero fields do not filter;
// string fields match exactly, times are taken to the microsecond.
type Filter struct {
	App     string
	OpenID  string
	MsgType string
	Event   string
	Since   time.Time // received at or after
	Until   time.Time // received before
	Limit   int       // page size: 0 means DefaultListLimit; at most MaxListLimit
}

// Store keeps pushes and their deliveries. Implementations are safe for
// concurrent use.
type Store interface {
	DeliveryStore
	OutboundStore

	// Append stores msgs in one transaction (shared with concurrent calls,
	// see the package doc) and returns one result per message, in order. It
	// returns only after the commit. An error means no result is known: the
	// caller answers 5xx, and the retry finds out.
	Append(ctx context.Context, msgs []NewMessage) ([]AppendResult, error)
	// Get returns the message with id, or ErrNotFound.
	Get(ctx context.Context, id string) (*Message, error)
	// List returns a page of the messages that f selects, newest first
	// (received_at, then id, descending), and the cursor of the next page,
	// "" after the last one. Pass "" for the first page.
	List(ctx context.Context, f Filter, cursor string) ([]Message, string, error)
	// SetReply replaces the stored passive reply of message id (nil clears
	// it), or returns ErrNotFound.
	SetReply(ctx context.Context, id string, reply []byte) error
	// DeleteExpiredNonces deletes the nonces that expired at or before now
	// and returns how many it deleted.
	DeleteExpiredNonces(ctx context.Context, now time.Time) (int64, error)
	// DeleteMessagesBefore deletes the messages received before t, except
	// those for which keep is true, in short transactions, and returns how
	// many it deleted, with their deliveries and attempts. keep is a boolean
	// SQL expression in the backend's dialect over the messages table
	// aliased m: retention passes KeepUndelivered; "" keeps none. It is
	// code, never user input.
	DeleteMessagesBefore(ctx context.Context, t time.Time, keep string) (int64, error)
	// Dialect tells which SQL the backend speaks.
	Dialect() Dialect
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close waits for the queued Appends to finish, then closes the
	// database. Later calls return ErrClosed.
	Close() error
}

// idEncoding is base32 (RFC 4648) in lowercase, without padding.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// IDPrefix starts every message id.
const IDPrefix = "msg_"

// idHashLen is the number of SHA-256 bytes an id keeps: 128 bits.
const idHashLen = 16

// IDLen is the length of a message id: the prefix and 26 base32 digits.
const IDLen = len(IDPrefix) + (idHashLen*8+4)/5

// MessageID returns the id of the message with dedup key key in app: "msg_"
// and the lowercase base32 of the first 128 bits of SHA-256(app, 0, key). It
// depends on nothing else, so every replica, and every retry, gets the same
// id. (The webhook's Wxgate-Id is this id: the derivation must never change.)
func MessageID(app, key string) string {
	h := sha256.New()
	h.Write([]byte(app))
	h.Write([]byte{0})
	h.Write([]byte(key))
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	var buf [32]byte
	n := copy(buf[:], IDPrefix)
	idEncoding.Encode(buf[n:], sum[:idHashLen])
	return string(buf[:IDLen])
}

// ValidID reports whether id has the form of a message id.
func ValidID(id string) bool {
	if len(id) != IDLen || id[:len(IDPrefix)] != IDPrefix {
		return false
	}
	for i := len(IDPrefix); i < len(id); i++ {
		c := id[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}
