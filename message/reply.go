package message

import "errors"

// Reply is a passive reply to a push, rendered in the request's format.
// In safe mode every reply except Success must be encrypted before it is
// sent (see IsSuccess).
type Reply interface {
	// AppendReply appends the reply body to dst. in is the header of the
	// push being answered and now the current Unix time in seconds.
	AppendReply(dst []byte, in *Header, f Format, now int64) ([]byte, error)
}

type successReply struct{}

// AppendReply appends "success".
func (successReply) AppendReply(dst []byte, _ *Header, _ Format, _ int64) ([]byte, error) {
	return append(dst, "success"...), nil
}

// Success is the literal reply "success", the same in both formats: the
// push was handled and nothing more is wanted. It is never encrypted.
var Success Reply = successReply{}

// XPayOK is the acknowledgement virtual-payment pushes require:
// {"ErrCode":0,"ErrMsg":"success"} in JSON and
// <xml><ErrCode>0</ErrCode><ErrMsg><![CDATA[success]]></ErrMsg></xml> in XML.
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

// TransferCustomerService returns the reply that hands the conversation to
// the web customer-service tool:
//
//	<xml><ToUserName><![CDATA[openid]]></ToUserName><FromUserName><![CDATA[gh_…]]></FromUserName><CreateTime>now</CreateTime><MsgType><![CDATA[transfer_customer_service]]></MsgType></xml>
//
// ToUserName and FromUserName are swapped relative to the inbound push,
// CreateTime is now, and a TransInfo object holding KfAccount is added
// when kfAccount is not empty. JSON uses the same keys.
func TransferCustomerService(kfAccount string) Reply { return transferReply{kf: kfAccount} }

type transferReply struct{ kf string }

// AppendReply appends the transfer_customer_service message answering in.
func (r transferReply) AppendReply(dst []byte, in *Header, f Format, now int64) ([]byte, error) {
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
	if r.kf != "" {
		e.begin("TransInfo")
		if f == FormatJSON {
			e.b = append(e.b, '{')
			e.comma = false
		}
		e.str("KfAccount", r.kf)
		if f == FormatJSON {
			e.b = append(e.b, '}')
			e.comma = true
		}
		e.end("TransInfo")
	}
	e.closeRoot()
	if e.err != nil {
		return dst, e.err
	}
	return e.b, nil
}

// KfAccount returns the customer-service account of a reply made by
// TransferCustomerService, and false for any other reply.
func KfAccount(r Reply) (string, bool) {
	t, ok := r.(transferReply)
	return t.kf, ok
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
