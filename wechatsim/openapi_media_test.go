package wechatsim

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// pngBytes starts with the PNG signature, so it sniffs as image/png.
var pngBytes = append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0}, 64)...)

// multipartBody builds a multipart form with one file field.
func multipartBody(t *testing.T, field, filename string, data []byte) (*bytes.Buffer, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if field != "" {
		fw, err := mw.CreateFormFile(field, filename)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	mw.WriteField("description", "ignored")
	mw.Close()
	return &buf, mw.FormDataContentType()
}

func (h *harness) uploadRaw(target string, body *bytes.Buffer, contentType string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, target, body)
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.api.ServeHTTP(rec, req)
	return rec
}

// upload uploads data as an image and returns the media_id.
func (h *harness) upload(tok string, data []byte, filename string) string {
	h.t.Helper()
	body, ct := multipartBody(h.t, "media", filename, data)
	rec := h.uploadRaw(withToken(PathMediaUpload+"?type=image", tok), body, ct)
	m := decode(h.t, rec)
	id, _ := m["media_id"].(string)
	if id == "" {
		h.t.Fatalf("upload failed: %s", rec.Body.String())
	}
	return id
}

func TestMediaUploadAndGet(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	body, ct := multipartBody(t, "media", "photo.png", pngBytes)
	rec := h.uploadRaw(withToken(PathMediaUpload+"?type=image", tok), body, ct)
	m := decode(t, rec)
	id, _ := m["media_id"].(string)
	if m["type"] != "image" || len(id) != 64 || int64(m["created_at"].(float64)) != h.clk.Now().Unix() {
		t.Fatalf("upload response %s", rec.Body.String())
	}
	get := h.do(http.MethodGet, withToken(PathMediaGet+"?media_id="+id, tok), nil)
	if get.Code != http.StatusOK || get.Header().Get("Content-Type") != "image/png" || !bytes.Equal(get.Body.Bytes(), pngBytes) {
		t.Fatalf("get: %d %q %q", get.Code, get.Header().Get("Content-Type"), get.Body.Bytes())
	}
	if cd := get.Header().Get("Content-Disposition"); !strings.Contains(cd, "photo.png") {
		t.Fatalf("Content-Disposition %q", cd)
	}
	infos := h.api.Media()
	if len(infos) != 1 || infos[0].MediaID != id || infos[0].Size != len(pngBytes) || infos[0].ContentType != "image/png" ||
		!infos[0].ExpiresAt.Equal(h.clk.Now().Add(72*time.Hour)) {
		t.Fatalf("Media() %+v", infos)
	}
	if data, ok := h.api.MediaData(id); !ok || !bytes.Equal(data, pngBytes) {
		t.Fatal("MediaData")
	}
	if _, ok := h.api.MediaData("nope"); ok {
		t.Fatal("MediaData(nope)")
	}
}

func TestMediaGetSniffsOtherContent(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	jpeg := append([]byte{0xFF, 0xD8, 0xFF, 0xE0}, bytes.Repeat([]byte{1}, 32)...)
	id := h.upload(tok, jpeg, "")
	get := h.do(http.MethodGet, withToken(PathMediaGet+"?media_id="+id, tok), nil)
	if get.Header().Get("Content-Type") != "image/jpeg" || !strings.Contains(get.Header().Get("Content-Disposition"), id) {
		t.Fatalf("headers %v", get.Header())
	}
}

func TestMediaUploadErrors(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	good := func() (*bytes.Buffer, string) { return multipartBody(t, "media", "a.png", pngBytes) }
	t.Run("missing type", func(t *testing.T) {
		b, ct := good()
		wantCode(t, h.uploadRaw(withToken(PathMediaUpload, tok), b, ct), ErrCodeInvalidMediaType)
	})
	t.Run("voice type", func(t *testing.T) {
		b, ct := good()
		wantCode(t, h.uploadRaw(withToken(PathMediaUpload+"?type=voice", tok), b, ct), ErrCodeInvalidMediaType)
	})
	t.Run("no media field", func(t *testing.T) {
		b, ct := multipartBody(t, "", "", nil)
		wantCode(t, h.uploadRaw(withToken(PathMediaUpload+"?type=image", tok), b, ct), ErrCodeMediaMissing)
	})
	t.Run("other field name", func(t *testing.T) {
		b, ct := multipartBody(t, "file", "a.png", pngBytes)
		wantCode(t, h.uploadRaw(withToken(PathMediaUpload+"?type=image", tok), b, ct), ErrCodeMediaMissing)
	})
	t.Run("empty media", func(t *testing.T) {
		b, ct := multipartBody(t, "media", "a.png", nil)
		wantCode(t, h.uploadRaw(withToken(PathMediaUpload+"?type=image", tok), b, ct), ErrCodeMediaMissing)
	})
	t.Run("not multipart", func(t *testing.T) {
		wantCode(t, h.uploadRaw(withToken(PathMediaUpload+"?type=image", tok), bytes.NewBuffer(pngBytes), "image/png"), ErrCodeMediaMissing)
	})
	t.Run("broken multipart", func(t *testing.T) {
		wantCode(t, h.uploadRaw(withToken(PathMediaUpload+"?type=image", tok), bytes.NewBufferString("--x\r\ngarbage"), "multipart/form-data; boundary=x"), ErrCodeMediaMissing)
	})
	t.Run("too large", func(t *testing.T) {
		b, ct := multipartBody(t, "media", "big.png", bytes.Repeat([]byte{7}, MaxMediaBody+1))
		rec := h.uploadRaw(withToken(PathMediaUpload+"?type=image", tok), b, ct)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", rec.Code)
		}
		wantCode(t, rec, ErrCodeInvalidImageSize)
	})
	t.Run("missing token", func(t *testing.T) {
		b, ct := good()
		wantCode(t, h.uploadRaw(PathMediaUpload+"?type=image", b, ct), ErrCodeAccessTokenMissing)
	})
	if len(h.api.Media()) != 0 {
		t.Fatal("nothing should be stored")
	}
}

func TestMediaGetErrors(t *testing.T) {
	h := newHarness(t)
	tok := h.token()
	id := h.upload(tok, pngBytes, "a.png")
	for _, target := range []string{
		withToken(PathMediaGet, tok),
		withToken(PathMediaGet+"?media_id=unknown", tok),
	} {
		rec := h.do(http.MethodGet, target, nil)
		wantCode(t, rec, ErrCodeInvalidMediaID)
		var m map[string]any
		json.Unmarshal(rec.Body.Bytes(), &m)
		if !strings.HasPrefix(m["errmsg"].(string), "invalid media_id") {
			t.Fatalf("errmsg %v", m["errmsg"])
		}
	}
	wantCode(t, h.do(http.MethodGet, PathMediaGet+"?media_id="+id, nil), ErrCodeAccessTokenMissing)
}

func TestMediaExpiresAfter3Days(t *testing.T) {
	h := newHarness(t)
	tok, _, _ := h.stable(false)
	id := h.upload(tok, pngBytes, "a.png")
	h.clk.Advance(72*time.Hour - time.Second)
	tok, _, _ = h.stable(false)
	if rec := h.do(http.MethodGet, withToken(PathMediaGet+"?media_id="+id, tok), nil); rec.Code != 200 || rec.Header().Get("Content-Type") != "image/png" {
		t.Fatalf("before expiry: %d %s", rec.Code, rec.Body.String())
	}
	h.clk.Advance(time.Second)
	wantCode(t, h.do(http.MethodGet, withToken(PathMediaGet+"?media_id="+id, tok), nil), ErrCodeInvalidMediaID)
}

func TestMediaPurgesExpired(t *testing.T) {
	h := newHarness(t)
	w := h.api.World()
	for range 1000 {
		w.NoteUserImage(DefaultAppID, "oUser", randomString(64), h.clk.Now())
	}
	h.clk.Advance(MediaLifetime)
	tok, _, _ := h.stable(false)
	h.upload(tok, pngBytes, "new.png")
	if n := len(h.api.Media()); n != 1 {
		t.Fatalf("%d media kept, want 1", n)
	}
}

func TestMediaKeepsAtMostMaxMediaKept(t *testing.T) {
	w, clk := newTestWorld()
	first := "first-" + randomString(20)
	w.NoteUserImage("", "oUser", first, clk.Now())
	for range maxMediaKept {
		w.NoteUserImage("", "oUser", randomString(64), clk.Now())
	}
	if n := len(w.mediaInfos()); n != maxMediaKept {
		t.Fatalf("%d media kept, want %d", n, maxMediaKept)
	}
	if _, ok := w.lookupMedia(DefaultAppID, first, clk.Now()); ok {
		t.Fatal("the oldest media was not dropped")
	}
}
