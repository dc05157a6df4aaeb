// Package backend opens a store from the value of wxgate's --store flag:
// "sqlite:PATH" or a "postgres://" URL.
package backend

import (
	"context"
	"fmt"
	"strings"

	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/postgres"
	"github.com/wxgate/wxgate/store/sqlite"
)

// Spec is a parsed --store value.
type Spec struct {
	Dialect store.Dialect
	// Path is the SQLite file; URL the PostgreSQL connection string.
	Path, URL string
}

// Parse parses "sqlite:PATH" or "postgres://…" ("postgresql://" too). Its
// errors never repeat the value, which may hold a password.
func Parse(spec string) (Spec, error) {
	switch {
	case strings.HasPrefix(spec, "sqlite:"):
		path := strings.TrimPrefix(spec, "sqlite:")
		if path == "" {
			return Spec{}, fmt.Errorf("%w: store: sqlite: needs a file path, e.g. sqlite:wxgate.db", store.ErrInvalid)
		}
		return Spec{Dialect: store.SQLite, Path: path}, nil
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return Spec{Dialect: store.PostgreSQL, URL: spec}, nil
	}
	return Spec{}, fmt.Errorf("%w: store: must be sqlite:PATH or a postgres:// URL", store.ErrInvalid)
}

// Open opens the store that spec names, with opts. schema is the
// PostgreSQL schema ("" for postgres.DefaultSchema); SQLite ignores it.
func Open(ctx context.Context, spec string, schema string, opts store.Options) (store.Store, error) {
	sp, err := Parse(spec)
	if err != nil {
		return nil, err
	}
	var s store.Store
	switch sp.Dialect {
	case store.SQLite:
		s, err = sqlite.Open(ctx, sqlite.Options{Options: opts, Path: sp.Path})
	default:
		s, err = postgres.Open(ctx, postgres.Options{Options: opts, URL: sp.URL, Schema: schema})
	}
	if err != nil {
		return nil, err // never a typed nil in the interface
	}
	return s, nil
}

// Migrate brings the schema of the store that spec names up to date (what
// `wxgate migrate` does) and returns the migrations it applied. On SQLite,
// where Open migrates anyway, it reports nothing.
func Migrate(ctx context.Context, spec string, schema string, extra []store.Migration) ([]string, error) {
	sp, err := Parse(spec)
	if err != nil {
		return nil, err
	}
	if sp.Dialect == store.PostgreSQL {
		return postgres.Migrate(ctx, postgres.Options{Options: store.Options{Migrations: extra}, URL: sp.URL, Schema: schema})
	}
	s, err := sqlite.Open(ctx, sqlite.Options{Options: store.Options{Migrations: extra}, Path: sp.Path})
	if err != nil {
		return nil, err
	}
	return nil, s.Close()
}
