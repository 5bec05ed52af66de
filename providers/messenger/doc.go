// Package messenger is Flowgate's provider for the channels that speak the Messenger
// Platform: Facebook Messenger ([New]) and, through [NewPlatform] with its own [Platform],
// Instagram (providers/instagram). Both deliver the same webhook shapes and take the same Send
// API requests; a Platform holds what differs (the webhook object, the text limit and its unit,
// the message tags, the media types, the API host). The handshake, the signature, the Graph
// error classes and the retrying client are providers/meta's.
//
// # Inbound
//
// [Platform.Parse] reads entry[].messaging[] (and standby[]) items, several entries and items
// per body. It fails only when the body is not JSON or its object is not the platform's; an
// entry or item it cannot read becomes an event of its own and the rest of the body is kept.
// Account is entry.id (the Page or Instagram account), From the sender's page-scoped id (or the
// chat plugin's user_ref); timestamps are milliseconds. What each item becomes:
//
//   - message.text: KindText. A message with text and attachments gives the text first, then
//     one event per attachment; the first event has the message's mid as its id, the next ones
//     mid#2, mid#3...
//   - message.quick_reply: KindButton with the payload as id and the text as title, like a
//     WhatsApp reply button; KindList for a payload "list:" + row id (see below).
//   - attachments: image, video, audio, file (as document), sticker (an image with a
//     sticker_id, or a sticker) and Instagram's like_heart (a sticker with id "like_heart") are
//     KindMedia, with Media.ID the attachment's URL (the only handle the channel gives; a
//     sticker's is its sticker_id); story_mention is KindMedia of type story_mention; location
//     is KindLocation; a fallback (a shared link) is KindText with its URL, or nothing beside a
//     text that carries it; other types (share, reel, post...) are KindUnsupported.
//   - message.reply_to: Context.ReplyTo is the mid replied to, or the story's id for a reply
//     to an Instagram story. message.referral (an ad that started the thread) is Referral.
//   - message.is_deleted: KindDeleted (id mid + ":deleted"), which runs no flow;
//     message.is_unsupported: KindUnsupported.
//   - postback: KindPostback with the payload as Button.ID and the title as Button.Title (the
//     persistent menu, Get Started, ice breakers); a payload Flowgate wrote routes as the list
//     row or button it stands for. Its referral is Referral. Its id is postback.mid.
//   - reaction: KindReaction on the mid reacted to; unreact has an empty Emoji.
//   - referral (m.me links, ads, the chat plugin in an existing thread): KindReferral.
//   - optin: KindSystem of type "optin", Body the payload or ref, Subject the title.
//   - delivery: a KindStatus "delivered" per mid (id mid + ":delivered"), or one with a
//     Watermark when there are none; read: a KindStatus "read" for Instagram's read.mid, or with
//     Messenger's watermark. They update the outbound records and run no flow.
//   - echoes (message.is_echo, or any item sent by the account itself) are skipped: the bot
//     never answers its own messages. In standby[] (another app owns the thread) only receipts
//     are kept. Items of other kinds (handover, policy enforcement, account linking) are
//     skipped: they are not conversation events.
//
// Deduplication keys are the ids above: mids for messages and postbacks, mid and state for
// receipts, state and watermark for watermarks, mid, action and emoji for reactions.
//
// # Outbound
//
// [Platform.Render] translates flows written in WhatsApp's shapes into Send API requests,
// POSTed by a [Client] to {base}/{version}/{account}/messages:
//
//   - messaging_type is RESPONSE; a message the engine sends after the window with the node's
//     tag goes as MESSAGE_TAG with that tag.
//   - text: split at the platform's limit (Messenger 2,000 characters, Instagram 1,000 bytes)
//     on line breaks or spaces, never inside a character.
//   - reply buttons: a text (header text, body and footer joined by blank lines) with one quick
//     reply per button, titles truncated to 20 characters, payload the button id.
//   - lists: the same text with one quick reply per row (payload "list:" + row id, at most 13),
//     unless a row has a description: then, up to 10 rows, the text and a generic template with
//     a card per row (title, description, and a postback button labelled like the list's
//     button). Section titles are not shown.
//   - a media header goes out first, as an attachment; text and quick replies follow.
//   - media: an attachment by link (is_reusable) or attachment id; documents are files,
//     stickers images; a caption follows as a text.
//   - location: a text with the name, the address and a map link.
//   - reactions: the react sender action (unreact for an empty emoji); read receipts:
//     mark_seen; typing indicators: typing_on.
//   - templates cannot be carried: flow validation refuses them on these channels, and Render
//     refuses them at run time.
//
// # Sending
//
// A Client paces the account's throughput only (the platform has no per-recipient pace) and
// retries through providers/meta's client. A refusal because the standard window is closed
// (code 10, subcode 2018278) matches msg.ErrWindowClosed, so the engine's window policy takes
// over exactly as for WhatsApp's 131047.
package messenger
