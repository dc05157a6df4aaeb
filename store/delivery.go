package store

import (
	"context"
	"time"
)

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
// transaction for each name in NewMessage.Destinations.
type DeliveryStore interface {
	// Cycle records finished attempts (outcomes of deliveries leased to
	// owner) and then leases up to limit due pending deliveries of
	// destination to owner until now+lease, in one transaction. A delivery
	// whose lease ran out (its worker died) is due again.
	Cycle(ctx context.Context, destination, owner string, finished []Outcome, limit int, lease time.Duration) ([]Claimed, error)
	// ReleaseLeases gives back every lease owner holds, so that another
	// worker may take them at once (on graceful shutdown).
	ReleaseLeases(ctx context.Context, owner string) error
	// Deliveries returns a message's deliveries and their attempts, oldest
	// first, or ErrNotFound when there is no such message.
	Deliveries(ctx context.Context, messageID string) ([]Delivery, []Attempt, error)
	// DeadLetters returns a page of dead deliveries, newest first, and the
	// cursor of the next page ("" after the last).
	DeadLetters(ctx context.Context, f DeadFilter, cursor string) ([]Delivery, string, error)
	// Redeliver makes one delivery pending and due now, whatever its state;
	// destination "" means every destination of the message. It returns
	// ErrNotFound when there is nothing to redeliver.
	Redeliver(ctx context.Context, messageID, destination string) (int64, error)
	// RedeliverDead makes every dead delivery of destination pending and
	// due now ("" for all destinations) and returns how many.
	RedeliverDead(ctx context.Context, destination string) (int64, error)
	// DeliveryStats summarises the deliveries of every destination.
	DeliveryStats(ctx context.Context) ([]DestinationStats, error)
}
