package store_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/flowgate/flowgate/internal/redistest"
	"github.com/flowgate/flowgate/store"
	"github.com/flowgate/flowgate/store/storetest"
)

var _ store.Store = (*store.Redis)(nil)

// TestConformanceRedis runs the suite against a real Redis, each subtest under its own prefix.
func TestConformanceRedis(t *testing.T) {
	for _, shards := range []int{1, 4} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) store.Store {
				c, prefix := redistest.Client(t)
				return store.NewRedis(c, store.Options{Prefix: prefix, Shards: shards})
			})
		})
	}
}

// TestConformanceCluster runs the suite against a Redis Cluster of three masters, with the
// default 16 shards spread over them.
func TestConformanceCluster(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		c, prefix := redistest.ClusterClient(t)
		return store.NewRedis(c, store.Options{Prefix: prefix})
	})
}

// TestConformanceEmbedded runs the suite against the embedded store as gtc serve uses it, on
// the real clock.
func TestConformanceEmbedded(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return embedded(t, nil) })
}

// TestConformanceEmbeddedClock checks that the embedded store's key expiry follows its clock.
func TestConformanceEmbeddedClock(t *testing.T) {
	storetest.RunClock(t, embedded)
}

func embedded(t *testing.T, now func() time.Time) store.Store {
	t.Helper()
	s, closeStore, err := store.NewEmbedded(store.EmbeddedOptions{Now: now})
	if err != nil {
		t.Fatalf("NewEmbedded: %v", err)
	}
	t.Cleanup(func() {
		if err := closeStore(); err != nil {
			t.Errorf("closing the embedded store: %v", err)
		}
	})
	return s
}
