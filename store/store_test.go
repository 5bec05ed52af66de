package store

import (
	"context"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
)

func TestMemExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewMem(func() time.Time { return now })
	ctx := context.Background()
	c := engine.Conversation{Channel: "whatsapp", Account: "9", User: "1"}
	if err := m.Save(ctx, c, []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if seen, _ := m.Seen(ctx, "k", time.Minute); seen {
		t.Error("new key seen")
	}
	if seen, _ := m.Seen(ctx, "k", time.Minute); !seen {
		t.Error("key not remembered")
	}
	if got, _ := m.Load(ctx, c); string(got) != "x" {
		t.Errorf("Load = %q", got)
	}
	now = now.Add(2 * time.Minute)
	if seen, _ := m.Seen(ctx, "k", time.Minute); seen {
		t.Error("expired key still seen")
	}
	now = now.Add(time.Hour)
	if got, _ := m.Load(ctx, c); got != nil {
		t.Errorf("expired state loaded: %q", got)
	}
	if cs, _ := m.Conversations(ctx); len(cs) != 0 {
		t.Errorf("expired conversation listed: %v", cs)
	}
}
