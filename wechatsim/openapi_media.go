package wechatsim

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"time"
)

// maxMediaKept is the number of media above which expired media are purged.
const maxMediaKept = 1000

type mediaRec struct {
	id          string
	appID       string
	kind        string
	filename    string
	contentType string
	data        []byte
	createdAt   time.Time
}

// MediaInfo describes an uploaded temporary media.
type MediaInfo struct {
	// MediaID identifies the media in custom/send and media/get.
	MediaID string `json:"media_id"`
	// AppID is the app that uploaded it.
	AppID string `json:"appid"`
	// Type is the media type ("image").
	Type string `json:"type"`
	// Filename is the file name given in the multipart form.
	Filename string `json:"filename,omitempty"`
	// ContentType is sniffed from the data with http.DetectContentType.
	ContentType string `json:"content_type"`
	// Size is the data length in bytes.
	Size int `json:"size"`
	// CreatedAt is the upload time.
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is CreatedAt plus 3 days.
	ExpiresAt time.Time `json:"expires_at"`
}

type uploadResponse struct {
	Type      string `json:"type"`
	MediaID   string `json:"media_id"`
	CreatedAt int64  `json:"created_at"`
}

func (o *OpenAPI) handleMediaUpload(r *http.Request) response {
	appID, code := o.authorize(r)
	if code != 0 {
		return errResp(code)
	}
	if r.URL.Query().Get("type") != "image" {
		return errResp(ErrCodeInvalidMediaType)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return errResp(ErrCodeMediaMissing, "multipart/form-data with a media field expected")
	}
	body := http.MaxBytesReader(nil, r.Body, MaxMediaBody)
	defer body.Close()
	r.Body = body
	mr, err := r.MultipartReader()
	if err != nil {
		return errResp(ErrCodeMediaMissing)
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return imageTooLarge()
			}
			return errResp(ErrCodeMediaMissing)
		}
		if part.FormName() != "media" {
			_, _ = io.Copy(io.Discard, part)
			continue
		}
		data, err := io.ReadAll(part)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return imageTooLarge()
			}
			return errResp(ErrCodeMediaMissing)
		}
		if len(data) == 0 {
			return errResp(ErrCodeMediaMissing, "empty media")
		}
		now := o.clock.Now()
		rec := &mediaRec{appID: appID, kind: "image", filename: part.FileName(),
			contentType: http.DetectContentType(data), data: data, createdAt: now}
		o.mu.Lock()
		if len(o.media) >= maxMediaKept {
			for id, m := range o.media {
				if !now.Before(m.createdAt.Add(MediaLifetime)) {
					delete(o.media, id)
				}
			}
		}
		for {
			rec.id = randomString(64)
			if _, dup := o.media[rec.id]; !dup {
				break
			}
		}
		o.media[rec.id] = rec
		o.mu.Unlock()
		return okResp(uploadResponse{Type: rec.kind, MediaID: rec.id, CreatedAt: now.Unix()})
	}
}

func imageTooLarge() response {
	resp := errResp(ErrCodeInvalidImageSize, "media larger than "+strconv.Itoa(MaxMediaBody)+" bytes")
	resp.status = http.StatusRequestEntityTooLarge
	return resp
}

// mediaValid reports whether id is an unexpired media uploaded by appID.
func (o *OpenAPI) mediaValid(appID, id string, now time.Time) bool {
	_, ok := o.lookupMedia(appID, id, now)
	return ok
}

func (o *OpenAPI) lookupMedia(appID, id string, now time.Time) (*mediaRec, bool) {
	if id == "" {
		return nil, false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.media[id]
	if !ok || m.appID != appID || !now.Before(m.createdAt.Add(MediaLifetime)) {
		return nil, false
	}
	return m, true
}

func (o *OpenAPI) handleMediaGet(r *http.Request) response {
	appID, code := o.authorize(r)
	if code != 0 {
		return errResp(code)
	}
	m, ok := o.lookupMedia(appID, r.URL.Query().Get("media_id"), o.clock.Now())
	if !ok {
		return errResp(ErrCodeInvalidMediaID)
	}
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": m.filename})
	if m.filename == "" || disp == "" {
		disp = mime.FormatMediaType("attachment", map[string]string{"filename": m.id})
	}
	return response{raw: m.data, contentType: m.contentType, header: map[string]string{
		"Content-Disposition": disp,
		"Content-Length":      strconv.Itoa(len(m.data)),
	}}
}

// Media returns the uploaded media (including expired ones not yet purged),
// without their data.
func (o *OpenAPI) Media() []MediaInfo {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]MediaInfo, 0, len(o.media))
	for _, m := range o.media {
		out = append(out, m.info())
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].MediaID < out[j].MediaID
	})
	return out
}

// MediaData returns the bytes of an uploaded media, expired or not.
func (o *OpenAPI) MediaData(mediaID string) ([]byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m, ok := o.media[mediaID]
	if !ok {
		return nil, false
	}
	return append([]byte(nil), m.data...), true
}

func (m *mediaRec) info() MediaInfo {
	return MediaInfo{MediaID: m.id, AppID: m.appID, Type: m.kind, Filename: m.filename,
		ContentType: m.contentType, Size: len(m.data), CreatedAt: m.createdAt,
		ExpiresAt: m.createdAt.Add(MediaLifetime)}
}
