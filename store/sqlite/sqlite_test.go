package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/sqlite"
	"github.com/wxgate/wxgate/store/storetest"
)

func newDB(t *testing.T) storetest.Opener {
	path := filepath.Join(t.TempDir(), "wxgate.db")
	return func(opts store.Options) (store.Store, error) {
		s, err := sqlite.Open(context.Background(), sqlite.Options{Options: opts, Path: path})
		if err != nil {
			return nil, err // not a typed nil in an interface
		}
		return s, nil
	}
}

func TestSuite(t *testing.T) {
	storetest.Run(t, newDB)
}

func TestOpenOptions(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []sqlite.Options{
		{},
		{Path: ":memory:"},
		{Path: filepath.Join(dir, "a.db?mode=ro")},
		{Path: "file:" + filepath.Join(dir, "a.db")},
		{Path: filepath.Join(dir, "a.db"), Synchronous: "OFF"},
		{Path: filepath.Join(dir, "a.db"), ReadConns: -1},
	} {
		if s, err := sqlite.Open(context.Background(), o); !errors.Is(err, store.ErrInvalid) {
			if s != nil {
				s.Close()
			}
			t.Fatalf("Open(%+v) = %v, want ErrInvalid", o, err)
		}
	}
	if _, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "missing", "dir", "a.db")}); err == nil {
		t.Fatalf("Open in a missing directory succeeded")
	}
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(dir, "relaxed.db"), Synchronous: "normal"})
	if err != nil {
		t.Fatalf("Open with Synchronous normal: %v", err)
	}
	s.Close()
}

// TestDurableSettings checks the pragmas that make a commit durable.
func TestDurableSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wxgate.db")
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1"} {
		var got string
		if err := s.DB().QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if !strings.EqualFold(got, want) {
			t.Fatalf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	var version int
	if err := s.DB().QueryRow(`SELECT max(version) FROM schema_migrations WHERE component = 'store'`).Scan(&version); err != nil || version < 1 {
		t.Fatalf("schema_migrations: %d, %v", version, err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Fatalf("no WAL file: %v", err)
	}
}

// TestHookHandle checks that the hook gets the *sql.Tx.
func TestHookHandle(t *testing.T) {
	var got bool
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: filepath.Join(t.TempDir(), "a.db"), Options: store.Options{
		BeforeCommit: func(ctx context.Context, tx store.Tx, stored []store.StoredMessage) error {
			sqlTx := sqlite.SQLTx(tx)
			if sqlTx == nil {
				return errors.New("no *sql.Tx")
			}
			var n int
			if err := sqlTx.QueryRowContext(ctx, `SELECT count(*) FROM messages WHERE id = $1`, stored[0].ID).Scan(&n); err != nil {
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
	if _, err := s.Append(context.Background(), []store.NewMessage{{App: "a", DedupKey: "k", Raw: []byte("x")}}); err != nil {
		t.Fatal(err)
	}
	if !got {
		t.Fatalf("the hook did not see its message through the *sql.Tx")
	}
}
