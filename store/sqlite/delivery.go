package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/internal/core"
)

// Deliveries live next to the messages. Cycle runs inside the next
// group-commit batch (core.Writer.Do), in a savepoint of its own: it
// shares that batch's transaction and fsync instead of taking the write
// lock for one of its own, and a failed Cycle rolls back only itself. Each
// Cycle is a handful of statements whatever its size: the outcomes travel
// as one JSON array that json_each unpacks. The rarer writes (Redeliver,
// ReleaseLeases...) take the writer's connection between batches.

const deliveryColumns = `message_id, app, destination, state, attempts, next_attempt_at, last_error, created_at, updated_at, delivered_at`

// Statements of the delivery paths, prepared on the writer's connection.
const (
	sqlDeliveryInsert = `INSERT INTO deliveries (message_id, app, destination, state, next_attempt_at, created_at, updated_at)
		VALUES ($1, $2, $3, 'pending', $4, $4, $4)`

	// The attempt row first: the guard still sees the lease.
	sqlAttemptsInsert = `INSERT INTO delivery_attempts (delivery_id, n, started_at, duration_us, status, error)
		SELECT d.id, d.attempts, o.value ->> 's', o.value ->> 'u', o.value ->> 'st', o.value ->> 'e'
		FROM json_each($1) AS o
		JOIN deliveries AS d ON d.message_id = o.value ->> 'm' AND d.destination = o.value ->> 'd'
		WHERE +d.state = 'pending' AND +d.lease_owner = $2 AND d.attempts = o.value ->> 'n'
		ON CONFLICT DO NOTHING`

	sqlOutcomesUpdate = `UPDATE deliveries AS d SET
			state = CASE o.r WHEN 'done' THEN 'done' WHEN 'dead' THEN 'dead' ELSE 'pending' END,
			next_attempt_at = CASE o.r WHEN 'retry' THEN o.a ELSE d.next_attempt_at END,
			lease_owner = NULL, lease_until = NULL,
			last_error = CASE WHEN o.e <> '' THEN o.e ELSE d.last_error END,
			updated_at = $3,
			delivered_at = CASE o.r WHEN 'done' THEN $3 END
		FROM (SELECT value ->> 'm' AS m, value ->> 'd' AS dd, value ->> 'n' AS n, value ->> 'e' AS e,
				value ->> 'r' AS r, value ->> 'a' AS a FROM json_each($1)) AS o
		WHERE d.message_id = o.m AND d.destination = o.dd AND +d.state = 'pending' AND +d.lease_owner = $2 AND d.attempts = o.n`

	sqlClaimSelect = `SELECT d.id, d.message_id, d.app, d.attempts, m.msg_type, m.event, m.openid, m.payload
		FROM deliveries AS d JOIN messages AS m ON m.id = d.message_id
		WHERE d.destination = $1 AND d.state = 'pending' AND d.next_attempt_at <= $2
			AND (d.lease_until IS NULL OR d.lease_until < $2)
		ORDER BY d.next_attempt_at LIMIT $3`

	sqlClaimUpdate = `UPDATE deliveries SET attempts = attempts + 1, lease_owner = $1, lease_until = $2,
			next_attempt_at = $2, updated_at = $3
		WHERE id IN (SELECT value FROM json_each($4))`
)

// outcomeJSON is one outcome as sqlAttemptsInsert and sqlOutcomesUpdate
// read it.
type outcomeJSON struct {
	M  string `json:"m"`
	D  string `json:"d"`
	N  int    `json:"n"`
	S  int64  `json:"s"`
	U  int64  `json:"u"`
	St int    `json:"st"`
	E  string `json:"e"`
	R  string `json:"r"`
	A  int64  `json:"a"`
}

// insertDeliveries adds the pending deliveries of the messages the batch
// stores, due now.
func (s *Store) insertDeliveries(ctx context.Context, tx *sql.Tx, p *core.Plan) error {
	var st *sql.Stmt
	now := core.Micro(s.opts.Now()).UnixMicro()
	for _, m := range p.Stored() {
		for _, d := range m.Destinations {
			if st == nil {
				st = tx.StmtContext(ctx, s.deliveryInsert)
			}
			if _, err := st.ExecContext(ctx, m.ID, m.App, d, now); err != nil {
				return fmt.Errorf("store/sqlite: insert delivery: %w", err)
			}
		}
	}
	return nil
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
	var outcomes []byte
	if len(c.Outcomes) > 0 {
		js := make([]outcomeJSON, len(c.Outcomes))
		for i, o := range c.Outcomes {
			js[i] = outcomeJSON{M: o.MessageID, D: o.Destination, N: o.N, S: o.StartedAt.UnixMicro(), U: o.DurationUS,
				St: o.Status, E: o.Error, R: string(o.Result), A: o.RetryAt.UnixMicro()}
		}
		if outcomes, err = json.Marshal(js); err != nil {
			return nil, s.fail("cycle", err)
		}
	}
	var claimed []store.Claimed
	err = s.writer.Do(ctx, func(ctx context.Context, handle any) error {
		tx := handle.(*sql.Tx)
		claimed = nil
		// The batch runs a moment after the call: judge due times by its
		// clock, so that deliveries it just inserted are due.
		c.Now = core.Micro(s.opts.Now())
		if c.Limit > 0 {
			c.LeaseUntil = core.Micro(c.Now.Add(lease))
		}
		if outcomes != nil {
			if _, err := tx.StmtContext(ctx, s.attemptsInsert).ExecContext(ctx, outcomes, owner); err != nil {
				return s.fail("cycle: attempts", err)
			}
			if _, err := tx.StmtContext(ctx, s.outcomesUpdate).ExecContext(ctx, outcomes, owner, c.Now.UnixMicro()); err != nil {
				return s.fail("cycle: outcomes", err)
			}
		}
		if c.Limit > 0 {
			var err error
			claimed, err = s.claim(ctx, tx, c)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return claimed, nil
}

func (s *Store) claim(ctx context.Context, tx *sql.Tx, c *core.Cycle) ([]store.Claimed, error) {
	now := c.Now.UnixMicro()
	rows, err := tx.StmtContext(ctx, s.claimSelect).QueryContext(ctx, c.Destination, now, c.Limit)
	if err != nil {
		return nil, s.fail("cycle: claim", err)
	}
	var out []store.Claimed
	ids := make([]byte, 0, 2+c.Limit*12)
	ids = append(ids, '[')
	for rows.Next() {
		var cl store.Claimed
		var id int64
		if err := rows.Scan(&id, &cl.MessageID, &cl.App, &cl.Attempt, &cl.MsgType, &cl.Event, &cl.OpenID, &cl.Payload); err != nil {
			rows.Close()
			return nil, s.fail("cycle: claim", err)
		}
		cl.Destination = c.Destination
		cl.Attempt++
		if len(cl.Payload) == 0 {
			cl.Payload = nil
		}
		if len(out) > 0 {
			ids = append(ids, ',')
		}
		ids = strconv.AppendInt(ids, id, 10)
		out = append(out, cl)
	}
	if err := rows.Close(); err != nil {
		return nil, s.fail("cycle: claim", err)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("cycle: claim", err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	ids = append(ids, ']')
	res, err := tx.StmtContext(ctx, s.claimUpdate).ExecContext(ctx, c.Owner, c.LeaseUntil.UnixMicro(), now, ids)
	if err != nil {
		return nil, s.fail("cycle: claim", err)
	}
	if k, err := res.RowsAffected(); err != nil || k != int64(len(out)) {
		return nil, s.fail("cycle: claim", errors.New("claimed rows changed under the writer"))
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
	now := core.Micro(s.opts.Now()).UnixMicro()
	if _, err := s.w.ExecContext(ctx, `UPDATE deliveries SET lease_owner = NULL, lease_until = NULL, next_attempt_at = $2,
			attempts = max(attempts - 1, 0), updated_at = $2
		WHERE lease_owner = $1 AND state = 'pending'`, owner, now); err != nil {
		return s.fail("release leases", err)
	}
	return nil
}

func scanDelivery(row scanner, d *store.Delivery) error {
	var state string
	var next, created, updated int64
	var delivered sql.NullInt64
	if err := row.Scan(&d.MessageID, &d.App, &d.Destination, &state, &d.Attempts, &next, &d.LastError, &created, &updated, &delivered); err != nil {
		return err
	}
	d.State = store.DeliveryState(state)
	d.NextAttemptAt = time.UnixMicro(next).UTC()
	d.CreatedAt = time.UnixMicro(created).UTC()
	d.UpdatedAt = time.UnixMicro(updated).UTC()
	d.DeliveredAt = time.Time{}
	if delivered.Valid {
		d.DeliveredAt = time.UnixMicro(delivered.Int64).UTC()
	}
	return nil
}

// Deliveries implements store.DeliveryStore.
func (s *Store) Deliveries(ctx context.Context, messageID string) ([]store.Delivery, []store.Attempt, error) {
	if s.writer.Closed() {
		return nil, nil, store.ErrClosed
	}
	if !store.ValidID(messageID) {
		return nil, nil, store.ErrNotFound
	}
	tx, err := s.r.BeginTx(ctx, nil) // one snapshot for both tables
	if err != nil {
		return nil, nil, s.fail("deliveries", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE message_id = $1 ORDER BY created_at, destination`, messageID)
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
	rows.Close()
	if len(ds) == 0 {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM messages WHERE id = $1`, messageID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil, store.ErrNotFound
		}
		if err != nil {
			return nil, nil, s.fail("deliveries", err)
		}
		return ds, []store.Attempt{}, nil
	}
	rows, err = tx.QueryContext(ctx, `SELECT d.message_id, d.destination, a.n, a.started_at, a.duration_us, a.status, a.error
		FROM deliveries AS d JOIN delivery_attempts AS a ON a.delivery_id = d.id
		WHERE d.message_id = $1 ORDER BY a.started_at, d.destination, a.n`, messageID)
	if err != nil {
		return nil, nil, s.fail("deliveries", err)
	}
	defer rows.Close()
	as := []store.Attempt{}
	for rows.Next() {
		var a store.Attempt
		var started, dur int64
		if err := rows.Scan(&a.MessageID, &a.Destination, &a.N, &started, &dur, &a.Status, &a.Error); err != nil {
			return nil, nil, s.fail("deliveries", err)
		}
		a.StartedAt = time.UnixMicro(started).UTC()
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
		q.WriteString(` AND (updated_at, message_id, destination) < (` + arg(at) + `, ` + arg(id) + `, ` + arg(dest) + `)`)
	}
	q.WriteString(` ORDER BY updated_at DESC, message_id DESC, destination DESC LIMIT ` + arg(f.Limit+1))
	rows, err := s.r.QueryContext(ctx, q.String(), args...)
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
	now := core.Micro(s.opts.Now()).UnixMicro()
	q, args := sqlRedeliverSet+` WHERE message_id = $2`, []any{now, messageID}
	if destination != "" {
		q, args = q+` AND destination = $3`, append(args, destination)
	}
	res, err := s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, s.fail("redeliver", err)
	}
	k, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail("redeliver", err)
	}
	if k == 0 {
		return 0, store.ErrNotFound
	}
	return k, nil
}

// RedeliverDead implements store.DeliveryStore.
func (s *Store) RedeliverDead(ctx context.Context, destination string) (int64, error) {
	if s.writer.Closed() {
		return 0, store.ErrClosed
	}
	where := `state = 'dead'`
	args := []any{core.Micro(s.opts.Now()).UnixMicro()}
	if destination != "" {
		if err := core.CheckDestination(destination); err != nil {
			return 0, err
		}
		where += ` AND destination = $2`
		args = append(args, destination)
	}
	return s.deleteLoop(ctx, "redeliver dead", sqlRedeliverSet+` WHERE (message_id, destination) IN (
		SELECT message_id, destination FROM deliveries WHERE `+where+` LIMIT `+strconv.Itoa(deleteChunk)+`)`, args...)
}

// DeliveryStats implements store.DeliveryStore.
func (s *Store) DeliveryStats(ctx context.Context) ([]store.DestinationStats, error) {
	if s.writer.Closed() {
		return nil, store.ErrClosed
	}
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.fail("delivery stats", err)
	}
	defer tx.Rollback()
	byName := map[string]*store.DestinationStats{}
	get := func(name string) *store.DestinationStats {
		st := byName[name]
		if st == nil {
			st = &store.DestinationStats{Destination: name}
			byName[name] = st
		}
		return st
	}
	rows, err := tx.QueryContext(ctx, `SELECT destination, count(*), min(created_at) FROM deliveries WHERE state = 'pending' GROUP BY destination`)
	if err != nil {
		return nil, s.fail("delivery stats", err)
	}
	for rows.Next() {
		var name string
		var n, oldest int64
		if err := rows.Scan(&name, &n, &oldest); err != nil {
			rows.Close()
			return nil, s.fail("delivery stats", err)
		}
		st := get(name)
		st.Pending, st.OldestPending = n, time.UnixMicro(oldest).UTC()
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("delivery stats", err)
	}
	rows.Close()
	rows, err = tx.QueryContext(ctx, `SELECT destination, count(*) FROM deliveries WHERE state = 'dead' GROUP BY destination`)
	if err != nil {
		return nil, s.fail("delivery stats", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
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
