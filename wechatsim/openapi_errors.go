package wechatsim

import "strconv"

// Error codes returned by the mock Open API, with the values and messages of
// the real platform (spec §7, §8). The errmsg of every error ends, as on the
// platform, with " rid: " and a request id of three groups of 8 hex digits,
// the first being the clock's Unix time.
const (
	// ErrCodeOK is success.
	ErrCodeOK = 0
	// ErrCodeSystemBusy is "system error": the platform is busy, retry later.
	ErrCodeSystemBusy = -1
	// ErrCodeInvalidCredential: access_token invalid or not latest (unknown,
	// revoked, or superseded beyond the 5-minute overlap).
	ErrCodeInvalidCredential = 40001
	// ErrCodeInvalidGrantType: grant_type is not client_credential.
	ErrCodeInvalidGrantType = 40002
	// ErrCodeInvalidOpenID: touser is empty or not a user of the app.
	ErrCodeInvalidOpenID = 40003
	// ErrCodeInvalidMediaType: media/upload type is not image.
	ErrCodeInvalidMediaType = 40004
	// ErrCodeInvalidMediaID: media_id unknown or expired.
	ErrCodeInvalidMediaID = 40007
	// ErrCodeInvalidMessageType: unsupported msgtype.
	ErrCodeInvalidMessageType = 40008
	// ErrCodeInvalidImageSize: the uploaded image is empty or too large.
	ErrCodeInvalidImageSize = 40009
	// ErrCodeInvalidAppID: unknown appid.
	ErrCodeInvalidAppID = 40013
	// ErrCodeInvalidAccessToken: access_token is not even shaped like one.
	ErrCodeInvalidAccessToken = 40014
	// ErrCodeInvalidAppSecret: wrong secret for the appid.
	ErrCodeInvalidAppSecret = 40125
	// ErrCodeIPNotWhitelisted: the caller's IP is not in the API IP
	// whitelist (SetIPWhitelist, or injected with FailNextOn). The errmsg
	// names the caller: "invalid ip 1.2.3.4 ipv6 ::ffff:1.2.3.4, not in
	// whitelist".
	ErrCodeIPNotWhitelisted = 40164
	// ErrCodeAccessTokenMissing: no access_token query parameter.
	ErrCodeAccessTokenMissing = 41001
	// ErrCodeAppIDMissing: no appid.
	ErrCodeAppIDMissing = 41002
	// ErrCodeAppSecretMissing: no secret.
	ErrCodeAppSecretMissing = 41004
	// ErrCodeMediaMissing: media/upload without a "media" file field.
	ErrCodeMediaMissing = 41005
	// ErrCodeAccessTokenExpired: access_token expired.
	ErrCodeAccessTokenExpired = 42001
	// ErrCodeRequireGET: the endpoint needs GET (sent with HTTP 405).
	ErrCodeRequireGET = 43001
	// ErrCodeRequirePOST: the endpoint needs POST (sent with HTTP 405).
	ErrCodeRequirePOST = 43002
	// ErrCodeEmptyPostData: empty request body.
	ErrCodeEmptyPostData = 44002
	// ErrCodeEmptyContent: text.content is empty.
	ErrCodeEmptyContent = 44004
	// ErrCodeDailyQuota: daily quota reached (token fetches, forced stable
	// refreshes).
	ErrCodeDailyQuota = 45009
	// ErrCodeMinuteQuota: per-minute quota reached (stable_token).
	ErrCodeMinuteQuota = 45011
	// ErrCodeOutOfTime: no open send window (48 h / 1 min) for the user.
	ErrCodeOutOfTime = 45015
	// ErrCodeOutOfCount: the send window's message count is used up.
	ErrCodeOutOfCount = 45047
	// ErrCodeBadTypingCommand: command is not Typing or CancelTyping.
	ErrCodeBadTypingCommand = 45072
	// ErrCodeNoRecentInteraction: typing needs a message exchange within 30 s.
	ErrCodeNoRecentInteraction = 45080
	// ErrCodeAlreadyTyping: the typing state (15 s) is already active.
	ErrCodeAlreadyTyping = 45081
	// ErrCodeDataFormat: malformed JSON or a missing/invalid field.
	ErrCodeDataFormat = 47001
	// ErrCodeArgumentInvalid: subscribe/send data (or miniprogram_state,
	// lang) breaks the rules; the errmsg names the field, as in "argument
	// invalid! data.thing1.value is empty" or "… data.time2.value invalid".
	ErrCodeArgumentInvalid = 47003
	// ErrCodeInvalidTemplateID: subscribe/send template_id empty, unknown,
	// or another app's.
	ErrCodeInvalidTemplateID = 40037
	// ErrCodeInvalidPage: subscribe/send page is not a page of the mini
	// program.
	ErrCodeInvalidPage = 41030
	// ErrCodeNotSubscribed: the user has no acceptance of the template left
	// (never accepted, used up, or turned off).
	ErrCodeNotSubscribed = 43101
	// ErrCodeNotFound is emulator-specific (not a WeChat code): unknown path,
	// sent with HTTP 404.
	ErrCodeNotFound = 404
	// ErrCodeBadRequest is emulator-specific: a /_sim request that cannot be
	// understood, sent with HTTP 400.
	ErrCodeBadRequest = 400
)

var errMessages = map[int]string{
	ErrCodeOK:                  "ok",
	ErrCodeSystemBusy:          "system error",
	ErrCodeInvalidCredential:   "invalid credential, access_token is invalid or not latest, could get access_token by getStableAccessToken, more details at https://mmbizurl.cn/s/JtxxFh33r",
	ErrCodeInvalidGrantType:    "invalid grant_type",
	ErrCodeInvalidOpenID:       "invalid openid",
	ErrCodeInvalidMediaType:    "invalid media type",
	ErrCodeInvalidMediaID:      "invalid media_id",
	ErrCodeInvalidMessageType:  "invalid message type",
	ErrCodeInvalidImageSize:    "invalid image size",
	ErrCodeInvalidAppID:        "invalid appid",
	ErrCodeInvalidAccessToken:  "invalid access_token",
	ErrCodeInvalidAppSecret:    "invalid appsecret",
	ErrCodeIPNotWhitelisted:    "invalid ip not in whitelist",
	ErrCodeAccessTokenMissing:  "access_token missing",
	ErrCodeAppIDMissing:        "appid missing",
	ErrCodeAppSecretMissing:    "appsecret missing",
	ErrCodeMediaMissing:        "media data missing",
	ErrCodeAccessTokenExpired:  "access_token expired",
	ErrCodeRequireGET:          "require GET method",
	ErrCodeRequirePOST:         "require POST method",
	ErrCodeEmptyPostData:       "empty post data",
	ErrCodeEmptyContent:        "empty content",
	ErrCodeDailyQuota:          "reach max api daily quota limit",
	ErrCodeMinuteQuota:         "api minute-quota reach limit  mustslower  retry next minute",
	ErrCodeOutOfTime:           "response out of time limit or subscription is canceled",
	ErrCodeOutOfCount:          "out of response count limit",
	ErrCodeBadTypingCommand:    "invalid command",
	ErrCodeNoRecentInteraction: "no message exchange with the user in the last 30 seconds",
	ErrCodeAlreadyTyping:       "already typing",
	ErrCodeDataFormat:          "data format error",
	ErrCodeArgumentInvalid:     "argument invalid!",
	ErrCodeInvalidTemplateID:   "invalid template_id",
	ErrCodeInvalidPage:         "invalid page",
	ErrCodeNotSubscribed:       "user refuse to accept the msg",
	ErrCodeNotFound:            "not found",
	ErrCodeBadRequest:          "bad request",
}

// ErrMsg returns the errmsg the mock sends with code, without the " rid: …"
// suffix the mock appends, like the real platform, to every error. (For
// ErrCodeIPNotWhitelisted the mock puts the caller's address in the
// message; ErrMsg returns the platform's documented summary.) The typing
// errors 45072, 45080 and 45081 have no published English errmsg; the mock
// uses English renderings of their documented descriptions.
func ErrMsg(code int) string {
	if m, ok := errMessages[code]; ok {
		return m
	}
	return "error " + strconv.Itoa(code)
}

// apiError is the JSON body of every error (and of plain successes).
type apiError struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}
