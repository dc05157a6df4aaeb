package backend_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/backend"
)

func TestParse(t *testing.T) {
	for spec, want := range map[string]backend.Spec{
		"sqlite:wxgate.db":            {Dialect: store.SQLite, Path: "wxgate.db"},
		"sqlite:/var/lib/wxgate/x.db": {Dialect: store.SQLite, Path: "/var/lib/wxgate/x.db"},
		"postgres://u@h/db":           {Dialect: store.PostgreSQL, URL: "postgres://u@h/db"},
		"postgresql://u:p@h:5432/db":  {Dialect: store.PostgreSQL, URL: "postgresql://u:p@h:5432/db"},
	} {
		got, err := backend.Parse(spec)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for _, spec := range []string{"", "sqlite:", "wxgate.db", "mysql://u:s3cr3t@h/db", "POSTGRES://u:s3cr3t@h/db"} {
		_, err := backend.Parse(spec)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid", spec, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.db")
	if applied, err := backend.Migrate(context.Background(), "sqlite:"+path, "", nil); err != nil || applied != nil {
		t.Fatalf("Migrate: %v, %v", applied, err)
	}
	s, err := backend.Open(context.Background(), "sqlite:"+path, "", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dialect() != store.SQLite {
		t.Fatalf("dialect %q", s.Dialect())
	}
	if _, err := backend.Open(context.Background(), "sqlite:"+filepath.Join(path, "not-a-dir", "x.db"), "", store.Options{}); err == nil {
		t.Fatalf("Open under a file succeeded")
	}
}

func TestOpenPostgres(t *testing.T) {
	url := os.Getenv("WXGATE_TEST_POSTGRES")
	if url == "" {
		t.Skip("WXGATE_TEST_POSTGRES is unset: set it to a PostgreSQL URL to run the PostgreSQL tests")
	}
	ctx := context.Background()
	schema := fmt.Sprintf("wxgate_test_backend_%d", time.Now().UnixNano())
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	applied, err := backend.Migrate(ctx, url, schema, nil)
	if err != nil || len(applied) == 0 {
		t.Fatalf("Migrate: %v, %v", applied, err)
	}
	s, err := backend.Open(ctx, url, schema, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dialect() != store.PostgreSQL {
		t.Fatalf("dialect %q", s.Dialect())
	}
	if applied, err := backend.Migrate(ctx, url, schema, nil); err != nil || len(applied) != 0 {
		t.Fatalf("Migrate on a migrated schema: %v, %v", applied, err)
	}
}
