package loadtest

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/flowgate/flowgate/internal/redistest"
)

func TestCommandsBetween(t *testing.T) {
	a := parseRedisInfo("# Commandstats\r\ncmdstat_evalsha:calls=10,usec=5,usec_per_call=0.5\r\ncmdstat_get:calls=3,usec=1\r\n# Memory\r\nused_memory:1000\r\n")
	b := parseRedisInfo("# Commandstats\r\ncmdstat_evalsha:calls=25,usec=9\r\ncmdstat_get:calls=3,usec=1\r\ncmdstat_blpop:calls=4,usec=1\r\ncmdstat_info:calls=9,usec=1\r\ncmdstat_client|setname:calls=2,usec=1\r\n# Memory\r\nused_memory:5000\r\nused_memory_human:4.88K\r\n")
	if a.UsedBytes != 1000 || b.UsedBytes != 5000 {
		t.Errorf("used memory %d, %d", a.UsedBytes, b.UsedBytes)
	}
	total, scripts, byName := commandsBetween(a, b)
	if byName["evalsha"] != 15 || byName["blpop"] != 4 || len(byName) != 2 {
		t.Errorf("by name: %v", byName)
	}
	if total != 19 || scripts != 15 {
		t.Errorf("commands %d (scripts %d), want 19 (15): INFO and connection setup are not the server's work", total, scripts)
	}
}

// TestRoundTripProxy: a pipeline is one round trip however many commands it carries.
func TestRoundTripProxy(t *testing.T) {
	u := redistest.URL(t)
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newRoundTripProxy(opts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	popts, _ := redis.ParseURL(p.url())
	popts.DB, popts.Password, popts.Username = opts.DB, opts.Password, opts.Username
	c := redis.NewClient(popts)
	defer c.Close()
	ctx := context.Background()
	pipeline := func() {
		pipe := c.Pipeline()
		for range 10 {
			pipe.Ping(ctx)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.Ping(ctx)
	pipeline() // the client's connection handshakes are out of the way after these
	before := p.trips.Load()
	pipeline()
	c.Ping(ctx)
	c.Ping(ctx)
	if got := p.trips.Load() - before; got != 3 {
		t.Errorf("a pipeline of 10 and two single commands: %d round trips, want 3", got)
	}
}
