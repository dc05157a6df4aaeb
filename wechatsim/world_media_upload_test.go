package wechatsim

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"testing"
	"time"
)

func tinyPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 2, 2))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestAddUserImageServedAsIs: media/get serves the bytes registered, and
// the push client's NoteUserImage for the same id keeps them.
func TestAddUserImageServedAsIs(t *testing.T) {
	api := NewOpenAPI()
	srv := api.Start()
	defer srv.Close()
	w := api.World()
	u := w.NewUser()
	pic := tinyPNG(t)
	if err := w.AddUserImage(DefaultAppID, u.OpenID, "media-1", pic, time.Time{}); err != nil {
		t.Fatal(err)
	}
	w.NoteUserImage(DefaultAppID, u.OpenID, "media-1", time.Time{})
	data, ctype, ok := w.MediaData("media-1")
	if !ok || ctype != "image/png" || !bytes.Equal(data, pic) {
		t.Fatalf("MediaData = %d bytes, %q, %v; want the PNG", len(data), ctype, ok)
	}
	status, ctype, got, err := fetchMedia(srv, DefaultApp(), "media-1")
	if err != nil || status != 200 || !bytes.Equal(got, pic) {
		t.Fatalf("media/get served %d: %d bytes (%s), err %v; want the registered PNG", status, len(got), ctype, err)
	}
}

func TestAddUserImageRefuses(t *testing.T) {
	w := NewWorld(nil)
	if err := w.AddUserImage("", "o1", "m", []byte("not an image"), time.Time{}); !errors.Is(err, ErrNotImage) {
		t.Errorf("text: err = %v, want ErrNotImage", err)
	}
	pic := tinyPNG(t)
	if err := w.AddUserImage("", "o1", "", pic, time.Time{}); err == nil {
		t.Error("empty media id accepted")
	}
	if err := w.AddUserImage("", "o1", "m", pic, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := w.AddUserImage("", "o1", "m", pic, time.Time{}); !errors.Is(err, ErrMediaExists) {
		t.Errorf("same id again: err = %v, want ErrMediaExists", err)
	}
	if _, _, ok := w.MediaData("unknown"); ok {
		t.Error("MediaData found an unknown id")
	}
}
