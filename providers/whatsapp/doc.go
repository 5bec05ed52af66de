// Package whatsapp is Flowgate's WhatsApp Cloud API provider: it verifies and parses webhooks
// into normalized [msg.Event]s, renders normalized [msg.Message]s into Cloud API requests, and
// sends them through a Graph API [Client] that paces itself and survives throttling.
//
// # Inbound
//
// The verification handshake and the X-Hub-Signature-256 check are the same for every Meta
// channel and live in providers/meta.
//
// [Parse] turns a webhook body into events. It fails only when the body is not JSON or not a
// WhatsApp Business Account envelope. Everything else becomes events: each entry, change,
// message and status is decoded on its own, so a message of an unknown type, or one whose
// fields have unexpected JSON types, becomes a [msg.KindUnsupported] event (with an [msg.Error]
// that says what was wrong) and never drops the rest of the batch. Within one change the events
// come in the order messages, statuses, value-level errors. Changes of fields other than
// "messages" and "message_template_status_update" (account_update and the like) are skipped:
// they are not conversation events.
//
// Identity: Event.From, the id a conversation is keyed by, is the business-scoped user id
// ("from_user_id", or a user id found in "from") when the message has one, else "from" (the
// phone number). Contact.Phone keeps the phone number (empty for a user known only by a
// username) and Contact.UserID the user id. Statuses read "recipient_user_id" and
// "recipient_id" the same way. [IsUserID] tells the two kinds of id apart: phone numbers have
// no letters. The profile (name, username) comes from value.contacts matched by wa_id or
// user_id; because Meta documents that "from" may differ from wa_id (Brazilian and Mexican
// prefixes), a value with exactly one contact lends it to an unmatched message. A message
// written in a group keeps its group_id in Event.Group. The older "customer_changed_number"
// system type reads as [msg.SystemNumberChanged].
// Timestamps are strings or numbers, in seconds or, when larger than 1e11, in milliseconds.
//
// Deduplication keys: messages use the wamid; statuses use wamid + ":" + status, so that
// sent, delivered and read receipts of one message are distinct; template status updates use
// template id + ":" + event + ":" + entry time. Value-level errors have no ID.
//
// # Outbound
//
// [Render] turns one message into one or more [Request]s. Text longer than 4096 characters
// (counted in runes, not bytes) is split into several messages: at the last line break in the
// second half of the window, else at the last whitespace, else at the limit, and never inside
// a UTF-8 sequence (see meta.SplitText); only the first part quotes Message.ReplyTo. Display labels that Meta limits (button and row titles, row descriptions,
// section titles, the list button, header and footer text) are truncated to the documented
// limits on a rune boundary, because they often come from runtime data and a shortened label
// is better than a rejected message; ids, bodies and counts over the limits are errors, because
// truncating them would change routing or meaning. A message goes "to" Message.Phone when it
// is set, else "to" Message.To when that is a phone number (with "+" added to a bare number),
// else to the business-scoped user id in "recipient": never both, since Meta lets "to" win. An
// authentication template (one-tap, zero-tap, copy-code) is refused for a user known only by
// user id, which Meta does not accept. [Client.SendUser] returns the user id the Cloud API
// answers with.
//
// # Sending
//
// A [Client] sends each request through providers/meta's Graph client, which paces, retries and
// classifies errors the same way for every Meta channel. What is WhatsApp's own is the pacing:
//
//   - Per recipient, a pacer for Meta's pair rate limit (1 message per 6 s, bursts of up to 45
//     "borrowing" future quota). It is a GCRA (a token bucket expressed as a theoretical arrival
//     time): each message to a recipient moves that recipient's schedule PairInterval forward,
//     and a message may go while the schedule is at most PairBurst-1 intervals ahead of now.
//     PairBurst defaults to 10 (a bot's reply is a handful of messages; 45 is Meta's hard
//     ceiling and the configured value is clamped to it). Read receipts are not paced per
//     recipient. A 131056 answer pushes the recipient's schedule back by the backoff delay (4^n
//     seconds, Meta's advice) so that concurrent sends to the same user wait too.
//   - Per phone number id, a token bucket of RatePerSecond (default 80, Meta's default
//     throughput) with a burst of one second's worth. Every attempt, retries included, takes a
//     token.
//
// 131047 (the customer-service window is closed) is permanent and matches [msg.ErrWindowClosed]
// with errors.Is, so the engine can fall back to a template. The access token is never logged
// and never appears in an error.
package whatsapp
