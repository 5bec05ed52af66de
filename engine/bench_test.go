package engine

import (
	"context"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine/msg"
)

// benchFlow is the engine step the performance table measures: an inbound text, a branch on one
// expression, a reply with interpolation.
const benchFlow = `
name: bench
nodes:
  - id: route
    type: branch
    config:
      conditions:
        - {expression: "message.text == 'order'", next: answer}
      default: other
  - id: answer
    type: reply
    config: {message: "Hello {{customer}}, your order {{ vars.order_id }} is on its way"}
  - id: other
    type: reply
    config: {message: "Sorry?"}
triggers:
  - {type: message, target: route}
`

// BenchmarkStep measures one event through the engine, state decode and encode included.
func BenchmarkStep(b *testing.B) {
	f, ds := ParseFlow("bench.yaml", []byte(benchFlow))
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	e, ds := New(Config{Flows: []*Flow{f}, Settings: DefaultSettings()})
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	st := &State{Vars: map[string]any{"customer": "Ann", "order_id": "A-1042"}, LastMessageTime: 1750000000}
	enc, err := st.Encode()
	if err != nil {
		b.Fatal(err)
	}
	conv := Conversation{Tenant: "acme", Team: "support", Channel: msg.WhatsApp, Account: "106540352242922", User: "16505551234"}
	now := time.Unix(1750000100, 0)
	ev := &msg.Event{Kind: msg.KindText, Channel: msg.WhatsApp, ID: "wamid.1", From: "16505551234", Text: "order", Time: now}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st, err := DecodeState(enc)
		if err != nil {
			b.Fatal(err)
		}
		res := e.Handle(ctx, conv, st, ev, now)
		if len(res.Sends) != 1 {
			b.Fatalf("sends = %d", len(res.Sends))
		}
		if _, err := st.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
