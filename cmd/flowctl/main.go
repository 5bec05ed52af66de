// Command flowctl is the flow author's tool: it validates flows, replays test cases against
// them and draws them.
//
//	flowctl validate [PATH...]
//	flowctl test [--bundle DIR] [--run REGEX] [--update] [--junit FILE] [-v] [PATH...]
//	flowctl graph FLOW.yaml [--format mermaid|dot]
//	flowctl chat [--bundle DIR] [--channel NAME] [--contact ID] [--name NAME] [-v]
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}

const usage = `usage: flowctl <command> [arguments]

commands:
  validate [PATH...]     check flow files, directories of flows or a bundle (default: .)
  test [PATH...]         replay test cases against a bundle's flows
  graph FLOW.yaml        draw a flow as a mermaid or dot diagram
  chat                   talk to a bundle's flows in the terminal, as a user would
  version                print the version

Run flowctl <command> -h for a command's flags.
`

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// run is flowctl without the process around it, so that tests drive it directly. It returns
// the exit code: 0 success, 1 failure (invalid flows, failing cases), 2 usage or load errors.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "validate":
		return validate(args[1:], stdout, stderr, getenv)
	case "test":
		return test(args[1:], stdout, stderr, getenv)
	case "graph":
		return graph(args[1:], stdout, stderr)
	case "chat":
		return chat(args[1:], stdin, stdout, stderr, getenv)
	case "version":
		fmt.Fprintf(stdout, "flowctl %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "flowctl: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// parse parses flags that may stand before, between or after the positional arguments.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
