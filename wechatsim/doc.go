// Package wechatsim emulates WeChat's side of a Mini Program's message push
// and customer-service traffic, so a developer server (or the wxgate
// gateway) can be tested without WeChat.
//
// # Emulator (draft section for docs/emulator.md)
//
// The emulator has three parts that share one World:
//
//   - World: the apps (AppID, AppSecret, original ID gh_…), the users
//     (openids), the temporary media, the subscribe templates and what
//     each user accepted, and a transcript per user. Every push a user causes, every
//     customer-service message the server sends back and every typing
//     command becomes an Entry. World.Watch streams entries as they are
//     recorded (for a live console); World.Since and World.Transcript read
//     them back. The World also tracks each user's send window: a user
//     message allows 5 customer-service messages within 48 h, entering the
//     session allows 2 within 1 min, and each such action resets count and
//     window (allowances do not accumulate).
//   - The push client (client*.go) plays WeChat pushing to the developer
//     server: it signs, encrypts, posts and judges the answer, records the
//     push in the World and calls World.NoteUserMessage or
//     World.NoteEnterSession, and World.NoteUserImage for the MediaId of an
//     image (or the ThumbMediaId of a card) before delivering it, so the
//     server can download the image with media/get while it handles the
//     push.
//   - The mock Open API (OpenAPI) plays api.weixin.qq.com: the developer
//     server fetches tokens from it and answers users through it.
//
// All time-dependent rules read a Clock. Tests use a FakeClock and move it
// with Advance or Set (or POST /_sim/clock) instead of sleeping; the
// `wxgate mockapi` command uses the system clock.
//
// # Mock Open API
//
// NewOpenAPI() with no options creates its own World with a FakeClock at
// DefaultFakeTime and one app (DefaultAppID, DefaultSecret,
// DefaultOriginalID). In a Go test:
//
//	api := wechatsim.NewOpenAPI()
//	srv := api.Start() // httptest.Server; or httptest.NewServer(api)
//	defer srv.Close()
//	user := api.World().NewUser()
//	api.World().NoteUserMessage(user.OpenID, api.Clock().Now())
//	// point the client at srv.URL instead of https://api.weixin.qq.com
//
// Emulated endpoints (errors are HTTP 200 with {"errcode":N,"errmsg":"… rid: …"},
// like the real platform: WeChat's wording, then a request id whose first
// group is the clock's Unix time in hex. When the mock has more to say, e.g.
// which field is missing, it says it in the X-Wechatsim-Hint header):
//
//	GET  /cgi-bin/token?grant_type=client_credential&appid=&secret=
//	     {"access_token","expires_in":7200}. Every fetch supersedes the
//	     previous token, which keeps working for 5 more minutes. Errors
//	     40002, 41002, 41004, 40013, 40125; 40164 "invalid ip A ipv6
//	     ::ffff:A, not in whitelist" for a caller outside SetIPWhitelist;
//	     45009 past the daily quota (2000 per app, WithDailyTokenQuota),
//	     reset at midnight UTC+8 or by ClearQuota.
//	POST /cgi-bin/stable_token {"grant_type","appid","secret","force_refresh"}
//	     The same token while more than 5 minutes remain (expires_in counts
//	     down, never below 300); a new one in the last 5 minutes, the old one
//	     working until it expires. force_refresh invalidates the current
//	     token at once; it is honoured 20 times a day per app (then 45009)
//	     and at least 30 s apart (a call inside the gap does not refresh and
//	     returns the current token). 10000 calls/min (45011) and 500000/day
//	     (45009). Stable tokens and /cgi-bin/token tokens are independent.
//	     Errors as for /cgi-bin/token, plus 44002 empty body, 47001 bad JSON.
//	POST /cgi-bin/message/custom/send?access_token=
//	     text{content}, image{media_id}, link{title,description,url,thumb_url},
//	     miniprogrampage{title,pagepath,thumb_media_id}. Media ids must be
//	     the same app's uploads or users' images, unexpired (else 40007). 44002 empty
//	     body, 47001 bad JSON or missing field, 44004 empty text, 40003
//	     unknown touser, 40008 unknown msgtype, 45015 no open send window,
//	     45047 window count used up. Success records a "to_user" Entry and
//	     cancels typing.
//	POST /cgi-bin/message/custom/typing?access_token= {"touser","command"}
//	     Typing lasts 15 s (45081 while active) and needs an open send window
//	     (one that can still carry a message) and a message exchange (user
//	     message, session entry, or message sent) in the last 30 s (else
//	     45080). CancelTyping ends it. 45072 for another command.
//	POST /cgi-bin/media/upload?access_token=&type=image  multipart field "media"
//	     {"type":"image","media_id","created_at"}; valid 3 days. 40004 type
//	     other than image, 41005 no media, 40009 (HTTP 413) over 10 MiB.
//	GET  /cgi-bin/media/get?access_token=&media_id=
//	     The bytes with their sniffed Content-Type, or {"errcode":40007}.
//	     The images users sent (World.NoteUserImage) are served as generated
//	     JPEGs, to the app the user wrote to, for 3 days.
//	POST /cgi-bin/message/subscribe/send?access_token=
//	     {"touser","template_id","page","data":{"thing1":{"value"}},
//	     "miniprogram_state","lang"}. Templates come from World.AddTemplate;
//	     each acceptance noted with World.NoteSubscribe allows one message
//	     (CancelSubscribe drops those left). 40003 touser, 40037 template
//	     unknown or another app's, 41030 page with spaces or a URL, 47003
//	     bad miniprogram_state or lang, or a keyword missing ("argument
//	     invalid! data.thing1.value is empty") or breaking its type's rule
//	     ("… invalid"), 43101 no acceptance left. No send window needed.
//	     Success answers a 19-digit msgid and records a "to_user" Entry of
//	     kind subscribe_message.
//
// Every call with an access_token checks it: 41001 missing, 40014 not
// shaped like a token, 40001 unknown, revoked or superseded beyond the
// overlap, 42001 expired. A wrong HTTP method gives 405 with 43001/43002, an
// unknown path 404 with errcode 404; bodies are capped at 1 MiB (10 MiB for
// media, HTTP 413 beyond). Every response is JSON except media/get's bytes.
//
// # Faults and read-back
//
// Go methods and their HTTP equivalents (the /_sim endpoints are not
// affected by faults and not counted in stats):
//
//	SetLatency(d), SetBusyRate(p), FailNext(n, code), FailNextOn(path, n, code),
//	SetIPWhitelist(entries...), RevokeTokens(), ClearQuota(), ClearFaults()
//	    POST /_sim/faults {"latency":"200ms","busy_rate":0.1,"revoke_tokens":true,
//	                       "clear_quota":true,"clear":true,
//	                       "fail_next":{"n":2,"errcode":-1,"path":"/cgi-bin/token"},
//	                       "ip_whitelist":["203.0.113.7","10.0.0.0/8"]}
//	    (fail_next with errcode 40164 fails any endpoint with the caller's
//	    address in the errmsg; "ip_whitelist":[] clears the whitelist)
//	    GET  /_sim/faults
//	FakeClock.Advance/Set      POST /_sim/clock {"advance":"10m"} or {"set":"<RFC 3339>"}; GET /_sim/clock
//	Tokens()                   GET /_sim/tokens   (values redacted to an 8-character prefix)
//	Stats(), TokenFetches(), StableTokenFetches()
//	                           GET /_sim/stats
//	SentMessages(openid)       GET /_sim/messages?openid=
//	Typing(openid)             GET /_sim/typing[?openid=]
//	World().Users(), NewUser   GET /_sim/users, POST /_sim/users {"openid":"optional"}
//	World().NoteUserMessage/NoteEnterSession, Window
//	                           POST /_sim/window {"openid","event":"user_message"|"enter_session"},
//	                           GET /_sim/window?openid=
//	World().Transcript/Since   GET /_sim/transcript[?openid=][&since=seq]
//	World().Apps()             GET /_sim/apps (secrets omitted)
//	Media()                    GET /_sim/media (uploads and users' images)
//	World().AddTemplate/Templates
//	                           POST /_sim/templates {"title","keywords":["thing1"],"appid","template_id"},
//	                           GET /_sim/templates[?appid=]
//	World().NoteSubscribe/CancelSubscribe/Subscriptions
//	                           POST /_sim/subscriptions {"openid","template_id","status":"accept"|"reject"|"cancel"},
//	                           GET /_sim/subscriptions[?openid=]
//	SubscribeMessages(openid)  GET /_sim/subscribe-messages[?openid=]
//
// # Command line
//
//	wxgate mockapi --addr 127.0.0.1:9400 [--appid wx… --secret …] [--users 1]
//
// serves the mock with the system clock, prints the base URL, the app
// credentials and the pre-created openids, and logs each request without
// access tokens or secrets.
package wechatsim
