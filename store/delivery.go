package store

import (
	"context"
	"time"
)

// Limits on deliveries.
const (
	// MaxDestinationLen is the longest destination name, in bytes.
	MaxDestinationLen = 130
	// MaxDestinations is the most destinations one message has.
	MaxDestinations = 32
	// MaxCycle bounds Cycle's limit and the outcomes one Cycle records.
	MaxCycle = 1000
	// MaxErrorLen is the longest attempt error kept, in bytes; a longer one
	// is cut (at a character boundary).
	MaxErrorLen = 1024
)

// KeepUndelivered is the keep expression for DeleteMessagesBefore that
// retention uses: it keeps every message with a delivery that is not done
// (pending, or a dead letter, which stays until redelivered or deleted). A
// message without destinations counts as delivered. It is valid in both
// dialects.
const KeepUndelivered = `EXISTS (SELECT 1 FROM deliveries AS d WHERE d.message_id = m.id AND d.state <> 'done')`

// DeliveryState is where one message's delivery to one destination stands.
type DeliveryState string

// The delivery states.
const (
	// Pending: to be delivered at NextAttemptAt (or now), possibly leased
	// to a worker right now.
	Pending DeliveryState = "pending"
	// Done: the destination acknowledged it.
	Done DeliveryState = "done"
	// Dead: every attempt failed; kept until redelivered or deleted.
	Dead DeliveryState = "dead"
)

// Delivery is one message's delivery to one destination.
type Delivery struct {
	MessageID     string
	App           string
	Destination   string
	State         DeliveryState
	Attempts      int       // attempts made so far
	NextAttemptAt time.Time // when a pending delivery is due
	LastError     string    // the last failed attempt's error, "" if none
	CreatedAt     time.Time
	UpdatedAt     time.Time
	DeliveredAt   time.Time // zero unless Done
}

// Attempt is one try at a delivery.
type Attempt struct {
	MessageID   string
	Destination string
	N           int // 1 for the first attempt
	StartedAt   time.Time
	Duration    time.Duration
	Status      int    // the HTTP status answered, 0 when there was none (NATS, a connection error)
	Error       string // "" when it succeeded
}

// Claimed is a delivery leased to a worker by Cycle: what it needs to make
// the attempt.
type Claimed struct {
	MessageID   string
	App         string
	Destination string
	MsgType     string
	Event       string
	OpenID      string
	Attempt     int    // the number of the attempt about to be made, from 1
	Payload     []byte // the stored webhook JSON body
}

// Outcome reports a finished attempt to Cycle.
type Outcome struct {
	Attempt Attempt
	// Done marks the delivery delivered. Otherwise it is retried at
	// RetryAt, or becomes a dead letter when Dead is set.
	Done    bool
	RetryAt time.Time
	Dead    bool
}

// DeadFilter selects dead letters. Zero fields do not filter.
type DeadFilter struct {
	App         string
	Destination string
	Limit       int // 0 means DefaultListLimit; at most MaxListLimit
}

// DestinationStats summarises one destination's deliveries.
type DestinationStats struct {
	Destination   string
	Pending       int64
	Dead          int64
	OldestPending time.Time // zero when nothing is pending
}

// DeliveryStore keeps the deliveries of stored messages: one row per
// message and destination, inserted by Append in the message's
// transaction for each name in NewMessage.Destinations. A destination
// name is global, not per app: a Cycle for "hook" claims the "hook"
// deliveries of every app (Claimed.App tells them apart).
type DeliveryStore interface {
	// Cycle records finished attempts (outcomes of deliveries leased to
	// owner) and then leases up to limit due pending deliveries of
	// destination to owner until now+lease, in one transaction. A delivery
	// whose lease ran out (its worker died) is due again.
	//
	// An outcome counts only while its delivery is pending, leased to owner
	// and claimed for Attempt.N; otherwise (the lease ran out and another
	// worker took the delivery over, or it was redelivered) it is ignored,
	// attempt row included, so that a late worker never overwrites. A
	// counted outcome adds the attempt row, clears the lease and sets the
	// state (Done, else Dead, else pending and due at RetryAt).
	//
	// Claims take the due deliveries oldest first (by due time); several
	// owners, on several replicas, claim disjoint sets. A claim counts the
	// attempt (Claimed.Attempt is the attempts before it plus one, and a
	// worker that dies has used its attempt) and makes the delivery due
	// again when the lease ends. limit 0 only records the outcomes; at most
	// MaxCycle outcomes and a limit of at most MaxCycle are taken.
	Cycle(ctx context.Context, destination, owner string, finished []Outcome, limit int, lease time.Duration) ([]Claimed, error)
	// ReleaseLeases gives back every lease owner holds, so that another
	// worker may take them at once (on graceful shutdown): the deliveries
	// are due at once and the attempts their claims counted are returned.
	// Outcomes reported afterwards for them are ignored.
	ReleaseLeases(ctx context.Context, owner string) error
	// Deliveries returns a message's deliveries (by creation, then name) and
	// their attempts (by start, then destination and number), or
	// ErrNotFound when there is no such message. A message without
	// destinations has none.
	Deliveries(ctx context.Context, messageID string) ([]Delivery, []Attempt, error)
	// DeadLetters returns a page of dead deliveries, newest first (by the
	// time they died), and the cursor of the next page ("" after the last).
	// Pass "" for the first page; a cursor it did not return is
	// ErrInvalidCursor.
	DeadLetters(ctx context.Context, f DeadFilter, cursor string) ([]Delivery, string, error)
	// Redeliver makes one delivery pending and due now, whatever its state;
	// destination "" means every destination of the message. Its lease is
	// cleared (a worker still at it is ignored when it reports) and its
	// attempts are kept. It returns how many deliveries it changed, or
	// ErrNotFound when there is nothing to redeliver.
	Redeliver(ctx context.Context, messageID, destination string) (int64, error)
	// RedeliverDead makes every dead delivery of destination pending and
	// due now ("" for all destinations), attempts kept, in short
	// transactions, and returns how many.
	RedeliverDead(ctx context.Context, destination string) (int64, error)
	// DeliveryStats summarises the deliveries of every destination that has
	// any pending or dead, sorted by name. A destination missing from it has
	// none: a gauge fed from it must be set to 0 for those.
	DeliveryStats(ctx context.Context) ([]DestinationStats, error)
}
