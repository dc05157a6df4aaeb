// Command riverspike is a throwaway benchmark: River versus a hand-written
// deliveries table for wxgate's delivery jobs, on SQLite and PostgreSQL.
//
// A writer commits batches of distinct messages plus one delivery job each
// (group commit), while workers deliver every job to a local webhook that
// answers 200 at once. It prints pushes/s committed, deliveries/s completed,
// the backlog when the writer stops and the time to drain it.
//
//	go run ./tools/riverspike -impl river -db sqlite
//	go run ./tools/riverspike -impl hand -db pg
//	go run ./tools/riverspike -impl river -db pg -check   # retry, dead letter, redelivery, rescue
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	_ "modernc.org/sqlite"
)

const (
	pgSchema = "riverspike"
	dest     = "d1"
	lease    = 30 * time.Second
)

var (
	flagImpl     = flag.String("impl", "hand", "river or hand")
	flagDB       = flag.String("db", "sqlite", "sqlite or pg")
	flagDur      = flag.Duration("dur", 10*time.Second, "insert phase")
	flagDrain    = flag.Duration("drain", 30*time.Second, "max wait for the backlog to drain")
	flagBatch    = flag.Int("batch", 200, "pushes per writer transaction")
	flagRate     = flag.Int("rate", 0, "cap on pushes/s (0: as fast as possible)")
	flagWorkers  = flag.Int("workers", 50, "per-destination concurrency (River MaxWorkers)")
	flagPG       = flag.String("pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "PostgreSQL URL")
	flagDir      = flag.String("dir", "", "SQLite directory (temporary if empty)")
	flagShared   = flag.Bool("sharedpool", true, "SQLite: River and our writer share one *sql.DB with MaxOpenConns(1)")
	flagBusy     = flag.Int("busy", 5000, "SQLite busy_timeout in ms")
	flagCooldown = flag.Duration("cooldown", 5*time.Millisecond, "River FetchCooldown")
	flagCheck    = flag.Bool("check", false, "River functional checks instead of the benchmark")
	flagKeep     = flag.Bool("keep", false, "keep the PostgreSQL schema")
	flagAsyncAck = flag.Bool("asyncack", false, "hand: claim/complete transactions skip the fsync (a lost ack only means a redelivery)")
)

func main() {
	flag.Parse()
	ctx := context.Background()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

// env is everything one run shares.
type env struct {
	pushes   atomic.Int64
	hits     atomic.Int64
	inflight atomic.Int64
	maxConc  atomic.Int64
	errs     atomic.Int64
	failing  sync.Map // message id -> struct{}: webhook answers 500
	url      string
	client   *http.Client
	key      []byte
	wake     chan struct{}
}

func (e *env) noteErr(format string, args ...any) {
	if e.errs.Add(1) <= 5 {
		log.Printf("error: "+format, args...)
	}
}

func (e *env) webhook(w http.ResponseWriter, r *http.Request) {
	n := e.inflight.Add(1)
	defer e.inflight.Add(-1)
	for {
		m := e.maxConc.Load()
		if n <= m || e.maxConc.CompareAndSwap(m, n) {
			break
		}
	}
	_, _ = io.Copy(io.Discard, r.Body)
	id, _ := strconv.ParseInt(r.Header.Get("X-Wxgate-Message"), 10, 64)
	if _, bad := e.failing.Load(id); bad {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	e.hits.Add(1)
	w.WriteHeader(http.StatusOK)
}

// post delivers one message like the real webhook destination: signed body.
func (e *env) post(ctx context.Context, msgID int64, body []byte) error {
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	mac := hmac.New(sha256.New, e.key)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, strings.NewReader(string(body)))
	if err != nil {
		return err
	}
	req.Header.Set("X-Wxgate-Message", strconv.FormatInt(msgID, 10))
	req.Header.Set("X-Wxgate-Timestamp", ts)
	req.Header.Set("X-Wxgate-Signature", "v1="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return nil
}

func (e *env) signalWake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

var seq atomic.Int64

// payload makes a distinct ~600-byte message body and its dedup key.
func payload() (string, []byte) {
	n := seq.Add(1)
	key := fmt.Sprintf("msg-%d-%d", time.Now().UnixNano(), n)
	body := fmt.Sprintf(`<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[oUser%08d]]></FromUserName>`+
		`<CreateTime>%d</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[%s]]></Content><MsgId>%d</MsgId></xml>`,
		n%100000, time.Now().Unix(), strings.Repeat("hello wxgate ", 30), n)
	return key, []byte(body)
}

// txOps abstracts the two transaction types (pgx.Tx and *sql.Tx).
type txOps[TTx any] struct {
	begin      func(ctx context.Context) (TTx, error)
	commit     func(ctx context.Context, tx TTx) error
	rollback   func(ctx context.Context, tx TTx)
	insertMsgs func(ctx context.Context, tx TTx, keys []string, bodies [][]byte) ([]int64, error)
}

// writer commits batches of messages plus their jobs until stop closes.
func writer[TTx any](ctx context.Context, e *env, ops txOps[TTx], enqueue func(context.Context, TTx, []int64) error, stop <-chan struct{}) {
	start := time.Now()
	keys := make([]string, *flagBatch)
	bodies := make([][]byte, *flagBatch)
	for {
		select {
		case <-stop:
			return
		default:
		}
		if *flagRate > 0 {
			due := start.Add(time.Duration(float64(e.pushes.Load()) / float64(*flagRate) * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		for i := range keys {
			keys[i], bodies[i] = payload()
		}
		err := func() error {
			tx, err := ops.begin(ctx)
			if err != nil {
				return err
			}
			ids, err := ops.insertMsgs(ctx, tx, keys, bodies)
			if err == nil {
				err = enqueue(ctx, tx, ids)
			}
			if err != nil {
				ops.rollback(ctx, tx)
				return err
			}
			return ops.commit(ctx, tx)
		}()
		if err != nil {
			e.noteErr("writer: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		e.pushes.Add(int64(len(keys)))
		e.signalWake()
	}
}

func pgOps(pool *pgxpool.Pool) txOps[pgx.Tx] {
	return txOps[pgx.Tx]{
		begin:    func(ctx context.Context) (pgx.Tx, error) { return pool.Begin(ctx) },
		commit:   func(ctx context.Context, tx pgx.Tx) error { return tx.Commit(ctx) },
		rollback: func(ctx context.Context, tx pgx.Tx) { _ = tx.Rollback(ctx) },
		insertMsgs: func(ctx context.Context, tx pgx.Tx, keys []string, bodies [][]byte) ([]int64, error) {
			rows, err := tx.Query(ctx, `INSERT INTO messages (app, dedup_key, body, created_at)
				SELECT 'app1', k, b, $3 FROM unnest($1::text[], $2::bytea[]) AS t(k, b)
				ON CONFLICT (app, dedup_key) DO NOTHING RETURNING id`, keys, bodies, time.Now().UnixMilli())
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, pgx.RowTo[int64])
		},
	}
}

func sqliteOps(db *sql.DB) txOps[*sql.Tx] {
	return txOps[*sql.Tx]{
		begin:    func(ctx context.Context) (*sql.Tx, error) { return db.BeginTx(ctx, nil) },
		commit:   func(_ context.Context, tx *sql.Tx) error { return tx.Commit() },
		rollback: func(_ context.Context, tx *sql.Tx) { _ = tx.Rollback() },
		insertMsgs: func(ctx context.Context, tx *sql.Tx, keys []string, bodies [][]byte) ([]int64, error) {
			st, err := tx.PrepareContext(ctx, `INSERT INTO messages (app, dedup_key, body, created_at)
				VALUES ('app1', ?, ?, ?) ON CONFLICT (app, dedup_key) DO NOTHING RETURNING id`)
			if err != nil {
				return nil, err
			}
			defer st.Close()
			now := time.Now().UnixMilli()
			ids := make([]int64, 0, len(keys))
			for i := range keys {
				var id int64
				err := st.QueryRowContext(ctx, keys[i], bodies[i], now).Scan(&id)
				if errors.Is(err, sql.ErrNoRows) {
					continue // duplicate push: already stored, no new job
				}
				if err != nil {
					return nil, err
				}
				ids = append(ids, id)
			}
			return ids, nil
		},
	}
}

const schemaPG = `
CREATE TABLE messages (id bigserial PRIMARY KEY, app text NOT NULL, dedup_key text NOT NULL, body bytea NOT NULL,
	created_at bigint NOT NULL, UNIQUE (app, dedup_key));
CREATE TABLE deliveries (id bigserial PRIMARY KEY, message_id bigint NOT NULL REFERENCES messages (id), dest text NOT NULL,
	state smallint NOT NULL DEFAULT 0, attempts int NOT NULL DEFAULT 0, next_at bigint NOT NULL, last_error text,
	updated_at bigint NOT NULL DEFAULT 0);
CREATE INDEX deliveries_due ON deliveries (dest, next_at, id) WHERE state = 0;
CREATE INDEX deliveries_msg ON deliveries (message_id);
CREATE TABLE delivery_attempts (delivery_id bigint NOT NULL, attempt int NOT NULL, at bigint NOT NULL, error text NOT NULL,
	PRIMARY KEY (delivery_id, attempt));`

const schemaSQLite = `
CREATE TABLE messages (id INTEGER PRIMARY KEY, app TEXT NOT NULL, dedup_key TEXT NOT NULL, body BLOB NOT NULL,
	created_at INTEGER NOT NULL, UNIQUE (app, dedup_key));
CREATE TABLE deliveries (id INTEGER PRIMARY KEY, message_id INTEGER NOT NULL REFERENCES messages (id), dest TEXT NOT NULL,
	state INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_error TEXT,
	updated_at INTEGER NOT NULL DEFAULT 0);
CREATE INDEX deliveries_due ON deliveries (dest, next_at, id) WHERE state = 0;
CREATE INDEX deliveries_msg ON deliveries (message_id);
CREATE TABLE delivery_attempts (delivery_id INTEGER NOT NULL, attempt INTEGER NOT NULL, at INTEGER NOT NULL, error TEXT NOT NULL,
	PRIMARY KEY (delivery_id, attempt));`

func sqliteDSN(path string, write bool) string {
	q := fmt.Sprintf("_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)", *flagBusy)
	if write {
		q += "&_txlock=immediate"
	} else {
		q += "&_pragma=query_only(1)"
	}
	return "file:" + path + "?" + q
}

func run(ctx context.Context) error {
	e := &env{key: []byte("spike-secret-not-real"), wake: make(chan struct{}, 1)}
	srv := httptest.NewServer(http.HandlerFunc(e.webhook))
	defer srv.Close()
	e.url = srv.URL
	e.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *flagWorkers * 2, MaxIdleConns: *flagWorkers * 2}}

	switch *flagDB {
	case "pg":
		return runPG(ctx, e)
	case "sqlite":
		return runSQLite(ctx, e)
	}
	return fmt.Errorf("unknown -db %q", *flagDB)
}

func runPG(ctx context.Context, e *env) error {
	admin, err := pgx.Connect(ctx, *flagPG)
	if err != nil {
		return err
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgSchema+" CASCADE; CREATE SCHEMA "+pgSchema); err != nil {
		return err
	}
	if !*flagKeep {
		defer func() {
			if _, err := admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgSchema+" CASCADE"); err != nil {
				log.Printf("drop schema: %v", err)
			}
		}()
	}
	cfg, err := pgxpool.ParseConfig(*flagPG)
	if err != nil {
		return err
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgSchema
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, schemaPG); err != nil {
		return err
	}
	ops := pgOps(pool)
	if *flagImpl == "river" {
		load := func(ctx context.Context, id int64) ([]byte, error) {
			var b []byte
			err := pool.QueryRow(ctx, "SELECT body FROM messages WHERE id = $1", id).Scan(&b)
			return b, err
		}
		backlogSQL := "SELECT count(*) FROM " + pgSchema + ".river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')"
		backlog := func(ctx context.Context) (int64, error) {
			var n int64
			err := pool.QueryRow(ctx, backlogSQL).Scan(&n)
			return n, err
		}
		return runRiver(ctx, e, riverpgxv5.New(pool), pgSchema, ops, load, backlog)
	}
	return runHand(ctx, e, ops, &pgHand{pool: pool}, func(ctx context.Context, tx pgx.Tx, ids []int64) error {
		_, err := tx.Exec(ctx, "INSERT INTO deliveries (message_id, dest, next_at) SELECT unnest($1::bigint[]), $2, $3",
			ids, dest, time.Now().UnixMilli())
		return err
	})
}

func runSQLite(ctx context.Context, e *env) error {
	dir := *flagDir
	if dir == "" {
		d, err := os.MkdirTemp("", "riverspike")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	path := filepath.Join(dir, "spike.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(path + suffix)
	}
	open := func(write bool, conns int) (*sql.DB, error) {
		db, err := sql.Open("sqlite", sqliteDSN(path, write))
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(conns)
		db.SetMaxIdleConns(conns)
		db.SetConnMaxLifetime(0)
		return db, db.PingContext(ctx)
	}
	wdb, err := open(true, 1)
	if err != nil {
		return err
	}
	defer wdb.Close()
	var mode string
	if err := wdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	var syncMode int
	if err := wdb.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode); err != nil {
		return err
	}
	var version string
	if err := wdb.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&version); err != nil {
		return err
	}
	log.Printf("sqlite %s journal_mode=%s synchronous=%d (2=FULL)", version, mode, syncMode)
	if _, err := wdb.ExecContext(ctx, schemaSQLite); err != nil {
		return err
	}
	rdb, err := open(false, 4)
	if err != nil {
		return err
	}
	defer rdb.Close()
	ops := sqliteOps(wdb)
	if *flagImpl == "river" {
		riverDB := wdb
		if !*flagShared {
			riverDB, err = open(true, 1)
			if err != nil {
				return err
			}
			defer riverDB.Close()
		}
		load := func(ctx context.Context, id int64) ([]byte, error) {
			var b []byte
			err := rdb.QueryRowContext(ctx, "SELECT body FROM messages WHERE id = ?", id).Scan(&b)
			return b, err
		}
		backlog := func(ctx context.Context) (int64, error) {
			var n int64
			err := rdb.QueryRowContext(ctx, "SELECT count(*) FROM river_job WHERE state NOT IN ('completed', 'discarded', 'cancelled')").Scan(&n)
			return n, err
		}
		return runRiver(ctx, e, riversqlite.New(riverDB), "", ops, load, backlog)
	}
	return runHand(ctx, e, ops, &sqliteHand{db: wdb, rdb: rdb}, func(ctx context.Context, tx *sql.Tx, ids []int64) error {
		st, err := tx.PrepareContext(ctx, "INSERT INTO deliveries (message_id, dest, next_at) VALUES (?, ?, ?)")
		if err != nil {
			return err
		}
		defer st.Close()
		now := time.Now().UnixMilli()
		for _, id := range ids {
			if _, err := st.ExecContext(ctx, id, dest, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// measure runs the writer for -dur, then waits for the backlog to drain.
func measure(ctx context.Context, e *env, startWriter func(stop <-chan struct{}) <-chan struct{}, backlog func(context.Context) (int64, error)) {
	stop := make(chan struct{})
	t0 := time.Now()
	done := startWriter(stop)
	time.Sleep(*flagDur)
	close(stop)
	<-done
	window := time.Since(t0)
	pushes, hits := e.pushes.Load(), e.hits.Load()
	left, err := backlog(ctx)
	if err != nil {
		e.noteErr("backlog: %v", err)
	}
	drainStart := time.Now()
	for left > 0 && time.Since(drainStart) < *flagDrain {
		time.Sleep(50 * time.Millisecond)
		if left, err = backlog(ctx); err != nil {
			e.noteErr("backlog: %v", err)
		}
	}
	drain := time.Since(drainStart)
	total := e.hits.Load()
	fmt.Printf("RESULT impl=%s db=%s batch=%d rate=%d workers=%d | pushes/s=%.0f deliveries/s(window)=%.0f backlog@stop=%d drain=%.1fs left=%d deliveries/s(overall)=%.0f maxconc=%d errors=%d\n",
		*flagImpl, *flagDB, *flagBatch, *flagRate, *flagWorkers,
		float64(pushes)/window.Seconds(), float64(hits)/window.Seconds(), pushes-hits, drain.Seconds(), left,
		float64(total)/(window+drain).Seconds(), e.maxConc.Load(), e.errs.Load())
}

// ---- River ----

type deliveryArgs struct {
	MessageID int64  `json:"message_id"`
	Dest      string `json:"dest"`
}

func (deliveryArgs) Kind() string { return "wxgate_delivery" }

type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	e    *env
	load func(context.Context, int64) ([]byte, error)
}

func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	body, err := w.load(ctx, job.Args.MessageID)
	if err != nil {
		return err
	}
	return w.e.post(ctx, job.Args.MessageID, body)
}

// backoff is exponential from 1 s, capped at 10 min, with equal jitter.
func backoff(attempt int) time.Duration {
	d := time.Second << min(max(attempt-1, 0), 20)
	d = min(d, 10*time.Minute)
	return d/2 + rand.N(d/2+1)
}

// jitterPolicy is the River ClientRetryPolicy with wxgate's backoff.
type jitterPolicy struct{}

func (jitterPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	return time.Now().Add(backoff(job.Attempt))
}

// countHandler counts River's warnings and errors (SQLITE_BUSY shows up here).
type countHandler struct{ e *env }

func (h countHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h countHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	r.Attrs(func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true })
	h.e.noteErr("river %s: %s%s", r.Level, r.Message, b.String())
	return nil
}
func (h countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countHandler) WithGroup(string) slog.Handler      { return h }

func runRiver[TTx any](ctx context.Context, e *env, driver riverdriver.Driver[TTx], schema string, ops txOps[TTx],
	load func(context.Context, int64) ([]byte, error), backlog func(context.Context) (int64, error)) error {
	mig, err := rivermigrate.New(driver, &rivermigrate.Config{Schema: schema})
	if err != nil {
		return err
	}
	res, err := mig.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	log.Printf("rivermigrate: applied %d versions", len(res.Versions))

	workers := river.NewWorkers()
	river.AddWorker(workers, &deliveryWorker{e: e, load: load})
	client, err := river.NewClient(driver, &river.Config{
		Queues:                      map[string]river.QueueConfig{dest: {MaxWorkers: *flagWorkers}},
		Workers:                     workers,
		FetchCooldown:               *flagCooldown,
		JobTimeout:                  30 * time.Second,
		RescueStuckJobsAfter:        45 * time.Second,
		MaxAttempts:                 20,
		RetryPolicy:                 jitterPolicy{},
		DiscardedJobRetentionPeriod: -1,
		Schema:                      schema,
		Logger:                      slog.New(countHandler{e}),
	})
	if err != nil {
		return err
	}
	if err := client.Start(ctx); err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(sctx)
	}()
	enqueue := func(ctx context.Context, tx TTx, ids []int64) error {
		params := make([]river.InsertManyParams, len(ids))
		for i, id := range ids {
			params[i] = river.InsertManyParams{Args: deliveryArgs{MessageID: id, Dest: dest}, InsertOpts: &river.InsertOpts{Queue: dest}}
		}
		_, err := client.InsertManyFastTx(ctx, tx, params)
		return err
	}
	if *flagCheck {
		return riverChecks(ctx, e, client, ops, enqueue, schema)
	}
	measure(ctx, e, func(stop <-chan struct{}) <-chan struct{} {
		done := make(chan struct{})
		go func() { defer close(done); writer(ctx, e, ops, enqueue, stop) }()
		return done
	}, backlog)
	return nil
}

// riverChecks exercises failure, dead letter, admin reads, redelivery and rescue.
func riverChecks[TTx any](ctx context.Context, e *env, client *river.Client[TTx], ops txOps[TTx],
	enqueue func(context.Context, TTx, []int64) error, schema string) error {
	insert := func(opts *river.InsertOpts) (int64, *rivertype.JobRow, error) {
		tx, err := ops.begin(ctx)
		if err != nil {
			return 0, nil, err
		}
		defer ops.rollback(ctx, tx)
		k, b := payload()
		ids, err := ops.insertMsgs(ctx, tx, []string{k}, [][]byte{b})
		if err != nil {
			return 0, nil, err
		}
		res, err := client.InsertTx(ctx, tx, deliveryArgs{MessageID: ids[0], Dest: dest}, opts)
		if err != nil {
			return 0, nil, err
		}
		return ids[0], res.Job, ops.commit(ctx, tx)
	}
	wait := func(id int64, want rivertype.JobState, limit time.Duration) (*rivertype.JobRow, time.Duration, error) {
		t0 := time.Now()
		for time.Since(t0) < limit {
			j, err := client.JobGet(ctx, id)
			if err != nil {
				return nil, 0, err
			}
			if j.State == want {
				return j, time.Since(t0), nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		return nil, 0, fmt.Errorf("job %d not %s after %s", id, want, limit)
	}

	// 1. Failing webhook: retries with backoff, then a dead letter (discarded).
	msgID, job, err := insert(&river.InsertOpts{Queue: dest, MaxAttempts: 3, Tags: []string{"msg"}})
	if err != nil {
		return err
	}
	e.failing.Store(msgID, struct{}{})
	dead, took, err := wait(job.ID, rivertype.JobStateDiscarded, 30*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("CHECK dead letter after %s: state=%s attempt=%d errors=%d\n", took.Round(time.Millisecond), dead.State, dead.Attempt, len(dead.Errors))
	for _, ae := range dead.Errors {
		fmt.Printf("CHECK   attempt %d at %s: %s\n", ae.Attempt, ae.At.Format(time.RFC3339Nano), ae.Error)
	}
	list, err := client.JobList(ctx, river.NewJobListParams().States(rivertype.JobStateDiscarded).First(100))
	if err != nil {
		return err
	}
	fmt.Printf("CHECK JobList(discarded) = %d job(s)\n", len(list.Jobs))
	byMsg, err := client.JobList(ctx, river.NewJobListParams().Kinds(deliveryArgs{}.Kind()).
		Where("CAST(args ->> 'message_id' AS bigint) = @id", river.NamedArgs{"id": msgID}))
	if err != nil {
		fmt.Printf("CHECK JobList by args.message_id: %v\n", err)
	} else {
		fmt.Printf("CHECK JobList by args.message_id=%d: %d job(s)\n", msgID, len(byMsg.Jobs))
	}

	// 2. Redelivery of the dead letter.
	e.failing.Delete(msgID)
	if _, err := client.JobRetry(ctx, job.ID); err != nil {
		return err
	}
	redone, took, err := wait(job.ID, rivertype.JobStateCompleted, 30*time.Second)
	if err != nil {
		return err
	}
	fmt.Printf("CHECK JobRetry -> completed after %s, attempt=%d errors kept=%d\n", took.Round(time.Millisecond), redone.Attempt, len(redone.Errors))

	// 3. A job a dead process held: mark it running by a gone client, 2 min ago.
	_, stuck, err := insert(&river.InsertOpts{Queue: dest, ScheduledAt: time.Now().Add(time.Hour)})
	if err != nil {
		return err
	}
	table := "river_job"
	if schema != "" {
		table = schema + "." + table
	}
	q := "UPDATE " + table + " SET state = 'running', attempt = 1, attempted_at = now() - interval '2 minutes', attempted_by = ARRAY['dead-client'] WHERE id = $1"
	var exec func() error
	switch d := any(client.Driver()).(type) {
	case *riverpgxv5.Driver:
		_ = d
		exec = func() error {
			tx, err := ops.begin(ctx)
			if err != nil {
				return err
			}
			if _, err := any(tx).(pgx.Tx).Exec(ctx, q, stuck.ID); err != nil {
				ops.rollback(ctx, tx)
				return err
			}
			return ops.commit(ctx, tx)
		}
	default:
		exec = func() error {
			tx, err := ops.begin(ctx)
			if err != nil {
				return err
			}
			_, err = any(tx).(*sql.Tx).ExecContext(ctx, `UPDATE river_job SET state = 'running', attempt = 1,
				attempted_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '-2 minutes'), attempted_by = json_array('dead-client'),
				scheduled_at = strftime('%Y-%m-%d %H:%M:%f', 'now', '-2 minutes') WHERE id = ?`, stuck.ID)
			if err != nil {
				ops.rollback(ctx, tx)
				return err
			}
			return ops.commit(ctx, tx)
		}
	}
	if err := exec(); err != nil {
		return fmt.Errorf("simulate stuck job: %w", err)
	}
	if _, ok := any(client.Driver()).(*riverpgxv5.Driver); ok {
		// PostgreSQL: also move scheduled_at back so the retry is due now.
		tx, err := ops.begin(ctx)
		if err == nil {
			_, err = any(tx).(pgx.Tx).Exec(ctx, "UPDATE "+table+" SET scheduled_at = now() - interval '2 minutes' WHERE id = $1", stuck.ID)
			if err == nil {
				err = ops.commit(ctx, tx)
			}
		}
		if err != nil {
			return err
		}
	}
	rescued, took, err := wait(stuck.ID, rivertype.JobStateCompleted, 120*time.Second)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(rescued.Errors)
	fmt.Printf("CHECK stuck job (RescueStuckJobsAfter=45s, held 2 min) completed %s later; attempt=%d errors=%s\n", took.Round(time.Second), rescued.Attempt, b)
	fmt.Printf("CHECK errors logged=%d\n", e.errs.Load())
	return nil
}

// ---- hand-written ----

type claimed struct {
	id, msgID int64
	attempts  int
	body      []byte
}

type failure struct {
	id       int64
	attempts int
	err      string
}

// handStore is one claim/complete cycle in a single transaction.
type handStore interface {
	cycle(ctx context.Context, done []int64, failed []failure, limit int) ([]claimed, error)
	backlog(ctx context.Context) (int64, error)
}

type pgHand struct{ pool *pgxpool.Pool }

func (s *pgHand) cycle(ctx context.Context, done []int64, failed []failure, limit int) ([]claimed, error) {
	now := time.Now().UnixMilli()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if *flagAsyncAck {
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return nil, err
		}
	}
	if len(done) > 0 {
		if _, err := tx.Exec(ctx, "UPDATE deliveries SET state = 1, updated_at = $2 WHERE id = ANY($1)", done, now); err != nil {
			return nil, err
		}
	}
	for _, f := range failed {
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET state = CASE WHEN attempts >= 20 THEN 2 ELSE 0 END,
			next_at = $2, last_error = $3, updated_at = $4 WHERE id = $1`, f.id, now+backoff(f.attempts).Milliseconds(), f.err, now); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO delivery_attempts VALUES ($1, $2, $3, $4)", f.id, f.attempts, now, f.err); err != nil {
			return nil, err
		}
	}
	var out []claimed
	if limit > 0 {
		rows, err := tx.Query(ctx, `UPDATE deliveries d SET next_at = $4, attempts = d.attempts + 1, updated_at = $2
			FROM (SELECT id FROM deliveries WHERE state = 0 AND dest = $1 AND next_at <= $2
				ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) c
			WHERE d.id = c.id
			RETURNING d.id, d.message_id, d.attempts, (SELECT body FROM messages m WHERE m.id = d.message_id)`,
			dest, now, limit, now+lease.Milliseconds())
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var c claimed
			if err := rows.Scan(&c.id, &c.msgID, &c.attempts, &c.body); err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, tx.Commit(ctx)
}

func (s *pgHand) backlog(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, "SELECT count(*) FROM deliveries WHERE state = 0").Scan(&n)
	return n, err
}

type sqliteHand struct{ db, rdb *sql.DB }

func (s *sqliteHand) cycle(ctx context.Context, done []int64, failed []failure, limit int) ([]claimed, error) {
	if *flagAsyncAck {
		// synchronous is per connection; the next FULL commit (a push) syncs these WAL frames too.
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, "PRAGMA synchronous = NORMAL"); err != nil {
			return nil, err
		}
		defer func() { _, _ = conn.ExecContext(context.Background(), "PRAGMA synchronous = FULL") }()
		return s.cycleOn(ctx, conn, done, failed, limit)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return s.cycleOn(ctx, conn, done, failed, limit)
}

func (s *sqliteHand) cycleOn(ctx context.Context, conn *sql.Conn, done []int64, failed []failure, limit int) ([]claimed, error) {
	now := time.Now().UnixMilli()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	if len(done) > 0 {
		ids, _ := json.Marshal(done)
		if _, err := tx.ExecContext(ctx, "UPDATE deliveries SET state = 1, updated_at = ? WHERE id IN (SELECT value FROM json_each(?))", now, string(ids)); err != nil {
			return nil, err
		}
	}
	for _, f := range failed {
		if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET state = CASE WHEN attempts >= 20 THEN 2 ELSE 0 END,
			next_at = ?, last_error = ?, updated_at = ? WHERE id = ?`, now+backoff(f.attempts).Milliseconds(), f.err, now, f.id); err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO delivery_attempts VALUES (?, ?, ?, ?)", f.id, f.attempts, now, f.err); err != nil {
			return nil, err
		}
	}
	var out []claimed
	if limit > 0 {
		rows, err := tx.QueryContext(ctx, `UPDATE deliveries SET next_at = ?4, attempts = attempts + 1, updated_at = ?2
			WHERE id IN (SELECT id FROM deliveries WHERE state = 0 AND dest = ?1 AND next_at <= ?2 ORDER BY next_at, id LIMIT ?3)
			RETURNING id, message_id, attempts, (SELECT body FROM messages m WHERE m.id = deliveries.message_id)`,
			dest, now, limit, now+lease.Milliseconds())
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var c claimed
			if err := rows.Scan(&c.id, &c.msgID, &c.attempts, &c.body); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, tx.Commit()
}

func (s *sqliteHand) backlog(ctx context.Context) (int64, error) {
	var n int64
	err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM deliveries WHERE state = 0").Scan(&n)
	return n, err
}

type result struct {
	c   claimed
	err error
}

// pump claims up to the per-destination limit, hands jobs to workers and
// writes their outcomes back, one transaction per cycle (group commit).
func pump(ctx context.Context, e *env, store handStore, limit int) {
	jobs := make(chan claimed, limit)
	results := make(chan result, limit)
	for range limit {
		go func() {
			for c := range jobs {
				results <- result{c, e.post(ctx, c.msgID, c.body)}
			}
		}()
	}
	defer close(jobs)
	tick := time.NewTicker(time.Second) // other replicas' inserts, expired leases, due retries
	defer tick.Stop()
	inflight, hungry := 0, true
	var done []int64
	var failed []failure
	add := func(r result) {
		if r.err != nil {
			failed = append(failed, failure{r.c.id, r.c.attempts, r.err.Error()})
		} else {
			done = append(done, r.c.id)
		}
	}
	for {
		done, failed = done[:0], failed[:0]
		if inflight >= limit || !hungry {
			select {
			case <-ctx.Done():
				return
			case r := <-results:
				add(r)
			case <-e.wake:
				hungry = true
			case <-tick.C:
				hungry = true
			}
		}
	drain:
		for {
			select {
			case r := <-results:
				add(r)
			default:
				break drain
			}
		}
		inflight -= len(done) + len(failed)
		want := 0
		if hungry {
			want = limit - inflight
		}
		if want == 0 && len(done) == 0 && len(failed) == 0 {
			continue
		}
		cl, err := store.cycle(ctx, done, failed, want)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Outcomes are lost: the leases expire and the jobs are redelivered.
			e.noteErr("cycle: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if want > 0 {
			hungry = len(cl) == want
		}
		inflight += len(cl)
		for _, c := range cl {
			jobs <- c
		}
	}
}

func runHand[TTx any](ctx context.Context, e *env, ops txOps[TTx], store handStore, enqueue func(context.Context, TTx, []int64) error) error {
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go pump(pctx, e, store, *flagWorkers)
	measure(ctx, e, func(stop <-chan struct{}) <-chan struct{} {
		done := make(chan struct{})
		go func() { defer close(done); writer(ctx, e, ops, enqueue, stop) }()
		return done
	}, store.backlog)
	return nil
}
