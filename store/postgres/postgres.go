// Package postgres is the PostgreSQL backend of package store (pgx v5), for
// several wxgate replicas sharing one database.
//
// Each batch is one transaction of a few statements whatever its size: the
// nonces and the messages are each written by one INSERT over unnest()ed
// arrays, ON CONFLICT doing the replay check and the dedup. A push that two
// replicas store at the same moment is inserted by one; the other's INSERT
// waits for that commit and then finds the row. A batch that meets a
// deadlock or such a race runs again (at most core.MaxAttempts times).
//
// Delivery cycles do not go through the writer: each is its own
// transaction of two statements sent in one round trip, and concurrent
// ones (other destinations, other replicas) run side by side, their
// claims kept apart by FOR UPDATE SKIP LOCKED.
//
// Tables live in one schema (Options.Schema, default "wxgate"), which every
// pooled connection has as its search_path, so hooks and River see them
// unqualified. Versioned migrations are embedded, and applied by Open and
// by Migrate under an advisory lock, so replicas that start together apply
// each migration once.
package postgres

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/internal/core"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// DefaultSchema is the schema the tables live in unless Options.Schema says otherwise.
const DefaultSchema = "wxgate"

// DefaultMaxConns is the default size of the connection pool.
const DefaultMaxConns = 10

// Options configure a PostgreSQL Store.
type Options struct {
	store.Options

	// URL is the connection string, e.g.
	// postgres://user:password@host:5432/db?sslmode=verify-full.
	URL string
	// Schema holds the tables; created if missing. Lowercase letters,
	// digits and underscores. Default DefaultSchema.
	Schema string
	// MaxConns sizes the pool. Default DefaultMaxConns.
	MaxConns int32
	// NoMigrate makes Open check that the schema is migrated instead of
	// migrating it, for deployments that run `wxgate migrate` with another
	// role.
	NoMigrate bool
}

// Store is a store.Store on PostgreSQL.
type Store struct {
	opts   Options
	pool   *pgxpool.Pool
	writer *core.Writer

	cols columns // the writer's reusable arrays

	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// config validates o and returns its pool configuration and migrations.
func config(o *Options) (*pgxpool.Config, []store.Migration, error) {
	var err error
	if o.Options, err = core.WithDefaults(o.Options); err != nil {
		return nil, nil, err
	}
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if !schemaName.MatchString(o.Schema) {
		return nil, nil, fmt.Errorf("%w: postgres: Schema must be lowercase letters, digits and underscores", store.ErrInvalid)
	}
	if o.MaxConns < 0 {
		return nil, nil, fmt.Errorf("%w: postgres: MaxConns must not be negative", store.ErrInvalid)
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.URL == "" {
		return nil, nil, fmt.Errorf("%w: postgres: URL is empty", store.ErrInvalid)
	}
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		// pgx's message may quote the URL, password included: leave it out.
		return nil, nil, fmt.Errorf("%w: postgres: URL is not a valid connection string", store.ErrInvalid)
	}
	cfg.MaxConns = o.MaxConns
	cfg.ConnConfig.RuntimeParams["search_path"] = quoteIdent(o.Schema)
	migrations, err := core.LoadMigrations(migrationFiles, "migrations", o.Migrations)
	if err != nil {
		return nil, nil, err
	}
	return cfg, migrations, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Open connects, migrates the schema (or checks it, with NoMigrate) and
// starts the group-commit writer.
func Open(ctx context.Context, o Options) (*Store, error) {
	cfg, migrations, err := config(&o)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: connect: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("store/postgres: connect: %w", err)
	}
	if o.NoMigrate {
		err = checkMigrated(ctx, conn.Conn(), o.Schema, migrations)
	} else {
		_, err = migrate(ctx, conn.Conn(), o.Schema, migrations)
	}
	conn.Release()
	if err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{opts: o, pool: pool}
	s.writer = core.NewWriter(o.Options, s.commit, retryable)
	return s, nil
}

// Migrate applies the migrations that o's schema lacks (o.Migrations
// included) and returns their names, "component/version_name". It is what
// `wxgate migrate` runs; Open does the same unless o.NoMigrate.
func Migrate(ctx context.Context, o Options) ([]string, error) {
	cfg, migrations, err := config(&o)
	if err != nil {
		return nil, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: connect: %w", err)
	}
	defer conn.Close(context.Background())
	return migrate(ctx, conn, o.Schema, migrations)
}

// lockKey is the advisory lock that serializes migrations of one schema.
func lockKey(schema string) int64 {
	sum := sha256.Sum256([]byte("wxgate/store/migrate\x00" + schema))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

const createMigrations = `CREATE TABLE IF NOT EXISTS %s.schema_migrations (
	component  text NOT NULL,
	version    integer NOT NULL,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (component, version)
)`

func applied(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, schema string) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT component, version FROM `+quoteIdent(schema)+`.schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	done := map[string]bool{}
	for rows.Next() {
		var c string
		var v int
		if err := rows.Scan(&c, &v); err != nil {
			return nil, err
		}
		done[c+"/"+strconv.Itoa(v)] = true
	}
	return done, rows.Err()
}

// migrate applies the missing migrations in one transaction, holding the
// schema's advisory lock: a replica that starts at the same time waits, then
// finds them applied.
func migrate(ctx context.Context, conn *pgx.Conn, schema string, migrations []store.Migration) ([]string, error) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: migrate: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(schema)); err != nil {
		return nil, fmt.Errorf("store/postgres: migrate: %w", err)
	}
	for _, q := range []string{`CREATE SCHEMA IF NOT EXISTS ` + quoteIdent(schema), fmt.Sprintf(createMigrations, quoteIdent(schema))} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("store/postgres: migrate: %w", err)
		}
	}
	done, err := applied(ctx, tx, schema)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: migrate: %w", err)
	}
	var names []string
	for _, m := range migrations {
		if done[m.Component+"/"+strconv.Itoa(m.Version)] {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return nil, fmt.Errorf("store/postgres: migration %s %d (%s): %w", m.Component, m.Version, m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+quoteIdent(schema)+`.schema_migrations (component, version, name) VALUES ($1, $2, $3)`,
			m.Component, m.Version, m.Name); err != nil {
			return nil, fmt.Errorf("store/postgres: migrate: %w", err)
		}
		names = append(names, m.Component+"/"+strconv.Itoa(m.Version)+"_"+m.Name)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("store/postgres: migrate: %w", err)
	}
	return names, nil
}

// ErrNotMigrated means Open with NoMigrate found migrations not applied.
var ErrNotMigrated = errors.New("store/postgres: the schema lacks migrations: run `wxgate migrate`")

func checkMigrated(ctx context.Context, conn *pgx.Conn, schema string, migrations []store.Migration) error {
	done, err := applied(ctx, conn, schema)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "3F000") { // no table, no schema
		return ErrNotMigrated
	}
	if err != nil {
		return fmt.Errorf("store/postgres: check migrations: %w", err)
	}
	for _, m := range migrations {
		if !done[m.Component+"/"+strconv.Itoa(m.Version)] {
			return ErrNotMigrated
		}
	}
	return nil
}

// retryable tells which failed batches may run again: a deadlock, a
// serialization failure, or a unique violation, which a race on a key other
// than the ON CONFLICT target can raise (the rerun finds the row).
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "40P01", "40001", "23505":
		return true
	}
	return false
}

// columns are the arrays a batch sends; reused, and cleared after each batch
// so that they keep no message alive.
type columns struct {
	keys, digests                                                []string
	expires                                                      []time.Time
	ids, apps, appids, openids, types, events, dedups, fmts, mds []string
	ctimes                                                       []int64
	received                                                     []time.Time
	raws, payloads, replies                                      [][]byte
	leftA, leftB                                                 []string
	dIDs, dApps, dDests                                          []string
}

func (c *columns) reset() {
	for _, s := range []*[]string{&c.keys, &c.digests, &c.ids, &c.apps, &c.appids, &c.openids, &c.types, &c.events, &c.dedups, &c.fmts, &c.mds, &c.leftA, &c.leftB, &c.dIDs, &c.dApps, &c.dDests} {
		clear(*s)
		*s = (*s)[:0]
	}
	for _, b := range []*[][]byte{&c.raws, &c.payloads, &c.replies} {
		clear(*b)
		*b = (*b)[:0]
	}
	c.expires, c.received, c.ctimes = c.expires[:0], c.received[:0], c.ctimes[:0]
}

// commit runs one batch (see core.Plan) in one transaction.
func (s *Store) commit(ctx context.Context, p *core.Plan) error {
	defer s.cols.reset()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("store/postgres: begin: %w", err)
	}
	defer tx.Rollback(context.Background()) // after Commit, a no-op
	if err := s.batch(ctx, tx, p); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("store/postgres: commit: %w", err)
	}
	return nil
}

func (s *Store) batch(ctx context.Context, tx pgx.Tx, p *core.Plan) error {
	c := &s.cols
	c.reset()
	if len(p.Nonces) > 0 {
		if err := s.nonces(ctx, tx, p); err != nil {
			return err
		}
	}
	p.PlanMessages()
	if len(p.Msgs) > 0 {
		if err := s.messages(ctx, tx, p); err != nil {
			return err
		}
	}
	if err := p.Resolve(); err != nil {
		return err
	}
	if err := s.insertDeliveries(ctx, tx, p); err != nil {
		return err
	}
	return core.RunHook(ctx, &s.opts.Options, txn{tx}, p)
}

// nonces records the batch's nonce keys. A key in use is replaced only once
// it expired; RETURNING lists the keys now holding the batch's digest, and
// the others are looked up (ON CONFLICT locked their rows).
func (s *Store) nonces(ctx context.Context, tx pgx.Tx, p *core.Plan) error {
	c := &s.cols
	for i := range p.Nonces {
		n := &p.Nonces[i]
		n.Effective = ""
		c.keys = append(c.keys, n.Key)
		c.digests = append(c.digests, n.Digest)
		c.expires = append(c.expires, n.Expires)
	}
	rows, err := tx.Query(ctx, `INSERT INTO nonces (key, digest, expires_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
		ON CONFLICT (key) DO UPDATE SET digest = EXCLUDED.digest, expires_at = EXCLUDED.expires_at
		WHERE nonces.expires_at <= $4
		RETURNING key`, c.keys, c.digests, c.expires, s.opts.Now())
	if err != nil {
		return fmt.Errorf("store/postgres: nonces: %w", err)
	}
	var key string
	_, err = pgx.ForEachRow(rows, []any{&key}, func() error {
		if i := nonceIndex(p, key); i >= 0 {
			p.Nonces[i].Effective = p.Nonces[i].Digest
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store/postgres: nonces: %w", err)
	}
	left := c.leftA[:0]
	for i := range p.Nonces {
		if p.Nonces[i].Effective == "" {
			left = append(left, p.Nonces[i].Key)
		}
	}
	c.leftA = left
	if len(left) == 0 {
		return nil
	}
	rows, err = tx.Query(ctx, `SELECT key, digest FROM nonces WHERE key = ANY($1::text[])`, left)
	if err != nil {
		return fmt.Errorf("store/postgres: nonces: %w", err)
	}
	var digest string
	_, err = pgx.ForEachRow(rows, []any{&key, &digest}, func() error {
		if i := nonceIndex(p, key); i >= 0 {
			p.Nonces[i].Effective = digest
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store/postgres: nonces: %w", err)
	}
	return nil
}

// nonceIndex finds key in the sorted p.Nonces.
func nonceIndex(p *core.Plan, key string) int {
	lo, hi := 0, len(p.Nonces)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if p.Nonces[m].Key < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(p.Nonces) && p.Nonces[lo].Key == key {
		return lo
	}
	return -1
}

// messages inserts the batch's distinct messages; those that conflict are
// looked up for their id and reply.
func (s *Store) messages(ctx context.Context, tx pgx.Tx, p *core.Plan) error {
	c := &s.cols
	for i := range p.Msgs {
		m := &p.Items[p.Msgs[i].Item]
		c.ids = append(c.ids, m.ID)
		c.apps = append(c.apps, m.App)
		c.appids = append(c.appids, m.AppID)
		c.openids = append(c.openids, m.OpenID)
		c.types = append(c.types, m.MsgType)
		c.events = append(c.events, m.Event)
		c.ctimes = append(c.ctimes, m.CreateTime)
		c.received = append(c.received, m.ReceivedAt)
		c.dedups = append(c.dedups, m.DedupKey)
		c.fmts = append(c.fmts, m.Format)
		c.mds = append(c.mds, m.Mode)
		c.raws = append(c.raws, m.Raw)
		c.payloads = append(c.payloads, m.Payload)
		c.replies = append(c.replies, m.Reply)
	}
	rows, err := tx.Query(ctx, `INSERT INTO messages (`+msgColumns+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[],
			$8::timestamptz[], $9::text[], $10::text[], $11::text[], $12::bytea[], $13::bytea[], $14::bytea[])
		ON CONFLICT (app, dedup_key) DO NOTHING
		RETURNING id`,
		c.ids, c.apps, c.appids, c.openids, c.types, c.events, c.ctimes, c.received, c.dedups, c.fmts, c.mds, c.raws, c.payloads, c.replies)
	if err != nil {
		return fmt.Errorf("store/postgres: insert: %w", err)
	}
	var id string
	inserted := 0
	_, err = pgx.ForEachRow(rows, []any{&id}, func() error {
		if i := p.CandidateByID(id); i >= 0 {
			p.Msgs[i].Inserted = true
			inserted++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store/postgres: insert: %w", err)
	}
	if inserted == len(p.Msgs) {
		return nil
	}
	apps, keys := c.leftA[:0], c.leftB[:0]
	for i := range p.Msgs {
		if !p.Msgs[i].Inserted {
			m := &p.Items[p.Msgs[i].Item]
			apps, keys = append(apps, m.App), append(keys, m.DedupKey)
		}
	}
	c.leftA, c.leftB = apps, keys
	rows, err = tx.Query(ctx, `SELECT m.id, m.app, m.dedup_key, m.reply FROM messages m
		JOIN unnest($1::text[], $2::text[]) AS k(app, dedup_key) ON m.app = k.app AND m.dedup_key = k.dedup_key`, apps, keys)
	if err != nil {
		return fmt.Errorf("store/postgres: lookup: %w", err)
	}
	var app, key string
	var reply []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &app, &key, &reply}, func() error {
		if i := p.Candidate(app, key); i >= 0 {
			cd := &p.Msgs[i]
			cd.Found, cd.ID, cd.Reply = true, id, nil
			if len(reply) > 0 {
				cd.Reply = append([]byte(nil), reply...)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store/postgres: lookup: %w", err)
	}
	return nil
}

const msgColumns = `id, app, appid, openid, msg_type, event, create_time, received_at, dedup_key, format, mode, raw, payload, reply`

// txn is the store.Tx of a batch.
type txn struct{ tx pgx.Tx }

func (t txn) Dialect() store.Dialect { return store.PostgreSQL }
func (t txn) Handle() any            { return t.tx }
func (t txn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// PgxTx returns the pgx.Tx of a batch transaction given to
// Options.BeforeCommit by this backend, or nil for another backend's.
func PgxTx(tx store.Tx) pgx.Tx {
	if t, ok := tx.(txn); ok {
		return t.tx
	}
	return nil
}

// Pool returns the connection pool (its connections' search_path is the
// schema), for River or other tables next to the messages.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Schema returns the schema the tables live in.
func (s *Store) Schema() string { return s.opts.Schema }

// Dialect implements store.Store.
func (s *Store) Dialect() store.Dialect { return store.PostgreSQL }

// Append implements store.Store.
func (s *Store) Append(ctx context.Context, msgs []store.NewMessage) ([]store.AppendResult, error) {
	return s.writer.Append(ctx, msgs)
}

// fail wraps err, reporting ErrClosed when the Store was closed meanwhile.
func (s *Store) fail(op string, err error) error {
	if s.writer.Closed() {
		return store.ErrClosed
	}
	return fmt.Errorf("store/postgres: %s: %w", op, err)
}

func scanMessage(row pgx.Row, m *store.Message) error {
	if err := row.Scan(&m.ID, &m.App, &m.AppID, &m.OpenID, &m.MsgType, &m.Event, &m.CreateTime, &m.ReceivedAt,
		&m.DedupKey, &m.Format, &m.Mode, &m.Raw, &m.Payload, &m.Reply); err != nil {
		return err
	}
	m.ReceivedAt = m.ReceivedAt.UTC()
	if len(m.Payload) == 0 {
		m.Payload = nil
	}
	if len(m.Reply) == 0 {
		m.Reply = nil
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, id string) (*store.Message, error) {
	if s.writer.Closed() {
		return nil, store.ErrClosed
	}
	if !store.ValidID(id) {
		return nil, store.ErrNotFound
	}
	var m store.Message
	err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+msgColumns+` FROM messages WHERE id = $1`, id), &m)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, s.fail("get", err)
	}
	return &m, nil
}

// List implements store.Store.
func (s *Store) List(ctx context.Context, f store.Filter, cursor string) ([]store.Message, string, error) {
	if s.writer.Closed() {
		return nil, "", store.ErrClosed
	}
	f, err := core.CheckFilter(f)
	if err != nil {
		return nil, "", err
	}
	var q strings.Builder
	var args core.Args
	q.WriteString(`SELECT ` + msgColumns + ` FROM messages WHERE true`)
	arg := args.Add
	if f.App != "" {
		q.WriteString(` AND app = ` + arg(f.App))
	}
	if f.OpenID != "" {
		q.WriteString(` AND openid = ` + arg(f.OpenID))
	}
	if f.MsgType != "" {
		q.WriteString(` AND msg_type = ` + arg(f.MsgType))
	}
	if f.Event != "" {
		q.WriteString(` AND event = ` + arg(f.Event))
	}
	if !f.Since.IsZero() {
		q.WriteString(` AND received_at >= ` + arg(f.Since))
	}
	if !f.Until.IsZero() {
		q.WriteString(` AND received_at < ` + arg(f.Until))
	}
	if cursor != "" {
		at, id, err := core.DecodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		q.WriteString(` AND (received_at, id) < (` + arg(time.UnixMicro(at).UTC()) + `, ` + arg(id) + `)`)
	}
	q.WriteString(` ORDER BY received_at DESC, id DESC LIMIT ` + arg(f.Limit+1))
	rows, err := s.pool.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, "", s.fail("list", err)
	}
	defer rows.Close()
	out := make([]store.Message, 0, min(f.Limit+1, 64))
	for rows.Next() {
		out = append(out, store.Message{})
		if err := scanMessage(rows, &out[len(out)-1]); err != nil {
			return nil, "", s.fail("list", err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.fail("list", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := &out[len(out)-1]
		next = core.EncodeCursor(last.ReceivedAt.UnixMicro(), last.ID)
	}
	return out, next, nil
}

// SetReply implements store.Store.
func (s *Store) SetReply(ctx context.Context, id string, reply []byte) error {
	if s.writer.Closed() {
		return store.ErrClosed
	}
	if len(reply) > store.MaxBodySize {
		return fmt.Errorf("%w: reply is larger than %d bytes", store.ErrInvalid, store.MaxBodySize)
	}
	if !store.ValidID(id) {
		return store.ErrNotFound
	}
	if len(reply) == 0 {
		reply = nil
	}
	tag, err := s.pool.Exec(ctx, `UPDATE messages SET reply = $2 WHERE id = $1`, id, reply)
	if err != nil {
		return s.fail("set reply", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// deleteChunk is how many rows one deleting statement removes, so that a
// large deletion holds few locks at a time.
const deleteChunk = 1000

// deleteLoop runs query (which deletes at most deleteChunk rows, skipping
// locked ones so that it never waits for, or deadlocks with, a batch)
// until it deletes fewer.
func (s *Store) deleteLoop(ctx context.Context, op, query string, args ...any) (int64, error) {
	if s.writer.Closed() {
		return 0, store.ErrClosed
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, query, args...)
		if err != nil {
			return total, s.fail(op, err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < deleteChunk {
			return total, nil
		}
	}
}

// DeleteExpiredNonces implements store.Store.
func (s *Store) DeleteExpiredNonces(ctx context.Context, now time.Time) (int64, error) {
	return s.deleteLoop(ctx, "delete nonces", `DELETE FROM nonces WHERE key IN (
		SELECT key FROM nonces WHERE expires_at <= $1 LIMIT `+strconv.Itoa(deleteChunk)+` FOR UPDATE SKIP LOCKED)`, now)
}

// DeleteMessagesBefore implements store.Store.
func (s *Store) DeleteMessagesBefore(ctx context.Context, t time.Time, keep string) (int64, error) {
	where := `m.received_at < $1`
	if strings.TrimSpace(keep) != "" {
		where += ` AND NOT (` + keep + `)`
	}
	return s.deleteLoop(ctx, "delete messages", `DELETE FROM messages WHERE id IN (
		SELECT m.id FROM messages AS m WHERE `+where+` LIMIT `+strconv.Itoa(deleteChunk)+` FOR UPDATE OF m SKIP LOCKED)`, t)
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if s.writer.Closed() {
		return store.ErrClosed
	}
	if err := s.pool.Ping(ctx); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.writer.Close()
		s.pool.Close()
	})
	return nil
}
