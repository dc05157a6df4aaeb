// Package message is the typed model of every push a WeChat Mini Program's
// message-push URL receives (消息推送), with codecs for both wire formats.
//
// A push body is decoded with [Decode] into one of the concrete types of this
// package (for example [*Text] or [*SubscribeMsgSentEvent]); anything the
// model does not know becomes an [*Unknown] that keeps every field, in order,
// plus the raw bytes, and is still routable by MsgType and Event ([KindOf]).
// Fields a typed value does not know are kept in [Header.Extra], so nothing
// is lost: Decode(Encode(p, f), f) deep-equals p for every type and both
// formats.
//
// XML is read by a small, strict decoder for WeChat's flat documents (one
// root, child elements, text, CDATA, the predefined entities and character
// references, nested containers, comments, an optional XML declaration).
// It rejects what it does not understand (attributes, namespaces, DOCTYPE,
// processing instructions after the declaration, mixed content) with an
// error wrapping [ErrMalformed]; it never panics and bounds nesting depth.
// JSON is read by a strict scanner that accepts numbers given as strings
// where WeChat is known to send them ("CreateTime":"1620963428"), MsgId as a
// 64-bit number or a string, and the subscribe-event "List" as one object or
// an array.
//
// The package also renders the encrypted envelope ([Envelope],
// [ExtractEncrypt], [ParseEnvelope]; no cryptography here, see package
// wxcrypt) and the passive replies a mini program may give ([Success],
// [TransferCustomerService], [XPayOK], [XPayIOSRefundAnswer],
// [ExpressResult]). [Acknowledges] tells whether a reply settles a push
// (xpay notifications, the iOS refund inquiry and express-provider requests
// need their own answer; "success" is not enough) and [ReplyDeadline] how
// long WeChat waits for it.
//
// The wire names, slot order and kinds of every push type come from its wx
// struct tags, compiled by `go generate` into fields_gen.go.
package message
