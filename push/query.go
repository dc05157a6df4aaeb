package push

import (
	"net/url"
	"strings"
)

// query holds the parameters WeChat puts on a push URL. Values are
// substrings of the raw query unless they had to be unescaped.
type query struct {
	signature, timestamp, nonce, echostr string
	encryptType, msgSignature, openid    string
}

// parseQuery reads the parameters wxgate uses from a raw query string
// without building a url.Values map. Unknown parameters are ignored; a
// repeated parameter keeps its first value, as url.Values.Get does.
func parseQuery(raw string) (query, bool) {
	var q query
	ok := true
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		name, value, _ := strings.Cut(pair, "=")
		var dst *string
		switch name {
		case "signature":
			dst = &q.signature
		case "timestamp":
			dst = &q.timestamp
		case "nonce":
			dst = &q.nonce
		case "echostr":
			dst = &q.echostr
		case "encrypt_type":
			dst = &q.encryptType
		case "msg_signature":
			dst = &q.msgSignature
		case "openid":
			dst = &q.openid
		default:
			continue
		}
		if *dst != "" {
			continue
		}
		if strings.ContainsAny(value, "%+") {
			v, err := url.QueryUnescape(value)
			if err != nil {
				ok = false
				continue
			}
			value = v
		}
		*dst = value
	}
	return q, ok
}
