package wechatsim

import (
	"bytes"
	"hash/fnv"
	"image"
	"image/color"
	"image/jpeg"
	"sync"
	"time"
)

// Temporary media live in the World, so that the mock Open API serves both
// the images the developer uploads (media/upload) and those users send in
// pushes (the MediaId of an image, the ThumbMediaId of a card), which the
// push client registers with NoteUserImage before delivering the push.

// Media sources used in MediaInfo.Source.
const (
	// MediaSourceUpload marks media uploaded through media/upload.
	MediaSourceUpload = "upload"
	// MediaSourceUser marks an image a user sent (NoteUserImage); the mock
	// serves a generated JPEG for it.
	MediaSourceUser = "user"
)

// maxMediaKept bounds the media a World keeps; the oldest go first. Expired
// media are dropped as new ones arrive.
const maxMediaKept = 100000

type mediaRec struct {
	id          string
	appID       string // "" for user images of an app the World does not know: any app may fetch them
	source      string
	openID      string
	kind        string
	filename    string
	contentType string
	data        []byte // shared and read-only for generated images
	createdAt   time.Time
}

// MediaInfo describes a temporary media.
type MediaInfo struct {
	// MediaID identifies the media in custom/send and media/get.
	MediaID string `json:"media_id"`
	// AppID is the app that uploaded it or whose user sent it; empty when
	// any app may fetch it.
	AppID string `json:"appid"`
	// Source is MediaSourceUpload or MediaSourceUser.
	Source string `json:"source"`
	// OpenID is the user who sent it (MediaSourceUser only).
	OpenID string `json:"openid,omitempty"`
	// Type is the media type ("image").
	Type string `json:"type"`
	// Filename is the file name given in the multipart form.
	Filename string `json:"filename,omitempty"`
	// ContentType is sniffed from the data with http.DetectContentType
	// ("image/jpeg" for user images).
	ContentType string `json:"content_type"`
	// Size is the data length in bytes.
	Size int `json:"size"`
	// CreatedAt is the upload time, or when the user sent it.
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is CreatedAt plus 3 days.
	ExpiresAt time.Time `json:"expires_at"`
}

func (m *mediaRec) info() MediaInfo {
	return MediaInfo{MediaID: m.id, AppID: m.appID, Source: m.source, OpenID: m.openID, Type: m.kind,
		Filename: m.filename, ContentType: m.contentType, Size: len(m.data), CreatedAt: m.createdAt,
		ExpiresAt: m.createdAt.Add(MediaLifetime)}
}

// NoteUserImage tells the World that the user sent an image with the given
// media id at time at (the MediaId of an image push, or the ThumbMediaId of
// a mini-program card), in a push to the app appID. For 3 days the mock's
// media/get serves a generated JPEG for it to appID's tokens, or to any
// app's tokens when appID is empty or not registered. An empty media id, or
// one already known, is ignored.
func (w *World) NoteUserImage(appID, openid, mediaID string, at time.Time) {
	if mediaID == "" {
		return
	}
	if at.IsZero() {
		at = w.clock.Now()
	}
	data := userImage(mediaID)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, dup := w.media[mediaID]; dup {
		return
	}
	if _, known := w.apps[appID]; !known {
		appID = ""
	}
	w.addMediaLocked(&mediaRec{id: mediaID, appID: appID, source: MediaSourceUser, openID: openid, kind: "image",
		contentType: "image/jpeg", data: data, createdAt: at}, at)
}

// addUpload stores an uploaded image under a fresh random media id.
func (w *World) addUpload(appID, filename, contentType string, data []byte, now time.Time) *mediaRec {
	rec := &mediaRec{appID: appID, source: MediaSourceUpload, kind: "image", filename: filename,
		contentType: contentType, data: data, createdAt: now}
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		rec.id = randomString(64)
		if _, dup := w.media[rec.id]; !dup {
			break
		}
	}
	w.addMediaLocked(rec, now)
	return rec
}

// addMediaLocked stores rec after dropping the expired media at the head of
// the queue and, beyond maxMediaKept, the oldest; w.mu is held.
func (w *World) addMediaLocked(rec *mediaRec, now time.Time) {
	for len(w.mediaQueue) > 0 {
		head := w.media[w.mediaQueue[0]]
		if head != nil && now.Before(head.createdAt.Add(MediaLifetime)) && len(w.media) < maxMediaKept {
			break
		}
		delete(w.media, w.mediaQueue[0])
		w.mediaQueue = w.mediaQueue[1:]
	}
	w.media[rec.id] = rec
	w.mediaQueue = append(w.mediaQueue, rec.id)
}

// lookupMedia returns the unexpired media id that appID may fetch.
func (w *World) lookupMedia(appID, id string, now time.Time) (*mediaRec, bool) {
	if id == "" {
		return nil, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.media[id]
	if !ok || (m.appID != "" && m.appID != appID) || !now.Before(m.createdAt.Add(MediaLifetime)) {
		return nil, false
	}
	return m, true
}

// mediaInfos lists the media kept (expired ones included until dropped),
// in the order they arrived.
func (w *World) mediaInfos() []MediaInfo {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]MediaInfo, 0, len(w.mediaQueue))
	for _, id := range w.mediaQueue {
		out = append(out, w.media[id].info())
	}
	return out
}

// mediaData returns a copy of the bytes of a media kept, expired or not.
func (w *World) mediaData(id string) ([]byte, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, ok := w.media[id]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), m.data...), true
}

// userImageVariants are the JPEGs served for user images: a few gradients,
// made once, picked by a hash of the media id, so registering an image costs
// no encoding and no memory beyond its record.
var userImageVariants = sync.OnceValue(func() [][]byte {
	hues := []color.RGBA{{220, 80, 60, 255}, {60, 150, 220, 255}, {70, 180, 90, 255}, {230, 170, 40, 255},
		{150, 90, 200, 255}, {40, 180, 180, 255}, {200, 90, 150, 255}, {120, 120, 120, 255}}
	out := make([][]byte, len(hues))
	for i, c := range hues {
		img := image.NewRGBA(image.Rect(0, 0, 120, 90))
		for y := range 90 {
			for x := range 120 {
				f := float64(x+y) / 210
				img.SetRGBA(x, y, color.RGBA{uint8(float64(c.R) * (0.4 + 0.6*f)), uint8(float64(c.G) * (0.4 + 0.6*f)),
					uint8(float64(c.B) * (0.4 + 0.6*f)), 255})
			}
		}
		var b bytes.Buffer
		_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}) // cannot fail on a bytes.Buffer
		out[i] = b.Bytes()
	}
	return out
})

// userImage returns the JPEG served for a user's media id.
func userImage(mediaID string) []byte {
	h := fnv.New32a()
	h.Write([]byte(mediaID))
	v := userImageVariants()
	return v[h.Sum32()%uint32(len(v))]
}
