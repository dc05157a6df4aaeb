package message

// Logistics pushes: the waybill trace a merchant's mini program receives,
// and the requests WeChat sends to an express company's own mini program,
// which must be answered with ExpressResult.
// https://developers.weixin.qq.com/miniprogram/dev/server/event_push/express/provider/Request_an_order_event.html
// https://developers.weixin.qq.com/miniprogram/en/dev/api-backend/open-api/express/by-business/logistics.onPathUpdate.html

// expressResultEvents are the events whose sender waits for a ResultCode
// reply (ExpressResult): the express-provider requests, typed or not.
var expressResultEvents = map[string]bool{
	EventExpressAddWaybill:    true,
	EventExpressCancelWaybill: true,
	EventExpressGetQuota:      true,
	EventExpressCheckBiz:      true,
	// The single-waybill provider events (no typed model yet).
	"add_single_waybill":        true,
	"query_single_waybill":      true,
	"remind_waybill":            true,
	"notify_single_waybill_pay": true,
	"waybill_notify_query":      true,
}

// ExpressAction is one node of a waybill trace.
type ExpressAction struct {
	ActionTime int64  `wx:"ActionTime"` // when it happened, Unix seconds
	ActionType int64  `wx:"ActionType"` // what happened: 100001 picked up, 200001 in transit, 300003 signed for, …
	ActionMsg  string `wx:"ActionMsg"`  // the text shown on the trace page
	Extra      []Field
}

// AddExpressPath reports that a waybill's trace changed (Event
// "add_express_path"). Answer "success". In XML each action is one
// <Actions> element.
type AddExpressPath struct {
	Header     `wx:"event:add_express_path"`
	DeliveryID string          `wx:"DeliveryID,key"` // the express company (logistics.getAllDelivery ids)
	WayBillID  string          `wx:"WayBillId,key"`  // the waybill number
	Version    int64           `wx:"Version,key"`    // the trace's version, raised by every update
	Count      int64           `wx:"Count"`          // how many nodes Actions holds
	Actions    []ExpressAction `wx:"Actions"`        // the whole trace, oldest first
}

// ExpressContact is a sender or receiver of an express order.
type ExpressContact struct {
	Name     string `wx:"Name"`     // the person's name
	Tel      string `wx:"Tel"`      // a landline number (or Mobile is set)
	Mobile   string `wx:"Mobile"`   // a mobile number (or Tel is set)
	Company  string `wx:"Company"`  // the company name
	PostCode string `wx:"PostCode"` // the postal code
	Country  string `wx:"Country"`  // the country, "中国" by default
	Province string `wx:"Province"` // the province, such as 广东省
	City     string `wx:"City"`     // the city, such as 广州市
	Area     string `wx:"Area"`     // the district, such as 海珠区
	Address  string `wx:"Address"`  // the street address
	Extra    []Field
}

// ExpressCargoItem is one kind of goods in a parcel.
type ExpressCargoItem struct {
	Name  string `wx:"Name"`  // what the goods are
	Count int64  `wx:"Count"` // how many
	Extra []Field
}

// ExpressCargo describes the parcels of an express order.
type ExpressCargo struct {
	Weight     Number             `wx:"Weight"`     // total weight in kg
	SpaceX     Number             `wx:"Space_X"`    // length in cm
	SpaceY     Number             `wx:"Space_Y"`    // width in cm
	SpaceZ     Number             `wx:"Space_Z"`    // height in cm
	Count      int64              `wx:"Count"`      // how many parcels
	DetailList []ExpressCargoItem `wx:"DetailList"` // the goods, one entry per kind
	Extra      []Field
}

// ExpressInsurance is the declared value of an express order.
type ExpressInsurance struct {
	UseInsured   int64 `wx:"UseInsured"`   // 1 when the parcel is insured
	InsuredValue int64 `wx:"InsuredValue"` // the declared value, in fen
	Extra        []Field
}

// ExpressService is the delivery service an order asks for.
type ExpressService struct {
	ServiceType int64  `wx:"ServiceType"` // the service's id at the express company
	ServiceName string `wx:"ServiceName"` // the service's name
	Extra       []Field
}

// ExpressAddWaybill asks an express company's mini program to create a
// waybill (Event "add_waybill", logistics.onAddOrder). Answer with
// ExpressResult, adding Token, OrderID, BizID, WayBillID and WaybillData.
type ExpressAddWaybill struct {
	Header    `wx:"event:add_waybill"`
	Token     string           `wx:"Token"`     // the order's token, needed to update its trace later
	OrderID   string           `wx:"OrderID"`   // the merchant's order; the same OrderID must get the same waybill
	BizID     string           `wx:"BizID"`     // the merchant's customer code or monthly account at the company
	BizPwd    string           `wx:"BizPwd"`    // the password of BizID
	ShopAppID string           `wx:"ShopAppID"` // the merchant's mini program
	WayBillID string           `wx:"WayBillID"` // a waybill number from WeChat's range, or "0" for the company to assign
	Remark    string           `wx:"Remark"`    // a note printed on the label, such as 易碎物品
	Sender    ExpressContact   `wx:"Sender"`    // who sends the parcel
	Receiver  ExpressContact   `wx:"Receiver"`  // who receives it
	Cargo     ExpressCargo     `wx:"Cargo"`     // what is sent
	Insured   ExpressInsurance `wx:"Insured"`   // the declared value
	Service   ExpressService   `wx:"Service"`   // the delivery service chosen
}

// ExpressCancelWaybill asks an express company's mini program to cancel a
// waybill (Event "cancel_waybill", logistics.onCancelOrder). Answer with
// ExpressResult, adding BizID, OrderID and WayBillID.
type ExpressCancelWaybill struct {
	Header    `wx:"event:cancel_waybill"`
	OrderID   string `wx:"OrderID"`   // the merchant's order
	BizID     string `wx:"BizID"`     // the merchant's customer code at the company
	BizPwd    string `wx:"BizPwd"`    // the password of BizID
	ShopAppID string `wx:"ShopAppID"` // the merchant's mini program
	WayBillID string `wx:"WayBillID"` // the waybill to cancel
}

// ExpressBusiness is a request about a merchant account to an express
// company's mini program: get_quota (logistics.onGetQuota, the balance) or
// check_biz (logistics.onCheckBusiness, approve a merchant binding its
// account); Header.Event tells which, and the shop fields come with
// check_biz only. Answer with ExpressResult, adding BizID and Quota.
type ExpressBusiness struct {
	Header        `wx:"event:get_quota event:check_biz"`
	BizID         string `wx:"BizID"`         // the merchant's customer code at the company
	BizPwd        string `wx:"BizPwd"`        // the password of BizID
	ShopAppID     string `wx:"ShopAppID"`     // the merchant's mini program
	ShopName      string `wx:"ShopName"`      // the merchant's name (EMS only)
	ShopTelphone  string `wx:"ShopTelphone"`  // the merchant's phone (EMS only)
	ShopContact   string `wx:"ShopContact"`   // the merchant's contact person (EMS only)
	ServiceName   string `wx:"ServiceName"`   // the service to open (EMS only)
	SenderAddress string `wx:"SenderAddress"` // where the merchant ships from (EMS only)
}
