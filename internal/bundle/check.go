package bundle

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/flowgate/flowgate/providers/channel"
	"github.com/flowgate/flowgate/providers/meta"
)

// CheckResult is the outcome of asking the Graph API about one channel's account.
type CheckResult struct {
	Channel   string // the channel: whatsapp, messenger, instagram
	Tenant    string
	Team      string
	AccountID string // resolved
	What      string // "phone number", "page", "Instagram account"
	Err       error  // nil when Meta answered 200; a *meta.Error when Meta refused
}

// String says plainly whether the account answered and, if not, what Meta said and what to do.
func (r CheckResult) String() string {
	who := fmt.Sprintf("%s %s/%s: %s %s", r.Channel, r.Tenant, r.Team, r.What, r.AccountID)
	if r.Err == nil {
		return who + " answers: the credentials work"
	}
	var ge *meta.Error
	if errors.As(r.Err, &ge) {
		s := fmt.Sprintf("%s does not answer: Meta said %q (HTTP %d, code %d", who, ge.Message, ge.HTTPStatus, ge.Code)
		if ge.Subcode != 0 {
			s += fmt.Sprintf(", subcode %d", ge.Subcode)
		}
		if ge.Type != "" {
			s += ", " + ge.Type
		}
		if ge.TraceID != "" {
			s += ", fbtrace_id " + ge.TraceID
		}
		s += ")"
		if hint := checkHint(r.Channel, ge.Code); hint != "" {
			s += "; " + hint
		}
		return s
	}
	return fmt.Sprintf("%s could not be checked: %v", who, r.Err)
}

func checkHint(channel string, code int) string {
	switch code {
	case 190:
		return "the access token is invalid or expired: generate a new one (a system user token does not expire) and update the answers or the environment"
	case 100, 803:
		return "the id is wrong or the token cannot see it: check the id and that the token belongs to the same app and business"
	case 10, 200:
		if s := specFor(channel); s != nil && s.Permissions != "" {
			return "the token lacks a permission: grant " + s.Permissions + " to it"
		}
		return "the token lacks a permission: grant the channel's messaging permission to it"
	case 4, 17, 32, 613:
		return "rate limited: try again in a few minutes"
	}
	return ""
}

// Check asks each enabled channel's API, with its credentials, whether its account (phone
// number, page or Instagram account) answers (for Meta's channels GET
// {api_base_url}/{api_version}/{id}). ${NAME}
// references are resolved with getenv, then from dir/.env. It returns one result per enabled
// channel; a reference that cannot be resolved is a failed result that names it.
func Check(ctx context.Context, hc *http.Client, a *Answers, dir string, getenv func(string) string) []CheckResult {
	res := &resolver{getenv: getenv, envPath: filepath.Join(dir, EnvFile)}
	if data, err := os.ReadFile(res.envPath); err == nil {
		res.dotenv, _ = parseDotenv(data)
	}
	var out []CheckResult
	for _, c := range a.Channels {
		if !c.Enabled {
			continue
		}
		spec := specFor(c.Name)
		r := CheckResult{Channel: c.Name, Tenant: a.Tenant, Team: a.Team, AccountID: c.AccountID, What: spec.IDLabel}
		vals := map[string]string{}
		for _, kv := range [][2]string{{spec.IDKey, c.AccountID}, {spec.TokenKey, c.Token}, {"api_version", c.APIVersion}, {"api_base_url", c.APIBaseURL}} {
			v, missing := res.resolve(kv[1])
			if missing != "" && r.Err == nil {
				r.Err = fmt.Errorf("%s: %s", kv[0], res.missingMsg(missing))
			}
			vals[kv[0]] = v
		}
		if r.Err == nil {
			r.AccountID = vals[spec.IDKey]
			if msg := checkURL(vals["api_base_url"]); msg != "" {
				r.Err = fmt.Errorf("api_base_url: %s", msg)
			} else {
				r.Err = spec.provider.Check(ctx, hc, channel.Account{ID: vals[spec.IDKey], Token: vals[spec.TokenKey], APIVersion: vals["api_version"], BaseURL: vals["api_base_url"]})
			}
		}
		out = append(out, r)
	}
	return out
}
