package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	flowgate "github.com/flowgate/flowgate"
	"github.com/flowgate/flowgate/internal/scriptcmd"
)

// The scripts in testdata/script run the real gtc: testscript re-executes this test binary as
// the gtc command, which calls run with the script's arguments, stdin and environment.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"gtc": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)) },
	})
}

// The token the fake Graph API accepts, and the account it knows.
const (
	graphToken   = "EAAtest-token-0123456789"
	graphAccount = "123456789012345"
)

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// The scripts start from the answers file the README walks through.
			example, err := os.ReadFile("../../answers.example.json")
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(env.WorkDir, "answers.example.json"), example, 0o644); err != nil {
				return err
			}
			// Two fake Graph APIs: one that knows the account and the token, one that
			// refuses every token with code 190.
			ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Header.Get("Authorization") != "Bearer "+graphToken:
					graphError(w, 401, 190, "Invalid OAuth access token - Cannot parse access token")
				case r.Method != http.MethodGet || r.URL.Path != "/v21.0/"+graphAccount:
					graphError(w, 400, 100, "Unsupported get request: "+r.Method+" "+r.URL.Path)
				default:
					fmt.Fprintf(w, `{"id":%q,"display_phone_number":"+1 555-0100","verified_name":"Acme"}`, graphAccount)
				}
			}))
			refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				graphError(w, 401, 190, "Error validating access token: Session has expired")
			}))
			env.Defer(ok.Close)
			env.Defer(refuse.Close)
			env.Setenv("GRAPH_OK", ok.URL)
			env.Setenv("GRAPH_190", refuse.URL)
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"snapshot": cmdSnapshot,
			"mode":     cmdMode,
			"seeded":   cmdSeeded,
			"editflow": cmdEditFlow,
			"fillurl":  cmdFillURL,
			"replace":  scriptcmd.Replace,
		},
	})
}

func graphError(w http.ResponseWriter, status, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"OAuthException","code":%d,"fbtrace_id":"AbCdEf123"}}`, msg, code)
}

// snapshot DIR FILE writes every file and directory under DIR, with its mode, size, content
// hash and modification time, to FILE: comparing two snapshots proves a directory untouched.
// A missing DIR gives an empty snapshot.
func cmdSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: snapshot DIR FILE")
	}
	root := ts.MkAbs(args[0])
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == root {
				return nil
			}
			return err
		}
		st, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %v %d", filepath.ToSlash(rel), st.Mode(), st.ModTime().UnixNano())
		if !d.IsDir() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %d %x", len(data), sha256.Sum256(data))
		}
		lines = append(lines, line)
		return nil
	})
	ts.Check(err)
	sort.Strings(lines)
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
}

// mode PERM FILE... checks the files' permission bits, such as 0600.
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: mode PERM FILE...")
	}
	want, err := strconv.ParseUint(args[0], 8, 32)
	ts.Check(err)
	for _, f := range args[1:] {
		st, err := os.Stat(ts.MkAbs(f))
		ts.Check(err)
		got := st.Mode().Perm()
		if (got == fs.FileMode(want)) == neg {
			ts.Fatalf("%s: mode %04o, want %s%04o", f, got, map[bool]string{true: "not ", false: ""}[neg], want)
		}
	}
}

// seeded DIR checks that the bundle in DIR holds every example file of flowgate.Seed() where
// setup puts it, byte for byte: flows/*.yaml in flows/, flows/templates.yaml as templates.yaml,
// testdata/cases/** in tests/ (with the editor's schema line one directory shorter), schema/ in
// schema/. It does not depend on the examples' names.
func cmdSeeded(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: seeded DIR")
	}
	dir := ts.MkAbs(args[0])
	seed := flowgate.Seed()
	n := 0
	err := fs.WalkDir(seed, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		var dst string
		switch {
		case p == "flows/templates.yaml":
			dst = "templates.yaml"
		case strings.HasPrefix(p, "flows/"):
			dst = p
		case strings.HasPrefix(p, "testdata/cases/"):
			dst = path.Join("tests", strings.TrimPrefix(p, "testdata/cases/"))
		case strings.HasPrefix(p, "schema/"):
			dst = p
		default:
			return nil
		}
		want, _ := fs.ReadFile(seed, p)
		if strings.HasPrefix(dst, "tests/") {
			want = bytes.Replace(want, []byte("$schema=../../schema/"), []byte("$schema=../schema/"), 1)
		}
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(dst)))
		if err != nil {
			ts.Fatalf("%s: not seeded from %s: %v", dst, p, err)
		}
		if !bytes.Equal(got, want) {
			ts.Fatalf("%s differs from the example %s", dst, p)
		}
		n++
		return nil
	})
	ts.Check(err)
	if n == 0 {
		ts.Fatalf("flowgate.Seed() holds no example")
	}
	ts.Logf("%d example files seeded", n)
}

// editflow DIR appends an author's comment to the first flow of the bundle and sets $EDITED to
// its path, as an author editing a seeded flow would.
func cmdEditFlow(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: editflow DIR")
	}
	matches, err := filepath.Glob(filepath.Join(ts.MkAbs(args[0]), "flows", "*.yaml"))
	ts.Check(err)
	if len(matches) == 0 {
		ts.Fatalf("no flow in %s/flows", args[0])
	}
	sort.Strings(matches)
	f, err := os.OpenFile(matches[0], os.O_APPEND|os.O_WRONLY, 0)
	ts.Check(err)
	_, err = f.WriteString("# edited by the author\n")
	ts.Check(err)
	ts.Check(f.Close())
	ts.Setenv("EDITED", matches[0])
}

// fillurl FILE replaces @GRAPH_OK@ and @GRAPH_190@ in FILE with the fake Graph APIs' URLs.
func cmdFillURL(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: fillurl FILE")
	}
	p := ts.MkAbs(args[0])
	data, err := os.ReadFile(p)
	ts.Check(err)
	s := strings.NewReplacer("@GRAPH_OK@", ts.Getenv("GRAPH_OK"), "@GRAPH_190@", ts.Getenv("GRAPH_190")).Replace(string(data))
	ts.Check(os.WriteFile(p, []byte(s), 0o644))
}
