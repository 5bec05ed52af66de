// Command gtc is Flowgate's operator CLI: gtc setup creates or updates a bundle from an answers
// file (or interactive questions), gtc serve runs the webhook server, gtc loadtest measures a
// deployment under load, gtc version says which build this is.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/flowgate/flowgate/internal/bundle"
	"github.com/flowgate/flowgate/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

const usage = `gtc is Flowgate's operator CLI.

Usage:
  gtc setup [--answers FILE] [--tenant T] [--team T] [--dry-run] [--check] [DIR]
  gtc serve [--addr :8080] [--redis URL] [--workers N] [--record DIR] [DIR]
  gtc loadtest [--target URL] [options] | gtc loadtest soak [--duration D]
  gtc version

Run "gtc help setup", "gtc help serve" and "gtc help loadtest" (or "gtc setup -h") for the options.
`

// run is the whole command, with its environment passed in so that tests drive it in-process.
// Exit codes: 0 ok, 1 failure (such as a failed --check), 2 usage or answers errors.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "setup":
		return runSetup(args[1:], stdin, stdout, stderr, getenv)
	case "serve":
		return runServe(args[1:], stderr, getenv)
	case "loadtest":
		return runLoadtest(args[1:], stdout, stderr, getenv)
	case "version":
		fmt.Fprintln(stdout, "gtc", version.String())
		return 0
	case "help", "-h", "-help", "--help":
		if len(args) > 1 && args[0] == "help" {
			switch args[1] {
			case "setup", "serve", "loadtest":
				// A command's help, asked for, is the output: stdout, exit 0.
				return run([]string{args[1], "-h"}, stdin, stdout, stdout, getenv)
			case "version", "help":
			default:
				fmt.Fprintf(stderr, "gtc help: unknown command %q\n\n%s", args[1], usage)
				return 2
			}
		}
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "gtc: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

// isTerminal reports whether stdin is a terminal, so that setup may ask its questions: /dev/null
// and pipes are not (a character device is not enough). A reader with an IsTerminal method (as
// tests pass) answers for itself.
func isTerminal(r io.Reader) bool {
	if t, ok := r.(interface{ IsTerminal() bool }); ok {
		return t.IsTerminal()
	}
	f, ok := r.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func runSetup(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("gtc setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	answersPath := fs.String("answers", "", "the answers `file` (see answers.example.json; - for stdin); without it, on a terminal, gtc asks")
	tenant := fs.String("tenant", "", "tenant, overriding the answers")
	team := fs.String("team", "", "team, overriding the answers")
	dryRun := fs.Bool("dry-run", false, "print what would change (a diff per changed file, new files by folder) and write nothing")
	check := fs.Bool("check", false, "ask the Graph API whether each enabled channel's credentials work")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: gtc setup [--answers FILE] [--tenant T] [--team T] [--dry-run] [--check] [DIR]")
		fmt.Fprintln(stderr, "\nCreates or updates the bundle in DIR (default ./bundle) from the answers. Options:")
		fs.PrintDefaults()
	}
	// Flags may come before or after the directory.
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			return 2
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) > 1 {
		fmt.Fprintf(stderr, "gtc setup: one bundle directory, not %d (%s)\n", len(pos), strings.Join(pos, " "))
		return 2
	}
	dir := "./bundle"
	if len(pos) == 1 {
		dir = pos[0]
	}

	var answers []byte
	var err error
	switch {
	case *answersPath == "-":
		answers, err = io.ReadAll(stdin)
	case *answersPath != "":
		answers, err = os.ReadFile(*answersPath)
	case isTerminal(stdin):
		answers, err = bundle.Prompt(stdin, stdout)
	default:
		fmt.Fprintln(stderr, "gtc setup: stdin is not a terminal, so there is no one to ask: pass --answers FILE (see answers.example.json)")
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "gtc setup: %v\n", err)
		return 2
	}

	ctx := context.Background()
	rep, err := bundle.Setup(ctx, answers, dir, bundle.SetupOptions{Tenant: *tenant, Team: *team, DryRun: *dryRun})
	var ae *bundle.AnswersError
	if errors.As(err, &ae) {
		name := *answersPath
		if name == "" || name == "-" {
			name = "the answers"
		}
		fmt.Fprintf(stderr, "gtc setup: %s: %d problem(s); the bundle was not touched:\n", name, len(ae.Problems))
		for _, p := range ae.Problems {
			fmt.Fprintf(stderr, "  %s\n", p)
		}
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "gtc setup: %v\n", err)
		return 1
	}
	printReport(stdout, rep, getenv)

	if *check {
		hc := &http.Client{Timeout: 20 * time.Second}
		results := bundle.Check(ctx, hc, rep.Answers, dir, getenv)
		if len(results) == 0 {
			fmt.Fprintln(stdout, "\ncheck: no channel is enabled, nothing to check")
		}
		failed := 0
		for _, r := range results {
			if r.Err != nil {
				failed++
				fmt.Fprintf(stdout, "\ncheck FAILED: %s\n", r)
			} else {
				fmt.Fprintf(stdout, "\ncheck ok: %s\n", r)
			}
		}
		if failed > 0 {
			fmt.Fprintf(stderr, "gtc setup: --check: %d of %d channel(s) failed\n", failed, len(results))
			return 1
		}
	}
	return 0
}

func printReport(w io.Writer, rep *bundle.SetupReport, getenv func(string) string) {
	if rep.DryRun {
		fmt.Fprintf(w, "gtc setup: dry run for %s: nothing is written\n", rep.Dir)
	} else {
		fmt.Fprintf(w, "gtc setup: bundle %s\n", rep.Dir)
	}
	counts := map[bundle.Action]int{}
	folders := createdFolders(rep.Changes)
	for _, c := range rep.Changes {
		counts[c.Action]++
		switch c.Action {
		case bundle.Unchanged:
			continue
		case bundle.Keep:
			fmt.Fprintf(w, "  keep    %s (%s)\n", c.Path, c.Note)
		case bundle.Create:
			if g := folders[path.Dir(c.Path)]; g != nil && !strings.HasSuffix(c.Path, "/") {
				if !g.shown {
					g.shown = true
					note := fmt.Sprintf("%d files", g.n)
					if m := modeNote(g.mode); m != "" {
						note += ", " + m
					}
					fmt.Fprintf(w, "  create  %s\n", withNote(path.Dir(c.Path)+"/", note))
				}
				continue
			}
			fmt.Fprintf(w, "  create  %s\n", withNote(c.Path, modeNote(c.Mode)))
		default:
			fmt.Fprintf(w, "  %-7s %s\n", c.Action, withNote(c.Path, modeNote(c.Mode)))
		}
		if c.Diff != "" {
			fmt.Fprint(w, indent(c.Diff, "    "))
		}
	}
	if !rep.Changed() {
		fmt.Fprintln(w, "no changes")
	} else {
		verb := ""
		if rep.DryRun {
			verb = "would be "
		}
		fmt.Fprintf(w, "%d file(s) %screated, %d %supdated, %d %schmodded, %d unchanged, %d kept\n",
			counts[bundle.Create], verb, counts[bundle.Update], verb, counts[bundle.Chmod], verb, counts[bundle.Unchanged], counts[bundle.Keep])
	}

	if len(rep.Channels) == 0 {
		fmt.Fprintln(w, "\nNo channel is enabled in the answers.")
	}
	for _, c := range rep.Channels {
		fmt.Fprintf(w, "\n%s (tenant %s, team %s): in the Meta app dashboard, Webhooks:\n", c.Name, c.Tenant, c.Team)
		fmt.Fprintf(w, "  callback URL:   %s\n", resolveShown(c.CallbackURL, getenv))
		fmt.Fprintf(w, "  verify token:   %s\n", resolveShown(c.VerifyToken, getenv))
		fmt.Fprintf(w, "  webhook fields: %s\n", strings.Join(c.Fields, ", "))
		if c.AppSecretDefaulted {
			name := bundle.RefName(bundle.AppSecretRef)
			fmt.Fprintf(w, "  app secret:     not in the answers, so the bundle refers to %s: gtc serve needs %s set to the Meta app's secret (App settings > Basic) to verify webhooks\n",
				bundle.AppSecretRef, name)
		}
	}
	if len(rep.Refs) > 0 {
		var unset []string
		for _, n := range rep.Refs {
			if getenv(n) == "" {
				unset = append(unset, n)
			}
		}
		fmt.Fprintf(w, "\nThe bundle reads %s from the environment when it is loaded", strings.Join(rep.Refs, ", "))
		if len(unset) > 0 {
			fmt.Fprintf(w, "; not set here: %s", strings.Join(unset, ", "))
		}
		fmt.Fprintln(w, ".")
	}
}

// listUpTo is how many new files of one folder setup's report names one by one; beyond, it
// counts them.
const listUpTo = 3

// folder is the files setup creates in one folder, reported as one line.
type folder struct {
	n     int
	mode  fs.FileMode // their mode when they all have the same, else 0
	shown bool
}

// createdFolders groups the files to create by folder, for a short report: a new bundle has
// dozens of seeded flows and cases. Files at the top of the bundle, and those of a folder with
// at most listUpTo new files (such as the provider files), are reported one by one.
func createdFolders(changes []bundle.Change) map[string]*folder {
	groups := map[string]*folder{}
	for _, c := range changes {
		dir := path.Dir(c.Path)
		if c.Action != bundle.Create || strings.HasSuffix(c.Path, "/") || dir == "." {
			continue
		}
		g := groups[dir]
		if g == nil {
			g = &folder{mode: c.Mode}
			groups[dir] = g
		}
		g.n++
		if g.mode != c.Mode {
			g.mode = 0
		}
	}
	for dir, g := range groups {
		if g.n <= listUpTo {
			delete(groups, dir)
		}
	}
	return groups
}

// modeNote is "mode 0600" for a file only its owner may read, else "".
func modeNote(mode fs.FileMode) string {
	if mode == 0 || mode&0o077 != 0 {
		return ""
	}
	return fmt.Sprintf("mode %04o", mode)
}

// withNote is s followed by note in parentheses, or s alone when note is "".
func withNote(s, note string) string {
	if note == "" {
		return s
	}
	return s + " (" + note + ")"
}

// resolveShown shows a value for the operator to paste: a ${NAME} reference (whole, or at the
// start of a callback URL) is replaced by the environment's value when it is set.
func resolveShown(s string, getenv func(string) string) string {
	if !strings.HasPrefix(s, "${") {
		return s
	}
	end := strings.Index(s, "}")
	if end < 0 {
		return s
	}
	name := bundle.RefName(s[:end+1])
	if v := getenv(name); name != "" && v != "" {
		return v + s[end+1:]
	}
	return s + " (" + name + " is not set here: use its value)"
}

func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, l := range lines {
		if l != "" {
			b.WriteString(prefix + l)
		}
	}
	return b.String()
}
