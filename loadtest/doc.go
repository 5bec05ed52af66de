// Package loadtest is Flowgate's load generator and the instruments around it: signed WhatsApp
// webhooks sent open loop (a fixed schedule, latency measured from each message's intended send
// time) or closed loop (C connections), a fake Graph API speaking Meta's shapes with latency,
// throttling and failures, a tracker that counts lost, duplicated and reordered replies per
// conversation, the floor (the least a durable webhook bot can do) to compare against, the
// scenarios behind the README's performance table, and a soak that kills Redis and gtc serve
// under load. gtc loadtest is its command line.
package loadtest
