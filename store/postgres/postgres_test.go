package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/postgres"
	"github.com/wxgate/wxgate/store/storetest"
)

// testURL returns WXGATE_TEST_POSTGRES or skips the test.
func testURL(t testing.TB) string {
	url := os.Getenv("WXGATE_TEST_POSTGRES")
	if url == "" {
		t.Skip("WXGATE_TEST_POSTGRES is unset: set it to a PostgreSQL URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL tests")
	}
	return url
}

// newSchema returns a fresh schema name, dropped when the test ends.
func newSchema(t testing.TB, url string) string {
	b := make([]byte, 6)
	rand.Read(b)
	schema := "wxgate_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), url)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return schema
}

func newDB(t *testing.T) storetest.Opener {
	url := testURL(t)
	schema := newSchema(t, url)
	return func(opts store.Options) (store.Store, error) {
		s, err := postgres.Open(context.Background(), postgres.Options{Options: opts, URL: url, Schema: schema})
		if err != nil {
			return nil, err
		}
		return s, nil
	}
}

func TestSuite(t *testing.T) {
	storetest.Run(t, newDB)
}

func TestOpenOptions(t *testing.T) {
	ctx := context.Background()
	for _, o := range []postgres.Options{
		{},
		{URL: "postgres://x@127.0.0.1/db", Schema: "Bad-Name"},
		{URL: "postgres://x@127.0.0.1/db", Schema: `a"; DROP SCHEMA public; --`},
		{URL: "postgres://x@127.0.0.1/db", MaxConns: -1},
		{URL: "postgres://user:s3cr3t-pw@127.0.0.1:notaport/db"},
	} {
		s, err := postgres.Open(ctx, o)
		if !errors.Is(err, store.ErrInvalid) {
			if s != nil {
				s.Close()
			}
			t.Fatalf("Open(%+v) = %v, want ErrInvalid", o, err)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("the error shows the password: %v", err)
		}
	}
}

// TestConnectErrorHidesPassword: a refused connection's error names no password.
func TestConnectErrorHidesPassword(t *testing.T) {
	ctx := context.Background()
	// A port that was free a moment ago refuses the connection at once.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "postgres://user:s3cr3t-pw@" + l.Addr().String() + "/db?sslmode=disable&connect_timeout=5"
	l.Close()
	for _, open := range []func() error{
		func() error {
			_, err := postgres.Open(ctx, postgres.Options{URL: url})
			return err
		},
		func() error {
			_, err := postgres.Migrate(ctx, postgres.Options{URL: url})
			return err
		},
	} {
		err := open()
		if err == nil {
			t.Fatalf("connecting to a closed port succeeded")
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("the error shows the password: %v", err)
		}
	}
}

// TestMigrateConcurrently: replicas that start together apply each
// migration once, and later starts apply nothing.
func TestMigrateConcurrently(t *testing.T) {
	url := testURL(t)
	schema := newSchema(t, url)
	ctx := context.Background()
	var wg sync.WaitGroup
	applied := make([][]string, 3)
	errs := make([]error, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied[i], errs[i] = postgres.Migrate(ctx, postgres.Options{URL: url, Schema: schema})
		}()
	}
	wg.Wait()
	total := 0
	for i := range 3 {
		if errs[i] != nil {
			t.Fatalf("Migrate %d: %v", i, errs[i])
		}
		total += len(applied[i])
	}
	if total == 0 || total != max(len(applied[0]), len(applied[1]), len(applied[2])) {
		t.Fatalf("migrations applied %v: want each once, by one replica", applied)
	}
	again, err := postgres.Migrate(ctx, postgres.Options{URL: url, Schema: schema})
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate applied %v, %v", again, err)
	}
	s, err := postgres.Open(ctx, postgres.Options{URL: url, Schema: schema, NoMigrate: true})
	if err != nil {
		t.Fatalf("Open with NoMigrate on a migrated schema: %v", err)
	}
	s.Close()
}

func TestNoMigrate(t *testing.T) {
	url := testURL(t)
	schema := newSchema(t, url)
	if _, err := postgres.Open(context.Background(), postgres.Options{URL: url, Schema: schema, NoMigrate: true}); !errors.Is(err, postgres.ErrNotMigrated) {
		t.Fatalf("Open with NoMigrate on an empty schema: %v, want ErrNotMigrated", err)
	}
}

// TestHookHandle checks that the hook gets the pgx.Tx, and that the pool
// and the transaction resolve tables in the schema.
func TestHookHandle(t *testing.T) {
	url := testURL(t)
	schema := newSchema(t, url)
	var got bool
	s, err := postgres.Open(context.Background(), postgres.Options{URL: url, Schema: schema, Options: store.Options{
		BeforeCommit: func(ctx context.Context, tx store.Tx, stored []store.StoredMessage) error {
			pgxTx := postgres.PgxTx(tx)
			if pgxTx == nil {
				return errors.New("no pgx.Tx")
			}
			var n int
			if err := pgxTx.QueryRow(ctx, `SELECT count(*) FROM messages WHERE id = $1`, stored[0].ID).Scan(&n); err != nil {
				return err
			}
			got = n == 1
			return nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Schema() != schema {
		t.Fatalf("Schema() = %q", s.Schema())
	}
	if _, err := s.Append(context.Background(), []store.NewMessage{{App: "a", DedupKey: "k", Raw: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if !got {
		t.Fatalf("the hook did not see its message through the pgx.Tx")
	}
	var where string
	if err := s.Pool().QueryRow(context.Background(), `SELECT table_schema FROM information_schema.tables WHERE table_name = 'messages' AND table_schema = current_schema()`).Scan(&where); err != nil || where != schema {
		t.Fatalf("messages table in %q (%v), want %q", where, err, schema)
	}
}
