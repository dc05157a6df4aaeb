package rules

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/wxgate/wxgate/gateway/config"
	"github.com/wxgate/wxgate/openapi"
)

// Media lifetimes.
const (
	// MediaLifetime is how long WeChat keeps a temporary media.
	MediaLifetime = 72 * time.Hour
	// DefaultRefreshAhead is how long before its expiry a media_id is
	// replaced by a new upload.
	DefaultRefreshAhead = 6 * time.Hour
	// uploadRetryGap is how long a failed upload is not tried again;
	// meanwhile MediaID answers with the failure (or the old, still valid
	// media_id).
	uploadRetryGap = 30 * time.Second
)

// MediaUploader uploads an app's media file as temporary media.
type MediaUploader interface {
	// Upload uploads the file at path for app and returns its media_id
	// and when it expires (zero: MediaLifetime from now).
	Upload(ctx context.Context, app, path string) (mediaID string, expires time.Time, err error)
}

// MediaCache keeps the media_id of each uploaded file, uploads a file the
// first time it is needed, and uploads it again when its media_id comes
// within the refresh margin of its expiry. One upload per file runs at a
// time however many goroutines ask. It is safe for concurrent use; one
// cache may serve every app.
type MediaCache struct {
	up    MediaUploader
	now   func() time.Time
	ahead time.Duration

	mu sync.Mutex
	m  map[mediaKey]*mediaEntry
}

type mediaKey struct{ app, path string }

type mediaEntry struct {
	id      string
	expires time.Time
	flight  chan struct{} // closed when the running upload ends; nil when none runs
	err     error         // the last upload's failure
	failed  time.Time     // when it failed
}

// MediaOption configures NewMediaCache.
type MediaOption func(*MediaCache)

// WithClock sets the cache's clock (tests use a fake one).
func WithClock(now func() time.Time) MediaOption {
	return func(c *MediaCache) { c.now = now }
}

// WithRefreshAhead sets how long before expiry a media_id is replaced
// (default DefaultRefreshAhead).
func WithRefreshAhead(d time.Duration) MediaOption {
	return func(c *MediaCache) { c.ahead = d }
}

// NewMediaCache returns a cache uploading through up.
func NewMediaCache(up MediaUploader, opts ...MediaOption) *MediaCache {
	c := &MediaCache{up: up, now: time.Now, ahead: DefaultRefreshAhead, m: map[mediaKey]*mediaEntry{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// MediaID returns a valid media_id for app's file at path, uploading it
// when the cache holds none or only one close to expiry. When a renewal
// fails but the old media_id is still valid, it returns the old one and
// tries again later. Errors match ErrUpload (or are ctx's).
func (c *MediaCache) MediaID(ctx context.Context, app, path string) (string, error) {
	k := mediaKey{app, path}
	for {
		c.mu.Lock()
		e := c.m[k]
		if e == nil {
			e = &mediaEntry{}
			c.m[k] = e
		}
		now := c.now()
		valid := e.id != "" && now.Before(e.expires)
		if valid && now.Before(e.expires.Add(-c.ahead)) {
			id := e.id
			c.mu.Unlock()
			return id, nil
		}
		if ch := e.flight; ch != nil {
			if valid { // being renewed; the current one still works
				id := e.id
				c.mu.Unlock()
				return id, nil
			}
			c.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		if e.err != nil && now.Before(e.failed.Add(uploadRetryGap)) {
			id, err := e.id, e.err
			c.mu.Unlock()
			if valid {
				return id, nil
			}
			return "", err
		}
		ch := make(chan struct{})
		e.flight = ch
		c.mu.Unlock()

		id, exp, err := c.upload(ctx, app, path)

		c.mu.Lock()
		e.flight = nil
		close(ch)
		now = c.now()
		switch {
		case err == nil:
			if !exp.After(now) {
				exp = now.Add(MediaLifetime)
			}
			e.id, e.expires, e.err = id, exp, nil
		case ctx.Err() == nil: // the caller giving up is not the upload failing
			e.err, e.failed = err, now
		}
		old, oldValid := e.id, e.id != "" && now.Before(e.expires)
		c.mu.Unlock()
		switch {
		case err == nil:
			return id, nil
		case oldValid:
			return old, nil
		}
		return "", err
	}
}

// upload calls the uploader, turning a panic into an error so that
// waiters are released.
func (c *MediaCache) upload(ctx context.Context, app, path string) (id string, exp time.Time, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("uploader panicked: %v", r)
		}
		if err != nil {
			err = fmt.Errorf("%w: %s: %w", ErrUpload, path, err)
		}
	}()
	id, exp, err = c.up.Upload(ctx, app, path)
	if err == nil && id == "" {
		err = errors.New("no media_id")
	}
	return id, exp, err
}

// Refresh renews every media_id within the refresh margin of its expiry,
// so that no reply waits for a renewal; call it now and then (hourly).
// It returns the failures joined.
func (c *MediaCache) Refresh(ctx context.Context) error {
	c.mu.Lock()
	now := c.now()
	var due []mediaKey
	for k, e := range c.m {
		if e.id != "" && !now.Before(e.expires.Add(-c.ahead)) {
			due = append(due, k)
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, k := range due {
		if _, err := c.MediaID(ctx, k.app, k.path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// OpenAPIUploader uploads media files through each app's Open API
// client, as temporary media.
type OpenAPIUploader struct {
	// Client returns app's client.
	Client func(app string) (*openapi.Client, error)
	// Now is the clock for expiries when WeChat gives no creation time;
	// nil is time.Now.
	Now func() time.Time
}

// Upload implements MediaUploader.
func (u OpenAPIUploader) Upload(ctx context.Context, app, path string) (string, time.Time, error) {
	c, err := u.Client(app)
	if err != nil {
		return "", time.Time{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", time.Time{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, config.MaxImageSize+1))
	if err != nil {
		return "", time.Time{}, err
	}
	if len(data) > config.MaxImageSize {
		return "", time.Time{}, fmt.Errorf("larger than %d bytes", config.MaxImageSize)
	}
	m, err := c.UploadTempMedia(ctx, filepath.Base(path), bytes.NewReader(data))
	if err != nil {
		return "", time.Time{}, err
	}
	created := m.CreatedAt
	if created.IsZero() {
		now := time.Now
		if u.Now != nil {
			now = u.Now
		}
		created = now()
	}
	return m.MediaID, created.Add(MediaLifetime), nil
}
