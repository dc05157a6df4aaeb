// Package core holds what the store backends share: input validation, the
// batch planner, the group-commit writer, cursors and migration files.
package core

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wxgate/wxgate/store"
)

// invalid returns an ErrInvalid error about message i's field. It never
// includes the value: dedup keys and openids must stay out of logs.
func invalid(i int, field, reason string) error {
	return fmt.Errorf("%w: message %d: %s %s", store.ErrInvalid, i, field, reason)
}

func checkString(i int, field, v string, max int, required bool) error {
	switch {
	case v == "" && required:
		return invalid(i, field, "is empty")
	case len(v) > max:
		return invalid(i, field, "is longer than "+strconv.Itoa(max)+" bytes")
	case strings.IndexByte(v, 0) >= 0:
		return invalid(i, field, "contains a NUL byte")
	case !utf8.ValidString(v):
		return invalid(i, field, "is not valid UTF-8")
	}
	return nil
}

// Normalize validates msgs and returns the store's own copy of them, with
// their ids: times in UTC to the microsecond, a zero ReceivedAt set to now,
// empty bodies as nil, and the bodies copied, so that a caller who gave up
// (its context ended) may reuse its buffers while the batch still runs.
func Normalize(msgs []store.NewMessage, now time.Time) ([]store.StoredMessage, error) {
	if len(msgs) > store.MaxAppendItems {
		return nil, fmt.Errorf("%w: %d messages in one call, at most %d", store.ErrInvalid, len(msgs), store.MaxAppendItems)
	}
	out := make([]store.StoredMessage, len(msgs))
	size := 0
	for i := range msgs {
		m := &msgs[i]
		for _, f := range [...]struct {
			name     string
			v        string
			max      int
			required bool
		}{
			{"App", m.App, store.MaxAppLen, true},
			{"DedupKey", m.DedupKey, store.MaxFieldLen, true},
			{"AppID", m.AppID, store.MaxFieldLen, false},
			{"OpenID", m.OpenID, store.MaxFieldLen, false},
			{"MsgType", m.MsgType, store.MaxFieldLen, false},
			{"Event", m.Event, store.MaxFieldLen, false},
			{"Format", m.Format, store.MaxFieldLen, false},
			{"Mode", m.Mode, store.MaxFieldLen, false},
			{"NonceKey", m.NonceKey, store.MaxFieldLen, false},
			{"NonceDigest", m.NonceDigest, store.MaxFieldLen, m.NonceKey != ""},
		} {
			if err := checkString(i, f.name, f.v, f.max, f.required); err != nil {
				return nil, err
			}
		}
		if len(m.Raw) == 0 {
			return nil, invalid(i, "Raw", "is empty")
		}
		for _, b := range [...]struct {
			name string
			v    []byte
		}{{"Raw", m.Raw}, {"Payload", m.Payload}, {"Reply", m.Reply}} {
			if len(b.v) > store.MaxBodySize {
				return nil, invalid(i, b.name, "is larger than "+strconv.Itoa(store.MaxBodySize)+" bytes")
			}
			size += len(b.v)
		}
		if m.NonceKey == "" && m.NonceDigest != "" {
			return nil, invalid(i, "NonceDigest", "is set without a NonceKey")
		}
		if m.NonceKey != "" && m.NonceExpires.IsZero() {
			return nil, invalid(i, "NonceExpires", "is zero")
		}
		if err := checkDestinations(i, m.Destinations); err != nil {
			return nil, err
		}
		o := &out[i]
		o.NewMessage = *m
		o.Destinations = nil
		if len(m.Destinations) > 0 {
			o.Destinations = slices.Clone(m.Destinations)
		}
		if o.ReceivedAt.IsZero() {
			o.ReceivedAt = now
		}
		o.ReceivedAt = Micro(o.ReceivedAt)
		if !o.NonceExpires.IsZero() {
			o.NonceExpires = Micro(o.NonceExpires)
		}
		o.ID = store.MessageID(m.App, m.DedupKey)
	}
	// One allocation holds every body of the call.
	buf := make([]byte, 0, size)
	keep := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		start := len(buf)
		buf = append(buf, b...)
		return buf[start:len(buf):len(buf)]
	}
	for i := range out {
		o := &out[i]
		o.Raw, o.Payload, o.Reply = keep(o.Raw), keep(o.Payload), keep(o.Reply)
	}
	return out, nil
}

// Micro returns t in UTC, truncated to the microsecond (both backends keep
// microseconds), without its monotonic reading.
func Micro(t time.Time) time.Time {
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// CheckFilter validates f and applies the default limit.
func CheckFilter(f store.Filter) (store.Filter, error) {
	switch {
	case f.Limit < 0 || f.Limit > store.MaxListLimit:
		return f, fmt.Errorf("%w: filter limit must be between 1 and %d", store.ErrInvalid, store.MaxListLimit)
	case f.Limit == 0:
		f.Limit = store.DefaultListLimit
	}
	for _, s := range [...]struct{ name, v string }{{"App", f.App}, {"OpenID", f.OpenID}, {"MsgType", f.MsgType}, {"Event", f.Event}} {
		if len(s.v) > store.MaxFieldLen || strings.IndexByte(s.v, 0) >= 0 || !utf8.ValidString(s.v) {
			return f, fmt.Errorf("%w: filter %s is not a valid value", store.ErrInvalid, s.name)
		}
	}
	if !f.Since.IsZero() {
		f.Since = Micro(f.Since)
	}
	if !f.Until.IsZero() {
		f.Until = Micro(f.Until)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, fmt.Errorf("%w: filter Since must be before Until", store.ErrInvalid)
	}
	return f, nil
}

// WithDefaults validates o and fills in its defaults.
func WithDefaults(o store.Options) (store.Options, error) {
	if o.MaxBatch < 0 || o.QueueSize < 0 || o.CommitTimeout < 0 {
		return o, fmt.Errorf("%w: MaxBatch, QueueSize and CommitTimeout must not be negative", store.ErrInvalid)
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = store.DefaultMaxBatch
	}
	if o.QueueSize == 0 {
		o.QueueSize = store.DefaultQueueSize
	}
	if o.CommitTimeout == 0 {
		o.CommitTimeout = store.DefaultCommitTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for i, m := range o.Migrations {
		switch {
		case m.Component == "" || m.Component == OwnComponent:
			return o, fmt.Errorf("%w: migration %d: Component must be set and not %q", store.ErrInvalid, i, OwnComponent)
		case m.Version < 1:
			return o, fmt.Errorf("%w: migration %d: Version must be 1 or more", store.ErrInvalid, i)
		case strings.TrimSpace(m.SQL) == "":
			return o, fmt.Errorf("%w: migration %d: SQL is empty", store.ErrInvalid, i)
		}
		for _, p := range o.Migrations[:i] {
			if p.Component == m.Component && p.Version == m.Version {
				return o, fmt.Errorf("%w: migration %d: version %d of %q given twice", store.ErrInvalid, i, m.Version, m.Component)
			}
		}
	}
	return o, nil
}

// OwnComponent is the component name of the store's own migrations.
const OwnComponent = "store"

// LoadMigrations reads the store's migrations from dir in fsys: files named
// NNNN_name.sql, applied in the order of NNNN. The extra migrations follow,
// sorted by component and version.
func LoadMigrations(fsys fs.FS, dir string, extra []store.Migration) ([]store.Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var own []store.Migration
	for _, e := range entries {
		name := e.Name()
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v < 1 || !strings.HasSuffix(name, ".sql") {
			return nil, fmt.Errorf("store: migration file %q is not named NNNN_name.sql", name)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		own = append(own, store.Migration{Component: OwnComponent, Version: v, Name: rest, SQL: string(b)})
	}
	slices.SortFunc(own, func(a, b store.Migration) int { return a.Version - b.Version })
	for i := 1; i < len(own); i++ {
		if own[i].Version == own[i-1].Version {
			return nil, fmt.Errorf("store: two migration files have version %d", own[i].Version)
		}
	}
	rest := slices.Clone(extra)
	slices.SortStableFunc(rest, func(a, b store.Migration) int {
		if c := strings.Compare(a.Component, b.Component); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	return append(own, rest...), nil
}
