package message

import (
	"errors"
	"strings"
	"time"
)

// Reply is a passive reply to a push, rendered in the request's format.
// In safe mode every reply except Success must be encrypted before it is
// sent (see IsSuccess).
type Reply interface {
	// AppendReply appends the reply body to dst. in is the header of the
	// push being answered and now the current Unix time in seconds.
	AppendReply(dst []byte, in *Header, f Format, now int64) ([]byte, error)
}

// ErrNoEvidence is returned by the AppendReply of an XPayIOSRefundAnswer
// without evidence, which WeChat requires.
var ErrNoEvidence = errors.New("message: the iOS refund answer needs evidence")

type successReply struct{}

// AppendReply appends "success".
func (successReply) AppendReply(dst []byte, _ *Header, _ Format, _ int64) ([]byte, error) {
	return append(dst, "success"...), nil
}

// Success is the literal reply "success", the same in both formats: the
// push was handled and nothing more is wanted. It is never encrypted. It
// does not acknowledge the pushes that need an explicit answer (see
// Acknowledges).
var Success Reply = successReply{}

// XPayOK is the acknowledgement virtual-payment pushes require:
// {"ErrCode":0,"ErrMsg":"success"} in JSON and
// <xml><ErrCode>0</ErrCode><ErrMsg><![CDATA[success]]></ErrMsg></xml> in XML.
// WeChat redelivers an xpay notification until it gets it.
// https://developers.weixin.qq.com/miniprogram/dev/wxcloudservice/wxcloud/guide/wechatpay/virtual-payment-callback.html
var XPayOK Reply = xpayOKReply{}

type xpayOKReply struct{}

// AppendReply appends the acknowledgement in format f.
func (xpayOKReply) AppendReply(dst []byte, _ *Header, f Format, _ int64) ([]byte, error) {
	if err := checkFormat(f); err != nil {
		return dst, err
	}
	if f == FormatJSON {
		return append(dst, `{"ErrCode":0,"ErrMsg":"success"}`...), nil
	}
	return append(dst, `<xml><ErrCode>0</ErrCode><ErrMsg><![CDATA[success]]></ErrMsg></xml>`...), nil
}

// XPayIOSRefundAnswer returns the answer to an iOS refund inquiry
// (XPayIOSRefundQuery), which must come within 3 seconds: refund true
// advises Apple to refund (result_code 0), false advises against it
// (result_code 1); info describes the decision and evidence, which WeChat
// requires, what it rests on (for example "not delivered yet"). Apple
// decides. JSON: {"result_code":0,"result_info":"…","evidence":"…"}; XML
// uses the same element names. AppendReply fails with ErrNoEvidence when
// evidence is empty.
// https://developers.weixin.qq.com/miniprogram/dev/platform-capabilities/business-capabilities/virtual-payment/ios.html
func XPayIOSRefundAnswer(refund bool, info, evidence string) Reply {
	return iosRefundReply{refund: refund, info: info, evidence: evidence}
}

type iosRefundReply struct {
	refund         bool
	info, evidence string
}

// AppendReply appends the answer in format f.
func (r iosRefundReply) AppendReply(dst []byte, _ *Header, f Format, _ int64) ([]byte, error) {
	if err := checkFormat(f); err != nil {
		return dst, err
	}
	if strings.TrimSpace(r.evidence) == "" {
		return dst, ErrNoEvidence
	}
	code := int64(1)
	if r.refund {
		code = 0
	}
	e := encoder{b: dst, f: f}
	e.open()
	e.int("result_code", code)
	e.str("result_info", r.info)
	e.str("evidence", r.evidence)
	e.closeRoot()
	if e.err != nil {
		return dst, e.err
	}
	return e.b, nil
}

// ExpressResult returns the reply an express-provider event (add_waybill,
// cancel_waybill, get_quota, check_biz and the single-waybill events)
// requires: ToUserName and FromUserName swapped relative to the push,
// CreateTime now, MsgType "event", the push's Event, ResultCode code (0
// for success, the company's own code otherwise), ResultMsg msg, then
// fields in order (for add_waybill: Token, OrderID, BizID, WayBillID,
// WaybillData; for get_quota: BizID, Quota).
// https://developers.weixin.qq.com/miniprogram/dev/server/event_push/express/provider/Request_an_order_event.html
func ExpressResult(code int64, msg string, fields ...Field) Reply {
	return expressReply{code: code, msg: msg, fields: fields}
}

type expressReply struct {
	code   int64
	msg    string
	fields []Field
}

// AppendReply appends the result answering in.
func (r expressReply) AppendReply(dst []byte, in *Header, f Format, now int64) ([]byte, error) {
	if err := checkFormat(f); err != nil {
		return dst, err
	}
	if in == nil {
		return dst, errors.New("message: an express result needs the inbound header")
	}
	e := encoder{b: dst, f: f}
	e.open()
	e.str("ToUserName", in.FromUserName)
	e.str("FromUserName", in.ToUserName)
	e.int("CreateTime", now)
	e.str("MsgType", MsgTypeEvent)
	e.str("Event", in.Event)
	e.int("ResultCode", r.code)
	e.str("ResultMsg", r.msg)
	e.extra(r.fields)
	e.closeRoot()
	if e.err != nil {
		return dst, e.err
	}
	return e.b, nil
}

// TransferCustomerService returns the reply that hands the conversation to
// the web customer-service tool:
//
//	<xml><ToUserName><![CDATA[openid]]></ToUserName><FromUserName><![CDATA[gh_…]]></FromUserName><CreateTime>now</CreateTime><MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>
//
// ToUserName and FromUserName are swapped relative to the inbound push and
// CreateTime is now; JSON uses the same keys. Mini programs take no
// TransInfo (the official-account form that names a customer-service
// account).
// https://developers.weixin.qq.com/miniprogram/dev/framework/open-ability/customer-message/trans.html
func TransferCustomerService() Reply { return transferReply{} }

type transferReply struct{}

// AppendReply appends the transfer_customer_service message answering in.
func (transferReply) AppendReply(dst []byte, in *Header, f Format, now int64) ([]byte, error) {
	if err := checkFormat(f); err != nil {
		return dst, err
	}
	if in == nil {
		return dst, errors.New("message: transfer_customer_service needs the inbound header")
	}
	e := encoder{b: dst, f: f}
	e.open()
	e.str("ToUserName", in.FromUserName)
	e.str("FromUserName", in.ToUserName)
	e.int("CreateTime", now)
	e.str("MsgType", MsgTypeTransferCustomerService)
	e.closeRoot()
	if e.err != nil {
		return dst, e.err
	}
	return e.b, nil
}

// IsSuccess reports whether r is nil or Success: a reply that may be sent
// unencrypted in safe mode.
func IsSuccess(r Reply) bool {
	if r == nil {
		return true
	}
	_, ok := r.(successReply)
	return ok
}

// DefaultReplyDeadline is how long WeChat waits for the answer to a push.
const DefaultReplyDeadline = 5 * time.Second

// ReplyDeadline returns how long WeChat waits for the answer to p before
// it gives up on the delivery: 3 s for the iOS refund inquiry, 5 s
// (DefaultReplyDeadline) for everything else.
func ReplyDeadline(p Push) time.Duration {
	if p != nil && KindOf(p).Event == EventXPaySubscribeIOSRefundQuery {
		return 3 * time.Second
	}
	return DefaultReplyDeadline
}

// ackKind is the explicit acknowledgement a push's sender requires.
type ackKind uint8

const (
	ackAny       ackKind = iota // any reply, "success" included, settles it
	ackXPay                     // XPayOK
	ackIOSRefund                // XPayIOSRefundAnswer
	ackExpress                  // ExpressResult
)

func ackFor(p Push) ackKind {
	if p == nil {
		return ackAny
	}
	ev := KindOf(p).Event
	switch {
	case ev == EventXPaySubscribeIOSRefundQuery:
		return ackIOSRefund
	case strings.HasPrefix(ev, "xpay_"):
		return ackXPay
	case expressResultEvents[ev]:
		return ackExpress
	}
	return ackAny
}

// Acknowledges reports whether answering p with r settles p, so that its
// sender sends it no more. That holds for any reply (nil and Success
// included) when p needs no explicit acknowledgement, and otherwise only
// when r is the one its sender requires: XPayOK for the xpay_* events, an
// XPayIOSRefundAnswer with evidence for the iOS refund inquiry, an
// ExpressResult (any code) for the express-provider events. Only the
// builders of this package are recognized. A push handler must not record
// p as handled when this is false: WeChat delivers it again.
func Acknowledges(p Push, r Reply) bool {
	switch ackFor(p) {
	case ackXPay:
		_, ok := r.(xpayOKReply)
		return ok
	case ackIOSRefund:
		a, ok := r.(iosRefundReply)
		return ok && strings.TrimSpace(a.evidence) != ""
	case ackExpress:
		_, ok := r.(expressReply)
		return ok
	}
	return true
}
