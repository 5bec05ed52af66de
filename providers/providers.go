// Package providers lists the channel providers this build serves. Each channel's own package
// is below it; package channel holds the interface they implement.
package providers

import (
	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/instagram"
	"github.com/flowgate/flowgate/providers/messenger"
	"github.com/flowgate/flowgate/providers/whatsapp"
)

// All returns the channel providers of this build, in the order gtc setup lists them. A new
// channel is one more line here.
func All() []channel.Provider {
	return []channel.Provider{
		whatsapp.Provider{},
		messenger.New(),
		instagram.New(),
	}
}

// Registry returns All indexed by name. The list is fixed at build time, so an invalid one is a
// programming error: Registry panics on it (and a test proves it does not).
func Registry() *channel.Registry {
	r, err := channel.NewRegistry(All()...)
	if err != nil {
		panic(err)
	}
	return r
}
