// Quick start: an agent fixes the failing test of examples/sample-repo.
//
// Offline by default: the model's answers are replayed from the recorded
// cassette examples/demo/cassette.json, while the commands and the patch run
// for real in a scratch copy of the sample repo. With OPENAI_API_KEY set,
// the same code asks the real model.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	codeloop "github.com/codeloop-dev/codeloop/go"
)

const prompt = "The tests fail (python3 -m unittest). Find the bug, fix it, and run the tests again."

func main() {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		log.Fatal(err)
	}
	work, err := os.MkdirTemp("", "codeloop-quick-start-")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.CopyFS(work, os.DirFS(filepath.Join(root, "examples", "sample-repo"))); err != nil {
		log.Fatal(err)
	}
	fmt.Println("working in", work)

	opts := codeloop.Options{Model: "gpt-5.4", Cwd: work, Sandbox: codeloop.SandboxWorkspaceWrite}
	if os.Getenv("OPENAI_API_KEY") == "" {
		opts.Provider = "replay"
		opts.Extra = map[string]any{"cassette": filepath.Join(root, "examples", "demo", "cassette.json")}
		// Commands run unconfined in this scratch copy (the confined modes
		// fail closed where the kernel cannot enforce them).
		opts.Sandbox = codeloop.SandboxDangerFullAccess
		opts.Ephemeral = true
	}
	agent, err := codeloop.New(opts)
	if err != nil {
		log.Fatal(err)
	}
	defer agent.Close()
	thread := agent.StartThread()
	defer thread.Close()

	for ev, err := range thread.RunStreamed(context.Background(), prompt) {
		if err != nil {
			log.Fatal("the turn failed: ", err)
		}
		switch {
		case ev.Type == "item.completed" && ev.Item.Type == "command_execution":
			exit := -1
			if ev.Item.ExitCode != nil {
				exit = *ev.Item.ExitCode
			}
			fmt.Printf("$ %s  (exit %d)\n", ev.Item.Command, exit)
		case ev.Type == "item.completed" && ev.Item.Type == "file_change":
			var names []string
			for _, c := range ev.Item.Changes {
				names = append(names, filepath.Base(c.Path))
			}
			fmt.Println("patched:", strings.Join(names, ", "))
		case ev.Type == "item.completed" && ev.Item.Type == "agent_message":
			fmt.Println("\n" + ev.Item.Text)
		case ev.Type == "turn.completed":
			fmt.Printf("\ntokens: %d in, %d out\n", ev.Usage.InputTokens, ev.Usage.OutputTokens)
		}
	}

	tests := exec.Command("python3", "-m", "unittest")
	tests.Dir = work
	out, _ := tests.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	fmt.Println("the tests now:", lines[len(lines)-1])
}
