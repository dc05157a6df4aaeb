package wechatsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/wxcrypt"
)

// FailurePrompt is what WeChat shows the user when the developer server
// fails to answer a customer-service push (spec §5).
const FailurePrompt = "该小程序客服暂时无法提供服务，请稍后再试"

// Verdict names what WeChat makes of an answer: one of the Verdict
// constants. It is also the failure reason counted in a Summary.
type Verdict string

// Verdicts of a push. The first three are accepted; every other one is a
// failure the user sees as FailurePrompt.
const (
	// VerdictSuccess: the body was exactly "success".
	VerdictSuccess Verdict = "success"
	// VerdictEmpty: the body was empty (0 bytes).
	VerdictEmpty Verdict = "empty"
	// VerdictReply: a meaningful passive reply (transfer_customer_service
	// for a user message, {"ErrCode":0,...} for an xpay_* event, the
	// result_code answer for the iOS refund inquiry, the ResultCode reply
	// for an express-provider request), correctly encrypted and signed when
	// the push was.
	VerdictReply Verdict = "reply"

	// VerdictTimeout: no complete answer within the timeout (5 s).
	VerdictTimeout Verdict = "timeout"
	// VerdictRefused: the connection was refused.
	VerdictRefused Verdict = "connection_refused"
	// VerdictNetwork: another transport failure (DNS, reset, TLS, a
	// handler that panicked).
	VerdictNetwork Verdict = "network_error"
	// VerdictStatus: an HTTP status other than 200.
	VerdictStatus Verdict = "http_status"
	// VerdictMalformed: a 200 body WeChat cannot read (异常数据):
	// "success" with a newline, quotes, HTML, text, broken XML or JSON.
	VerdictMalformed Verdict = "malformed_reply"
	// VerdictWrongFormat: a reply in the other data format (JSON to an XML
	// push or the reverse).
	VerdictWrongFormat Verdict = "wrong_format"
	// VerdictPlaintextReply: an unencrypted reply to a safe-mode push.
	VerdictPlaintextReply Verdict = "plaintext_reply"
	// VerdictBadMsgSignature: an encrypted reply without a MsgSignature or
	// with one that does not match.
	VerdictBadMsgSignature Verdict = "bad_msg_signature"
	// VerdictBadCiphertext: an encrypted reply that does not decrypt with
	// the EncodingAESKey.
	VerdictBadCiphertext Verdict = "bad_ciphertext"
	// VerdictWrongAppID: an encrypted reply sealed for another AppID.
	VerdictWrongAppID Verdict = "wrong_appid"
	// VerdictUnsupportedReply: a well-formed reply that means nothing to a
	// mini program: a text or news reply (official-account style), a
	// transfer_customer_service answering an event, an ErrCode reply to a
	// push that is not an xpay_* event, an encrypted reply to a plaintext
	// push.
	VerdictUnsupportedReply Verdict = "unsupported_reply"
	// VerdictReplyMismatch: a transfer_customer_service reply whose
	// ToUserName/FromUserName are not the push's user and mini program.
	VerdictReplyMismatch Verdict = "reply_mismatch"
	// VerdictXPayError: an xpay acknowledgement with ErrCode other than 0;
	// WeChat retries the notification later.
	VerdictXPayError Verdict = "xpay_error"
	// VerdictNotAcknowledged: "success" or an empty body to a push whose
	// sender waits for its own answer: an xpay notification (WeChat
	// delivers it again until {"ErrCode":0,...}), the iOS refund inquiry
	// or an express-provider request.
	VerdictNotAcknowledged Verdict = "not_acknowledged"
	// VerdictCanceled: the caller's context ended before an answer.
	VerdictCanceled Verdict = "canceled"
)

// Verdicts of URL verification (Client.Verify) besides VerdictTimeout,
// VerdictRefused, VerdictNetwork and VerdictStatus.
const (
	// VerdictVerified: echostr came back byte for byte and a bad signature
	// was refused.
	VerdictVerified Verdict = "verified"
	// VerdictEchoWhitespace: echostr came back with white space around it,
	// typically a trailing newline.
	VerdictEchoWhitespace Verdict = "echostr_whitespace"
	// VerdictEchoQuoted: echostr came back in quotes.
	VerdictEchoQuoted Verdict = "echostr_quoted"
	// VerdictEchoJSON: echostr came back inside a JSON value.
	VerdictEchoJSON Verdict = "echostr_json"
	// VerdictEchoHTML: the body is an HTML page.
	VerdictEchoHTML Verdict = "echostr_html"
	// VerdictEchoWrong: any other body than echostr (empty, other text).
	VerdictEchoWrong Verdict = "echostr_wrong"
	// VerdictBadSignatureAccepted: the server answered 200 to a request
	// whose signature was wrong.
	VerdictBadSignatureAccepted Verdict = "bad_signature_accepted"
)

// Accepted reports whether WeChat takes the answer as handled:
// VerdictSuccess, VerdictEmpty, VerdictReply and VerdictVerified.
func (v Verdict) Accepted() bool {
	switch v {
	case VerdictSuccess, VerdictEmpty, VerdictReply, VerdictVerified:
		return true
	}
	return false
}

// retryable reports whether WeChat delivers the push again after v: when it
// got no usable HTTP answer at all or a status other than 200.
func (v Verdict) retryable() bool {
	switch v {
	case VerdictTimeout, VerdictRefused, VerdictNetwork, VerdictStatus:
		return true
	}
	return false
}

// Judgement is what WeChat makes of one answer to a push.
type Judgement struct {
	// Accepted reports that WeChat takes the push as handled.
	Accepted bool
	// Verdict classifies the answer.
	Verdict Verdict
	// Reason explains the verdict in words a person can act on. It quotes
	// at most a short excerpt of the answer and never a token or key.
	Reason string
	// Reply is the decoded passive reply, decrypted when it was
	// encrypted; nil for "success", an empty body or an unreadable answer.
	Reply message.Push
	// ReplyPlaintext is the reply body after decryption.
	ReplyPlaintext []byte
}

func judged(v Verdict, format string, args ...any) Judgement {
	return Judgement{Accepted: v.Accepted(), Verdict: v, Reason: fmt.Sprintf(format, args...)}
}

// maxExcerpt is how many bytes of an answer a Reason quotes.
const maxExcerpt = 80

// excerpt quotes at most maxExcerpt bytes of b.
func excerpt(b []byte) string {
	if len(b) <= maxExcerpt {
		return strconv.Quote(string(b))
	}
	return strconv.Quote(string(b[:maxExcerpt])) + "…"
}

// judgeTransport classifies a failed HTTP exchange. parent is the caller's
// context, timeout the per-delivery limit; push is false for the URL
// verification GET, which WeChat does not retry.
func judgeTransport(parent context.Context, err error, timeout time.Duration, target string, push bool) Judgement {
	switch {
	case parent.Err() != nil:
		return judged(VerdictCanceled, "stopped before an answer came: %v", parent.Err())
	case (errors.Is(err, context.DeadlineExceeded) || isTimeout(err)) && !push:
		return judged(VerdictTimeout, "no complete answer within %v: the console reports a timeout and does not save the configuration. "+
			"Answer the GET at once: check the signature and echo echostr at once, with nothing slow (database, network) before it", timeout)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return judged(VerdictTimeout, "no complete answer within %v: WeChat drops the connection and delivers the push again. "+
			"Answer \"success\" at once and do slow work afterwards (reply through the customer-service API)", timeout)
	case errors.Is(err, syscall.ECONNREFUSED):
		return judged(VerdictRefused, "connection refused by %s: nothing listens there. Start the server or fix the URL", target)
	case errors.Is(err, errHandlerPanic):
		return judged(VerdictNetwork, "the handler panicked, so the connection was dropped without an answer")
	}
	return judged(VerdictNetwork, "no HTTP answer from %s: %v", target, err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// errHandlerPanic reports an in-process handler that panicked.
var errHandlerPanic = errors.New("wechatsim: handler panicked")

// judgeStatus explains a status other than 200; push is false for the URL
// verification GET.
func judgeStatus(status int, body []byte, push bool) Judgement {
	hint := ""
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		hint = " Check that the server has the same Token, EncodingAESKey and AppID as the sender, and that its clock is right."
	case status == http.StatusNotFound:
		hint = " Is the URL's path the server's push path?"
	case status == http.StatusMethodNotAllowed:
		hint = " The push URL must accept POST."
	case status >= 300 && status < 400:
		hint = " WeChat does not follow redirects: configure the final URL."
	case status == http.StatusRequestEntityTooLarge:
		hint = " The server's body limit is too small for this push."
	case status >= 500 && !push:
		hint = " The server failed on the GET; see its log."
	case status >= 500:
		hint = " The server failed; WeChat delivers the same message again."
	}
	what := "an empty body"
	if len(body) > 0 {
		what = "body " + excerpt(body)
	}
	return judged(VerdictStatus, "HTTP %d %s (%s): WeChat counts every status other than 200 as a failure.%s",
		status, http.StatusText(status), what, hint)
}

// judge decides what WeChat makes of a 200 answer to push in (nil when the
// pushed body did not decode).
func (c *Client) judge(in message.Push, body []byte) Judgement {
	if len(body) == 0 || string(body) == "success" {
		what := "an empty body"
		if len(body) > 0 {
			what = "\"success\""
		}
		switch requiredAck(in) {
		case ackXPay:
			return judged(VerdictNotAcknowledged, "answered %s to %s, which is not an acknowledgement: WeChat delivers the notification again "+
				"(15s, 15s, 30s, 3m, … for 24 h) until it gets {\"ErrCode\":0,\"ErrMsg\":\"success\"} (message.XPayOK), encrypted in safe mode", what, kindName(in))
		case ackIOSRefund:
			return judged(VerdictNotAcknowledged, "answered %s to the iOS refund inquiry: it needs {\"result_code\":0 or 1,\"result_info\":…,\"evidence\":…} "+
				"(message.XPayIOSRefundAnswer) within 3 s, or WeChat asks again and after 3 tries tells Apple \"undetermined\"", what)
		case ackExpress:
			return judged(VerdictNotAcknowledged, "answered %s to the express-provider request %s: it needs the reply with ResultCode and ResultMsg "+
				"(message.ExpressResult), the users swapped and the Event echoed", what, kindName(in))
		}
		if len(body) == 0 {
			return judged(VerdictEmpty, "empty body: handled, nothing more wanted")
		}
		return judged(VerdictSuccess, "\"success\": handled, nothing more wanted")
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case string(trimmed) == "success":
		return judged(VerdictMalformed, "answered %s: the body must be exactly \"success\" with nothing around it (no newline), or empty", excerpt(body))
	case string(trimmed) == `"success"` || string(trimmed) == `'success'`:
		return judged(VerdictMalformed, "answered %s: \"success\" must not be quoted or JSON-encoded; write the 7 bytes success", excerpt(body))
	case len(trimmed) == 0:
		return judged(VerdictMalformed, "answered only white space %s: send exactly \"success\" or an empty body", excerpt(body))
	case isHTML(trimmed):
		return judged(VerdictMalformed, "answered an HTML page %s: probably an error page or a web framework's default route, not the push handler", excerpt(body))
	}
	f, err := message.DetectFormat(body)
	if err != nil {
		return judged(VerdictMalformed, "answered %s, which is neither \"success\", an empty body, nor an XML or JSON reply", excerpt(body))
	}
	if f != c.format {
		return judged(VerdictWrongFormat, "answered %s to a push in %s: the reply must use the configured data format (%s)", strings.ToUpper(f.String()), strings.ToUpper(c.format.String()), c.format)
	}
	env, err := message.ParseEnvelope(body, f)
	if err != nil {
		return judged(VerdictMalformed, "the reply is not well-formed %s (%v): %s", f, err, excerpt(body))
	}
	if env.Encrypt == "" {
		if c.mode == ModeSafe {
			return judged(VerdictPlaintextReply, "the reply is not encrypted, but the push came in safe mode: every reply other than \"success\" or an empty body "+
				"must be an envelope (Encrypt, MsgSignature, TimeStamp, Nonce) encrypted with the EncodingAESKey")
		}
		return c.judgePlainReply(in, body)
	}
	if c.mode == ModePlain {
		return judged(VerdictUnsupportedReply, "the reply is encrypted, but the push came in plaintext mode: answer in plaintext (or \"success\")")
	}
	if env.MsgSignature == "" {
		return judged(VerdictBadMsgSignature, "the encrypted reply is unsigned (no MsgSignature): add MsgSignature = sha1(sort(token, TimeStamp, Nonce, Encrypt))")
	}
	if env.TimeStamp == 0 || env.Nonce == "" {
		return judged(VerdictBadMsgSignature, "the encrypted reply lacks TimeStamp or Nonce, which MsgSignature covers")
	}
	if !wxcrypt.VerifySignature(env.MsgSignature, c.token, strconv.FormatInt(env.TimeStamp, 10), env.Nonce, env.Encrypt) {
		return judged(VerdictBadMsgSignature, "the reply's MsgSignature does not match sha1(sort(token, TimeStamp, Nonce, Encrypt)): "+
			"check the Token and that the signature covers the reply's own TimeStamp, Nonce and Encrypt")
	}
	plain, err := c.key.Decrypt(env.Encrypt, c.appID)
	switch {
	case errors.Is(err, wxcrypt.ErrAppID):
		return judged(VerdictWrongAppID, "the reply decrypts but was sealed for another AppID: encrypt with this mini program's AppID")
	case err != nil:
		return judged(VerdictBadCiphertext, "the reply's Encrypt does not decrypt with the EncodingAESKey (%v): "+
			"check the key, AES-256-CBC with IV = key[:16], PKCS#7 padding to 32 bytes", err)
	}
	pf, err := message.DetectFormat(plain)
	if err != nil {
		return Judgement{Verdict: VerdictMalformed, ReplyPlaintext: plain,
			Reason: fmt.Sprintf("the decrypted reply %s is neither XML nor JSON", excerpt(plain))}
	}
	if pf != c.format {
		return Judgement{Verdict: VerdictWrongFormat, ReplyPlaintext: plain,
			Reason: fmt.Sprintf("the encrypted reply holds %s, but the push was %s: the reply must use the configured data format", strings.ToUpper(pf.String()), strings.ToUpper(c.format.String()))}
	}
	return c.judgePlainReply(in, plain)
}

func isHTML(b []byte) bool {
	if len(b) > 64 {
		b = b[:64]
	}
	l := bytes.ToLower(b)
	return bytes.HasPrefix(l, []byte("<!doctype html")) || bytes.HasPrefix(l, []byte("<html")) ||
		bytes.Contains(l, []byte("<head")) || bytes.Contains(l, []byte("<body"))
}

// judgePlainReply checks a plaintext (or decrypted) passive reply in the
// client's format.
func (c *Client) judgePlainReply(in message.Push, plain []byte) Judgement {
	j := Judgement{ReplyPlaintext: plain}
	r, err := message.Decode(plain, c.format)
	if err != nil {
		j.Verdict, j.Reason = VerdictMalformed, fmt.Sprintf("the reply is not a readable %s message (%v)", c.format, err)
		return j
	}
	j.Reply = r
	var inHead *message.Header
	if in != nil {
		inHead = in.Head()
	}
	h := r.Head()
	errCode, isAck := ackCode(r)
	need := requiredAck(in)
	resultCode, isIOS := replyField(r, "result_code")
	isIOS = isIOS && h.MsgType == ""
	expressCode, isExpress := replyField(r, "ResultCode")
	isExpress = isExpress && h.MsgType == message.MsgTypeEvent
	switch {
	case h.MsgType == message.MsgTypeTransferCustomerService:
		switch {
		case inHead != nil && inHead.MsgType == message.MsgTypeEvent:
			j.Verdict, j.Reason = VerdictUnsupportedReply, fmt.Sprintf("transfer_customer_service answers the event %s: only user messages (text, image, miniprogrampage) can be transferred; answer events with \"success\"", inHead.Event)
		case inHead != nil && (h.ToUserName != inHead.FromUserName || h.FromUserName != inHead.ToUserName):
			j.Verdict, j.Reason = VerdictReplyMismatch, fmt.Sprintf("transfer_customer_service must swap the push's users: ToUserName %q (want the user %q), FromUserName %q (want the mini program %q)",
				h.ToUserName, inHead.FromUserName, h.FromUserName, inHead.ToUserName)
		default:
			j.Accepted, j.Verdict, j.Reason = true, VerdictReply, "transfer_customer_service: the conversation goes to the web customer-service tool"
		}
	case isAck:
		switch {
		case need == ackIOSRefund:
			j.Verdict, j.Reason = VerdictUnsupportedReply, "the iOS refund inquiry is not answered with the xpay ErrCode reply: it needs {\"result_code\":0 or 1,\"result_info\":…,\"evidence\":…} (message.XPayIOSRefundAnswer)"
		case inHead != nil && need != ackXPay:
			j.Verdict, j.Reason = VerdictUnsupportedReply, fmt.Sprintf("an ErrCode acknowledgement only means something for xpay_* events, not for %s: answer \"success\"", kindName(in))
		case errCode != "0":
			msg, _ := r.(*message.Unknown).Get("ErrMsg")
			j.Verdict, j.Reason = VerdictXPayError, fmt.Sprintf("the server declined the notification with ErrCode %s (ErrMsg %q): WeChat retries it later", errCode, msg.String())
		default:
			j.Accepted, j.Verdict, j.Reason = true, VerdictReply, "ErrCode 0: the virtual-payment notification is acknowledged"
		}
	case isIOS:
		evidence, _ := replyField(r, "evidence")
		switch {
		case inHead != nil && need != ackIOSRefund:
			j.Verdict, j.Reason = VerdictUnsupportedReply, fmt.Sprintf("a result_code answer only means something for the iOS refund inquiry, not for %s", kindName(in))
		case resultCode != "0" && resultCode != "1":
			j.Verdict, j.Reason = VerdictMalformed, fmt.Sprintf("result_code %q: it must be 0 (advise a refund) or 1 (advise against)", resultCode)
		case strings.TrimSpace(evidence) == "":
			j.Verdict, j.Reason = VerdictMalformed, "the answer has no evidence: WeChat requires what the advice rests on (for example \"not delivered yet\")"
		default:
			advice := "advises Apple to refund"
			if resultCode == "1" {
				advice = "advises Apple against the refund"
			}
			j.Accepted, j.Verdict, j.Reason = true, VerdictReply, "result_code "+resultCode+": the iOS refund inquiry is answered, and "+advice
		}
	case isExpress:
		n, err := strconv.ParseInt(expressCode, 10, 64)
		msg, _ := replyField(r, "ResultMsg")
		switch {
		case inHead != nil && need != ackExpress:
			j.Verdict, j.Reason = VerdictUnsupportedReply, fmt.Sprintf("a ResultCode reply only means something for express-provider requests, not for %s: answer \"success\"", kindName(in))
		case err != nil:
			j.Verdict, j.Reason = VerdictMalformed, fmt.Sprintf("ResultCode %q is not an integer", expressCode)
		case inHead != nil && (h.ToUserName != inHead.FromUserName || h.FromUserName != inHead.ToUserName):
			j.Verdict, j.Reason = VerdictReplyMismatch, fmt.Sprintf("the ResultCode reply must swap the push's users: ToUserName %q (want %q), FromUserName %q (want %q)",
				h.ToUserName, inHead.FromUserName, h.FromUserName, inHead.ToUserName)
		case inHead != nil && h.Event != inHead.Event:
			j.Verdict, j.Reason = VerdictReplyMismatch, fmt.Sprintf("the ResultCode reply names the event %q, not the request's %q", h.Event, inHead.Event)
		case n != 0:
			j.Accepted, j.Verdict, j.Reason = true, VerdictReply, fmt.Sprintf("ResultCode %d (ResultMsg %q): the request is answered, and declined", n, msg)
		default:
			j.Accepted, j.Verdict, j.Reason = true, VerdictReply, "ResultCode 0: the express-provider request is answered"
		}
	case h.MsgType == message.MsgTypeText || h.MsgType == message.MsgTypeImage || h.MsgType == "news" || h.MsgType == "voice" || h.MsgType == "video" || h.MsgType == "music":
		j.Verdict, j.Reason = VerdictUnsupportedReply, fmt.Sprintf("a passive %s reply is official-account style; mini programs only take transfer_customer_service. "+
			"Answer \"success\" and send the message through the customer-service API (message/custom/send)", h.MsgType)
	default:
		what := "MsgType " + strconv.Quote(h.MsgType)
		if h.MsgType == "" {
			what = "no MsgType"
		}
		j.Verdict, j.Reason = VerdictUnsupportedReply, fmt.Sprintf("the reply (%s) is not one WeChat understands: only \"success\", an empty body, transfer_customer_service, "+
			"the xpay ErrCode reply, the iOS refund answer and the express ResultCode reply are meaningful", what)
	}
	return j
}

// ackCode returns the ErrCode of an {"ErrCode":…,"ErrMsg":…} reply.
func ackCode(r message.Push) (string, bool) {
	u, ok := r.(*message.Unknown)
	if !ok || u.MsgType != "" {
		return "", false
	}
	v, ok := u.Get("ErrCode")
	if !ok {
		return "", false
	}
	return strings.TrimSpace(v.String()), true
}

// replyField returns the trimmed text of a top-level field of a decoded
// reply (Fields of an Unknown, Extra of a typed one).
func replyField(r message.Push, name string) (string, bool) {
	var v message.Value
	var ok bool
	if u, isU := r.(*message.Unknown); isU {
		v, ok = u.Get(name)
	} else {
		v, ok = r.Head().Get(name)
	}
	return strings.TrimSpace(v.String()), ok
}

// ackKind is the explicit answer a push's sender waits for.
type ackKind uint8

const (
	ackAny       ackKind = iota // "success", an empty body or any meaningful reply
	ackXPay                     // {"ErrCode":0,...}
	ackIOSRefund                // {"result_code":…,"evidence":…}
	ackExpress                  // the ResultCode reply
)

// Probes of message.Acknowledges, which decides what each push needs.
var (
	iosProbe     = message.XPayIOSRefundAnswer(true, "", "probe")
	expressProbe = message.ExpressResult(0, "")
)

// requiredAck returns the answer in's sender waits for.
func requiredAck(in message.Push) ackKind {
	switch {
	case in == nil || message.Acknowledges(in, message.Success):
		return ackAny
	case message.Acknowledges(in, message.XPayOK):
		return ackXPay
	case message.Acknowledges(in, iosProbe):
		return ackIOSRefund
	case message.Acknowledges(in, expressProbe):
		return ackExpress
	}
	return ackAny
}

// kindName is the msgtype, or the event name for events.
func kindName(p message.Push) string {
	if p == nil {
		return ""
	}
	h := p.Head()
	if h.MsgType == message.MsgTypeEvent && h.Event != "" {
		return h.Event
	}
	return h.MsgType
}
