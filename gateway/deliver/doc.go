// Package deliver is the delivery engine of `wxgate serve`: it hands every
// stored push to the team's code, at least once, through its destinations
// (a signed [Webhook], a [NATS] JetStream stream), retrying with backoff
// until the destination takes it or the delivery becomes a dead letter.
//
// # How deliveries flow
//
// The pipeline stores each push with one pending delivery per destination
// (store.NewMessage.Destinations) and then calls [Engine.Notify]. The
// [Engine] runs one loop per destination. Each turn of a loop is a single
// store.DeliveryStore.Cycle call, one transaction that records the outcomes
// of the attempts finished since the previous turn and leases as many due
// deliveries as the destination has free worker slots. Workers make the
// attempts; their outcomes wait for the next turn. Batching the
// acknowledgements this way costs one commit per turn rather than one per
// delivery, which is what lets SQLite keep up (tools/riverspike measured
// it against River).
//
// A leased delivery belongs to its owner (one per process) until the lease
// runs out. When a process dies, its leases expire and another replica's
// poll, every PollInterval, takes them: the deliveries resume within
// Lease + PollInterval. On a graceful shutdown the engine stops claiming,
// lets the attempts in flight finish (up to DrainTimeout), records them and
// gives its remaining leases back at once.
//
// # Retries
//
// A failed attempt (a non-2xx status, a redirect, a timeout, a connection
// error, a refused publish, a panic in the destination) is retried after
// an exponential backoff with equal jitter: before attempt n+1 the engine
// waits a random time between d/2 and d, where d = InitialBackoff·2^(n-1)
// capped at MaxBackoff. Equal rather than full jitter so that a retry never
// comes right after the failure (full jitter may pick almost zero and burn
// the attempts of a briefly down endpoint in a burst) while a burst of
// failures still spreads out. After MaxAttempts failed attempts the
// delivery is dead; the admin API can redeliver it.
//
// Destinations are isolated: each has its own loop, its own concurrency
// limit and its own worker slots, so a slow or dead endpoint only delays
// its own deliveries.
package deliver
