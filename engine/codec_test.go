package engine

import (
	"bytes"
	"reflect"
	"testing"
)

// fullState sets every field, with vars of every kind the codec stores.
func fullState() *State {
	return &State{
		Flow: "onboarding", Node: "get_email", Handoff: "support", Name: "Ann",
		Vars: map[string]any{
			"name": "Ann", "empty": "", "age": 42, "neg": -7, "big": int64(1) << 40, "ratio": 0.25,
			"yes": true, "no": false, "nothing": nil,
			"list":   []any{"a", 1, 2.5, nil, []any{true}},
			"order":  map[string]any{"id": "A-1", "items": []any{map[string]any{"sku": "tea", "qty": 2}}},
			"emoji":  "Olá 👋",
			"header": map[string]string{"k": "v"}, // not a codec type: stored as JSON
		},
		LastMessageTime: 1750000000, WindowClosed: true, OptedOut: true, Attempts: 2,
		Timeout: 1750000600, Active: 1750000100,
		Outbox: []Sent{{ID: "wamid.1", Flow: "onboarding", Node: "welcome", Status: "read"}, {ID: "wamid.2", Status: "sent"}},
	}
}

func TestStateRoundTrip(t *testing.T) {
	st := fullState()
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	want := fullState()
	want.Vars["big"] = 1 << 40                     // integers decode as int
	want.Vars["header"] = map[string]any{"k": "v"} // through JSON
	if !reflect.DeepEqual(got, want) {
		t.Errorf("round trip:\n got %#v\nwant %#v", got, want)
	}
	again, err := got.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := want.Encode(); !bytes.Equal(again, b2) {
		t.Error("equal states encode differently")
	}
}

func TestDecodeStateEmpty(t *testing.T) {
	st, err := DecodeState(nil)
	if err != nil || !reflect.DeepEqual(st, &State{}) {
		t.Errorf("DecodeState(nil) = %#v, %v; want a new conversation", st, err)
	}
	b, err := (&State{}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	if st, err := DecodeState(b); err != nil || !reflect.DeepEqual(st, &State{}) {
		t.Errorf("empty state round trip = %#v, %v", st, err)
	}
}

func TestDecodeStateTruncated(t *testing.T) {
	b, err := fullState().Encode()
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < len(b); n++ {
		if st, err := DecodeState(b[:n]); err == nil {
			t.Fatalf("DecodeState of the first %d of %d bytes = %+v, want an error", n, len(b), st)
		}
	}
}

func TestDecodeStateVersion(t *testing.T) {
	b, _ := (&State{Flow: "f"}).Encode()
	b[0] = stateVersion + 1
	if _, err := DecodeState(b); err == nil {
		t.Error("unknown version decoded")
	}
}

func TestEncodeStateUnencodable(t *testing.T) {
	st := &State{Vars: map[string]any{"f": func() {}}}
	if _, err := st.Encode(); err == nil {
		t.Error("a func var encoded")
	}
}

// TestIdleStateSize: an idle conversation's state stays under 1 KB, with
// a few variables and a full outbox.
func TestIdleStateSize(t *testing.T) {
	st := &State{
		Vars: map[string]any{
			"name": "Ann Smith", "email": "ann.smith@example.com", "order_id": "A-104277",
			"greeting": "Welcome, Ann Smith", "onboarded_at": 1750000000,
			"order": map[string]any{"status": 200, "body": map[string]any{"state": "shipped", "eta": "2025-06-20"}},
		},
		LastMessageTime: 1750000000, Active: 1750000100,
	}
	for i := 0; i < maxOutbox+3; i++ {
		// A real wamid is about 60 characters.
		st.RecordSent("wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI5QTNDQTVCM0I0Q0Q1RkU"+string(rune('A'+i)), Send{Flow: "handle_button", Node: "show_status"})
	}
	if len(st.Outbox) != maxOutbox || st.Outbox[0].ID[len(st.Outbox[0].ID)-1] != 'D' {
		t.Errorf("outbox holds %d starting at %s, want the last %d", len(st.Outbox), st.Outbox[0].ID, maxOutbox)
	}
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) >= 1024 {
		t.Errorf("idle state is %d bytes, want under 1 KB", len(b))
	}
	t.Logf("idle state: %d bytes", len(b))
}
