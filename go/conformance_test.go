package codeloop_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	codeloop "github.com/codeloop-dev/codeloop/go"
)

// The shared apply_patch scenarios (shared/conformance beside the
// repository, or $CODELOOP_SHARED_DIR/conformance), run through the agent:
// the mock model sends each patch as an apply_patch custom tool call.
// codeloop applies patches atomically, so 015_… expects its input tree.
func conformanceDir(t *testing.T) string {
	candidates := []string{filepath.Join("..", "..", "shared", "conformance", "apply_patch")}
	if d := os.Getenv("CODELOOP_SHARED_DIR"); d != "" {
		candidates = append([]string{filepath.Join(d, "conformance", "apply_patch")}, candidates...)
	}
	for _, c := range candidates {
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
	}
	// A missing suite is a failure, never a skip.
	t.Fatalf("the apply_patch conformance suite is missing (looked in %v); set CODELOOP_SHARED_DIR", candidates)
	return ""
}

// tree reads a directory: relative path -> contents ("<dir>" for directories).
func tree(t *testing.T, root string) map[string]string {
	out := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && path == root {
				return filepath.SkipDir
			}
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel == "." {
			return nil
		}
		if d.IsDir() {
			out[rel] = "<dir>"
			return nil
		}
		b, err := os.ReadFile(path)
		out[rel] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func copyTree(t *testing.T, from, to string) {
	for rel, body := range tree(t, from) {
		target := filepath.Join(to, rel)
		if body == "<dir>" {
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			t.Fatal(err)
		}
		// Fresh, writable copies: the suite's own files may be read-only.
		if err := os.WriteFile(target, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func expectsError(name string) bool {
	for _, w := range []string{"rejects", "fails", "failure", "requires_existing"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

func TestApplyPatchConformance(t *testing.T) {
	suite := conformanceDir(t)
	entries, err := os.ReadDir(suite)
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, e := range entries {
		name := e.Name()
		patch, err := os.ReadFile(filepath.Join(suite, name, "patch.txt"))
		if err != nil {
			continue
		}
		count++
		t.Run(name, func(t *testing.T) {
			agent, dir := newAgent(t, codeloop.Options{Sandbox: codeloop.SandboxWorkspaceWrite})
			copyTree(t, filepath.Join(suite, name, "input"), dir)
			mock.push(t, callTurn(customToolCall("p1", "apply_patch", string(patch))), textTurn("patched"))
			res, err := agent.StartThread().Run(context.Background(), "apply the patch")
			if err != nil || res.FinalResponse != "patched" {
				t.Fatalf("%v %v", res, err)
			}
			want := "expected"
			if strings.HasPrefix(name, "015_") {
				want = "input"
			}
			if got, exp := tree(t, dir), tree(t, filepath.Join(suite, name, want)); !reflect.DeepEqual(got, exp) {
				t.Fatalf("tree:\n got %q\nwant %q", got, exp)
			}
			output := toolOutputs(mock.requests(t)[1])["p1"]
			if expectsError(name) == strings.HasPrefix(output, "Success.") {
				t.Fatalf("tool output %q", output)
			}
		})
	}
	if count < 20 {
		t.Fatalf("only %d scenarios", count)
	}
}
