package engine

import (
	"os"
	"reflect"
	"testing"
)

// v1State is the state testdata/state/v1.bin holds: written by the release whose codec was
// version 1, with a value of every kind that version stored (a map[string]string went in as
// JSON).
func v1State() *State {
	return &State{
		Flow: "onboarding", Node: "get_email", Handoff: "support", Name: "Ann",
		Vars: map[string]any{
			"name": "Ann", "age": 42, "ratio": 0.25, "yes": true, "nothing": nil,
			"list":   []any{"a", 1, 2.5, nil, []any{true}},
			"order":  map[string]any{"id": "A-1", "items": []any{map[string]any{"sku": "tea", "qty": 2}}},
			"header": map[string]string{"k": "v"},
		},
		LastMessageTime: 1750000000, WindowClosed: true, Attempts: 2,
		Timeout: 1750000600, Active: 1750000100,
		Outbox: []Sent{{ID: "wamid.1", Flow: "onboarding", Node: "welcome", Status: "read"}, {ID: "wamid.2", Status: "sent"}},
	}
}

// v1StateNative is v1State with the variables a version 2 state keeps them as.
func v1StateNative() *State {
	st := v1State()
	st.Vars["header"] = map[string]any{"k": "v"}
	return st
}

// TestDecodeVersion1 reads a state written by the version 1 codec, as a conversation left by
// the previous release is read after an upgrade.
func TestDecodeVersion1(t *testing.T) {
	b, err := os.ReadFile("testdata/state/v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 1 {
		t.Fatalf("testdata/state/v1.bin is version %d", b[0])
	}
	got, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	want := v1StateNative() // the map[string]string was stored as JSON
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decoded:\n got %#v\nwant %#v", got, want)
	}
}
