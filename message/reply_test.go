package message

import (
	"testing"
	"time"
)

func TestReplyDeadline(t *testing.T) {
	ev := func(e string) Header { return Header{MsgType: MsgTypeEvent, Event: e} }
	for _, c := range []struct {
		p    Push
		want time.Duration
	}{
		{&XPayIOSRefundQuery{Header: ev(EventXPaySubscribeIOSRefundQuery)}, 3 * time.Second},
		{&Unknown{Header: ev(EventXPaySubscribeIOSRefundQuery)}, 3 * time.Second},
		{&XPayGoodsDeliverNotify{Header: ev(EventXPayGoodsDeliverNotify)}, 5 * time.Second},
		{&Text{Header: Header{MsgType: MsgTypeText}}, 5 * time.Second},
		{&ExpressBusiness{Header: ev(EventExpressGetQuota)}, 5 * time.Second},
		// Event only counts for events.
		{&Unknown{Header: Header{MsgType: "text", Event: EventXPaySubscribeIOSRefundQuery}}, 5 * time.Second},
		{nil, DefaultReplyDeadline},
	} {
		if got := ReplyDeadline(c.p); got != c.want {
			t.Errorf("ReplyDeadline(%#v) = %v, want %v", c.p, got, c.want)
		}
	}
}

func TestAcknowledges(t *testing.T) {
	ev := func(e string) Header { return Header{MsgType: MsgTypeEvent, Event: e} }
	answer := XPayIOSRefundAnswer(false, "已发货", "道具已到账")
	express := ExpressResult(0, "ok")
	all := []Reply{nil, Success, XPayOK, TransferCustomerService(), answer, express,
		XPayIOSRefundAnswer(true, "", ""), ExpressResult(9300501, "no such biz")}
	cases := []struct {
		p    Push
		want []bool // per reply in all
	}{
		// No explicit acknowledgement needed: anything settles.
		{&Text{Header: Header{MsgType: MsgTypeText}}, []bool{true, true, true, true, true, true, true, true}},
		{&SubscribeMsgPopupEvent{Header: ev(EventSubscribeMsgPopup)}, []bool{true, true, true, true, true, true, true, true}},
		{&AddExpressPath{Header: ev(EventAddExpressPath)}, []bool{true, true, true, true, true, true, true, true}},
		// xpay: only XPayOK; "success" is not an acknowledgement.
		{&XPayGoodsDeliverNotify{Header: ev(EventXPayGoodsDeliverNotify)}, []bool{false, false, true, false, false, false, false, false}},
		{&XPayCoinPayNotify{Header: ev(EventXPayCoinPayNotify)}, []bool{false, false, true, false, false, false, false, false}},
		{&XPayRefundNotify{Header: ev(EventXPayRefundNotify)}, []bool{false, false, true, false, false, false, false, false}},
		{&XPayComplaintNotify{Header: ev(EventXPayComplaintNotify)}, []bool{false, false, true, false, false, false, false, false}},
		{&XPaySubscribeNotify{Header: ev(EventXPaySubscribePayFail)}, []bool{false, false, true, false, false, false, false, false}},
		{&Unknown{Header: ev("xpay_future_notify")}, []bool{false, false, true, false, false, false, false, false}},
		// The iOS refund inquiry: only its own answer, with evidence.
		{&XPayIOSRefundQuery{Header: ev(EventXPaySubscribeIOSRefundQuery)}, []bool{false, false, false, false, true, false, false, false}},
		// Express-provider requests: a ResultCode reply, whatever the code.
		{&ExpressAddWaybill{Header: ev(EventExpressAddWaybill)}, []bool{false, false, false, false, false, true, false, true}},
		{&ExpressCancelWaybill{Header: ev(EventExpressCancelWaybill)}, []bool{false, false, false, false, false, true, false, true}},
		{&ExpressBusiness{Header: ev(EventExpressCheckBiz)}, []bool{false, false, false, false, false, true, false, true}},
		{&Unknown{Header: ev("remind_waybill")}, []bool{false, false, false, false, false, true, false, true}},
	}
	for _, c := range cases {
		for i, r := range all {
			if got := Acknowledges(c.p, r); got != c.want[i] {
				t.Errorf("Acknowledges(%s, %#v) = %v, want %v", KindOf(c.p), r, got, c.want[i])
			}
		}
	}
	if !Acknowledges(nil, nil) {
		t.Error("Acknowledges(nil, nil)")
	}
}
