package message

// This file lists the typed slots of every push type and nested object,
// in the order Encode writes them.

func (h *Header) extra() *[]Field { return &h.Extra }

func (m *Text) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "Content", mScalar, &m.Content
	case 1:
		return "MsgId", mScalar, &m.MsgID
	}
	return "", 0, nil
}

func (m *Image) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "PicUrl", mScalar, &m.PicURL
	case 1:
		return "MediaId", mScalar, &m.MediaID
	case 2:
		return "MsgId", mScalar, &m.MsgID
	}
	return "", 0, nil
}

func (m *MiniProgramPage) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "MsgId", mScalar, &m.MsgID
	case 1:
		return "Title", mScalar, &m.Title
	case 2:
		return "AppId", mScalar, &m.AppID
	case 3:
		return "PagePath", mScalar, &m.PagePath
	case 4:
		return "ThumbUrl", mScalar, &m.ThumbURL
	case 5:
		return "ThumbMediaId", mScalar, &m.ThumbMediaID
	}
	return "", 0, nil
}

func (m *UserEnterTempSession) at(i int, _ Format) (string, uint8, any) {
	if i == 0 {
		return "SessionFrom", mScalar, &m.SessionFrom
	}
	return "", 0, nil
}

func (m *DebugDemo) at(i int, _ Format) (string, uint8, any) {
	if i == 0 {
		return "debug_str", mScalar, &m.DebugStr
	}
	return "", 0, nil
}

// subscribeList is the slot of a subscribe event's item list: a top-level
// List in JSON, a container named after the event in XML.
func subscribeList(i int, f Format, container string, p any) (string, uint8, any) {
	if i != 0 {
		return "", 0, nil
	}
	if f == FormatXML {
		return container, mListContainer, p
	}
	return "List", mListObjOrArr, p
}

func (m *SubscribeMsgPopupEvent) at(i int, f Format) (string, uint8, any) {
	return subscribeList(i, f, "SubscribeMsgPopupEvent", &m.List)
}

func (m *SubscribeMsgChangeEvent) at(i int, f Format) (string, uint8, any) {
	return subscribeList(i, f, "SubscribeMsgChangeEvent", &m.List)
}

func (m *SubscribeMsgSentEvent) at(i int, f Format) (string, uint8, any) {
	return subscribeList(i, f, "SubscribeMsgSentEvent", &m.List)
}

func (it *SubscribePopupItem) extra() *[]Field { return &it.Extra }

func (it *SubscribePopupItem) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "TemplateId", mScalar, &it.TemplateID
	case 1:
		return "SubscribeStatusString", mScalar, &it.SubscribeStatusString
	case 2:
		return "PopupScene", mScalar, &it.PopupScene
	}
	return "", 0, nil
}

func (it *SubscribeChangeItem) extra() *[]Field { return &it.Extra }

func (it *SubscribeChangeItem) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "TemplateId", mScalar, &it.TemplateID
	case 1:
		return "SubscribeStatusString", mScalar, &it.SubscribeStatusString
	}
	return "", 0, nil
}

func (it *SubscribeSentItem) extra() *[]Field { return &it.Extra }

func (it *SubscribeSentItem) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "TemplateId", mScalar, &it.TemplateID
	case 1:
		return "MsgID", mMsgIDString, &it.MsgID
	case 2:
		return "ErrorCode", mScalar, &it.ErrorCode
	case 3:
		return "ErrorStatus", mScalar, &it.ErrorStatus
	}
	return "", 0, nil
}

func (m *MediaCheck) at(i int, f Format) (string, uint8, any) {
	switch i {
	case 0:
		return "appid", mScalar, &m.AppID
	case 1:
		return "trace_id", mScalar, &m.TraceID
	case 2:
		return "version", mScalar, &m.Version
	case 3:
		return "errcode", mScalar, &m.ErrCode
	case 4:
		return "errmsg", mScalar, &m.ErrMsg
	case 5:
		return "result", mStruct, &m.Result
	case 6:
		if f == FormatXML {
			return "detail", mListRepeated, &m.Detail
		}
		return "detail", mListArr, &m.Detail
	}
	return "", 0, nil
}

func (r *MediaCheckResult) extra() *[]Field { return &r.Extra }

func (r *MediaCheckResult) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "suggest", mScalar, &r.Suggest
	case 1:
		return "label", mScalar, &r.Label
	}
	return "", 0, nil
}

func (r *MediaCheckDetail) extra() *[]Field { return &r.Extra }

func (r *MediaCheckDetail) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "strategy", mScalar, &r.Strategy
	case 1:
		return "errcode", mScalar, &r.ErrCode
	case 2:
		return "suggest", mScalar, &r.Suggest
	case 3:
		return "label", mScalar, &r.Label
	case 4:
		return "prob", mScalar, &r.Prob
	}
	return "", 0, nil
}

func (a *AuthChange) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "OpenID", mScalar, &a.OpenID
	case 1:
		return "AppID", mScalar, &a.AppID
	case 2:
		return "RevokeInfo", mScalar, &a.RevokeInfo
	case 3:
		return "PluginID", mScalar, &a.PluginID
	case 4:
		return "OpenPID", mScalar, &a.OpenPID
	}
	return "", 0, nil
}

func (m *TradeManage) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "transaction_id", mScalar, &m.TransactionID
	case 1:
		return "merchant_id", mScalar, &m.MerchantID
	case 2:
		return "sub_merchant_id", mScalar, &m.SubMerchantID
	case 3:
		return "merchant_trade_no", mScalar, &m.MerchantTradeNo
	case 4:
		return "pay_time", mScalar, &m.PayTime
	case 5:
		return "shipped_time", mScalar, &m.ShippedTime
	case 6:
		return "estimated_settlement_time", mScalar, &m.EstimatedSettlementTime
	case 7:
		return "confirm_receive_method", mScalar, &m.ConfirmReceiveMethod
	case 8:
		return "confirm_receive_time", mScalar, &m.ConfirmReceiveTime
	case 9:
		return "settlement_time", mScalar, &m.SettlementTime
	case 10:
		return "msg", mScalar, &m.Msg
	}
	return "", 0, nil
}

func (w *XPayWeChatPayInfo) extra() *[]Field { return &w.Extra }

func (w *XPayWeChatPayInfo) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "MchOrderNo", mScalar, &w.MchOrderNo
	case 1:
		return "TransactionId", mScalar, &w.TransactionID
	case 2:
		return "PaidTime", mScalar, &w.PaidTime
	}
	return "", 0, nil
}

func (g *XPayGoodsInfo) extra() *[]Field { return &g.Extra }

func (g *XPayGoodsInfo) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "ProductId", mScalar, &g.ProductID
	case 1:
		return "Quantity", mScalar, &g.Quantity
	case 2:
		return "OrigPrice", mScalar, &g.OrigPrice
	case 3:
		return "ActualPrice", mScalar, &g.ActualPrice
	case 4:
		return "Attach", mScalar, &g.Attach
	}
	return "", 0, nil
}

func (c *XPayCoinInfo) extra() *[]Field { return &c.Extra }

func (c *XPayCoinInfo) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "Quantity", mScalar, &c.Quantity
	case 1:
		return "OrigPrice", mScalar, &c.OrigPrice
	case 2:
		return "ActualPrice", mScalar, &c.ActualPrice
	case 3:
		return "Attach", mScalar, &c.Attach
	}
	return "", 0, nil
}

func (t *XPayTeamInfo) extra() *[]Field { return &t.Extra }

func (t *XPayTeamInfo) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "ActivityId", mScalar, &t.ActivityID
	case 1:
		return "TeamId", mScalar, &t.TeamID
	case 2:
		return "TeamType", mScalar, &t.TeamType
	case 3:
		return "TeamAction", mScalar, &t.TeamAction
	}
	return "", 0, nil
}

func (m *XPayGoodsDeliverNotify) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "OpenId", mScalar, &m.OpenID
	case 1:
		return "OutTradeNo", mScalar, &m.OutTradeNo
	case 2:
		return "Env", mScalar, &m.Env
	case 3:
		return "WeChatPayInfo", mStruct, &m.WeChatPayInfo
	case 4:
		return "GoodsInfo", mStruct, &m.GoodsInfo
	case 5:
		return "TeamInfo", mStruct, &m.TeamInfo
	}
	return "", 0, nil
}

func (m *XPayCoinPayNotify) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "OpenId", mScalar, &m.OpenID
	case 1:
		return "OutTradeNo", mScalar, &m.OutTradeNo
	case 2:
		return "Env", mScalar, &m.Env
	case 3:
		return "WeChatPayInfo", mStruct, &m.WeChatPayInfo
	case 4:
		return "CoinInfo", mStruct, &m.CoinInfo
	}
	return "", 0, nil
}

func (m *XPayRefundNotify) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "OpenId", mScalar, &m.OpenID
	case 1:
		return "WxRefundId", mScalar, &m.WxRefundID
	case 2:
		return "MchRefundId", mScalar, &m.MchRefundID
	case 3:
		return "WxOrderId", mScalar, &m.WxOrderID
	case 4:
		return "MchOrderId", mScalar, &m.MchOrderID
	case 5:
		return "RefundFee", mScalar, &m.RefundFee
	case 6:
		return "RetCode", mScalar, &m.RetCode
	case 7:
		return "RetMsg", mScalar, &m.RetMsg
	case 8:
		return "RefundStartTimestamp", mScalar, &m.RefundStartTimestamp
	case 9:
		return "RefundSuccTimestamp", mScalar, &m.RefundSuccTimestamp
	case 10:
		return "WxpayRefundTransactionId", mScalar, &m.WxpayRefundTransactionID
	case 11:
		return "RetryTimes", mScalar, &m.RetryTimes
	case 12:
		return "TeamInfo", mStruct, &m.TeamInfo
	}
	return "", 0, nil
}

func (m *XPayComplaintNotify) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "OpenId", mScalar, &m.OpenID
	case 1:
		return "WxOrderId", mScalar, &m.WxOrderID
	case 2:
		return "MchOrderId", mScalar, &m.MchOrderID
	case 3:
		return "TransactionId", mScalar, &m.TransactionID
	case 4:
		return "ComplaintId", mScalar, &m.ComplaintID
	case 5:
		return "ComplaintDetail", mScalar, &m.ComplaintDetail
	case 6:
		return "ComplaintTime", mScalar, &m.ComplaintTime
	case 7:
		return "RetryTimes", mScalar, &m.RetryTimes
	case 8:
		return "RequestId", mScalar, &m.RequestID
	}
	return "", 0, nil
}

func (m *XPaySubscribeNotify) at(i int, _ Format) (string, uint8, any) {
	switch i {
	case 0:
		return "OpenId", mScalar, &m.OpenID
	case 1:
		return "OutTradeNo", mScalar, &m.OutTradeNo
	case 2:
		return "refund_time", mScalar, &m.RefundTime
	case 3:
		return "order_time", mScalar, &m.OrderTime
	case 4:
		return "channel_bill", mScalar, &m.ChannelBill
	case 5:
		return "bundleid", mScalar, &m.BundleID
	case 6:
		return "product_id", mScalar, &m.ProductID
	case 7:
		return "p_count", mScalar, &m.PCount
	case 8:
		return "refund_request_reason", mScalar, &m.RefundRequestReason
	case 9:
		return "provide_status", mScalar, &m.ProvideStatus
	case 10:
		return "pay_order_id", mScalar, &m.PayOrderID
	}
	return "", 0, nil
}
