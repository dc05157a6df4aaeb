package web

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Languages of the console.
const (
	langZH = "zh"
	langEN = "en"
)

// langCookie keeps the language chosen with the switch.
const langCookie = "wxgate_lang"

// localizer gives the console's strings in one language.
type localizer struct {
	lang string
}

var (
	locZH = &localizer{lang: langZH}
	locEN = &localizer{lang: langEN}
)

// T returns the string for key. A key missing from the catalog is shown as
// is, so that a slip shows on the page (and TestCatalogComplete fails).
func (l *localizer) T(key string) string {
	if m, ok := catalog[key]; ok {
		if l.lang == langZH {
			return m[0]
		}
		return m[1]
	}
	return key
}

// Tf formats the string for key with args.
func (l *localizer) Tf(key string, args ...any) string { return fmt.Sprintf(l.T(key), args...) }

// HTMLLang is the page's lang attribute.
func (l *localizer) HTMLLang() string {
	if l.lang == langZH {
		return "zh-CN"
	}
	return "en"
}

// Lang is the language's code in the console: "zh" or "en".
func (l *localizer) Lang() string { return l.lang }

// Other is the language the switch offers.
func (l *localizer) Other() string {
	if l.lang == langZH {
		return langEN
	}
	return langZH
}

// OtherName names the other language in itself.
func (l *localizer) OtherName() string {
	if l.lang == langZH {
		return "English"
	}
	return "中文"
}

// OtherHTMLLang is the other language's lang attribute.
func (l *localizer) OtherHTMLLang() string {
	if l.lang == langZH {
		return "en"
	}
	return "zh-CN"
}

// Verdict explains one of WeChat's verdicts (wechatsim.Verdict) in a
// sentence; an unknown one is shown as it is.
func (l *localizer) Verdict(verdict any) string {
	v := fmt.Sprint(verdict) // a string or a wechatsim.Verdict
	if _, ok := catalog["verdict."+v]; ok {
		return l.T("verdict." + v)
	}
	return v
}

// JS returns the strings the script needs, by key.
func (l *localizer) JS() map[string]string {
	out := make(map[string]string, len(jsKeys))
	for _, k := range jsKeys {
		out[k] = l.T(k)
	}
	return out
}

// localizerFor picks the request's language: the switch's cookie, else
// the browser's Accept-Language, else English.
func localizerFor(r *http.Request) *localizer {
	if c, err := r.Cookie(langCookie); err == nil {
		switch c.Value {
		case langZH:
			return locZH
		case langEN:
			return locEN
		}
	}
	if preferred(r.Header.Get("Accept-Language")) == langZH {
		return locZH
	}
	return locEN
}

// preferred returns langZH or langEN, whichever the Accept-Language
// header ranks first among the two, or "" when it names neither.
func preferred(header string) string {
	type choice struct {
		lang  string
		q     float64
		order int
	}
	var cs []choice
	for i, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		primary, _, _ := strings.Cut(tag, "-")
		switch {
		case q <= 0:
		case primary == "zh":
			cs = append(cs, choice{langZH, q, i})
		case primary == "en":
			cs = append(cs, choice{langEN, q, i})
		}
	}
	if len(cs) == 0 {
		return ""
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].q > cs[j].q })
	return cs[0].lang
}

// jsKeys are the catalog keys console.js reads.
var jsKeys = []string{"js.sending", "js.failed", "js.copied", "js.copy_failed", "js.typing", "js.reconnecting", "js.new_message"}

// catalog holds every user-facing string: Chinese, then English.
var catalog = map[string][2]string{
	"skip":          {"跳到正文", "Skip to content"},
	"nav.label":     {"控制台", "Console"},
	"nav.chat":      {"聊天", "Chat"},
	"nav.wire":      {"线路", "Wire"},
	"nav.server":    {"服务端", "Server"},
	"nav.settings":  {"设置", "Settings"},
	"lang.switch":   {"切换语言", "Switch language"},
	"status.label":  {"模拟器推送方式", "How the emulator pushes"},
	"status.live":   {"实时", "live"},
	"status.paused": {"连接中断，正在重连…", "Disconnected, reconnecting…"},

	"mode.plain":  {"明文模式", "Plaintext mode"},
	"mode.compat": {"兼容模式", "Compatible mode"},
	"mode.safe":   {"安全模式", "Safe mode"},

	// Chat.
	"chat.title":          {"聊天", "Chat"},
	"chat.users":          {"模拟用户", "Simulated users"},
	"chat.user_n":         {"用户 %d", "User %d"},
	"chat.add_user":       {"添加用户", "Add a user"},
	"chat.user_added":     {"已添加用户。", "User added."},
	"chat.conversation":   {"与 %s 的会话", "Conversation of %s"},
	"chat.empty":          {"还没有消息。发送“价格”“图片”或“人工”试试，或先进入会话。", "No messages yet. Try “价格” (price), “图片” (picture) or “人工” (a person), or enter the session first."},
	"chat.message":        {"消息", "Message"},
	"chat.placeholder":    {"输入消息", "Type a message"},
	"chat.send":           {"发送", "Send"},
	"chat.more":           {"图片、小程序卡片、进入会话", "Image, mini program card, enter session"},
	"chat.image":          {"图片", "Image"},
	"chat.image_file":     {"选择图片（PNG、JPEG 或 GIF）", "Choose an image (PNG, JPEG or GIF)"},
	"chat.send_image":     {"发送图片", "Send image"},
	"chat.card":           {"小程序卡片", "Mini program card"},
	"chat.card_title":     {"标题", "Title"},
	"chat.card_page":      {"页面路径", "Page path"},
	"chat.send_card":      {"发送卡片", "Send card"},
	"chat.enter":          {"进入客服会话", "Enter the session"},
	"chat.session_from":   {"SessionFrom（客服按钮的 session-from）", "SessionFrom (the contact button's session-from)"},
	"chat.send_enter":     {"进入会话", "Enter session"},
	"chat.entered":        {"进入了客服会话", "entered the customer-service session"},
	"chat.entered_from":   {"进入了客服会话（SessionFrom：%s）", "entered the customer-service session (SessionFrom: %s)"},
	"chat.event":          {"事件：%s", "Event: %s"},
	"chat.transfer":       {"已转接人工客服", "Transferred to customer service"},
	"chat.failure":        {"微信向用户显示：", "WeChat shows the user:"},
	"chat.typing":         {"对方正在输入…", "typing…"},
	"chat.link":           {"链接", "Link"},
	"chat.miniprogram":    {"小程序", "Mini program"},
	"chat.subscribe":      {"订阅消息", "Subscribe message"},
	"chat.you":            {"用户", "User"},
	"chat.server":         {"小程序客服", "Customer service"},
	"chat.window":         {"发送窗口", "Send window"},
	"chat.window_none":    {"未打开：用户发消息或进入会话后，服务端才能回复。", "Closed: the server may answer once the user writes or enters the session."},
	"chat.window_open":    {"已用 %d / %d，%s 到期", "%d of %d used, until %s"},
	"chat.wire_link":      {"在线路中查看", "See on the wire"},
	"chat.try":            {"试试这些", "Try these"},
	"chat.try_help":       {"点一下即以当前用户发送。", "One click sends it as the current user."},
	"chat.send_this":      {"发送“%s”", "Send “%s”"},
	"chat.err_text":       {"请输入消息。", "Type a message first."},
	"chat.err_user":       {"没有这个用户。", "No such user."},
	"chat.err_image":      {"请选择一张 PNG、JPEG 或 GIF 图片（最大 10 MiB）。", "Choose a PNG, JPEG or GIF image (at most 10 MiB)."},
	"chat.err_card":       {"卡片需要标题和页面路径。", "A card needs a title and a page path."},
	"chat.err_push":       {"推送没有发出：%s", "The push was not sent: %s"},
	"chat.image_alt":      {"用户发送的图片", "Image sent by the user"},
	"chat.image_alt_cs":   {"客服发送的图片", "Image sent by customer service"},
	"chat.card_thumb_alt": {"卡片封面", "Card cover"},

	// Wire.
	"wire.title":        {"线路", "Wire"},
	"wire.intro":        {"模拟器发出的每一次推送：签名 URL、加密后的请求体、解密后的内容、服务端的应答和微信的判定。", "Every push the emulator made: the signed URL, the encrypted body, the decrypted body, the server's answer and WeChat's verdict."},
	"wire.empty":        {"还没有推送。在“聊天”里发一条消息。", "No pushes yet. Send a message in Chat."},
	"wire.time":         {"时间", "Time"},
	"wire.user":         {"用户", "User"},
	"wire.kind":         {"类型", "Kind"},
	"wire.how":          {"模式 / 格式", "Mode / format"},
	"wire.status":       {"HTTP", "HTTP"},
	"wire.verdict":      {"判定", "Verdict"},
	"wire.latency":      {"耗时", "Time taken"},
	"wire.deliveries":   {"投递次数", "Deliveries"},
	"wire.open":         {"查看推送 #%d", "Open push #%d"},
	"wire.pending":      {"进行中…", "in progress…"},
	"wire.push_n":       {"推送 #%d", "Push #%d"},
	"wire.accepted":     {"微信认为已处理", "WeChat takes it as handled"},
	"wire.rejected":     {"微信认为失败", "WeChat takes it as failed"},
	"wire.user_sees":    {"用户会看到：", "The user sees:"},
	"wire.signed_url":   {"签名 URL", "Signed URL"},
	"wire.raw_body":     {"请求体（线路上的原样）", "Request body (as on the wire)"},
	"wire.plaintext":    {"解密后的请求体", "Decrypted body"},
	"wire.answer":       {"服务端的应答", "The server's answer"},
	"wire.answer_plain": {"解密后的应答", "Decrypted answer"},
	"wire.attempt":      {"第 %d 次投递", "Delivery %d"},
	"wire.delay":        {"等待 %s 后重试", "retried after %s"},
	"wire.no_answer":    {"没有应答", "no answer"},
	"wire.error":        {"错误", "Error"},
	"wire.retries":      {"微信重试了 %d 次。", "WeChat retried %d times."},
	"wire.no_retries":   {"没有重试。", "No retries."},
	"wire.stored":       {"网关存储为", "Stored by the gateway as"},
	"wire.copy_curl":    {"复制为 curl 命令", "Copy as a curl command"},
	"wire.copy_push":    {"复制为 wxgate push 命令", "Copy as a wxgate push command"},
	"wire.curl_note":    {"原样重放这个请求：5 分钟内网关把它当作微信的重试（重复推送）应答。", "Replays this exact request: within 5 minutes the gateway answers it as WeChat's retry (a duplicate)."},
	"wire.push_note":    {"用同样的内容重新推送一次（新的签名和 MsgId）。", "Pushes the same content again (fresh signature and MsgId)."},
	"wire.push_env":     {"先设置 WXGATE_TOKEN 和 WXGATE_AES_KEY 为该应用的值。", "Set WXGATE_TOKEN and WXGATE_AES_KEY to the app's values first."},
	"wire.not_found":    {"没有这个推送（线路只保留最近 %d 个）。", "No such push (the wire keeps the latest %d)."},
	"wire.back":         {"返回线路", "Back to the wire"},
	"wire.summary":      {"概要", "Summary"},
	"wire.app":          {"应用", "App"},
	"wire.total":        {"总耗时", "Total time"},

	// Server.
	"server.title":          {"服务端", "Server"},
	"server.counters":       {"计数", "Counters"},
	"server.pushes_ok":      {"已存储的推送", "Pushes stored"},
	"server.duplicates":     {"重复推送", "Duplicates"},
	"server.refused":        {"拒绝的推送", "Pushes refused"},
	"server.delivered":      {"投递成功", "Deliveries made"},
	"server.failed":         {"投递失败（次）", "Failed attempts"},
	"server.pending":        {"待投递", "Pending deliveries"},
	"server.dead":           {"死信", "Dead letters"},
	"server.sent":           {"经 Open API 发出的消息", "Messages sent through the Open API"},
	"server.messages":       {"消息", "Messages"},
	"server.no_messages":    {"网关还没有存储任何推送。", "The gateway has stored no push yet."},
	"server.received":       {"收到时间", "Received"},
	"server.kind":           {"类型", "Kind"},
	"server.user":           {"用户", "User"},
	"server.how":            {"模式 / 格式", "Mode / format"},
	"server.id":             {"ID", "ID"},
	"server.older":          {"更早的消息", "Older messages"},
	"server.newest":         {"最新的消息", "Newest messages"},
	"server.dead_letters":   {"死信", "Dead letters"},
	"server.no_dead":        {"没有死信。", "No dead letters."},
	"server.destination":    {"目的地", "Destination"},
	"server.attempts":       {"尝试次数", "Attempts"},
	"server.last_error":     {"最后的错误", "Last error"},
	"server.redeliver":      {"重新投递", "Redeliver"},
	"server.redeliver_one":  {"重新投递 %s 到 %s", "Redeliver %s to %s"},
	"server.redeliver_all":  {"全部重新投递", "Redeliver all"},
	"server.redelivered":    {"已重新投递 %d 个。", "%d redelivered."},
	"server.rules":          {"生效的规则", "Rules in effect"},
	"server.no_rules":       {"应用 %s 没有规则：每个推送都投递给目的地。", "App %s has no rules: every push goes to the destinations."},
	"server.rules_app":      {"应用 %s", "App %s"},
	"server.config":         {"生效的配置（已隐去密钥）", "Configuration in effect (secrets redacted)"},
	"server.message":        {"消息 %s", "Message %s"},
	"server.deliveries":     {"投递", "Deliveries"},
	"server.no_deliveries":  {"这条消息没有目的地（规则已回答，或应用没有配置目的地）。", "This message has no destination (a rule answered it, or the app has none)."},
	"server.state":          {"状态", "State"},
	"server.state.pending":  {"待投递", "pending"},
	"server.state.done":     {"已投递", "delivered"},
	"server.state.dead":     {"死信", "dead"},
	"server.attempt_n":      {"#", "#"},
	"server.started":        {"开始", "Started"},
	"server.duration":       {"耗时", "Duration"},
	"server.status":         {"HTTP", "HTTP"},
	"server.error":          {"错误", "Error"},
	"server.decoded":        {"解码后的消息（JSON）", "Decoded message (JSON)"},
	"server.raw":            {"解密后的原文", "Decrypted body"},
	"server.reply":          {"被动回复", "Passive reply"},
	"server.conversation":   {"该用户的会话（网关记录）", "This user's conversation (the gateway's record)"},
	"server.in":             {"收到", "in"},
	"server.out":            {"发出", "out"},
	"server.ok":             {"成功", "ok"},
	"server.refused_by":     {"失败：%s", "failed: %s"},
	"server.not_found":      {"没有这条消息。", "No such message."},
	"server.api_error":      {"网关的 /v1/ API 出错：%s", "The gateway's /v1/ API failed: %s"},
	"server.back":           {"返回服务端", "Back to the server"},
	"server.next_attempt":   {"下次尝试", "Next attempt"},
	"server.delivered_at":   {"投递时间", "Delivered at"},
	"server.sender":         {"发送方", "Sender"},
	"server.counters_note":  {"来自网关的 /metrics 和模拟 Open API。", "From the gateway's /metrics and the mock Open API."},
	"server.redeliver_msg":  {"重新投递这条消息", "Redeliver this message"},
	"server.no_destination": {"（全部目的地）", "(every destination)"},

	// Rules, explained.
	"rule.keyword":           {"文本等于 %s", "the text equals %s"},
	"rule.contains":          {"文本包含 %s", "the text contains %s"},
	"rule.regex":             {"文本匹配正则表达式 %s", "the text matches the regular expression %s"},
	"rule.ignore_case":       {"（忽略大小写）", " (ignoring case)"},
	"rule.enter":             {"用户进入客服会话", "the user enters the customer-service session"},
	"rule.enter_from":        {"用户从 session-from 为 %s 的按钮进入客服会话", "the user enters the session from a button whose session-from is %s"},
	"rule.or":                {" 或 ", " or "},
	"rule.when":              {"当 %s：", "When %s:"},
	"rule.fallback":          {"其他用户消息（兜底）：", "Any other user message (fallback):"},
	"rule.reply_text":        {"回复文本 %s", "reply with the text %s"},
	"rule.reply_image":       {"回复图片 %s", "reply with the image %s"},
	"rule.reply_link":        {"回复链接卡片 %s", "reply with the link card %s"},
	"rule.reply_card":        {"回复小程序卡片 %s", "reply with the mini program card %s"},
	"rule.transfer":          {"转接人工客服（被动回复 transfer_customer_service）", "transfer to customer service (the passive reply transfer_customer_service)"},
	"rule.typing":            {"先显示“正在输入”", "show “typing…” first"},
	"rule.continue":          {"并投递给目的地", "and deliver the push to the destinations"},
	"rule.stop":              {"不再投递给目的地", "and do not deliver the push to the destinations"},
	"rule.hours":             {"工作时间（%s）：%s；下班时回复：", "Office hours (%s): %s; outside them, reply:"},
	"rule.first_wins":        {"规则按顺序尝试，第一条匹配的生效。", "Rules are tried in order; the first that matches wins."},
	"settings.title":         {"设置", "Settings"},
	"settings.intro":         {"和微信公众平台的“消息推送”设置一样：切换模式和格式后，模拟器按新的方式推送；网关无需重启。", "As in WeChat's message push settings: after a switch the emulator pushes the new way, and the gateway needs no restart."},
	"settings.app":           {"应用", "App"},
	"settings.mode":          {"消息加密方式", "Encryption mode"},
	"settings.mode_help":     {"明文模式不加密；兼容模式同时带明文和密文；安全模式只有密文。", "Plaintext sends no ciphertext; compatible sends both; safe sends only ciphertext."},
	"settings.format":        {"数据格式", "Data format"},
	"settings.no_key":        {"（该应用没有 EncodingAESKey）", "(this app has no EncodingAESKey)"},
	"settings.faults":        {"Open API 故障", "Open API faults"},
	"settings.slow":          {"变慢：每次调用延迟 1 秒", "Slow: every call takes 1 s more"},
	"settings.busy":          {"繁忙：一半的调用返回 -1（系统繁忙）", "Busy: half the calls answer -1 (system busy)"},
	"settings.revoke":        {"让所有 access_token 失效（40001）", "Invalidate every access_token (40001)"},
	"settings.revoked":       {"所有 access_token 已失效：网关下次调用时会重新获取。", "Every access_token is invalid now: the gateway fetches a new one on its next call."},
	"settings.webhook":       {"示例 webhook（你的代码）", "The sample webhook (your code)"},
	"settings.webhook_intro": {"网关把没有被规则拦下的推送投递给这个 webhook；它回显收到的文本。", "The gateway delivers the pushes no rule stopped to this webhook; it echoes the texts it gets."},
	"settings.wh_slow":       {"变慢：每次应答延迟 3 秒（超过 2 秒的投递超时）", "Slow: answers after 3 s (beyond the 2 s delivery timeout)"},
	"settings.wh_fail":       {"失败：应答 HTTP 500（3 次后成为死信）", "Failing: answers HTTP 500 (a dead letter after 3 attempts)"},
	"settings.no_webhook":    {"使用 --config 时，网关投递给配置里的目的地。", "With --config, the gateway delivers to the destinations of the configuration."},
	"settings.save":          {"保存", "Save"},
	"settings.saved":         {"已保存。", "Saved."},
	"settings.credentials":   {"开发凭据", "Development credentials"},
	"settings.cred_intro":    {"以后在微信公众平台配置消息推送时，填入下面的值（URL 需要公网 HTTPS 地址，例如通过隧道）。", "Later, paste these values into WeChat's message push settings (the URL must be a public HTTPS address, through a tunnel for example)."},
	"settings.push_url":      {"URL（推送地址）", "URL (push URL)"},
	"settings.token":         {"Token（令牌）", "Token"},
	"settings.aes_key":       {"EncodingAESKey（消息加密密钥）", "EncodingAESKey"},
	"settings.appid":         {"AppID", "AppID"},
	"settings.from_config":   {"来自你的配置文件（不在这里显示）。", "From your configuration file (not shown here)."},
	"settings.err_mode":      {"没有这种模式，或该应用没有 EncodingAESKey。", "No such mode, or the app has no EncodingAESKey."},
	"settings.err_format":    {"格式只能是 XML 或 JSON。", "The format is XML or JSON."},
	"settings.err_app":       {"没有这个应用。", "No such app."},

	// WeChat's verdicts (wechatsim.Verdict), explained.
	"verdict.success":            {"应答为“success”：已处理，无需更多。", "The answer was “success”: handled, nothing more wanted."},
	"verdict.empty":              {"应答为空：已处理。", "The answer was empty: handled."},
	"verdict.reply":              {"应答是一条有效的被动回复。", "The answer was a valid passive reply."},
	"verdict.timeout":            {"5 秒内没有完整应答：微信会重试。", "No complete answer within 5 s: WeChat retries."},
	"verdict.connection_refused": {"连接被拒绝：微信会重试。", "The connection was refused: WeChat retries."},
	"verdict.network_error":      {"网络错误：微信会重试。", "A network error: WeChat retries."},
	"verdict.http_status":        {"HTTP 状态不是 200：微信会重试。", "The HTTP status was not 200: WeChat retries."},
	"verdict.malformed_reply":    {"微信读不懂应答（异常数据）。", "WeChat cannot read the answer (malformed data)."},
	"verdict.wrong_format":       {"应答的格式与推送不同（XML 与 JSON）。", "The answer is in the other format (XML vs JSON)."},
	"verdict.plaintext_reply":    {"安全模式的推送得到了明文应答。", "A safe-mode push got a plaintext answer."},
	"verdict.bad_msg_signature":  {"加密应答的 MsgSignature 缺失或不对。", "The encrypted answer's MsgSignature is missing or wrong."},
	"verdict.bad_ciphertext":     {"加密应答无法用 EncodingAESKey 解密。", "The encrypted answer does not decrypt with the EncodingAESKey."},
	"verdict.wrong_appid":        {"加密应答是为另一个 AppID 加密的。", "The encrypted answer was sealed for another AppID."},
	"verdict.unsupported_reply":  {"应答格式正确，但对小程序没有意义。", "A well-formed answer that means nothing to a mini program."},
	"verdict.reply_mismatch":     {"转接回复的用户或小程序与推送不符。", "The transfer reply names another user or mini program."},
	"verdict.xpay_error":         {"虚拟支付确认的 ErrCode 不是 0：微信稍后重试。", "The virtual-payment acknowledgement's ErrCode was not 0: WeChat retries later."},
	"verdict.not_acknowledged":   {"这个推送需要专门的确认，“success”不算。", "This push needs its own acknowledgement; “success” is not one."},
	"verdict.canceled":           {"推送在得到应答前被取消。", "The push was canceled before an answer."},
	"wire.diagnosis":             {"模拟器的诊断（英文）：", "The emulator's diagnosis:"},

	"err.host":      {"控制台只在它自己的地址上应答（例如 http://127.0.0.1:8080/）。", "The console answers only on its own address (http://127.0.0.1:8080/, say)."},
	"err.forbidden": {"请求来自其他网站，已拒绝。", "The request came from another site and was refused."},
	"err.not_found": {"没有这个页面。", "No such page."},

	"js.sending":      {"发送中…", "Sending…"},
	"js.failed":       {"发送失败：", "Not sent: "},
	"js.copied":       {"已复制。", "Copied."},
	"js.copy_failed":  {"无法复制，请手动选择文本。", "Could not copy; select the text by hand."},
	"js.typing":       {"对方正在输入…", "typing…"},
	"js.reconnecting": {"连接中断，正在重连…", "Disconnected, reconnecting…"},
	"js.new_message":  {"新消息", "new message"},
}
