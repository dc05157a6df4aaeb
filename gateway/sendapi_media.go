package gateway

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/wxgate/wxgate/openapi"
)

// uploadMedia is POST /v1/apps/{app}/media: a multipart form whose
// "media" field is a PNG, JPEG or GIF image of at most MaxMediaUpload
// bytes, uploaded as WeChat temporary media.
func (g *Gateway) uploadMedia(w http.ResponseWriter, r *http.Request, _ *principal) {
	app := r.PathValue("app")
	filename, data, err := readMediaPart(w, r)
	if err != nil {
		status := http.StatusBadRequest
		code := "invalid_request"
		if errors.Is(err, errTooLarge) {
			status, code = http.StatusRequestEntityTooLarge, "too_large"
		}
		writeAnswer(w, errAnswer(status, code, err.Error()))
		return
	}
	ctx, cancel := sendContext(r)
	defer cancel()
	c, err := g.client(app)
	var m openapi.Media
	if err == nil {
		m, err = c.UploadTempMedia(ctx, filename, bytes.NewReader(data))
	}
	if err != nil {
		writeAnswer(w, wechatAnswer(err))
		return
	}
	created := m.CreatedAt
	if created.IsZero() {
		created = g.now()
	}
	writeAnswer(w, jsonAnswer(http.StatusOK, map[string]string{
		"media_id":   m.MediaID,
		"created_at": apiTime(created),
		"expires_at": apiTime(created.Add(MediaLifetime)),
	}))
}

// errTooLarge: the upload is larger than MaxMediaUpload.
var errTooLarge = errors.New("media: larger than " + strconv.Itoa(MaxMediaUpload) + " bytes")

// readMediaPart reads the "media" part of a multipart upload.
func readMediaPart(w http.ResponseWriter, r *http.Request) (string, []byte, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return "", nil, invalidf("send multipart/form-data with the image in a field named media")
	}
	// The form's overhead on top of the image is small.
	r.Body = http.MaxBytesReader(w, r.Body, MaxMediaUpload+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return "", nil, invalidf("send multipart/form-data with the image in a field named media")
	}
	for {
		part, err := mr.NextPart()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return "", nil, errTooLarge
			}
			return "", nil, invalidf("media: required: the form has no field named media")
		}
		if part.FormName() != "media" {
			io.Copy(io.Discard, part)
			continue
		}
		data, err := io.ReadAll(io.LimitReader(part, MaxMediaUpload+1))
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe) || len(data) > MaxMediaUpload:
			return "", nil, errTooLarge
		case err != nil:
			return "", nil, invalidf("media: the upload could not be read")
		case len(data) == 0:
			return "", nil, invalidf("media: empty")
		}
		switch http.DetectContentType(data) {
		case "image/png", "image/jpeg", "image/gif":
		default:
			return "", nil, invalidf("media: not a PNG, JPEG or GIF image")
		}
		return part.FileName(), data, nil
	}
}

// downloadMedia is GET /v1/apps/{app}/media/{media_id}: the bytes of a
// temporary media (an image a user sent, or one uploaded), with WeChat's
// Content-Type.
func (g *Gateway) downloadMedia(w http.ResponseWriter, r *http.Request, _ *principal) {
	id := r.PathValue("media_id")
	if err := checkToken("media_id", id); err != nil {
		writeAnswer(w, wechatAnswer(err))
		return
	}
	c, err := g.client(r.PathValue("app"))
	var data []byte
	var ctype string
	if err == nil {
		data, ctype, err = c.GetTempMedia(r.Context(), id)
	}
	var we *openapi.Error
	if errors.As(err, &we) && we.Code == 40007 {
		writeAnswer(w, jsonAnswer(http.StatusNotFound, errBody{Error: errDetail{Code: "not_found", Message: explainSend(err), ErrCode: &we.Code}}))
		return
	}
	if err != nil {
		writeAnswer(w, wechatAnswer(err))
		return
	}
	// WeChat's media type, if it is one; the bytes are never sniffed.
	if mt, _, perr := mime.ParseMediaType(ctype); perr != nil || !strings.Contains(mt, "/") {
		ctype = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, max-age=3600")
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}
