package channel

import (
	"fmt"
	"regexp"

	"github.com/flowgate/flowgate/engine/msg"
)

// nameRE is what a channel name must look like: it is part of URLs, file names and flows.
var nameRE = regexp.MustCompile(`^[a-z][a-z0-9]{0,31}$`)

// Registry is the set of providers one build serves, by name. It is built once, explicitly,
// and not changed after: hosts pass it where channels are needed.
type Registry struct {
	list   []Provider
	byName map[string]Provider
}

// NewRegistry indexes providers by name, keeping their order. A nil provider, a name that is
// not lowercase letters and digits, or a name used twice is an error.
func NewRegistry(providers ...Provider) (*Registry, error) {
	r := &Registry{byName: make(map[string]Provider, len(providers))}
	for i, p := range providers {
		if p == nil {
			return nil, fmt.Errorf("channel registry: provider %d is nil", i)
		}
		name := p.Name()
		if !nameRE.MatchString(name) {
			return nil, fmt.Errorf("channel registry: provider %d: name %q is not lowercase letters and digits", i, name)
		}
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("channel registry: two providers named %q", name)
		}
		r.byName[name] = p
		r.list = append(r.list, p)
	}
	return r, nil
}

// Lookup returns the provider named name, or nil.
func (r *Registry) Lookup(name string) Provider { return r.byName[name] }

// Providers returns the providers in registration order.
func (r *Registry) Providers() []Provider { return append([]Provider(nil), r.list...) }

// Names returns the providers' names in registration order.
func (r *Registry) Names() []string {
	names := make([]string, len(r.list))
	for i, p := range r.list {
		names[i] = p.Name()
	}
	return names
}

// Limits returns what each channel can carry, by name, for flow validation and the window
// policy.
func (r *Registry) Limits() map[string]msg.Limits {
	out := make(map[string]msg.Limits, len(r.list))
	for _, p := range r.list {
		out[p.Name()] = p.Limits()
	}
	return out
}
