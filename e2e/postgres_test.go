package e2e

import (
	"context"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// freshDatabase creates a database of its own for the test on the server
// of WXGATE_TEST_POSTGRES (skipping the test when it is unset), drops it
// when the test ends, and returns its URL. A database rather than a
// schema: serve always uses the store's default schema.
func freshDatabase(t *testing.T) string {
	t.Helper()
	base := os.Getenv("WXGATE_TEST_POSTGRES")
	if base == "" {
		t.Skip("WXGATE_TEST_POSTGRES is unset: set it to a PostgreSQL URL (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run the PostgreSQL end-to-end tests")
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("WXGATE_TEST_POSTGRES is not a URL")
	}
	name := "wxgate_e2e_" + randHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to WXGATE_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
