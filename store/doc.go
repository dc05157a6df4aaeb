// Package store keeps wxgate's pushes durably: the driver-neutral API that
// the gateway writes every push through before it answers WeChat. The
// backends live in store/sqlite and store/postgres; store/storetest is the
// suite both pass.
//
// # One transaction per batch
//
// Append stores a push in one transaction that does four things:
//
//  1. It records the request's one-use nonce (NewMessage.NonceKey, with a
//     digest of what was signed). The key already used with another digest,
//     and not yet expired, makes the item a [Replay]: nothing of it is
//     stored and the caller answers 403. The same key with the same digest
//     is a retransmission of the same request and goes on to step 2.
//  2. It inserts the message under the unique key (app, dedup key). That
//     unique key is the dedup: a push already stored is a [Duplicate],
//     answered again with its stored reply and never stored twice, after a
//     restart too, and when two replicas receive it at the same moment (the
//     database makes one of them wait for the other's commit).
//  3. For each message it stored, it inserts one pending delivery per
//     name in NewMessage.Destinations, due at once: a push is never stored
//     without its deliveries, nor delivered without being stored.
//  4. It runs Options.BeforeCommit with the transaction and the messages
//     it stored. An error there rolls the whole batch back.
//
// A message's id is derived from (app, dedup key) alone ([MessageID]), so
// every replica computes the same id for the same push.
//
// # Group commit
//
// Concurrent Append calls are queued to one writer goroutine, which takes
// every waiting call (up to Options.MaxBatch items) into one transaction.
// A durable commit then costs one fsync per batch, not one per push: the
// longer a commit takes, the larger the next batch, so throughput follows
// the load while each call waits only for its own batch. Append returns only
// after that batch is committed; when its context ends first it returns the
// context's error, and the batch may still commit, which is harmless: WeChat
// retries, and the retry is a Duplicate.
//
// Locks are taken in one global order in every batch (nonce keys sorted,
// then (app, dedup key) sorted), so concurrent batches on several replicas
// wait for each other but do not deadlock.
//
// # Deliveries
//
// The deliveries are a table of their own (one row per message and
// destination, with its attempts), written by hand rather than through a
// job queue: tools/riverspike measured River against it, and only the
// table kept up with the push rate on SQLite. A delivery engine runs one
// loop per destination, each turn one [DeliveryStore.Cycle]: a single
// transaction, whatever the batch size, that records the outcomes of the
// attempts finished since the last turn and leases the next due
// deliveries, oldest first. A lease names its owner (one per process) and
// ends at a time: a process that dies leaves leases that run out, and
// its deliveries are due again for any owner, while the late outcome of
// a worker whose lease was taken over (or whose delivery was redelivered)
// is ignored. A claim counts the attempt, so that every attempt of a
// delivery has its own number (the webhook's Wxgate-Attempt).
//
// On PostgreSQL the claim uses FOR UPDATE SKIP LOCKED, so that replicas
// take disjoint sets without waiting for each other. On SQLite a Cycle
// runs inside a group-commit batch (in a savepoint of its own): it never
// competes with the writer for the database's one write lock, and shares
// the batch's fsync.
//
// Retention keeps what is not delivered: DeleteMessagesBefore with
// [KeepUndelivered] deletes only messages whose deliveries are all done (or
// that have none), with their deliveries and attempts; dead letters stay
// until they are redelivered or their message is deleted otherwise.
package store
