package wechatsim

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
)

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
		rec := o.world.addUpload(appID, part.FileName(), http.DetectContentType(data), data, now)
		return okResp(uploadResponse{Type: rec.kind, MediaID: rec.id, CreatedAt: now.Unix()})
	}
}

func imageTooLarge() response {
	resp := errResp(ErrCodeInvalidImageSize, "media larger than "+strconv.Itoa(MaxMediaBody)+" bytes")
	resp.status = http.StatusRequestEntityTooLarge
	return resp
}

// mediaValid reports whether id is an unexpired media appID may use.
func (o *OpenAPI) mediaValid(appID, id string, now time.Time) bool {
	_, ok := o.world.lookupMedia(appID, id, now)
	return ok
}

func (o *OpenAPI) handleMediaGet(r *http.Request) response {
	appID, code := o.authorize(r)
	if code != 0 {
		return errResp(code)
	}
	m, ok := o.world.lookupMedia(appID, r.URL.Query().Get("media_id"), o.clock.Now())
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

// Media returns the temporary media of the World: uploads and the images
// users sent (including expired ones not yet dropped), without their data,
// in the order they arrived.
func (o *OpenAPI) Media() []MediaInfo { return o.world.mediaInfos() }

// MediaData returns the bytes of a media, expired or not.
func (o *OpenAPI) MediaData(mediaID string) ([]byte, bool) { return o.world.mediaData(mediaID) }
