package channel_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/engine/msg"
	"github.com/flowgate/flowgate/providers/channel"
)

// named is a provider that only has a name.
type named struct {
	channel.Provider
	name string
}

func (n named) Name() string       { return n.name }
func (n named) Limits() msg.Limits { return msg.Limits{Text: len(n.name)} }

func TestRegistry(t *testing.T) {
	r, err := channel.NewRegistry(named{name: "alpha"}, named{name: "beta2"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Names(); !reflect.DeepEqual(got, []string{"alpha", "beta2"}) {
		t.Errorf("Names = %v", got)
	}
	if p := r.Lookup("beta2"); p == nil || p.Name() != "beta2" {
		t.Errorf("Lookup(beta2) = %v", p)
	}
	if p := r.Lookup("gamma"); p != nil {
		t.Errorf("Lookup(gamma) = %v", p)
	}
	if got := r.Limits(); got["alpha"].Text != 5 || got["beta2"].Text != 5 || len(got) != 2 {
		t.Errorf("Limits = %v", got)
	}
	ps := r.Providers()
	ps[0] = nil // the caller's copy
	if r.Providers()[0] == nil {
		t.Error("Providers returned the registry's own slice")
	}
}

func TestRegistryRefuses(t *testing.T) {
	for name, ps := range map[string][]channel.Provider{
		"a nil provider":      {named{name: "alpha"}, nil},
		"a duplicate name":    {named{name: "alpha"}, named{name: "alpha"}},
		"an empty name":       {named{name: ""}},
		"an uppercase name":   {named{name: "WhatsApp"}},
		"a name with a slash": {named{name: "a/b"}},
	} {
		if _, err := channel.NewRegistry(ps...); err == nil {
			t.Errorf("%s: no error", name)
		} else if !strings.HasPrefix(err.Error(), "channel registry: ") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
