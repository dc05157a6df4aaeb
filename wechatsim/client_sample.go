package wechatsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/wxgate/wxgate/message"
)

// Short names Sample accepts besides msgtypes and event names.
const (
	// KindCard is the short name of a miniprogrampage message.
	KindCard = "card"
	// KindEnter is the short name of the user_enter_tempsession event.
	KindEnter = "enter"
)

// msgIDFloor is the smallest 19-digit number.
const msgIDFloor = 1_000_000_000_000_000_000

// NextMsgID returns a fresh MsgId: 19 digits, increasing across the
// client's pushes, derived from the clock (Unix seconds in the high 32
// bits) so that clients started at different times do not collide.
func (c *Client) NextMsgID() message.MsgID {
	base := max(uint64(c.clock.Now().Unix())<<32, msgIDFloor)
	for {
		last := c.msgID.Load()
		next := last + 1
		if last == 0 {
			next = base | uint64(rand.Uint32()>>2)
		}
		next = max(next, base)
		if c.msgID.CompareAndSwap(last, next) {
			return message.MsgID(strconv.FormatUint(next, 10))
		}
	}
}

// randomNonce returns a nonce like WeChat's: a decimal number of up to 10
// digits.
func randomNonce() string {
	return strconv.FormatUint(uint64(rand.Uint32N(4_000_000_000)+100_000_000), 10)
}

// randomEchostr returns an echostr like WeChat's: a 19-digit number.
func randomEchostr() string {
	return strconv.FormatUint(msgIDFloor+rand.Uint64N(9*msgIDFloor), 10)
}

// randomDigits returns n random decimal digits, the first not 0.
func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + rand.IntN(10))
	}
	if n > 0 && b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

func randomHex(n int) string {
	const hexdig = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = hexdig[rand.IntN(16)]
	}
	return string(b)
}

// pickUser returns the sender of a push: ClientConfig.OpenID, or the next
// of the client's users in turn. The users are the World's users when the
// client first needs one (or a made-up openid without a World), plus those
// the client adds. Two events of the same name from one user in the same
// second would look like one WeChat retry to a server that deduplicates,
// so for events a user who already sent that event at that CreateTime is
// skipped, and a new user is added when all have.
func (c *Client) pickUser(event string, createTime int64) string {
	if c.openID != "" {
		return c.openID
	}
	c.userMu.Lock()
	defer c.userMu.Unlock()
	if c.users == nil {
		c.users = []string{}
		if c.world != nil {
			for _, u := range c.world.Users() {
				c.users = append(c.users, u.OpenID)
			}
		}
	}
	for range c.users {
		u := c.users[c.nextUser%len(c.users)]
		c.nextUser++
		if event == "" {
			return u
		}
		k := u + "|" + event
		if c.lastEv[k] != createTime {
			c.lastEv[k] = createTime
			return u
		}
	}
	var u string
	if c.world != nil {
		u = c.world.NewUser().OpenID
	} else {
		u = "o" + c.prefix + randomString(22)
	}
	c.users = append(c.users, u)
	if event != "" {
		c.lastEv[u+"|"+event] = createTime
	}
	return u
}

// Sample returns a realistic push of the given kind from the next user to
// the client's mini program, created now, ready for Push. kind is a
// msgtype ("text", "image", "miniprogrampage" or its short form "card") or
// an event name ("enter" is user_enter_tempsession); an event without a
// typed model gets the header only. fields overrides or adds fields by
// wire name: "Content", "SessionFrom", "FromUserName", or a dotted path
// into objects and arrays ("List.TemplateId", "GoodsInfo.ProductId",
// "detail.0.prob"). A value replacing a number or a boolean keeps that
// type when it can; a value that is a JSON object or array is used as JSON;
// anything else is a string.
func (c *Client) Sample(kind string, fields map[string]string) (message.Push, error) {
	kind = strings.TrimSpace(kind)
	switch kind {
	case KindCard:
		kind = message.MsgTypeMiniProgramPage
	case KindEnter:
		kind = message.EventUserEnterTempSession
	case "":
		return nil, errors.New("wechatsim: Sample needs a kind")
	}
	if !validKind(kind) {
		return nil, fmt.Errorf("wechatsim: %q is not a msgtype or event name", kind)
	}
	tpl, isEvent := sampleTemplates[kind]
	if !isEvent {
		isEvent = !isMessageKind(kind)
		if isEvent {
			tpl = `"Event":"{{event}}"`
		}
	}
	if !isEvent {
		tpl = messageTemplates[kind]
	}
	head := `{"ToUserName":"{{gh}}","FromUserName":"{{openid}}","CreateTime":{{now}},`
	if isEvent {
		head += `"MsgType":"event",`
	} else {
		head += `"MsgType":"` + kind + `",`
	}
	now := c.clock.Now().Unix()
	openid, ok := fields["FromUserName"]
	if !ok {
		ev := ""
		if isEvent {
			ev = kind
		}
		openid = c.pickUser(ev, now)
	}
	appID := c.appID
	if appID == "" {
		appID = DefaultAppID
	}
	src := sampleVar.ReplaceAllStringFunc(head+tpl+"}", func(v string) string {
		switch v[2 : len(v)-2] {
		case "gh":
			return c.origID
		case "openid":
			return openid
		case "appid":
			return appID
		case "event":
			return kind
		case "now":
			return strconv.FormatInt(now, 10)
		case "earlier":
			return strconv.FormatInt(now-600, 10)
		case "later":
			return strconv.FormatInt(now+7*86400, 10)
		case "msgid":
			return string(c.NextMsgID())
		case "id19":
			return randomDigits(19)
		case "tid":
			return randomString(43)
		case "media":
			return randomString(64)
		case "pic":
			return "http://mmbiz.qpic.cn/mmbiz_jpg/" + randomString(40) + "/0"
		case "tx":
			return "4200002" + randomDigits(21)
		case "mch":
			return "16" + randomDigits(8)
		case "trade":
			return randomHex(32)
		case "trace":
			return randomHex(8) + "-" + randomHex(8) + "-" + randomHex(8)
		}
		return v
	})
	tree, err := parseJSONTree([]byte(src))
	if err != nil {
		return nil, fmt.Errorf("wechatsim: sample %s: %w", kind, err)
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if k == "" {
			return nil, errors.New("wechatsim: empty field name")
		}
		if err := tree.set(strings.Split(k, "."), fields[k]); err != nil {
			return nil, fmt.Errorf("wechatsim: field %s: %w", k, err)
		}
	}
	var buf bytes.Buffer
	tree.write(&buf)
	p, err := message.Decode(buf.Bytes(), message.FormatJSON)
	if err != nil {
		return nil, fmt.Errorf("wechatsim: sample %s: %w", kind, err)
	}
	return p, nil
}

var sampleVar = regexp.MustCompile(`\{\{[a-z0-9]+\}\}`)

// validKind reports whether kind looks like a msgtype or event name.
func validKind(kind string) bool {
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return kind != ""
}

func isMessageKind(kind string) bool {
	_, ok := messageTemplates[kind]
	return ok
}

// SampleKinds lists the kinds Sample knows realistic fields for:
// msgtypes first, then event names, sorted.
func SampleKinds() []string {
	var msgs, events []string
	for k := range messageTemplates {
		msgs = append(msgs, k)
	}
	for k := range sampleTemplates {
		events = append(events, k)
	}
	sort.Strings(msgs)
	sort.Strings(events)
	return append(msgs, events...)
}

// messageTemplates are the fields after MsgType of each message kind.
var messageTemplates = map[string]string{
	message.MsgTypeText:            `"Content":"你好，请问怎么退货？","MsgId":{{msgid}}`,
	message.MsgTypeImage:           `"PicUrl":"{{pic}}","MediaId":"{{media}}","MsgId":{{msgid}}`,
	message.MsgTypeMiniProgramPage: `"MsgId":{{msgid}},"Title":"商品详情","AppId":"{{appid}}","PagePath":"pages/goods/detail?id=1024","ThumbUrl":"{{pic}}","ThumbMediaId":"{{media}}"`,
}

// sampleTemplates are the fields after MsgType of each event, Event first.
var sampleTemplates = map[string]string{
	message.EventUserEnterTempSession: `"Event":"user_enter_tempsession","SessionFrom":"order_detail"`,
	message.EventDebugDemo:            `"Event":"debug_demo","debug_str":"hello world"`,
	message.EventSubscribeMsgPopup:    `"Event":"subscribe_msg_popup_event","List":{"TemplateId":"{{tid}}","SubscribeStatusString":"accept","PopupScene":0}`,
	message.EventSubscribeMsgChange:   `"Event":"subscribe_msg_change_event","List":{"TemplateId":"{{tid}}","SubscribeStatusString":"reject"}`,
	message.EventSubscribeMsgSent:     `"Event":"subscribe_msg_sent_event","List":{"TemplateId":"{{tid}}","MsgID":"{{id19}}","ErrorCode":0,"ErrorStatus":"success"}`,
	message.EventMediaCheck: `"Event":"wxa_media_check","appid":"{{appid}}","trace_id":"{{trace}}","version":2,"errcode":0,"errmsg":"ok",` +
		`"result":{"suggest":"pass","label":"100"},"detail":[{"strategy":"content_model","errcode":0,"suggest":"pass","label":"100","prob":90}]`,
	message.EventUserInfoModified:              `"Event":"user_info_modified","OpenID":"{{openid}}","AppID":"{{appid}}","RevokeInfo":""`,
	message.EventUserAuthorizationRevoke:       `"Event":"user_authorization_revoke","OpenID":"{{openid}}","AppID":"{{appid}}","RevokeInfo":"1"`,
	message.EventUserAuthorizationCancellation: `"Event":"user_authorization_cancellation","OpenID":"{{openid}}","AppID":"{{appid}}","RevokeInfo":""`,
	message.EventTradeManageRemindAccessAPI:    `"Event":"trade_manage_remind_access_api","msg":"你已开通小程序发货信息管理服务，请在支付后及时上传发货信息"`,
	message.EventTradeManageRemindShipping: `"Event":"trade_manage_remind_shipping","transaction_id":"{{tx}}","merchant_id":"{{mch}}","sub_merchant_id":"",` +
		`"merchant_trade_no":"{{trade}}","pay_time":{{earlier}},"msg":"你的订单已超过48小时未录入发货信息，请尽快发货"`,
	message.EventTradeManageOrderSettlement: `"Event":"trade_manage_order_settlement","transaction_id":"{{tx}}","merchant_id":"{{mch}}","sub_merchant_id":"",` +
		`"merchant_trade_no":"{{trade}}","pay_time":{{earlier}},"shipped_time":{{earlier}},"estimated_settlement_time":{{later}},` +
		`"confirm_receive_method":1,"confirm_receive_time":{{now}},"settlement_time":{{now}}`,
	message.EventXPayGoodsDeliverNotify: `"Event":"xpay_goods_deliver_notify","OpenId":"{{openid}}","OutTradeNo":"{{trade}}","Env":0,` +
		`"WeChatPayInfo":{"MchOrderNo":"{{trade}}","TransactionId":"{{tx}}","PaidTime":{{now}}},` +
		`"GoodsInfo":{"ProductId":"goods_001","Quantity":1,"OrigPrice":600,"ActualPrice":600,"Attach":""}`,
	message.EventXPayCoinPayNotify: `"Event":"xpay_coin_pay_notify","OpenId":"{{openid}}","OutTradeNo":"{{trade}}","Env":0,` +
		`"WeChatPayInfo":{"MchOrderNo":"{{trade}}","TransactionId":"{{tx}}","PaidTime":{{now}}},` +
		`"CoinInfo":{"Quantity":60,"OrigPrice":600,"ActualPrice":600,"Attach":""}`,
	message.EventXPayRefundNotify: `"Event":"xpay_refund_notify","OpenId":"{{openid}}","WxRefundId":"{{id19}}","MchRefundId":"{{trade}}",` +
		`"WxOrderId":"{{id19}}","MchOrderId":"{{trade}}","RefundFee":600,"RetCode":0,"RetMsg":"","RefundStartTimestamp":{{earlier}},` +
		`"RefundSuccTimestamp":{{now}},"WxpayRefundTransactionId":"{{tx}}","RetryTimes":0`,
	message.EventXPayComplaintNotify: `"Event":"xpay_complaint_notify","OpenId":"{{openid}}","WxOrderId":"{{id19}}","MchOrderId":"{{trade}}",` +
		`"TransactionId":"{{tx}}","ComplaintId":"{{id19}}","ComplaintDetail":"道具未到账","ComplaintTime":{{now}},"RetryTimes":0,"RequestId":"{{trace}}"`,
	message.EventXPaySubscribeSigningResult: `"Event":"xpay_subscribe_signing_result_notify","OpenId":"{{openid}}","OutTradeNo":"{{trade}}"`,
	message.EventXPaySubscribePayFail:       `"Event":"xpay_subscribe_pay_fail_notify","OpenId":"{{openid}}","OutTradeNo":"{{trade}}"`,
	// The field set of a real inquiry posted on the developer forum.
	message.EventXPaySubscribeIOSRefundQuery: `"Event":"xpay_subscribe_ios_refund_query_notify","bundleid":"com.example.game","channel_bill":"{{id19}}",` +
		`"consumption_status":"0","order_time":"{{earlier}}","p_count":"1","pay_order_id":"{{trade}}","product_id":"vip_month","provide_status":"1",` +
		`"refund_request_reason":"UNINTENDED_PURCHASE","refund_time":"{{now}}","service_type":"unipdt"`,
	message.EventAddExpressPath: `"Event":"add_express_path","DeliveryID":"SF","WayBillId":"SF{{id19}}","Version":1,"Count":2,` +
		`"Actions":[{"ActionTime":{{earlier}},"ActionType":100001,"ActionMsg":"快递员已揽件"},{"ActionTime":{{now}},"ActionType":200001,"ActionMsg":"快件已到达【广州转运中心】"}]`,
	message.EventComplaintCallback: `"Event":"complaint_callback","BussiCallBackInfo":{"appid":"{{appid}}","option_type":1,"complaint_order_id":"{{id19}}",` +
		`"status":201,"create_time":{{now}},"expire_time":{{later}},"type":1,"order_id":"{{tx}}","out_trade_no":"{{trade}}","phone_number":"13800000000",` +
		`"open_id":"{{openid}}","customer_material_content":"付款后一直没有发货","customer_material_media_id_list":"","pay_time":{{earlier}},"total_cost":9900,` +
		`"product_name":"会员月卡","history":[{"time":{{now}},"content":"用户发起投诉","media_id_list":""}]}`,
	message.EventExpressAddWaybill: `"Event":"add_waybill","Token":"{{tid}}","OrderID":"{{trade}}","BizID":"biz_{{mch}}","BizPwd":"biz_password",` +
		`"ShopAppID":"{{appid}}","WayBillID":"0","Remark":"易碎物品",` +
		`"Sender":{"Name":"张三","Tel":"","Mobile":"13800000001","Company":"示例商店","PostCode":"510000","Country":"中国","Province":"广东省","City":"广州市","Area":"海珠区","Address":"新港中路1号"},` +
		`"Receiver":{"Name":"李四","Tel":"","Mobile":"13800000002","Company":"","PostCode":"100000","Country":"中国","Province":"北京市","City":"北京市","Area":"朝阳区","Address":"建国路2号"},` +
		`"Cargo":{"Weight":1.2,"Space_X":20,"Space_Y":15,"Space_Z":10,"Count":1,"DetailList":[{"Name":"T恤","Count":2}]},` +
		`"Insured":{"UseInsured":0,"InsuredValue":0},"Service":{"ServiceType":0,"ServiceName":"标准快递"}`,
	message.EventExpressCancelWaybill: `"Event":"cancel_waybill","OrderID":"{{trade}}","BizID":"biz_{{mch}}","BizPwd":"biz_password","ShopAppID":"{{appid}}",` +
		`"WayBillID":"SF{{id19}}"`,
	message.EventExpressGetQuota: `"Event":"get_quota","BizID":"biz_{{mch}}","BizPwd":"biz_password","ShopAppID":"{{appid}}"`,
	message.EventExpressCheckBiz: `"Event":"check_biz","BizID":"biz_{{mch}}","BizPwd":"biz_password","ShopAppID":"{{appid}}","ShopName":"示例商店",` +
		`"ShopTelphone":"020-12345678","ShopContact":"张三","ServiceName":"标准快递","SenderAddress":"广东省广州市海珠区新港中路1号"`,
}

// jsonTree is an ordered JSON value for editing sample fields: an object
// (keys and vals), an array (vals) or a scalar literal (raw).
type jsonTree struct {
	kind byte // 'o', 'a' or 's'
	keys []string
	vals []*jsonTree
	raw  []byte
}

func parseJSONTree(b []byte) (*jsonTree, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	t, err := readJSONTree(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("content after the JSON value")
	}
	return t, nil
}

func readJSONTree(dec *json.Decoder) (*jsonTree, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		t := &jsonTree{kind: 'a'}
		if v == '{' {
			t.kind = 'o'
		}
		for dec.More() {
			if t.kind == 'o' {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				t.keys = append(t.keys, k.(string))
			}
			child, err := readJSONTree(dec)
			if err != nil {
				return nil, err
			}
			t.vals = append(t.vals, child)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return t, nil
	case json.Number:
		return &jsonTree{kind: 's', raw: []byte(v)}, nil
	case nil:
		return &jsonTree{kind: 's', raw: []byte("null")}, nil
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return &jsonTree{kind: 's', raw: raw}, nil
	}
}

// set stores v at path, creating object members as needed.
func (t *jsonTree) set(path []string, v string) error {
	var child **jsonTree
	switch t.kind {
	case 'a':
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i >= len(t.vals) {
			return fmt.Errorf("%q is not an index of an array of %d", path[0], len(t.vals))
		}
		child = &t.vals[i]
	case 'o':
		for i, k := range t.keys {
			if k == path[0] {
				child = &t.vals[i]
				break
			}
		}
		if child == nil {
			t.keys = append(t.keys, path[0])
			t.vals = append(t.vals, &jsonTree{kind: 'o'})
			child = &t.vals[len(t.vals)-1]
			if len(path) == 1 {
				*child = nil
			}
		}
	default:
		return fmt.Errorf("cannot set %q inside a scalar", path[0])
	}
	if len(path) > 1 {
		return (*child).set(path[1:], v)
	}
	*child = treeValue(*child, v)
	return nil
}

// treeValue turns the override v into a value, keeping old's type when v
// fits it.
func treeValue(old *jsonTree, v string) *jsonTree {
	s := strings.TrimSpace(v)
	if (strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")) && json.Valid([]byte(s)) {
		if t, err := parseJSONTree([]byte(s)); err == nil {
			return t
		}
	}
	if old != nil && old.kind == 's' && len(old.raw) > 0 {
		switch c := old.raw[0]; {
		case c == '-' || c >= '0' && c <= '9':
			if _, err := strconv.ParseFloat(s, 64); err == nil && json.Valid([]byte(s)) {
				return &jsonTree{kind: 's', raw: []byte(s)}
			}
		case c == 't' || c == 'f':
			if s == "true" || s == "false" {
				return &jsonTree{kind: 's', raw: []byte(s)}
			}
		}
	}
	raw, _ := json.Marshal(v)
	return &jsonTree{kind: 's', raw: raw}
}

func (t *jsonTree) write(w *bytes.Buffer) {
	switch t.kind {
	case 's':
		w.Write(t.raw)
	case 'a':
		w.WriteByte('[')
		for i, c := range t.vals {
			if i > 0 {
				w.WriteByte(',')
			}
			c.write(w)
		}
		w.WriteByte(']')
	default:
		w.WriteByte('{')
		for i, c := range t.vals {
			if i > 0 {
				w.WriteByte(',')
			}
			k, _ := json.Marshal(t.keys[i])
			w.Write(k)
			w.WriteByte(':')
			c.write(w)
		}
		w.WriteByte('}')
	}
}
