// Package providers lists the channel providers Flowgate has, for the code that needs all of
// them at once (bundle loading, flowctl). Each channel's own package is below it.
package providers

import (
	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/whatsapp"
)

// Limits returns what each channel can carry, by channel name, for flow validation. Messenger
// and Instagram join with their providers (milestone 2).
func Limits() map[string]msg.Limits {
	return map[string]msg.Limits{
		msg.WhatsApp: whatsapp.Limits(),
	}
}
