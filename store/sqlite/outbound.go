package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/wxgate/wxgate/store"
	"github.com/wxgate/wxgate/store/internal/core"
	"github.com/wxgate/wxgate/store/internal/outcore"
)

// The outbound side: records, idempotency keys, the away ledger and the
// shared token. Every write is one statement on the writer's connection
// (the one the group commit uses), taken between batches like SetReply: a
// single writer makes each upsert atomic, and another process on the same
// file waits for the write lock (BusyTimeout). Reads use the read pool.

var _ store.OutboundStore = (*Store)(nil)

const outboundColumns = `id, app, openid, kind, msg_type, sender, in_reply_to, request, ok, errcode, error, created_at`

// RecordOutbound implements store.OutboundStore.
func (s *Store) RecordOutbound(ctx context.Context, o store.Outbound) (string, error) {
	if s.writer.Closed() {
		return "", store.ErrClosed
	}
	o, err := outcore.CheckRecord(o, s.opts.Now())
	if err != nil {
		return "", err
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO outbound (`+outboundColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (id) DO NOTHING`,
		o.ID, o.App, o.OpenID, o.Kind, o.MsgType, o.Sender, o.InReplyTo, blob(o.Request), o.OK, int64(o.ErrCode), o.Error,
		o.CreatedAt.UnixMicro()); err != nil {
		return "", s.fail("record outbound", err)
	}
	return o.ID, nil
}

// ListOutbound implements store.OutboundStore.
func (s *Store) ListOutbound(ctx context.Context, f store.OutboundFilter, cursor string) ([]store.Outbound, string, error) {
	if s.writer.Closed() {
		return nil, "", store.ErrClosed
	}
	f, err := outcore.CheckFilter(f)
	if err != nil {
		return nil, "", err
	}
	var q strings.Builder
	var args core.Args
	arg := args.Add
	q.WriteString(`SELECT ` + outboundColumns + ` FROM outbound WHERE 1=1`)
	if f.App != "" {
		q.WriteString(` AND app = ` + arg(f.App))
	}
	if f.OpenID != "" {
		q.WriteString(` AND openid = ` + arg(f.OpenID))
	}
	if !f.Since.IsZero() {
		q.WriteString(` AND created_at >= ` + arg(f.Since.UnixMicro()))
	}
	if !f.Until.IsZero() {
		q.WriteString(` AND created_at < ` + arg(f.Until.UnixMicro()))
	}
	if cursor != "" {
		at, id, err := outcore.DecodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		q.WriteString(` AND (created_at, id) < (` + arg(at) + `, ` + arg(id) + `)`)
	}
	q.WriteString(` ORDER BY created_at DESC, id DESC LIMIT ` + arg(f.Limit+1))
	rows, err := s.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, "", s.fail("list outbound", err)
	}
	defer rows.Close()
	out := make([]store.Outbound, 0, min(f.Limit+1, 64))
	for rows.Next() {
		var o store.Outbound
		var errcode, created int64
		if err := rows.Scan(&o.ID, &o.App, &o.OpenID, &o.Kind, &o.MsgType, &o.Sender, &o.InReplyTo, &o.Request,
			&o.OK, &errcode, &o.Error, &created); err != nil {
			return nil, "", s.fail("list outbound", err)
		}
		o.ErrCode = int(errcode)
		o.CreatedAt = time.UnixMicro(created).UTC()
		if len(o.Request) == 0 {
			o.Request = nil
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.fail("list outbound", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := &out[len(out)-1]
		next = outcore.EncodeCursor(last.CreatedAt.UnixMicro(), last.ID)
	}
	return out, next, nil
}

// ClaimIdempotency implements store.OutboundStore.
func (s *Store) ClaimIdempotency(ctx context.Context, scope, key, requestHash string, expires time.Time) (store.IdempotencyRecord, error) {
	if s.writer.Closed() {
		return store.IdempotencyRecord{}, store.ErrClosed
	}
	c, err := outcore.CheckClaim(scope, key, requestHash, expires, s.opts.Now())
	if err != nil {
		return store.IdempotencyRecord{}, err
	}
	var claim, hash string
	var status int
	var response []byte
	if err := s.w.QueryRowContext(ctx, outcore.ClaimSQL, c.Scope, c.Key, c.Hash, c.Claim,
		c.Now.UnixMicro(), c.Expires.UnixMicro(), c.Lapsed.UnixMicro()).Scan(&claim, &hash, &status, &response); err != nil {
		return store.IdempotencyRecord{}, s.fail("claim idempotency key", err)
	}
	return c.Resolve(claim, hash, status, response), nil
}

// CompleteIdempotency implements store.OutboundStore.
func (s *Store) CompleteIdempotency(ctx context.Context, scope, key string, status int, response []byte) error {
	if s.writer.Closed() {
		return store.ErrClosed
	}
	if err := outcore.CheckComplete(scope, key, status, response); err != nil {
		return err
	}
	now := s.opts.Now().UnixMicro()
	res, err := s.w.ExecContext(ctx, `UPDATE idempotency_keys SET status = $3, response = $4
		WHERE scope = $1 AND key = $2 AND status = 0 AND expires_at > $5`, scope, key, status, blob(response), now)
	if err != nil {
		return s.fail("complete idempotency key", err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return s.fail("complete idempotency key", err)
	} else if k > 0 {
		return nil
	}
	// Not in flight: answered already (the first answer stays), or gone.
	var one int
	err = s.r.QueryRowContext(ctx, `SELECT 1 FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status > 0 AND expires_at > $3`,
		scope, key, now).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if err != nil {
		return s.fail("complete idempotency key", err)
	}
	return nil
}

// ReleaseIdempotency implements store.OutboundStore.
func (s *Store) ReleaseIdempotency(ctx context.Context, scope, key string) error {
	if s.writer.Closed() {
		return store.ErrClosed
	}
	if err := outcore.CheckKey(scope, key); err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status = 0`, scope, key); err != nil {
		return s.fail("release idempotency key", err)
	}
	return nil
}

// ClaimAway implements store.OutboundStore.
func (s *Store) ClaimAway(ctx context.Context, app, openid string, period time.Time) (bool, error) {
	if s.writer.Closed() {
		return false, store.ErrClosed
	}
	if err := outcore.CheckAway(app, openid, period); err != nil {
		return false, err
	}
	res, err := s.w.ExecContext(ctx, `INSERT INTO away_claims (app, openid, period, claimed_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (app, openid, period) DO NOTHING`, app, openid, period.UnixMicro(), s.opts.Now().UnixMicro())
	if err != nil {
		return false, s.fail("claim away", err)
	}
	k, err := res.RowsAffected()
	if err != nil {
		return false, s.fail("claim away", err)
	}
	return k == 1, nil
}

// LoadToken implements store.OutboundStore.
func (s *Store) LoadToken(ctx context.Context, app string) (store.StoredToken, bool, error) {
	if s.writer.Closed() {
		return store.StoredToken{}, false, store.ErrClosed
	}
	if err := outcore.CheckTokenApp(app); err != nil {
		return store.StoredToken{}, false, err
	}
	var tok store.StoredToken
	var issued sql.NullInt64
	var expires int64
	err := s.r.QueryRowContext(ctx, `SELECT value, issued_at, expires_at FROM shared_tokens WHERE app = $1 AND value IS NOT NULL`,
		app).Scan(&tok.Value, &issued, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return store.StoredToken{}, false, nil
	}
	if err != nil {
		return store.StoredToken{}, false, s.fail("load token", err)
	}
	if issued.Valid {
		tok.IssuedAt = time.UnixMicro(issued.Int64).UTC()
	}
	tok.ExpiresAt = time.UnixMicro(expires).UTC()
	return tok, true, nil
}

// SaveToken implements store.OutboundStore.
func (s *Store) SaveToken(ctx context.Context, app string, tok store.StoredToken) error {
	if s.writer.Closed() {
		return store.ErrClosed
	}
	tok, err := outcore.CheckToken(app, tok)
	if err != nil {
		return err
	}
	var issued any
	if !tok.IssuedAt.IsZero() {
		issued = tok.IssuedAt.UnixMicro()
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO shared_tokens (app, value, issued_at, expires_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (app) DO UPDATE SET value = excluded.value, issued_at = excluded.issued_at, expires_at = excluded.expires_at`,
		app, tok.Value, issued, tok.ExpiresAt.UnixMicro()); err != nil {
		return s.fail("save token", err)
	}
	return nil
}

// InvalidateToken implements store.OutboundStore.
func (s *Store) InvalidateToken(ctx context.Context, app, value string) error {
	if s.writer.Closed() {
		return store.ErrClosed
	}
	if err := outcore.CheckTokenValue(app, value); err != nil {
		return err
	}
	// The lease is in the same row: clear the token, keep the row.
	if _, err := s.w.ExecContext(ctx, `UPDATE shared_tokens SET value = NULL, issued_at = NULL, expires_at = NULL
		WHERE app = $1 AND value = $2`, app, value); err != nil {
		return s.fail("invalidate token", err)
	}
	return nil
}

// TryTokenLease implements store.OutboundStore.
func (s *Store) TryTokenLease(ctx context.Context, app, owner string, ttl time.Duration) (bool, error) {
	if s.writer.Closed() {
		return false, store.ErrClosed
	}
	if err := outcore.CheckLease(app, owner, ttl, false); err != nil {
		return false, err
	}
	now := outcore.Micro(s.opts.Now())
	res, err := s.w.ExecContext(ctx, `INSERT INTO shared_tokens (app, lease_owner, lease_until) VALUES ($1, $2, $3)
		ON CONFLICT (app) DO UPDATE SET lease_owner = excluded.lease_owner, lease_until = excluded.lease_until
		WHERE shared_tokens.lease_owner IS NULL OR shared_tokens.lease_until <= $4 OR shared_tokens.lease_owner = excluded.lease_owner`,
		app, owner, now.Add(ttl).UnixMicro(), now.UnixMicro())
	if err != nil {
		return false, s.fail("take token lease", err)
	}
	k, err := res.RowsAffected()
	if err != nil {
		return false, s.fail("take token lease", err)
	}
	return k == 1, nil
}

// ReleaseTokenLease implements store.OutboundStore.
func (s *Store) ReleaseTokenLease(ctx context.Context, app, owner string) error {
	if s.writer.Closed() {
		return store.ErrClosed
	}
	if err := outcore.CheckLease(app, owner, 0, true); err != nil {
		return err
	}
	if _, err := s.w.ExecContext(ctx, `UPDATE shared_tokens SET lease_owner = NULL, lease_until = NULL
		WHERE app = $1 AND lease_owner = $2`, app, owner); err != nil {
		return s.fail("release token lease", err)
	}
	return nil
}

// DeleteOutboundBefore implements store.OutboundStore.
func (s *Store) DeleteOutboundBefore(ctx context.Context, t time.Time) (int64, error) {
	limit := ` LIMIT ` + strconv.Itoa(deleteChunk) + `)`
	var total int64
	for _, d := range [...]struct {
		op, query string
		arg       int64
	}{
		{"delete outbound", `DELETE FROM outbound WHERE seq IN (SELECT seq FROM outbound WHERE created_at < $1` + limit, t.UnixMicro()},
		{"delete away claims", `DELETE FROM away_claims WHERE rowid IN (SELECT rowid FROM away_claims WHERE claimed_at < $1` + limit, t.UnixMicro()},
		{"delete idempotency keys", `DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE expires_at <= $1` + limit,
			s.opts.Now().UnixMicro()},
	} {
		n, err := s.deleteLoop(ctx, d.op, d.query, d.arg)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
