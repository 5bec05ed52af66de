// Package whatsapp is Flowgate's WhatsApp Cloud API provider: it verifies and parses webhooks
// into normalized [msg.Event]s, renders normalized [msg.Message]s into Cloud API requests, and
// sends them through a Graph API [Client] that paces itself and survives throttling.
//
// # Inbound
//
// [Verify] answers the GET verification handshake and [CheckSignature] checks
// X-Hub-Signature-256 over the raw request bytes, both in constant time. Meta signs the body it
// sends, which carries non-ASCII text as \uXXXX escapes; the signature must be computed over
// those bytes exactly as received, never over re-encoded JSON.
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
// Identity: Event.From is the message's "from" (the phone number) or, when that is empty,
// "from_user_id" (the business-scoped user id). The profile comes from value.contacts matched by
// wa_id or user_id; because Meta documents that "from" may differ from wa_id (Brazilian and
// Mexican prefixes), a value with exactly one contact lends it to an unmatched message.
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
// a UTF-8 sequence (see [SplitText]); only the first part quotes Message.ReplyTo. Display labels that Meta limits (button and row titles, row descriptions,
// section titles, the list button, header and footer text) are truncated to the documented
// limits on a rune boundary, because they often come from runtime data and a shortened label
// is better than a rejected message; ids, bodies and counts over the limits are errors, because
// truncating them would change routing or meaning. Recipients are sent as given: "to" is not
// rewritten (it may be a business-scoped user id).
//
// # Sending
//
// A [Client] sends each request through two limiters and a retry loop:
//
//   - Per recipient, a pacer for Meta's pair rate limit (1 message per 6 s, bursts of up to 45
//     "borrowing" future quota). It is a GCRA (a token bucket expressed as a theoretical arrival
//     time): each message to a recipient moves that recipient's schedule PairInterval forward,
//     and a message may go while the schedule is at most PairBurst-1 intervals ahead of now. A
//     burst of PairBurst messages therefore goes out at once and is then repaid at one message
//     per PairInterval, exactly as Meta describes borrowing. PairBurst defaults to 10 (a bot's
//     reply is a handful of messages; 45 is Meta's hard ceiling and the configured value is
//     clamped to it). Read receipts are not paced per recipient. A 131056 answer pushes the
//     recipient's schedule back by the backoff delay so that concurrent sends to the same user
//     wait too.
//   - Per phone number id, a token bucket of RatePerSecond (default 80, Meta's default
//     throughput) with a burst of one second's worth. Every attempt, retries included, takes a
//     token. A [Limiter] may be shared by several Clients (for example across a token rotation)
//     so that they draw on the same buckets.
//
// Both limiters wait through the [Clock], so they honour context cancellation and tests drive
// them with a fake clock.
//
// Errors from the Graph API become [*Error] with a [Class] from the reference's table: throttle
// (HTTP 429, 4, 17, 32, 613, 80007, 130429, 131048, 131056, 133016), transient (5xx, 1, 2,
// 131000, 131016, 131053, 131057, 133004, network errors and per-attempt timeouts), auth (0, 3,
// 10, 190, 200-299, 131005, 131045, 133010), policy (33, 368, 130497, 131031, 131037, 131042)
// and permanent (everything else, notably 100, 131008, 131009, 131026, 131047, 132000, 132001).
// Throttle and transient errors are retried: exponential backoff with full jitter
// (BackoffBase·2^n capped at BackoffMax, drawn uniformly from [0, cap)), except 131056 which
// follows Meta's pair-limit advice of 4^n seconds; a Retry-After header is a floor on the
// delay. Retries stop after MaxAttempts attempts (default 5) or when the next delay would end
// beyond MaxRetryTime (default 30 s) since the first attempt, and throttle errors are not
// retried at all when Message.NoRetryOnRateLimit is set. The send API has no idempotency key,
// so a retry after a timeout can duplicate a message that Meta did accept; the bounded retry
// budget keeps that rare.
//
// 131047 (the customer-service window is closed) is permanent and matches [msg.ErrWindowClosed]
// with errors.Is, so the engine can fall back to a template.
//
// The access token is never logged and never appears in an error: error text from Meta is
// scrubbed of it before it is returned. Logging goes through log/slog.
package whatsapp
