package engine

import (
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		25 * time.Hour: "25h", 6 * time.Minute: "6m", 90 * time.Minute: "1h30m", 10 * time.Second: "10s",
		70 * time.Second: "1m10s", time.Hour + 10*time.Second: "1h0m10s", 1500 * time.Millisecond: "1.5s",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(FormatDuration(d)); err != nil || back != d {
			t.Errorf("FormatDuration(%v) = %q does not read back: %v, %v", d, FormatDuration(d), back, err)
		}
	}
}
