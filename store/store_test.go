package store

import (
	"context"
	"testing"
	"time"

	"github.com/flowgate/flowgate/engine"
	"github.com/flowgate/flowgate/pipeline"
)

func TestMemExpiry(t *testing.T) {
	now := time.Unix(1000, 0)
	m := NewMem(func() time.Time { return now })
	ctx := context.Background()
	c := engine.Conversation{Channel: "whatsapp", Account: "9", User: "1"}
	if err := m.Save(ctx, c, []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	item := pipeline.Item{Key: "k"}
	if dups, _ := m.Add(ctx, []pipeline.Item{item, item}, time.Minute); dups != 1 {
		t.Errorf("a key twice in one batch: %d dups, want 1", dups)
	}
	if dups, _ := m.Add(ctx, []pipeline.Item{item, {Key: ""}}, time.Minute); dups != 1 {
		t.Errorf("key not remembered, or an empty key dropped: %d dups", dups)
	}
	if got := m.Take(); len(got) != 2 || got[0].Key != "k" || got[1].Key != "" {
		t.Errorf("Take = %+v", got)
	}
	if got := m.Take(); len(got) != 0 {
		t.Errorf("second Take = %+v", got)
	}
	if got, _ := m.Load(ctx, c); string(got) != "x" {
		t.Errorf("Load = %q", got)
	}
	now = now.Add(2 * time.Minute)
	if dups, _ := m.Add(ctx, []pipeline.Item{item}, time.Minute); dups != 0 {
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
