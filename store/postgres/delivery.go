package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/internal/core"
)

// Cycle is one transaction of two statements whatever its size, sent in
// one round trip: the outcomes arrive as arrays (unnest), and the claim
// locks its rows with FOR UPDATE SKIP LOCKED, so that replicas claiming the
// same destination at the same moment take disjoint sets without waiting
// for each other.

const deliveryColumns = `message_id, app, destination, state, attempts, next_attempt_at, last_error, created_at, updated_at, delivered_at`

const (
	sqlDeliveriesInsert = `INSERT INTO deliveries (message_id, app, destination, state, next_attempt_at, created_at, updated_at)
		SELECT t.m, t.a, t.d, 'pending', $4, $4, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(m, a, d)`

	// The guard (pending, leased to the owner, claimed for this attempt)
	// decides both the update and the attempt row.
	sqlOutcomes = `WITH o AS (
			SELECT * FROM unnest($1::text[], $2::text[], $3::int4[], $4::timestamptz[], $5::int8[], $6::int4[], $7::text[], $8::text[], $9::timestamptz[])
				AS o(message_id, destination, n, started_at, duration_us, status, error, result, retry_at)
		), u AS (
			UPDATE deliveries AS d SET
				state = CASE o.result WHEN 'done' THEN 'done' WHEN 'dead' THEN 'dead' ELSE 'pending' END,
				next_attempt_at = CASE o.result WHEN 'retry' THEN o.retry_at ELSE d.next_attempt_at END,
				lease_owner = NULL, lease_until = NULL,
				last_error = CASE WHEN o.error <> '' THEN o.error ELSE d.last_error END,
				updated_at = $11,
				delivered_at = CASE o.result WHEN 'done' THEN $11::timestamptz END
			FROM o
			WHERE d.message_id = o.message_id AND d.destination = o.destination
				AND d.state = 'pending' AND d.lease_owner = $10 AND d.attempts = o.n
			RETURNING o.message_id, o.destination, o.n, o.started_at, o.duration_us, o.status, o.error
		)
		INSERT INTO delivery_attempts (message_id, destination, n, started_at, duration_us, status, error)
		SELECT * FROM u
		ON CONFLICT DO NOTHING`

	sqlClaim = `WITH c AS (
			SELECT message_id, destination, next_attempt_at AS due FROM deliveries
			WHERE destination = $1 AND state = 'pending' AND next_attempt_at <= $2
				AND (lease_until IS NULL OR lease_until < $2)
			ORDER BY next_attempt_at
			LIMIT $3
			FOR UPDATE SKIP LOCKED
		)
		UPDATE deliveries AS d SET attempts = d.attempts + 1, lease_owner = $4, lease_until = $5, next_attempt_at = $5, updated_at = $2
		FROM c JOIN messages AS m ON m.id = c.message_id
		WHERE d.message_id = c.message_id AND d.destination = c.destination
		RETURNING d.message_id, d.app, d.attempts, m.msg_type, m.event, m.openid, m.payload, c.due`
)

// insertDeliveries adds the pending deliveries of the messages the batch
// stores, due now, in one statement.
func (s *Store) insertDeliveries(ctx context.Context, tx pgx.Tx, p *core.Plan) error {
	c := &s.cols
	for _, m := range p.Stored() {
		for _, d := range m.Destinations {
			c.dIDs = append(c.dIDs, m.ID)
			c.dApps = append(c.dApps, m.App)
			c.dDests = append(c.dDests, d)
		}
	}
	if len(c.dIDs) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, sqlDeliveriesInsert, c.dIDs, c.dApps, c.dDests, core.Micro(s.opts.Now())); err != nil {
		return fmt.Errorf("store/postgres: insert deliveries: %w", err)
	}
	return nil
}

// outcomeArrays are the columns of sqlOutcomes.
type outcomeArrays struct {
	ids, dests, errs, results []string
	ns, statuses              []int32
	started, retry            []time.Time
	durs                      []int64
}

func newOutcomeArrays(os []core.Outcome) *outcomeArrays {
	n := len(os)
	a := &outcomeArrays{ids: make([]string, n), dests: make([]string, n), errs: make([]string, n), results: make([]string, n),
		ns: make([]int32, n), statuses: make([]int32, n), started: make([]time.Time, n), retry: make([]time.Time, n), durs: make([]int64, n)}
	for i, o := range os {
		a.ids[i], a.dests[i], a.errs[i], a.results[i] = o.MessageID, o.Destination, o.Error, string(o.Result)
		a.ns[i], a.statuses[i] = int32(min(o.N, 1<<31-1)), int32(max(min(o.Status, 1<<31-1), -1<<31))
		a.started[i], a.durs[i] = o.StartedAt, o.DurationUS
		a.retry[i] = o.RetryAt
		if o.RetryAt.IsZero() {
			a.retry[i] = o.StartedAt // unused unless the result is retry
		}
	}
	return a
}

// Cycle implements store.DeliveryStore.
func (s *Store) Cycle(ctx context.Context, destination, owner string, finished []store.Outcome, limit int, lease time.Duration) ([]store.Claimed, error) {
	if s.writer.Closed() {
		return nil, store.ErrClosed
	}
	c, err := core.CheckCycle(destination, owner, finished, limit, lease, s.opts.Now())
	if err != nil {
		return nil, err
	}
	var oa *outcomeArrays
	if len(c.Outcomes) > 0 {
		oa = newOutcomeArrays(c.Outcomes)
	}
	// A deadlock needs two stale owners crossing; run the cycle again then.
	for attempt := 1; ; attempt++ {
		claimed, err := s.cycle(ctx, c, oa)
		if err == nil || attempt == core.MaxAttempts || !retryable(err) || ctx.Err() != nil {
			return claimed, err
		}
	}
}

// cycle sends the cycle's statements in one round trip: a batch, which
// the server runs as one implicit transaction.
func (s *Store) cycle(ctx context.Context, c *core.Cycle, oa *outcomeArrays) ([]store.Claimed, error) {
	b := &pgx.Batch{}
	if oa != nil {
		b.Queue(sqlOutcomes, oa.ids, oa.dests, oa.ns, oa.started, oa.durs, oa.statuses, oa.errs, oa.results, oa.retry, c.Owner, c.Now)
	}
	if c.Limit > 0 {
		b.Queue(sqlClaim, c.Destination, c.Now, c.Limit, c.Owner, c.LeaseUntil)
	}
	if b.Len() == 0 {
		return nil, nil
	}
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if oa != nil {
		if _, err := br.Exec(); err != nil {
			return nil, s.fail("cycle: outcomes", err)
		}
	}
	type claim struct {
		c   store.Claimed
		due time.Time
	}
	var got []claim
	if c.Limit > 0 {
		rows, err := br.Query()
		if err != nil {
			return nil, s.fail("cycle: claim", err)
		}
		for rows.Next() {
			var cl claim
			if err := rows.Scan(&cl.c.MessageID, &cl.c.App, &cl.c.Attempt, &cl.c.MsgType, &cl.c.Event, &cl.c.OpenID, &cl.c.Payload, &cl.due); err != nil {
				rows.Close()
				return nil, s.fail("cycle: claim", err)
			}
			cl.c.Destination = c.Destination
			if len(cl.c.Payload) == 0 {
				cl.c.Payload = nil
			}
			got = append(got, cl)
		}
		if err := rows.Err(); err != nil {
			return nil, s.fail("cycle: claim", err)
		}
	}
	// The implicit transaction commits with the batch's end: Close reports it.
	if err := br.Close(); err != nil {
		return nil, s.fail("cycle: commit", err)
	}
	if len(got) == 0 {
		return nil, nil
	}
	// RETURNING has no order: oldest first, as claimed.
	slices.SortStableFunc(got, func(a, b claim) int { return a.due.Compare(b.due) })
	out := make([]store.Claimed, len(got))
	for i := range got {
		out[i] = got[i].c
	}
	return out, nil
}

// ReleaseLeases implements store.DeliveryStore.
func (s *Store) ReleaseLeases(ctx context.Context, owner string) error {
	if s.writer.Closed() {
		return store.ErrClosed
	}
	if err := core.CheckOwner(owner); err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL, next_attempt_at = $2,
			attempts = greatest(attempts - 1, 0), updated_at = $2
		WHERE lease_owner = $1 AND state = 'pending'`, owner, core.Micro(s.opts.Now())); err != nil {
		return s.fail("release leases", err)
	}
	return nil
}

func scanDelivery(row pgx.Row, d *store.Delivery) error {
	var state string
	var delivered *time.Time
	if err := row.Scan(&d.MessageID, &d.App, &d.Destination, &state, &d.Attempts, &d.NextAttemptAt, &d.LastError,
		&d.CreatedAt, &d.UpdatedAt, &delivered); err != nil {
		return err
	}
	d.State = store.DeliveryState(state)
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = d.NextAttemptAt.UTC(), d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	d.DeliveredAt = time.Time{}
	if delivered != nil {
		d.DeliveredAt = delivered.UTC()
	}
	return nil
}

// snapshot is the read-only transaction a reader that makes several
// queries uses, so that they see one state.
var snapshot = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// Deliveries implements store.DeliveryStore.
func (s *Store) Deliveries(ctx context.Context, messageID string) ([]store.Delivery, []store.Attempt, error) {
	if s.writer.Closed() {
		return nil, nil, store.ErrClosed
	}
	if !store.ValidID(messageID) {
		return nil, nil, store.ErrNotFound
	}
	tx, err := s.pool.BeginTx(ctx, snapshot)
	if err != nil {
		return nil, nil, s.fail("deliveries", err)
	}
	defer tx.Rollback(context.Background())
	rows, err := tx.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE message_id = $1 ORDER BY created_at, destination`, messageID)
	if err != nil {
		return nil, nil, s.fail("deliveries", err)
	}
	ds := []store.Delivery{}
	for rows.Next() {
		ds = append(ds, store.Delivery{})
		if err := scanDelivery(rows, &ds[len(ds)-1]); err != nil {
			rows.Close()
			return nil, nil, s.fail("deliveries", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, s.fail("deliveries", err)
	}
	if len(ds) == 0 {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM messages WHERE id = $1`, messageID).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil, store.ErrNotFound
		}
		if err != nil {
			return nil, nil, s.fail("deliveries", err)
		}
		return ds, []store.Attempt{}, nil
	}
	rows, err = tx.Query(ctx, `SELECT message_id, destination, n, started_at, duration_us, status, error
		FROM delivery_attempts WHERE message_id = $1 ORDER BY started_at, destination, n`, messageID)
	if err != nil {
		return nil, nil, s.fail("deliveries", err)
	}
	as := []store.Attempt{}
	for rows.Next() {
		var a store.Attempt
		var dur int64
		if err := rows.Scan(&a.MessageID, &a.Destination, &a.N, &a.StartedAt, &dur, &a.Status, &a.Error); err != nil {
			rows.Close()
			return nil, nil, s.fail("deliveries", err)
		}
		a.StartedAt = a.StartedAt.UTC()
		a.Duration = time.Duration(dur) * time.Microsecond
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, s.fail("deliveries", err)
	}
	return ds, as, nil
}

// DeadLetters implements store.DeliveryStore.
func (s *Store) DeadLetters(ctx context.Context, f store.DeadFilter, cursor string) ([]store.Delivery, string, error) {
	if s.writer.Closed() {
		return nil, "", store.ErrClosed
	}
	f, err := core.CheckDeadFilter(f)
	if err != nil {
		return nil, "", err
	}
	var q strings.Builder
	var args core.Args
	arg := args.Add
	q.WriteString(`SELECT ` + deliveryColumns + ` FROM deliveries WHERE state = 'dead'`)
	if f.App != "" {
		q.WriteString(` AND app = ` + arg(f.App))
	}
	if f.Destination != "" {
		q.WriteString(` AND destination = ` + arg(f.Destination))
	}
	if cursor != "" {
		at, id, dest, err := core.DecodeDeadCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		q.WriteString(` AND (updated_at, message_id, destination) < (` + arg(time.UnixMicro(at).UTC()) + `, ` + arg(id) + `, ` + arg(dest) + `)`)
	}
	q.WriteString(` ORDER BY updated_at DESC, message_id DESC, destination DESC LIMIT ` + arg(f.Limit+1))
	rows, err := s.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, "", s.fail("dead letters", err)
	}
	defer rows.Close()
	out := make([]store.Delivery, 0, min(f.Limit+1, 64))
	for rows.Next() {
		out = append(out, store.Delivery{})
		if err := scanDelivery(rows, &out[len(out)-1]); err != nil {
			return nil, "", s.fail("dead letters", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.fail("dead letters", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := &out[len(out)-1]
		next = core.EncodeDeadCursor(last.UpdatedAt.UnixMicro(), last.MessageID, last.Destination)
	}
	return out, next, nil
}

const sqlRedeliverSet = `UPDATE deliveries SET state = 'pending', next_attempt_at = $1, lease_owner = NULL, lease_until = NULL,
	updated_at = $1, delivered_at = NULL`

// Redeliver implements store.DeliveryStore.
func (s *Store) Redeliver(ctx context.Context, messageID, destination string) (int64, error) {
	if s.writer.Closed() {
		return 0, store.ErrClosed
	}
	if destination != "" {
		if err := core.CheckDestination(destination); err != nil {
			return 0, err
		}
	}
	if !store.ValidID(messageID) {
		return 0, store.ErrNotFound
	}
	q, args := sqlRedeliverSet+` WHERE message_id = $2`, []any{core.Micro(s.opts.Now()), messageID}
	if destination != "" {
		q, args = q+` AND destination = $3`, append(args, destination)
	}
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return 0, s.fail("redeliver", err)
	}
	if tag.RowsAffected() == 0 {
		return 0, store.ErrNotFound
	}
	return tag.RowsAffected(), nil
}

// RedeliverDead implements store.DeliveryStore.
func (s *Store) RedeliverDead(ctx context.Context, destination string) (int64, error) {
	if s.writer.Closed() {
		return 0, store.ErrClosed
	}
	where := `state = 'dead'`
	args := []any{core.Micro(s.opts.Now())}
	if destination != "" {
		if err := core.CheckDestination(destination); err != nil {
			return 0, err
		}
		where += ` AND destination = $2`
		args = append(args, destination)
	}
	return s.deleteLoop(ctx, "redeliver dead", sqlRedeliverSet+` WHERE (message_id, destination) IN (
		SELECT message_id, destination FROM deliveries WHERE `+where+` LIMIT `+strconv.Itoa(deleteChunk)+` FOR UPDATE SKIP LOCKED)`, args...)
}

// DeliveryStats implements store.DeliveryStore.
func (s *Store) DeliveryStats(ctx context.Context) ([]store.DestinationStats, error) {
	if s.writer.Closed() {
		return nil, store.ErrClosed
	}
	tx, err := s.pool.BeginTx(ctx, snapshot)
	if err != nil {
		return nil, s.fail("delivery stats", err)
	}
	defer tx.Rollback(context.Background())
	byName := map[string]*store.DestinationStats{}
	get := func(name string) *store.DestinationStats {
		st := byName[name]
		if st == nil {
			st = &store.DestinationStats{Destination: name}
			byName[name] = st
		}
		return st
	}
	rows, err := tx.Query(ctx, `SELECT destination, count(*), min(created_at) FROM deliveries WHERE state = 'pending' GROUP BY destination`)
	if err != nil {
		return nil, s.fail("delivery stats", err)
	}
	for rows.Next() {
		var name string
		var n int64
		var oldest time.Time
		if err := rows.Scan(&name, &n, &oldest); err != nil {
			rows.Close()
			return nil, s.fail("delivery stats", err)
		}
		st := get(name)
		st.Pending, st.OldestPending = n, oldest.UTC()
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("delivery stats", err)
	}
	rows, err = tx.Query(ctx, `SELECT destination, count(*) FROM deliveries WHERE state = 'dead' GROUP BY destination`)
	if err != nil {
		return nil, s.fail("delivery stats", err)
	}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			rows.Close()
			return nil, s.fail("delivery stats", err)
		}
		get(name).Dead = n
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("delivery stats", err)
	}
	out := make([]store.DestinationStats, 0, len(byName))
	for _, st := range byName {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b store.DestinationStats) int { return strings.Compare(a.Destination, b.Destination) })
	return out, nil
}
