// Package meta holds what Meta's three messaging channels (WhatsApp, Messenger, Instagram)
// share, so that each channel package keeps only what differs: the webhook handshake and
// signature, the Graph API's URLs and error envelope, the retry classes of its error codes,
// the pacing of sends and the client that posts them with backoff.
//
// # Webhooks
//
// [Verify] answers the GET verification handshake (hub.mode, hub.verify_token,
// hub.challenge) and [CheckSignature] checks X-Hub-Signature-256 over the raw request bytes,
// both in constant time. Meta signs the body it sends, which carries non-ASCII text as \uXXXX
// escapes; the signature must be computed over those bytes exactly as received, never over
// re-encoded JSON.
//
// # Errors
//
// A non-2xx answer becomes an [*Error] read from Meta's envelope, with a [Class] from Meta's
// error tables: throttle (HTTP 429, 4, 17, 32, 613, 80002, 80006, 80007, 130429, 131048, 131056,
// 133016), transient (5xx, 1, 2, 1200, 131000, 131016, 131053, 131057, 133004, network errors
// and per-attempt timeouts), auth (0, 3, 10, 190, 200-299, 131005, 131045, 133010), policy (33,
// 368, 2022, 10904, 130497, 131031, 131037, 131042) and permanent (everything else, notably
// 100, 230, 551, 131008, 131009, 131026, 131047, 132000, 132001). A refusal because the
// conversation's window is closed (WhatsApp 131047; Messenger and Instagram code 10 with
// subcode 2018278, "This message is sent outside of allowed window") is permanent and matches
// [msg.ErrWindowClosed] with errors.Is, so that the engine falls back the same way on every
// channel.
//
// # Sending
//
// A [Client] posts a channel's rendered [Request]s: it waits on a [channel.Pacer] (the
// account's throughput, and for WhatsApp the pace of messages to one recipient; [Limiter] is
// the in-process one), retries throttle and transient errors with exponential backoff and full
// jitter within a bounded number of attempts and time, and keeps the access token out of logs
// and errors: text that Meta or a proxy echoed it in is redacted before it is parsed.
package meta
