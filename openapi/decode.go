package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"
)

// DefaultMaxResponseSize bounds JSON answers read from the Open API.
const DefaultMaxResponseSize = 1 << 20

// DefaultMaxMediaSize bounds media bytes read by GetTempMedia and sent by
// UploadTempMedia.
const DefaultMaxMediaSize = 10 << 20

// readLimited reads at most limit bytes of r. A longer body is an error.
func readLimited(op string, r io.Reader, limit int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("openapi: %s: reading answer: %w", op, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("openapi: %s: %w: body larger than %d bytes", op, ErrBadResponse, limit)
	}
	return body, nil
}

// badResponse builds an ErrBadResponse error.
func badResponse(op, format string, args ...any) error {
	return fmt.Errorf("openapi: %s: %w: %s", op, ErrBadResponse, fmt.Sprintf(format, args...))
}

// answerHead is the part of every Open API answer this package checks first.
type answerHead struct {
	ErrCode json.RawMessage `json:"errcode"`
	ErrMsg  json.RawMessage `json:"errmsg"`
}

// decodeAnswer checks one Open API answer and, when it is a success,
// unmarshals it into out (which may be nil). It never panics, whatever the
// input:
//
//   - a JSON object with a non-zero errcode gives an *Error, whatever the
//     HTTP status;
//   - a non-2xx status without such an object, a body that is not a JSON
//     object (HTML error pages, empty bodies), invalid JSON, or an errcode
//     that is not an integer give an error wrapping ErrBadResponse.
//
// Secrets are removed from errmsg. Missing fields in out are the caller's
// business.
func decodeAnswer(op string, tokenEndpoint bool, status int, contentType string, body []byte, out any, secrets ...string) error {
	trimmed := bytes.TrimSpace(bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")))
	ok := status >= 200 && status < 300
	if len(trimmed) == 0 || trimmed[0] != '{' {
		if !ok {
			return badResponse(op, "HTTP %d (%s)", status, describeType(contentType))
		}
		if len(trimmed) == 0 {
			return badResponse(op, "empty body (%s)", describeType(contentType))
		}
		return badResponse(op, "not a JSON object (%s)", describeType(contentType))
	}
	var head answerHead
	if err := json.Unmarshal(trimmed, &head); err != nil {
		if !ok {
			return badResponse(op, "HTTP %d (%s)", status, describeType(contentType))
		}
		return badResponse(op, "invalid JSON (%s)", jsonReason(err))
	}
	code, present, valid := parseInt(head.ErrCode)
	if !valid {
		return badResponse(op, "errcode is not an integer")
	}
	if present && code != 0 {
		var msg string
		if len(head.ErrMsg) > 0 && head.ErrMsg[0] == '"' {
			_ = json.Unmarshal(head.ErrMsg, &msg)
		}
		if code < -1<<31 || code > 1<<31-1 {
			return badResponse(op, "errcode out of range")
		}
		msg, rid := splitRID(cleanMsg(msg, secrets...))
		return &Error{Code: int(code), Msg: msg, RID: rid, Op: op, TokenEndpoint: tokenEndpoint}
	}
	if !ok {
		return badResponse(op, "HTTP %d (%s)", status, describeType(contentType))
	}
	if out != nil {
		if err := json.Unmarshal(trimmed, out); err != nil {
			return badResponse(op, "invalid JSON (%s)", jsonReason(err))
		}
	}
	return nil
}

// jsonReason describes a JSON error without echoing input values.
func jsonReason(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return "syntax error at offset " + strconv.FormatInt(e.Offset, 10)
	case *json.UnmarshalTypeError:
		return "field " + strconv.Quote(e.Field) + " has JSON type " + e.Value
	}
	return "cannot decode"
}

// describeType returns a short, printable media type for error messages.
func describeType(contentType string) string {
	if contentType == "" {
		return "no Content-Type"
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil || len(mt) > 64 {
		return "unparsable Content-Type"
	}
	return "Content-Type " + mt
}

// mediaType returns the lower-case media type of a Content-Type header, or "".
func mediaType(contentType string) string {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		// Some servers send a bare type with junk parameters; keep the type.
		mt, _, _ = strings.Cut(contentType, ";")
		mt = strings.ToLower(strings.TrimSpace(mt))
	}
	return mt
}

// parseInt reads a JSON integer, or a JSON string holding one, from raw.
// present is false for a missing field or null; valid is false when the field
// is present but not an integer.
func parseInt(raw json.RawMessage) (n int64, present, valid bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, true
	}
	s := string(raw)
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, true, false
		}
		s = strings.TrimSpace(s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// Accept integral floats such as 7200.0.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || !(f <= 1<<62 && f >= -(1<<62)) || f != float64(int64(f)) {
			return 0, true, false
		}
		n = int64(f)
	}
	return n, true, true
}
