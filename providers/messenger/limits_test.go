package messenger

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/providers/channel"
)

// TestParseEventCap: a body with up to channel.MaxEventsPerBody items is parsed; one with a
// single item more is refused with ErrTooManyEvents before any event is built.
func TestParseEventCap(t *testing.T) {
	body := func(n int) []byte {
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf(`{"sender": {"id": "%d"}, "recipient": {"id": "1"}, "timestamp": 1767603600000, "message": {"mid": "m.%d", "text": "hi"}}`, 100+i, i)
		}
		return []byte(`{"object": "page", "entry": [{"id": "1", "time": 1767603600000, "messaging": [` + strings.Join(items, ",") + `]}]}`)
	}
	evs, err := messenger().Parse(body(channel.MaxEventsPerBody))
	if err != nil || len(evs) != channel.MaxEventsPerBody {
		t.Fatalf("%d items: %d events, %v", channel.MaxEventsPerBody, len(evs), err)
	}
	evs, err = messenger().Parse(body(channel.MaxEventsPerBody + 1))
	if !errors.Is(err, channel.ErrTooManyEvents) || evs != nil {
		t.Fatalf("%d items: %d events, %v; want ErrTooManyEvents", channel.MaxEventsPerBody+1, len(evs), err)
	}
}
