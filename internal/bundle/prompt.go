package bundle

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Prompt asks for the answers on a terminal: tenant, team, the public base URL and app
// secret the channels share, then for each channel of the build whether to enable it (the
// first by default) and its values. It returns an answers document, which Setup then validates
// exactly as it would a file. Secrets are best given as ${NAME} references: the defaults
// offered are references, and a terminal echoes what is typed.
func Prompt(in io.Reader, out io.Writer) ([]byte, error) {
	p := &prompter{in: bufio.NewReader(in), out: out}
	fmt.Fprintln(out, "gtc setup: answer the questions (Enter takes the value in brackets).")
	fmt.Fprintln(out, "For tokens and secrets, prefer a ${NAME} reference: the value is then read from the environment when the bundle is loaded.")
	doc := map[string]any{
		"tenant": p.ask("Tenant", "default"),
		"team":   p.ask("Team", "default"),
	}
	base := p.ask("Public base URL at which Meta reaches this server (https://...)", "")
	appSecret := p.ask("Meta app secret", AppSecretRef)
	for i, s := range channelSpecs() {
		if !p.yes("Enable "+s.Title+"?", i == 0) {
			continue
		}
		label := s.IDLabel
		if !strings.HasPrefix(label, s.Title) {
			label = s.Title + " " + label
		}
		sec := map[string]any{
			"enabled":         true,
			"public_base_url": base,
			s.IDKey:           p.ask(label+" ID", ""),
			s.TokenKey:        p.ask(s.Title+" access token", s.TokenRef),
			"verify_token":    p.ask(s.Title+" webhook verify token", randomVerifyToken()),
			"app_secret":      appSecret,
		}
		for _, k := range s.Optional {
			if v := p.ask(s.Title+" "+strings.ReplaceAll(k, "_", " ")+" (optional)", ""); v != "" {
				sec[k] = v
			}
		}
		doc[s.Section] = sec
	}
	if p.err != nil {
		return nil, p.err
	}
	return json.MarshalIndent(doc, "", "  ")
}

type prompter struct {
	in  *bufio.Reader
	out io.Writer
	err error
}

// ask prints the question and reads one line; an empty line takes def. After the input ends,
// every question takes its default, and the error is kept for Prompt to return if nothing
// was answered.
func (p *prompter) ask(q, def string) string {
	if def != "" {
		fmt.Fprintf(p.out, "%s [%s]: ", q, def)
	} else {
		fmt.Fprintf(p.out, "%s: ", q)
	}
	if p.err != nil {
		fmt.Fprintln(p.out)
		return def
	}
	line, err := p.in.ReadString('\n')
	if err != nil {
		if !errors.Is(err, io.EOF) || line == "" {
			p.err = fmt.Errorf("reading the answers: %w", err)
			if errors.Is(err, io.EOF) {
				p.err = errors.New("input ended before every question was answered")
			}
			fmt.Fprintln(p.out)
		}
	}
	if v := strings.TrimSpace(line); v != "" {
		return v
	}
	return def
}

func (p *prompter) yes(q string, def bool) bool {
	d := "y/N"
	if def {
		d = "Y/n"
	}
	for {
		v := strings.ToLower(p.ask(q, d))
		switch v {
		case "y", "yes":
			return true
		case "n", "no":
			return false
		case strings.ToLower(d):
			return def
		}
		if p.err != nil {
			return def
		}
		fmt.Fprintln(p.out, "Please answer y or n.")
	}
}

func randomVerifyToken() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return ""
	}
	return hex.EncodeToString(b)
}
