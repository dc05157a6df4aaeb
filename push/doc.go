// Package push receives WeChat Mini Program message pushes (消息推送).
//
// A Handler is an http.Handler for one mini program's push URL. It answers
// the console's URL verification (GET), and for every push (POST) it checks
// the URL signature, the timestamp against a replay window and the body
// size; for encrypted pushes (compatible and safe mode) it checks
// msg_signature, decrypts with the current or a previous EncodingAESKey and
// checks the AppID. It detects XML or JSON from the body, decodes the push
// into a typed message (package message), deduplicates WeChat's retries,
// and dispatches to a Router under a deadline that keeps WeChat's 5 s
// limit. The reply is written in the request's format, and encrypted with
// the key that opened the request when the request was encrypted.
//
// Register handlers by Go type with On, or by MsgType and Event with
// HandleMsgType and HandleEvent; a handler returns a message.Reply (nil or
// message.Success for "success"). A handler error or panic answers 500, so
// that WeChat retries, and frees the dedup key so that the retry runs the
// handler again.
package push
