// Package sqlite is the SQLite backend of package store (modernc.org/sqlite,
// no cgo): zero setup, one file, for one wxgate process.
//
// The database runs in WAL mode with synchronous=FULL, so a commit is on
// disk before Append returns; group commit (see package store) makes that
// one fsync per batch. All writes go through one connection, which the
// group-commit writer shares with SetReply, the deletions and the rarer
// delivery updates, so writers never meet SQLITE_BUSY among themselves;
// a delivery Cycle runs inside the next batch's transaction (see package
// store). Reads use a small pool of read-only connections that WAL lets
// run beside the writer. The writer keeps temporary data (savepoint and
// statement journals) in memory and a 16 MiB page cache. The schema's
// versioned migrations are embedded and applied by Open.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/internal/core"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Defaults for Options.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultReadConns   = 4
)

// Options configure a SQLite Store.
type Options struct {
	store.Options

	// Path is the database file, created if missing.
	Path string
	// Synchronous is the writer's PRAGMA synchronous: "FULL" (the default:
	// every commit reaches the disk), "EXTRA", or "NORMAL" (faster; in WAL
	// mode a power loss may lose the last commits, never corrupt the file).
	Synchronous string
	// BusyTimeout is how long a connection waits for another process's lock.
	// Default DefaultBusyTimeout.
	BusyTimeout time.Duration
	// ReadConns is the size of the read-only pool. Default DefaultReadConns.
	ReadConns int
}

// Store is a store.Store on a SQLite file.
type Store struct {
	opts   Options
	w      *sql.DB // one read-write connection
	r      *sql.DB // read-only pool
	writer *core.Writer

	nonceUpsert, nonceGet, msgInsert, msgGet                                 *sql.Stmt
	deliveryInsert, attemptsInsert, outcomesUpdate, claimSelect, claimUpdate *sql.Stmt

	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

// Open opens (or creates) the database at o.Path, applies the migrations and
// starts the group-commit writer.
func Open(ctx context.Context, o Options) (*Store, error) {
	var err error
	if o.Options, err = core.WithDefaults(o.Options); err != nil {
		return nil, err
	}
	switch {
	case o.Path == "" || o.Path == ":memory:":
		return nil, fmt.Errorf("%w: sqlite: Path must name a file", store.ErrInvalid)
	case strings.ContainsAny(o.Path, "?#") || strings.HasPrefix(o.Path, "file:"):
		return nil, fmt.Errorf("%w: sqlite: Path must be a plain file path, without '?', '#' or \"file:\"", store.ErrInvalid)
	case o.BusyTimeout < 0 || o.ReadConns < 0:
		return nil, fmt.Errorf("%w: sqlite: BusyTimeout and ReadConns must not be negative", store.ErrInvalid)
	}
	o.Synchronous = strings.ToUpper(o.Synchronous)
	switch o.Synchronous {
	case "":
		o.Synchronous = "FULL"
	case "FULL", "EXTRA", "NORMAL":
	default:
		return nil, fmt.Errorf("%w: sqlite: Synchronous must be FULL, EXTRA or NORMAL", store.ErrInvalid)
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.ReadConns == 0 {
		o.ReadConns = DefaultReadConns
	}
	migrations, err := core.LoadMigrations(migrationFiles, "migrations", o.Migrations)
	if err != nil {
		return nil, err
	}

	busy := "busy_timeout(" + strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10) + ")"
	wq := url.Values{"_pragma": {busy, "journal_mode(WAL)", "synchronous(" + o.Synchronous + ")", "foreign_keys(1)", "temp_store(MEMORY)", "cache_size(-16384)"}, "_txlock": {"immediate"}}
	rq := url.Values{"_pragma": {busy, "foreign_keys(1)", "query_only(1)"}}
	s := &Store{opts: o}
	if s.w, err = sql.Open("sqlite", o.Path+"?"+wq.Encode()); err != nil {
		return nil, fmt.Errorf("store/sqlite: open: %w", err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	s.w.SetConnMaxLifetime(0)
	s.w.SetConnMaxIdleTime(0)
	if err := s.migrate(ctx, migrations); err != nil {
		s.w.Close()
		return nil, err
	}
	// Readers open after the writer switched the file to WAL.
	if s.r, err = sql.Open("sqlite", o.Path+"?"+rq.Encode()); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("store/sqlite: open: %w", err)
	}
	s.r.SetMaxOpenConns(o.ReadConns)
	s.r.SetMaxIdleConns(o.ReadConns)
	if err := s.prepare(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	s.writer = core.NewWriter(o.Options, s.commit, nil)
	return s, nil
}

func (s *Store) migrate(ctx context.Context, migrations []store.Migration) error {
	tx, err := s.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: one process migrates at a time
	if err != nil {
		return fmt.Errorf("store/sqlite: migrate: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		component  TEXT    NOT NULL,
		version    INTEGER NOT NULL,
		name       TEXT    NOT NULL,
		applied_at INTEGER NOT NULL,
		PRIMARY KEY (component, version)
	) STRICT`); err != nil {
		return fmt.Errorf("store/sqlite: migrate: %w", err)
	}
	applied := map[[2]string]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT component, version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("store/sqlite: migrate: %w", err)
	}
	for rows.Next() {
		var c string
		var v int
		if err := rows.Scan(&c, &v); err != nil {
			rows.Close()
			return fmt.Errorf("store/sqlite: migrate: %w", err)
		}
		applied[[2]string{c, strconv.Itoa(v)}] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("store/sqlite: migrate: %w", err)
	}
	for _, m := range migrations {
		if applied[[2]string{m.Component, strconv.Itoa(m.Version)}] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("store/sqlite: migration %s %d (%s): %w", m.Component, m.Version, m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)`,
			m.Component, m.Version, m.Name, time.Now().UnixMicro()); err != nil {
			return fmt.Errorf("store/sqlite: migrate: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store/sqlite: migrate: %w", err)
	}
	return nil
}

const msgColumns = `id, app, appid, openid, msg_type, event, create_time, received_at, dedup_key, format, mode, raw, payload, reply`

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt **sql.Stmt
		sql  string
	}{
		// A key in use is replaced only once it expired; otherwise the row
		// stays and RowsAffected is 0.
		{&s.nonceUpsert, `INSERT INTO nonces (key, digest, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET digest = excluded.digest, expires_at = excluded.expires_at
			WHERE nonces.expires_at <= $4`},
		{&s.nonceGet, `SELECT digest FROM nonces WHERE key = $1`},
		{&s.msgInsert, `INSERT INTO messages (` + msgColumns + `)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (app, dedup_key) DO NOTHING`},
		{&s.msgGet, `SELECT id, reply FROM messages WHERE app = $1 AND dedup_key = $2`},
		{&s.deliveryInsert, sqlDeliveryInsert},
		{&s.attemptsInsert, sqlAttemptsInsert},
		{&s.outcomesUpdate, sqlOutcomesUpdate},
		{&s.claimSelect, sqlClaimSelect},
		{&s.claimUpdate, sqlClaimUpdate},
	} {
		st, err := s.w.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("store/sqlite: prepare: %w", err)
		}
		*p.stmt = st
	}
	return nil
}

// blob makes nil a SQL NULL (the driver would bind an empty blob).
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// commit runs one batch (see core.Plan) in one IMMEDIATE transaction.
func (s *Store) commit(ctx context.Context, p *core.Plan) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store/sqlite: begin: %w", err)
	}
	defer tx.Rollback() // after Commit, a no-op
	if err := s.batch(ctx, tx, p); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store/sqlite: commit: %w", err)
	}
	return nil
}

func (s *Store) batch(ctx context.Context, tx *sql.Tx, p *core.Plan) error {
	now := s.opts.Now().UnixMicro()
	if len(p.Nonces) > 0 {
		upsert, get := tx.StmtContext(ctx, s.nonceUpsert), tx.StmtContext(ctx, s.nonceGet)
		for i := range p.Nonces {
			n := &p.Nonces[i]
			res, err := upsert.ExecContext(ctx, n.Key, n.Digest, n.Expires.UnixMicro(), now)
			if err != nil {
				return fmt.Errorf("store/sqlite: nonce: %w", err)
			}
			if k, err := res.RowsAffected(); err == nil && k > 0 {
				n.Effective = n.Digest
				continue
			}
			if err := get.QueryRowContext(ctx, n.Key).Scan(&n.Effective); err != nil {
				return fmt.Errorf("store/sqlite: nonce: %w", err)
			}
		}
	}
	p.PlanMessages()
	insert, get := tx.StmtContext(ctx, s.msgInsert), tx.StmtContext(ctx, s.msgGet)
	for i := range p.Msgs {
		c := &p.Msgs[i]
		m := &p.Items[c.Item]
		res, err := insert.ExecContext(ctx, m.ID, m.App, m.AppID, m.OpenID, m.MsgType, m.Event, m.CreateTime,
			m.ReceivedAt.UnixMicro(), m.DedupKey, m.Format, m.Mode, m.Raw, blob(m.Payload), blob(m.Reply))
		if err != nil {
			return fmt.Errorf("store/sqlite: insert: %w", err)
		}
		if k, err := res.RowsAffected(); err == nil && k > 0 {
			c.Inserted = true
			continue
		}
		var reply []byte
		switch err := get.QueryRowContext(ctx, m.App, m.DedupKey).Scan(&c.ID, &reply); {
		case errors.Is(err, sql.ErrNoRows): // Resolve reports it
		case err != nil:
			return fmt.Errorf("store/sqlite: lookup: %w", err)
		default:
			c.Found = true
			if len(reply) > 0 {
				c.Reply = reply
			}
		}
	}
	if err := p.Resolve(); err != nil {
		return err
	}
	if err := s.insertDeliveries(ctx, tx, p); err != nil {
		return err
	}
	if err := core.RunHook(ctx, &s.opts.Options, txn{tx}, p); err != nil {
		return err
	}
	for i := 0; ; i++ { // up to the last moment: see core.Plan.NextJob
		j := p.NextJob(i)
		if j == nil {
			return nil
		}
		if err := runJob(ctx, tx, j); err != nil {
			return err
		}
	}
}

// runJob runs a job in a savepoint, so that its failure rolls back its own
// work and not the batch's. It returns an error only when the savepoint
// itself fails, which fails the batch.
func runJob(ctx context.Context, tx *sql.Tx, j *core.Job) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT job`); err != nil {
		return fmt.Errorf("store/sqlite: savepoint: %w", err)
	}
	if j.Err = j.Fn(ctx, tx); j.Err != nil {
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO job`); err != nil {
			return fmt.Errorf("store/sqlite: rollback to savepoint: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `RELEASE job`); err != nil {
		return fmt.Errorf("store/sqlite: release savepoint: %w", err)
	}
	return nil
}

// txn is the store.Tx of a batch.
type txn struct{ tx *sql.Tx }

func (t txn) Dialect() store.Dialect { return store.SQLite }
func (t txn) Handle() any            { return t.tx }
func (t txn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SQLTx returns the *sql.Tx of a batch transaction given to
// Options.BeforeCommit by this backend, or nil for another backend's.
func SQLTx(tx store.Tx) *sql.Tx {
	if t, ok := tx.(txn); ok {
		return t.tx
	}
	return nil
}

// DB returns the writer's handle (a pool of one connection). Statements on
// it wait for the batch in progress, and a long transaction on it holds up
// every Append: use it only for short writes next to the messages.
func (s *Store) DB() *sql.DB { return s.w }

// Dialect implements store.Store.
func (s *Store) Dialect() store.Dialect { return store.SQLite }

// Append implements store.Store.
func (s *Store) Append(ctx context.Context, msgs []store.NewMessage) ([]store.AppendResult, error) {
	return s.writer.Append(ctx, msgs)
}

// fail wraps err, reporting ErrClosed when the Store was closed meanwhile.
func (s *Store) fail(op string, err error) error {
	if s.writer.Closed() {
		return store.ErrClosed
	}
	return fmt.Errorf("store/sqlite: %s: %w", op, err)
}

type scanner interface{ Scan(...any) error }

func scanMessage(row scanner, m *store.Message) error {
	var received int64
	if err := row.Scan(&m.ID, &m.App, &m.AppID, &m.OpenID, &m.MsgType, &m.Event, &m.CreateTime, &received,
		&m.DedupKey, &m.Format, &m.Mode, &m.Raw, &m.Payload, &m.Reply); err != nil {
		return err
	}
	m.ReceivedAt = time.UnixMicro(received).UTC()
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
	err := scanMessage(s.r.QueryRowContext(ctx, `SELECT `+msgColumns+` FROM messages WHERE id = $1`, id), &m)
	if errors.Is(err, sql.ErrNoRows) {
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
	var args []any
	q.WriteString(`SELECT ` + msgColumns + ` FROM messages WHERE 1=1`)
	cond := func(sql string, v any) {
		args = append(args, v)
		q.WriteString(strings.ReplaceAll(sql, "$?", "$"+strconv.Itoa(len(args))))
	}
	if f.App != "" {
		cond(` AND app = $?`, f.App)
	}
	if f.OpenID != "" {
		cond(` AND openid = $?`, f.OpenID)
	}
	if f.MsgType != "" {
		cond(` AND msg_type = $?`, f.MsgType)
	}
	if f.Event != "" {
		cond(` AND event = $?`, f.Event)
	}
	if !f.Since.IsZero() {
		cond(` AND received_at >= $?`, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		cond(` AND received_at < $?`, f.Until.UnixMicro())
	}
	if cursor != "" {
		at, id, err := core.DecodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		cond(` AND (received_at < $?`, at)
		cond(` OR received_at = $?`, at)
		cond(` AND id < $?)`, id)
	}
	args = append(args, f.Limit+1)
	q.WriteString(` ORDER BY received_at DESC, id DESC LIMIT $` + strconv.Itoa(len(args)))
	rows, err := s.r.QueryContext(ctx, q.String(), args...)
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
	res, err := s.w.ExecContext(ctx, `UPDATE messages SET reply = $2 WHERE id = $1`, id, blob(reply))
	if err != nil {
		return s.fail("set reply", err)
	}
	if k, err := res.RowsAffected(); err != nil || k == 0 {
		return store.ErrNotFound
	}
	return nil
}

// deleteChunk is how many rows one deleting transaction removes, so that
// a large deletion never holds the writer for long.
const deleteChunk = 1000

// deleteLoop runs query (which deletes at most deleteChunk rows) until it
// deletes fewer.
func (s *Store) deleteLoop(ctx context.Context, op, query string, args ...any) (int64, error) {
	if s.writer.Closed() {
		return 0, store.ErrClosed
	}
	var total int64
	for {
		res, err := s.w.ExecContext(ctx, query, args...)
		if err != nil {
			return total, s.fail(op, err)
		}
		k, err := res.RowsAffected()
		if err != nil {
			return total, s.fail(op, err)
		}
		total += k
		if k < deleteChunk {
			return total, nil
		}
	}
}

// DeleteExpiredNonces implements store.Store.
func (s *Store) DeleteExpiredNonces(ctx context.Context, now time.Time) (int64, error) {
	return s.deleteLoop(ctx, "delete nonces",
		`DELETE FROM nonces WHERE key IN (SELECT key FROM nonces WHERE expires_at <= $1 LIMIT `+strconv.Itoa(deleteChunk)+`)`,
		now.UnixMicro())
}

// DeleteMessagesBefore implements store.Store.
func (s *Store) DeleteMessagesBefore(ctx context.Context, t time.Time, keep string) (int64, error) {
	where := `m.received_at < $1`
	if strings.TrimSpace(keep) != "" {
		where += ` AND NOT (` + keep + `)`
	}
	return s.deleteLoop(ctx, "delete messages",
		`DELETE FROM messages WHERE seq IN (SELECT m.seq FROM messages AS m WHERE `+where+` LIMIT `+strconv.Itoa(deleteChunk)+`)`,
		t.UnixMicro())
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if s.writer.Closed() {
		return store.ErrClosed
	}
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return s.fail("ping", err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.writer.Close()
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	for _, st := range []*sql.Stmt{s.nonceUpsert, s.nonceGet, s.msgInsert, s.msgGet,
		s.deliveryInsert, s.attemptsInsert, s.outcomesUpdate, s.claimSelect, s.claimUpdate} {
		if st != nil {
			st.Close()
		}
	}
	var errs []error
	for _, db := range []*sql.DB{s.r, s.w} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store/sqlite: close: %w", err)
	}
	return nil
}
