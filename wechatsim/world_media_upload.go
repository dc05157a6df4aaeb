package wechatsim

import (
	"errors"
	"net/http"
	"time"
)

// Errors of AddUserImage, matched with errors.Is.
var (
	// ErrNotImage means the data is not a PNG, JPEG or GIF image.
	ErrNotImage = errors.New("wechatsim: not a PNG, JPEG or GIF image")
	// ErrMediaExists means the media id is already taken.
	ErrMediaExists = errors.New("wechatsim: media id already used")
)

// AddUserImage registers data, a picture a user chose (an upload in a
// console, say), as the image with mediaID that the user sent to appID at
// time at: for 3 days media/get serves these bytes, not a generated JPEG.
// Register it before pushing the image message: the push client's own
// NoteUserImage then leaves it alone. data must be a PNG, JPEG or GIF of at
// most MaxMediaBody bytes; it is copied.
func (w *World) AddUserImage(appID, openid, mediaID string, data []byte, at time.Time) error {
	if mediaID == "" {
		return errors.New("wechatsim: an image needs a media id")
	}
	if len(data) > MaxMediaBody {
		return ErrNotImage
	}
	ctype := http.DetectContentType(data)
	switch ctype {
	case "image/png", "image/jpeg", "image/gif":
	default:
		return ErrNotImage
	}
	if at.IsZero() {
		at = w.clock.Now()
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.media[mediaID]; dup {
		return ErrMediaExists
	}
	if _, known := w.apps[appID]; !known {
		appID = ""
	}
	w.addMediaLocked(&mediaRec{id: mediaID, appID: appID, source: MediaSourceUser, openID: openid, kind: "image",
		contentType: ctype, data: append([]byte(nil), data...), createdAt: at}, at)
	return nil
}

// MediaData returns a copy of the bytes of a media the World keeps (an
// upload, or a user's image, expired or not) and their content type, for a
// console that shows the pictures of a conversation.
func (w *World) MediaData(mediaID string) (data []byte, contentType string, ok bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.media[mediaID]
	if !ok {
		return nil, "", false
	}
	return append([]byte(nil), m.data...), m.contentType, true
}
