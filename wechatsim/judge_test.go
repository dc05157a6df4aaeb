package wechatsim

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wxgate/wxgate/message"
	"github.com/wxgate/wxgate/push"
	"github.com/wxgate/wxgate/wxcrypt"
)

// replyFunc is a message.Reply that renders whatever fn returns, so that the
// SDK handler encrypts and signs a broken reply correctly.
type replyFunc func(in *message.Header, f message.Format) string

func (r replyFunc) AppendReply(dst []byte, in *message.Header, f message.Format, _ int64) ([]byte, error) {
	return append(dst, r(in, f)...), nil
}

// sdkReplying returns the SDK handler answering every push with reply.
func sdkReplying(t *testing.T, clock Clock, reply message.Reply) http.Handler {
	r := push.NewRouter()
	r.Fallback(func(context.Context, *push.Request) (message.Reply, error) { return reply, nil })
	return newSDKHandler(t, clock, r)
}

// sealReply seals a passive reply as a server would: encrypted for appID
// with tKey and signed with tToken.
func sealReply(appID string, body []byte) (message.Envelope, error) {
	enc, err := wxcrypt.MustParseKey(tKey).Encrypt(nil, body, appID)
	if err != nil {
		return message.Envelope{}, err
	}
	ts, nonce := time.Now().Unix(), "1320562132"
	return message.Envelope{Encrypt: enc, MsgSignature: wxcrypt.Signature(tToken, itoa(ts), nonce, enc), TimeStamp: ts, Nonce: nonce}, nil
}

// sealed answers every push with body sealed by sealReply for appID,
// then passes the envelope through mutate.
func sealed(appID string, body string, mutate func(*message.Envelope)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		env, err := sealReply(appID, []byte(body))
		if err != nil {
			panic(err)
		}
		if mutate != nil {
			mutate(&env)
		}
		f := message.FormatXML
		if strings.Contains(r.Header.Get("Content-Type"), "json") {
			f = message.FormatJSON
		}
		w.Write(env.Append(nil, f))
	})
}

const transferXML = `<xml><ToUserName><![CDATA[oUser]]></ToUserName><FromUserName><![CDATA[gh_x]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>`

// TestBrokenServers checks the diagnosis of each broken answer.
func TestBrokenServers(t *testing.T) {
	clock := NewFakeClock(time.Time{})
	fast := 100 * time.Millisecond
	cases := []struct {
		name     string
		handler  http.Handler
		mode     Mode
		format   message.Format
		kind     string
		verdict  Verdict
		reason   string // a part of the Reason
		attempts int
	}{
		{"plaintext reply in safe mode", okHandler(transferXML), ModeSafe, message.FormatXML, "text",
			VerdictPlaintextReply, "not encrypted", 1},
		{"unsigned encrypted reply", sealed(tAppID, transferXML, func(e *message.Envelope) { e.MsgSignature = "" }), ModeSafe, message.FormatXML, "text",
			VerdictBadMsgSignature, "unsigned", 1},
		{"encrypted reply without TimeStamp and Nonce", sealed(tAppID, transferXML, func(e *message.Envelope) {
			e.TimeStamp, e.Nonce = 0, ""
			e.MsgSignature = wxcrypt.Signature(tToken, "0", "", e.Encrypt)
		}), ModeSafe, message.FormatXML, "text", VerdictBadMsgSignature, "lacks TimeStamp or Nonce", 1},
		{"bad MsgSignature", sealed(tAppID, transferXML, func(e *message.Envelope) { e.MsgSignature = corruptSignature(e.MsgSignature) }), ModeCompat, message.FormatXML, "text",
			VerdictBadMsgSignature, "does not match", 1},
		{"reply sealed for another AppID", sealed("wx0000000000000000", transferXML, nil), ModeSafe, message.FormatXML, "text",
			VerdictWrongAppID, "another AppID", 1},
		{"reply that does not decrypt", sealed(tAppID, transferXML, func(e *message.Envelope) {
			e.Encrypt = "AAAA" + e.Encrypt[4:]
			e.MsgSignature = wxcrypt.Signature(tToken, itoa(e.TimeStamp), e.Nonce, e.Encrypt)
		}), ModeSafe, message.FormatXML, "text", VerdictBadCiphertext, "does not decrypt", 1},
		{"JSON envelope to an XML push", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			env, _ := sealReply(tAppID, []byte(transferXML))
			w.Write(env.Append(nil, message.FormatJSON))
		}), ModeSafe, message.FormatXML, "text", VerdictWrongFormat, "JSON to a push in XML", 1},
		{"JSON inside an XML envelope", sdkReplying(t, clock, replyFunc(func(in *message.Header, _ message.Format) string {
			b, _ := message.TransferCustomerService().AppendReply(nil, in, message.FormatJSON, 1)
			return string(b)
		})), ModeSafe, message.FormatXML, "text", VerdictWrongFormat, "holds JSON", 1},
		{"XML reply to a plaintext JSON push", okHandler(transferXML), ModePlain, message.FormatJSON, "text",
			VerdictWrongFormat, "XML to a push in JSON", 1},
		{"slow answer", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }), ModeSafe, message.FormatXML, "text",
			VerdictTimeout, "within 100ms", 3},
		{"HTTP 500", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) }), ModeSafe, message.FormatJSON, "image",
			VerdictStatus, "HTTP 500", 3},
		{"HTTP 403", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "signature mismatch", 403) }), ModePlain, message.FormatXML, "text",
			VerdictStatus, "same Token", 3},
		{"success with a newline", okHandler("success\n"), ModeSafe, message.FormatXML, "text",
			VerdictMalformed, "no newline", 1},
		{"quoted success", okHandler(`"success"`), ModeSafe, message.FormatJSON, "text",
			VerdictMalformed, "must not be quoted", 1},
		{"HTML page", okHandler("<!DOCTYPE html><html><body>hello</body></html>"), ModeSafe, message.FormatXML, "text",
			VerdictMalformed, "HTML page", 1},
		{"plain text", okHandler("ok"), ModePlain, message.FormatXML, "text",
			VerdictMalformed, "neither", 1},
		{"broken XML", okHandler("<xml><Encrypt>"), ModeSafe, message.FormatXML, "text",
			VerdictMalformed, "not well-formed", 1},
		{"passive text reply", sdkReplying(t, clock, replyFunc(func(in *message.Header, f message.Format) string {
			b, _ := message.Encode(&message.Text{Header: message.Header{ToUserName: in.FromUserName, FromUserName: in.ToUserName, CreateTime: 1}, Content: "hi", MsgID: "1"}, f)
			return string(b)
		})), ModeSafe, message.FormatJSON, "text", VerdictUnsupportedReply, "custom/send", 1},
		{"transfer answering an event", sdkReplying(t, clock, message.TransferCustomerService()), ModeCompat, message.FormatJSON, KindEnter,
			VerdictUnsupportedReply, "only user messages", 1},
		{"transfer with users not swapped", sdkReplying(t, clock, replyFunc(func(in *message.Header, f message.Format) string {
			swapped := *in
			swapped.ToUserName, swapped.FromUserName = in.FromUserName, in.FromUserName
			b, _ := message.TransferCustomerService().AppendReply(nil, &swapped, f, 1)
			return string(b)
		})), ModeSafe, message.FormatXML, "text", VerdictReplyMismatch, "swap", 1},
		{"xpay ack to a text", sdkReplying(t, clock, message.XPayOK), ModeSafe, message.FormatJSON, "text",
			VerdictUnsupportedReply, "xpay_*", 1},
		{"xpay declined", sdkReplying(t, clock, replyFunc(func(_ *message.Header, f message.Format) string {
			if f == message.FormatJSON {
				return `{"ErrCode":268490004,"ErrMsg":"out of stock"}`
			}
			return `<xml><ErrCode>268490004</ErrCode><ErrMsg><![CDATA[out of stock]]></ErrMsg></xml>`
		})), ModeSafe, message.FormatXML, "xpay_goods_deliver_notify", VerdictXPayError, "out of stock", xpayDeliveries},
		// Pushes whose sender waits for its own answer.
		{"success to an xpay notification", okHandler("success"), ModeSafe, message.FormatXML, "xpay_coin_pay_notify",
			VerdictNotAcknowledged, "not an acknowledgement", xpayDeliveries},
		{"success from the SDK to an xpay notification", sdkReplying(t, clock, message.Success), ModeSafe, message.FormatJSON, "xpay_refund_notify",
			VerdictNotAcknowledged, "message.XPayOK", xpayDeliveries},
		{"empty body to the iOS refund inquiry", okHandler(""), ModePlain, message.FormatJSON, "xpay_subscribe_ios_refund_query_notify",
			VerdictNotAcknowledged, "within 3 s", DefaultIOSRefundInquiries},
		{"xpay ack to the iOS refund inquiry", sdkReplying(t, clock, message.XPayOK), ModeSafe, message.FormatXML, "xpay_subscribe_ios_refund_query_notify",
			VerdictUnsupportedReply, "not answered with the xpay ErrCode reply", DefaultIOSRefundInquiries},
		{"iOS answer without evidence", sdkReplying(t, clock, replyFunc(func(_ *message.Header, f message.Format) string {
			if f == message.FormatJSON {
				return `{"result_code":0,"result_info":"ok"}`
			}
			return `<xml><result_code>0</result_code><evidence> </evidence></xml>`
		})), ModeSafe, message.FormatXML, "xpay_subscribe_ios_refund_query_notify", VerdictMalformed, "no evidence", DefaultIOSRefundInquiries},
		{"iOS answer with result_code 2", okHandler(`{"result_code":2,"result_info":"?","evidence":"e"}`), ModePlain, message.FormatJSON,
			"xpay_subscribe_ios_refund_query_notify", VerdictMalformed, "must be 0", DefaultIOSRefundInquiries},
		{"iOS answer to an xpay notification", sdkReplying(t, clock, message.XPayIOSRefundAnswer(true, "", "e")), ModeSafe, message.FormatJSON,
			"xpay_goods_deliver_notify", VerdictUnsupportedReply, "only means something for the iOS refund inquiry", xpayDeliveries},
		{"success to an express request", okHandler("success"), ModeSafe, message.FormatJSON, "add_waybill",
			VerdictNotAcknowledged, "message.ExpressResult", 1},
		{"express result with users not swapped", sdkReplying(t, clock, replyFunc(func(in *message.Header, f message.Format) string {
			same := *in
			same.FromUserName = in.ToUserName
			b, _ := message.ExpressResult(0, "ok").AppendReply(nil, &same, f, 1)
			return string(b)
		})), ModeSafe, message.FormatXML, "get_quota", VerdictReplyMismatch, "swap", 1},
		{"express result naming another event", sdkReplying(t, clock, replyFunc(func(in *message.Header, f message.Format) string {
			other := *in
			other.Event = "get_quota"
			b, _ := message.ExpressResult(0, "ok").AppendReply(nil, &other, f, 1)
			return string(b)
		})), ModeSafe, message.FormatJSON, "check_biz", VerdictReplyMismatch, `not the request's "check_biz"`, 1},
		{"express result to a text", sdkReplying(t, clock, message.ExpressResult(0, "ok")), ModeSafe, message.FormatJSON, "text",
			VerdictUnsupportedReply, "only means something for express-provider requests", 1},
		{"xpay ack to an express request", sdkReplying(t, clock, message.XPayOK), ModePlain, message.FormatXML, "cancel_waybill",
			VerdictUnsupportedReply, "only means something for xpay_* events", 1},
		{"encrypted reply to a plaintext push", sealed(tAppID, transferXML, nil), ModePlain, message.FormatXML, "text",
			VerdictUnsupportedReply, "plaintext mode", 1},
		{"handler panics", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }), ModeSafe, message.FormatXML, "text",
			VerdictNetwork, "panicked", 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, ClientConfig{Handler: tc.handler, Mode: tc.mode, Format: tc.format, Clock: clock, Timeout: fast})
			p, err := c.Sample(tc.kind, nil)
			if err != nil {
				t.Fatal(err)
			}
			o, err := c.Push(context.Background(), p)
			if err != nil {
				t.Fatal(err)
			}
			if o.Accepted || o.Verdict != tc.verdict || !strings.Contains(o.Reason, tc.reason) {
				t.Fatalf("verdict %s, reason %q; want %s with %q", o.Verdict, o.Reason, tc.verdict, tc.reason)
			}
			if len(o.Deliveries) != tc.attempts || o.UserVisibleFailure != FailurePrompt {
				t.Fatalf("%d deliveries, user sees %q", len(o.Deliveries), o.UserVisibleFailure)
			}
			if strings.Contains(o.Reason, tToken) || strings.Contains(o.Reason, tKey) {
				t.Fatal("reason shows a secret")
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// xpayDeliveries is how many times WeChat delivers an unacknowledged xpay
// notification.
var xpayDeliveries = 1 + len(DefaultXPaySchedule())

// TestAcceptedAnswers: the answers WeChat takes.
func TestAcceptedAnswers(t *testing.T) {
	clock := NewFakeClock(time.Time{})
	for _, tc := range []struct {
		name    string
		handler http.Handler
		mode    Mode
		kind    string
		verdict Verdict
	}{
		{"success", okHandler("success"), ModeSafe, "text", VerdictSuccess},
		{"empty body", okHandler(""), ModeSafe, "text", VerdictEmpty},
		{"plaintext transfer in compat mode", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Echo a correct transfer reply in plaintext.
			b, _ := io.ReadAll(r.Body)
			p, _ := message.Decode(b, message.FormatXML)
			out, _ := message.TransferCustomerService().AppendReply(nil, p.Head(), message.FormatXML, 1)
			w.Write(out)
		}), ModeCompat, "text", VerdictReply},
		{"encrypted xpay ack", sdkReplying(t, clock, message.XPayOK), ModeSafe, "xpay_coin_pay_notify", VerdictReply},
		{"iOS refund answer", sdkReplying(t, clock, message.XPayIOSRefundAnswer(false, "已发货", "道具已到账并已使用")), ModeSafe,
			"xpay_subscribe_ios_refund_query_notify", VerdictReply},
		{"express result", sdkReplying(t, clock, message.ExpressResult(0, "ok", message.Field{Name: "BizID", Value: message.StringValue("b")})), ModeCompat,
			"get_quota", VerdictReply},
		{"express result declining", sdkReplying(t, clock, message.ExpressResult(9300506, "该运单已取消")), ModeSafe, "cancel_waybill", VerdictReply},
		{"success to an express path update", okHandler("success"), ModeSafe, "add_express_path", VerdictSuccess},
		{"success to a complaint", okHandler("success"), ModeSafe, "complaint_callback", VerdictSuccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newTestClient(t, ClientConfig{Handler: tc.handler, Mode: tc.mode, Clock: clock})
			p, _ := c.Sample(tc.kind, nil)
			o, err := c.Push(context.Background(), p)
			if err != nil || !o.Accepted || o.Verdict != tc.verdict || o.UserVisibleFailure != "" {
				t.Fatalf("%v: %s (%s)", err, o.Verdict, o.Reason)
			}
			if tc.verdict == VerdictReply && (o.Reply == nil || len(o.ReplyPlaintext) == 0) {
				t.Fatal("no decoded reply")
			}
		})
	}
}

// TestConnectionRefused: nothing listens on the URL.
func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newTestClient(t, ClientConfig{URL: "http://" + addr + "/wechat", Timeout: time.Second})
	o, err := c.Push(context.Background(), &message.Text{Content: "anyone?"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Verdict != VerdictRefused || len(o.Deliveries) != DefaultDeliveries || !strings.Contains(o.Reason, addr) || o.UserVisibleFailure != FailurePrompt {
		t.Fatalf("%s (%s) %d deliveries", o.Verdict, o.Reason, len(o.Deliveries))
	}
	if res := c.Verify(context.Background()); res.Pass || res.Verdict != VerdictRefused || len(res.Checks) != 1 {
		t.Fatalf("verify: %+v", res)
	}
}

// TestSlowAnswerOverLoopback: the timeout also holds over a real
// connection, and the server sees the connection dropped.
func TestSlowAnswerOverLoopback(t *testing.T) {
	dropped := make(chan struct{}, 3)
	srv := newServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // net/http notices a dropped client only once the body is read
		select {
		case <-r.Context().Done():
			dropped <- struct{}{}
		case <-time.After(10 * time.Second):
		}
	}))
	c := newTestClient(t, ClientConfig{URL: srv, Timeout: 100 * time.Millisecond, Deliveries: 2})
	o, _ := c.Push(context.Background(), &message.Text{Content: "slow"})
	if o.Verdict != VerdictTimeout || len(o.Deliveries) != 2 || !strings.Contains(o.Reason, "all 2 deliveries") {
		t.Fatalf("%s (%s)", o.Verdict, o.Reason)
	}
	for range 2 {
		select {
		case <-dropped:
		case <-time.After(10 * time.Second):
			t.Fatal("the server never saw the connection dropped")
		}
	}
}

// TestCanceledContext: a canceled context ends the push without retries.
func TestCanceledContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	})
	c := newTestClient(t, ClientConfig{Handler: h})
	o, err := c.Push(ctx, &message.Text{Content: "x"})
	if err != nil || o.Verdict != VerdictCanceled || len(o.Deliveries) != 1 {
		t.Fatalf("%v %+v", err, o)
	}
	if _, err := c.Push(ctx, &message.Text{Content: "x"}); err == nil {
		t.Fatal("push on a canceled context")
	}
}

// FuzzJudge: no answer makes the judge panic, and only "success", the empty
// body and well-formed replies are accepted.
func FuzzJudge(f *testing.F) {
	for _, s := range []string{"success", "", "success\n", transferXML, `{"ErrCode":0,"ErrMsg":"success"}`,
		`{"result_code":1,"result_info":"x","evidence":"y"}`, `<xml><result_code>0</result_code><evidence>e</evidence></xml>`,
		`{"ToUserName":"oWx","FromUserName":"gh_x","CreateTime":1,"MsgType":"event","Event":"get_quota","ResultCode":0,"ResultMsg":"ok"}`,
		`<xml><ToUserName>oWx</ToUserName><FromUserName>gh_x</FromUserName><MsgType>event</MsgType><Event>get_quota</Event><ResultCode>x</ResultCode></xml>`,
		`<xml><Encrypt><![CDATA[abc]]></Encrypt><MsgSignature>x</MsgSignature><TimeStamp>1</TimeStamp><Nonce>1</Nonce></xml>`,
		`{"Encrypt":"","MsgSignature":1}`, "<html>", "\xef\xbb\xbf<xml/>"} {
		f.Add([]byte(s))
	}
	var clients []*Client
	for _, m := range allModes {
		for _, fm := range allFormats {
			c, err := NewClient(ClientConfig{Handler: okHandler(""), Token: tToken, AppID: tAppID, AESKey: tKey, Mode: m, Format: fm})
			if err != nil {
				f.Fatal(err)
			}
			clients = append(clients, c)
		}
	}
	in := &message.Text{Header: message.Header{ToUserName: "gh_x", FromUserName: "oUser", MsgType: "text"}, Content: "x"}
	ev := &message.XPayCoinPayNotify{Header: message.Header{ToUserName: "gh_x", FromUserName: "oUser", MsgType: "event", Event: "xpay_coin_pay_notify"}}
	ios := &message.XPayIOSRefundQuery{Header: message.Header{ToUserName: "gh_x", FromUserName: "oUser", MsgType: "event", Event: "xpay_subscribe_ios_refund_query_notify"}}
	exp := &message.ExpressBusiness{Header: message.Header{ToUserName: "gh_x", FromUserName: "oWx", MsgType: "event", Event: "get_quota"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, c := range clients {
			for _, p := range []message.Push{in, ev, ios, exp, nil} {
				j := c.judge(p, body)
				if j.Verdict == "" || j.Reason == "" || j.Accepted != j.Verdict.Accepted() {
					t.Fatalf("incomplete judgement %+v", j)
				}
				if j.Accepted && len(body) > 0 && string(body) != "success" && j.Reply == nil {
					t.Fatalf("accepted %q without a reply", body)
				}
			}
		}
	})
}
