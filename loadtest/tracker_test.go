package loadtest

import (
	"testing"
	"time"
)

// TestTrackerCounts feeds the tracker fabricated sends, acceptances and replies and checks
// what it counts as lost, duplicated, reordered, pending and stray.
func TestTrackerCounts(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type reply struct{ conv, seq int }
	cases := []struct {
		name     string
		sent     []int // messages per conversation, all sent
		rejected []reply
		replies  []reply
		want     Counts
	}{
		{"all in order", []int{3, 2}, nil,
			[]reply{{0, 1}, {1, 1}, {0, 2}, {1, 2}, {0, 3}},
			Counts{Sent: 5, Accepted: 5, Replied: 5, InWindow: 5}},
		{"one lost", []int{3}, nil,
			[]reply{{0, 1}, {0, 3}},
			Counts{Sent: 3, Accepted: 3, Replied: 2, Lost: 1, InWindow: 2}},
		{"duplicates", []int{2}, nil,
			[]reply{{0, 1}, {0, 1}, {0, 2}, {0, 2}, {0, 2}},
			Counts{Sent: 2, Accepted: 2, Replied: 2, Dup: 3, InWindow: 2}},
		{"reordered within a conversation", []int{3}, nil,
			[]reply{{0, 2}, {0, 1}, {0, 3}},
			Counts{Sent: 3, Accepted: 3, Replied: 3, Reordered: 1, InWindow: 3}},
		{"a duplicate of an earlier reply is not a reorder", []int{2}, nil,
			[]reply{{0, 1}, {0, 2}, {0, 1}},
			Counts{Sent: 2, Accepted: 2, Replied: 2, Dup: 1, InWindow: 2}},
		{"order across conversations does not matter", []int{2, 2}, nil,
			[]reply{{1, 1}, {1, 2}, {0, 1}, {0, 2}},
			Counts{Sent: 4, Accepted: 4, Replied: 4, InWindow: 4}},
		{"never accepted: pending, not lost", []int{2}, []reply{{0, 2}},
			[]reply{{0, 1}},
			Counts{Sent: 2, Accepted: 1, Replied: 1, Pending: 1, InWindow: 1}},
		{"replies to messages never sent", []int{1}, nil,
			[]reply{{0, 1}, {0, 2}, {5, 1}, {0, 0}},
			Counts{Sent: 1, Accepted: 1, Replied: 1, Stray: 3, InWindow: 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := NewTracker(len(c.sent))
			for conv, n := range c.sent {
				for seq := 1; seq <= n; seq++ {
					tr.Sent(conv, seq, t0)
					rejected := false
					for _, r := range c.rejected {
						rejected = rejected || r == reply{conv, seq}
					}
					if !rejected {
						tr.Accepted(conv, seq)
					}
				}
			}
			for i, r := range c.replies {
				tr.Reply(r.conv, r.seq, t0.Add(time.Duration(i+1)*time.Millisecond))
			}
			if got := tr.Counts(); got != c.want {
				t.Errorf("counts\n got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// TestTrackerLatencyAndWindow: the end-to-end latency runs from the intended send time to the
// first reply; replies after the window closed count, but not in the window's rate.
func TestTrackerLatencyAndWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tr := NewTracker(2)
	tr.Sent(0, 1, t0)
	tr.Sent(1, 1, t0.Add(10*time.Millisecond))
	tr.Accepted(0, 1)
	tr.Accepted(1, 1)
	tr.Reply(0, 1, t0.Add(30*time.Millisecond))
	tr.Reply(0, 1, t0.Add(90*time.Millisecond)) // a duplicate: no second latency
	tr.CloseWindow(t0.Add(40 * time.Millisecond))
	tr.Reply(1, 1, t0.Add(60*time.Millisecond))
	want := []time.Duration{30 * time.Millisecond, 50 * time.Millisecond}
	got := tr.E2E()
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("latencies %v, want %v", got, want)
	}
	if c := tr.Counts(); c.InWindow != 1 || c.Replied != 2 {
		t.Errorf("in window %d, replied %d; want 1 and 2", c.InWindow, c.Replied)
	}
	tr.Sent(1, 2, t0.Add(20*time.Millisecond))
	if n := tr.unansweredBefore(t0.Add(15 * time.Millisecond)); n != 0 {
		t.Errorf("%d unanswered before the third message, want 0", n)
	}
	if n := tr.unansweredBefore(t0.Add(time.Hour)); n != 1 {
		t.Errorf("%d unanswered in all, want 1", n)
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0, 1}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p*100, got, c.want)
		}
	}
	if percentile(nil, 0.99) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}
