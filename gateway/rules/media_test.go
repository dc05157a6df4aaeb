package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wxgate/wxgate/openapi"
	"github.com/wxgate/wxgate/wechatsim"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// fakeUploader hands out media_ids valid for MediaLifetime on its clock.
type fakeUploader struct {
	clock *fakeClock
	mu    sync.Mutex
	calls []string // app:path of each upload
	fail  error    // the next uploads' error
	gate  chan struct{}
}

func (u *fakeUploader) Upload(ctx context.Context, app, path string) (string, time.Time, error) {
	if u.gate != nil {
		select {
		case <-u.gate:
		case <-ctx.Done():
			return "", time.Time{}, ctx.Err()
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.calls = append(u.calls, app+":"+path)
	if u.fail != nil {
		return "", time.Time{}, u.fail
	}
	return fmt.Sprintf("media-%d", len(u.calls)), u.clock.Now().Add(MediaLifetime), nil
}

func (u *fakeUploader) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.calls)
}

func (u *fakeUploader) setFail(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.fail = err
}

// TestMediaReuploadBeforeExpiry checks that a media_id is reused until it
// comes within the refresh margin of its expiry, then replaced.
func TestMediaReuploadBeforeExpiry(t *testing.T) {
	clock := &fakeClock{now: noon}
	up := &fakeUploader{clock: clock}
	c := NewMediaCache(up, WithClock(clock.Now))
	ctx := context.Background()
	get := func(want string, uploads int) {
		t.Helper()
		id, err := c.MediaID(ctx, "shop", "/m/a.png")
		if err != nil || id != want || up.count() != uploads {
			t.Fatalf("at %v: id %q, err %v, %d uploads; want %q after %d", clock.Now().Sub(noon), id, err, up.count(), want, uploads)
		}
	}
	get("media-1", 1)
	get("media-1", 1)
	clock.Advance(MediaLifetime - DefaultRefreshAhead - time.Minute)
	get("media-1", 1)
	clock.Advance(2 * time.Minute) // inside the margin: renewed before it expires
	get("media-2", 2)
	get("media-2", 2)
	if _, err := c.MediaID(ctx, "blog", "/m/a.png"); err != nil || up.count() != 3 {
		t.Errorf("another app's file is its own: %v, %d uploads", err, up.count())
	}

	// A failed renewal keeps the old, still valid media_id, and is not
	// tried again at once.
	clock.Advance(MediaLifetime - DefaultRefreshAhead)
	up.setFail(errors.New("45009 quota"))
	get("media-2", 4)
	get("media-2", 4)
	clock.Advance(uploadRetryGap)
	up.setFail(nil)
	get("media-5", 5)

	// Past expiry with no upload working: an error, never an expired id.
	clock.Advance(MediaLifetime)
	up.setFail(errors.New("down"))
	if id, err := c.MediaID(ctx, "shop", "/m/a.png"); id != "" || !errors.Is(err, ErrUpload) || !strings.Contains(err.Error(), "/m/a.png: down") {
		t.Errorf("expired: id %q, err %v", id, err)
	}
}

// TestMediaRefresh checks that Refresh renews the media_ids that are due.
func TestMediaRefresh(t *testing.T) {
	clock := &fakeClock{now: noon}
	up := &fakeUploader{clock: clock}
	c := NewMediaCache(up, WithClock(clock.Now), WithRefreshAhead(time.Hour))
	ctx := context.Background()
	c.MediaID(ctx, "shop", "a.png")
	clock.Advance(time.Hour)
	c.MediaID(ctx, "shop", "b.png")
	clock.Advance(MediaLifetime - 90*time.Minute) // a is due, b is not
	if err := c.Refresh(ctx); err != nil || up.count() != 3 || up.calls[2] != "shop:a.png" {
		t.Fatalf("Refresh: %v, uploads %v", err, up.calls)
	}
	if id, _ := c.MediaID(ctx, "shop", "a.png"); id != "media-3" || up.count() != 3 {
		t.Errorf("after Refresh: %s, %d uploads", id, up.count())
	}
}

// TestMediaOneUploadAtATime checks that concurrent callers share one
// upload.
func TestMediaOneUploadAtATime(t *testing.T) {
	clock := &fakeClock{now: noon}
	up := &fakeUploader{clock: clock, gate: make(chan struct{})}
	c := NewMediaCache(up, WithClock(clock.Now))
	var wg sync.WaitGroup
	ids := make([]string, 20)
	for i := range ids {
		wg.Go(func() {
			id, err := c.MediaID(context.Background(), "shop", "a.png")
			if err != nil {
				t.Error(err)
			}
			ids[i] = id
		})
	}
	close(up.gate)
	wg.Wait()
	for _, id := range ids {
		if id != "media-1" {
			t.Fatalf("ids %v", ids)
		}
	}
	if up.count() != 1 {
		t.Errorf("%d uploads", up.count())
	}

	// A caller whose context ends gets its error, which does not count as
	// the upload failing.
	up2 := &fakeUploader{clock: clock, gate: make(chan struct{})}
	c2 := NewMediaCache(up2, WithClock(clock.Now))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c2.MediaID(ctx, "shop", "a.png"); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	close(up2.gate)
	if id, err := c2.MediaID(context.Background(), "shop", "a.png"); err != nil || id == "" {
		t.Errorf("after a cancelled upload: %q, %v (a cancellation must not count as a failure)", id, err)
	}
}

// panicUploader panics.
type panicUploader struct{}

func (panicUploader) Upload(context.Context, string, string) (string, time.Time, error) {
	panic("boom")
}

// TestMediaUploaderPanics checks that a panicking uploader gives an error.
func TestMediaUploaderPanics(t *testing.T) {
	c := NewMediaCache(panicUploader{})
	if _, err := c.MediaID(context.Background(), "shop", "a.png"); !errors.Is(err, ErrUpload) || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("err %v", err)
	}
}

// TestRender checks each message's customer-service JSON.
func TestRender(t *testing.T) {
	clock := &fakeClock{now: noon}
	up := &fakeUploader{clock: clock}
	files := map[string][]byte{"media/hello.png": pngBytes, "cover.png": pngBytes}
	cfg, dir := loadRules(t, `
rules:
  - name: all
    match: {keyword: all}
    reply:
      - text: 'see <a href="https://x.example/?a=1&b=2">here</a>'
      - image: media/hello.png
      - link: {title: Orders, description: Yours, url: "https://x.example/o", thumb_url: "https://x.example/t.png"}
      - miniprogrampage: {title: Shop, pagepath: "pages/index?x=1", thumb_media: cover.png}
      - miniprogrampage: {title: Shop, pagepath: pages/index, thumb_media_id: PERMANENT}
`, files)
	e, err := Compile("shop", cfg, WithMediaCache(NewMediaCache(up, WithClock(clock.Now))))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := e.Files(), []string{filepath.Join(dir, "media/hello.png"), filepath.Join(dir, "cover.png")}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Files = %v, want %v", got, want)
	}
	d := e.Evaluate(textMsg("oUser", "all"), noon)
	want := []string{
		`{"touser":"oUser","msgtype":"text","text":{"content":"see <a href=\"https://x.example/?a=1&b=2\">here</a>"}}`,
		`{"touser":"oUser","msgtype":"image","image":{"media_id":"media-1"}}`,
		`{"touser":"oUser","msgtype":"link","link":{"title":"Orders","description":"Yours","url":"https://x.example/o","thumb_url":"https://x.example/t.png"}}`,
		`{"touser":"oUser","msgtype":"miniprogrampage","miniprogrampage":{"title":"Shop","pagepath":"pages/index?x=1","thumb_media_id":"media-2"}}`,
		`{"touser":"oUser","msgtype":"miniprogrampage","miniprogrampage":{"title":"Shop","pagepath":"pages/index","thumb_media_id":"PERMANENT"}}`,
	}
	if len(d.Send) != len(want) {
		t.Fatalf("send %+v", d.Send)
	}
	for i, m := range d.Send {
		b, err := e.Render(context.Background(), d.OpenID, m)
		if err != nil || string(b) != want[i] {
			t.Errorf("message %d:\n got %s (%v)\nwant %s", i, b, err, want[i])
		}
		if !json.Valid(b) {
			t.Errorf("message %d: invalid JSON", i)
		}
	}
	if up.calls[0] != "shop:"+filepath.Join(dir, "media/hello.png") {
		t.Errorf("uploaded %v", up.calls)
	}
	// Without touser: a webhook reply's shape.
	if b, _ := e.Render(context.Background(), "", d.Send[2]); !strings.HasPrefix(string(b), `{"msgtype":"link",`) {
		t.Errorf("no touser: %s", b)
	}

	// Warm uploads what the cache lacks; an engine without a cache cannot
	// render media.
	up2 := &fakeUploader{clock: clock}
	warm, _ := Compile("shop", cfg, WithMediaCache(NewMediaCache(up2, WithClock(clock.Now))))
	if err := warm.Warm(context.Background()); err != nil || up2.count() != 2 {
		t.Errorf("Warm: %v, %d uploads", err, up2.count())
	}
	bare, _ := Compile("shop", cfg)
	if _, err := bare.Render(context.Background(), "u", d.Send[1]); !errors.Is(err, ErrNoMedia) {
		t.Errorf("no cache: %v", err)
	}
	if err := bare.Warm(context.Background()); err != nil {
		t.Errorf("Warm without a cache: %v", err)
	}
	if _, err := e.Render(context.Background(), "u", Outbound{MsgType: "video"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown msgtype: %v", err)
	}
}

// TestOpenAPIUploader uploads a file to the mock Open API.
func TestOpenAPIUploader(t *testing.T) {
	api := wechatsim.NewOpenAPI()
	srv := api.Start()
	defer srv.Close()
	client, err := openapi.New(wechatsim.DefaultAppID, wechatsim.DefaultSecret, openapi.WithBaseURL(srv.URL), openapi.WithClock(api.Clock().Now))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "hello.png")
	if err := os.WriteFile(path, pngBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	up := OpenAPIUploader{
		Client: func(app string) (*openapi.Client, error) {
			if app != "shop" {
				return nil, errors.New("no such app")
			}
			return client, nil
		},
		Now: api.Clock().Now,
	}
	id, exp, err := up.Upload(context.Background(), "shop", path)
	if err != nil || id == "" {
		t.Fatalf("Upload: %q, %v", id, err)
	}
	if got := exp.Sub(api.Clock().Now()); got < MediaLifetime-time.Minute || got > MediaLifetime {
		t.Errorf("expires in %v", got)
	}
	data, ctype, err := client.GetTempMedia(context.Background(), id)
	if err != nil || string(data) != string(pngBytes) || ctype != "image/png" {
		t.Errorf("GetTempMedia: %d bytes %s, %v", len(data), ctype, err)
	}
	if _, _, err := up.Upload(context.Background(), "blog", path); err == nil {
		t.Error("an unknown app uploaded")
	}
	if _, _, err := up.Upload(context.Background(), "shop", filepath.Join(dir, "missing.png")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.png")
	os.WriteFile(big, append(pngBytes, make([]byte, 2<<20)...), 0o644)
	if _, _, err := up.Upload(context.Background(), "shop", big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
}
