// Package rules is the engine behind an app's rules section
// (docs/configuration.md, "Rules"): it decides, for each push, what the
// gateway answers without any code of the team's.
//
// Compile turns a validated config.Rules into an Engine; Evaluate takes a
// decoded push and the time it arrived and returns a Decision:
//
//   - Passive: message.TransferCustomerService() when the matched rule
//     transfers a user message, else nil. It answers the push itself, so
//     it must be stored with the message: a retry of the push gets the
//     same answer.
//   - Send: the customer-service messages of the matched rule, in order.
//   - Away: outside office hours, the away message and the closed period
//     it belongs to. Outbox claims the period through an AwayLedger, so
//     that a user gets it once per period however many replicas serve
//     them, and returns everything to send, away message first.
//   - Typing: show the typing indicator while the destinations work.
//   - Continue: deliver the push to the destinations (false only when the
//     matched rule says continue: false).
//   - Rule: the matched rule's name (its path, "rules[2]", when it has
//     none; "fallback" for the fallback), for logs and outbound records.
//
// Rules are tried in order and the first that matches wins. Keyword,
// contains and regex match text messages, their content trimmed of
// surrounding space; enter_session matches user_enter_tempsession,
// optionally by SessionFrom. The fallback answers user messages (text,
// image, mini program card, ...) that no rule matched, never events.
// Office hours cover user messages and user_enter_tempsession; other
// events get nothing from the rules and are delivered.
//
// Evaluate does no I/O, allocates nothing for a text message in the
// common case, and is safe for concurrent use: an Engine never changes
// after Compile. Sending is the caller's: Render gives a message's
// customer-service JSON, uploading its image (or card cover) first
// through a MediaCache, which re-uploads each file before its media_id
// expires (WeChat keeps temporary media for 3 days).
package rules
