package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"check_status", "get_name", "max_attempts", "button", "id", "end"}
	for _, tc := range []struct{ word, want string }{
		{"chek_status", "check_status"}, // a letter left out
		{"max_attempt", "max_attempts"},
		{"buton", "button"},
		{"idd", "id"},
		{"get_nmae", "get_name"}, // two letters swapped: two edits, allowed in a long word
		{"ned", ""},              // two edits in a short word is a different word
		{"goodbye", ""},
		{"button", ""}, // the word itself is no suggestion
	} {
		if got := Closest(tc.word, known); got != tc.want {
			t.Errorf("Closest(%q) = %q, want %q", tc.word, got, tc.want)
		}
	}
	if got, want := DidYouMean("chek_status", known), `; did you mean "check_status"?`; got != want {
		t.Errorf("DidYouMean = %q, want %q", got, want)
	}
}
