// Package codeloop embeds the codeloop coding agent in a Go program through
// its C ABI (bindings/ffi): no CLI, no subprocess per turn.
//
//	agent, err := codeloop.New(codeloop.Options{Model: "gpt-5.4", Cwd: dir})
//	if err != nil { ... }
//	defer agent.Close()
//	res, err := agent.StartThread().Run(ctx, "make the failing test pass")
package codeloop

/*
#include "codeloop.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/cgo"
	"sync"
	"time"
)

// Agent is a configured agent; threads made from it share it. Safe for
// concurrent use. Close it when done (a finalizer is only a safety net).
type Agent struct {
	core *agentCore
}

// agentCore is what the host callback's cgo.Handle refers to. It never
// points back at Agent, so an unreachable Agent can still be finalized.
type agentCore struct {
	mu     sync.RWMutex
	ptr    *C.CodeloopAgent // nil once closed
	handle cgo.Handle

	tools      map[string]Tool
	canUseTool func(context.Context, ApprovalRequest) (Decision, error)
	// hooks are the hook callbacks by the id they are registered under in
	// the hooks option.
	hooks map[string]HookFunc
	// ctx is given to callbacks and cancelled by Close.
	ctx    context.Context
	cancel context.CancelFunc
}

// New makes an agent. Invalid options give an error matching ErrConfig.
func New(opts Options) (*Agent, error) {
	core := &agentCore{
		tools:      map[string]Tool{},
		canUseTool: opts.CanUseTool,
		hooks:      map[string]HookFunc{},
	}
	var mask uint32
	for _, t := range opts.Tools {
		if t.Handler == nil {
			return nil, &Error{Code: CodeConfig, Message: fmt.Sprintf("tool %q has no Handler", t.Name)}
		}
		core.tools[t.Name] = t
		mask |= 1
	}
	if opts.CanUseTool != nil {
		mask |= 1 << 1
	}
	body, err := opts.json(core.registerHooks(opts.Hooks))
	if err != nil {
		return nil, &Error{Code: CodeConfig, Message: err.Error(), cause: err}
	}
	core.ctx, core.cancel = context.WithCancel(context.Background())
	core.handle = cgo.NewHandle(core)
	ptr, err := cAgentNew(body, uintptr(core.handle), mask)
	if err != nil {
		core.handle.Delete()
		core.cancel()
		return nil, err
	}
	core.ptr = ptr
	a := &Agent{core: core}
	runtime.SetFinalizer(a, (*Agent).Close)
	return a, nil
}

// hookHandler is one entry of a matcher group in the hooks option.
type hookHandler struct {
	Type    string `json:"type"`
	Command string `json:"command,omitempty"`
	Timeout int64  `json:"timeout,omitempty"`
	ID      string `json:"id,omitempty"`
}

type hookGroup struct {
	Matcher string        `json:"matcher"`
	Hooks   []hookHandler `json:"hooks"`
}

// registerHooks gives each hook func an id and returns the hooks option
// (nil when there are none): the library runs the chains and asks for each
// callback by its id.
func (c *agentCore) registerHooks(hooks map[HookName][]HookMatcher) map[HookName][]hookGroup {
	if len(hooks) == 0 {
		return nil
	}
	out := map[HookName][]hookGroup{}
	for name, groups := range hooks {
		for gi, g := range groups {
			group := hookGroup{Matcher: g.Matcher, Hooks: []hookHandler{}}
			for _, cmd := range g.Commands {
				h := hookHandler{Type: "command", Command: cmd.Command}
				if cmd.Timeout > 0 {
					// Whole seconds, rounded up.
					h.Timeout = int64((cmd.Timeout + time.Second - 1) / time.Second)
				}
				group.Hooks = append(group.Hooks, h)
			}
			for hi, fn := range g.Hooks {
				if fn == nil {
					continue
				}
				id := fmt.Sprintf("%s/%d/%d", name, gi, hi)
				c.hooks[id] = fn
				group.Hooks = append(group.Hooks, hookHandler{Type: "callback", ID: id})
			}
			out[name] = append(out[name], group)
		}
	}
	return out
}

// Close shuts the agent's MCP servers down and frees the agent.
// Idempotent. Threads already made keep working, but their host requests
// (tools, approvals, hooks) fail from then on, and the MCP servers stop
// even if threads are alive: MCP calls in flight fail, and later runs that
// need the servers fail with an error matching ErrConfig that says the
// agent was closed. If a server is still starting, Close waits for that
// start first (up to its StartupTimeout).
func (a *Agent) Close() error {
	err := a.core.close()
	runtime.SetFinalizer(a, nil)
	return err
}

func (c *agentCore) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ptr == nil {
		return nil
	}
	// Returns once the MCP servers are shut down; the agent is freed either way.
	err := statusError(C.codeloop_agent_close(c.ptr))
	// Returns once no host callback runs or can run, so the handle may go.
	C.codeloop_agent_free(c.ptr)
	c.ptr = nil
	c.handle.Delete()
	c.cancel()
	return err
}

// StartThread starts a new, empty thread. On a closed agent the thread's
// runs fail with ErrClosed.
func (a *Agent) StartThread() *Thread {
	a.core.mu.RLock()
	defer a.core.mu.RUnlock()
	if a.core.ptr == nil {
		return &Thread{core: &threadCore{err: ErrClosed}}
	}
	var out *C.CodeloopThread
	err := statusError(C.codeloop_agent_start_thread(a.core.ptr, &out))
	if err != nil {
		return &Thread{core: &threadCore{err: err}}
	}
	return newThread(a, out)
}

// ResumeThread continues thread id from the agent's session store.
func (a *Agent) ResumeThread(id string) (*Thread, error) {
	a.core.mu.RLock()
	defer a.core.mu.RUnlock()
	if a.core.ptr == nil {
		return nil, ErrClosed
	}
	idBytes := []byte(id)
	p, n := bytesArg(idBytes)
	var out *C.CodeloopThread
	err := statusError(C.codeloop_agent_resume_thread(a.core.ptr, p, n, &out))
	runtime.KeepAlive(idBytes)
	if err != nil {
		return nil, err
	}
	return newThread(a, out), nil
}

// ConfigWarnings are the warnings of the agent's configuration (unknown
// config keys, hook events codeloop does not run, ...). Threads also
// report them as "error" events when they start.
func (a *Agent) ConfigWarnings() ([]string, error) {
	a.core.mu.RLock()
	defer a.core.mu.RUnlock()
	if a.core.ptr == nil {
		return nil, ErrClosed
	}
	var out C.CodeloopBytes
	if err := statusError(C.codeloop_agent_config_warnings(a.core.ptr, &out)); err != nil {
		return nil, err
	}
	raw := C.GoBytes(unsafePointer(out.ptr), C.int(out.len))
	C.codeloop_bytes_free(out)
	var warnings []string
	if err := json.Unmarshal(raw, &warnings); err != nil {
		return nil, &Error{Code: CodeInternal, Message: "cannot decode the warnings: " + err.Error(), cause: err}
	}
	return warnings, nil
}

// ForkThread starts a new thread from thread id's history in the agent's
// session store: all of it when atTurn is 0, else through the end of turn
// atTurn (counting from 1). The new thread has its own id and rollout file;
// the source is only read. An unknown id, a turn out of range or an
// ephemeral agent give an error matching ErrConfig.
func (a *Agent) ForkThread(id string, atTurn int) (*Thread, error) {
	if atTurn < 0 {
		return nil, &Error{Code: CodeConfig, Message: fmt.Sprintf("atTurn must not be negative, got %d", atTurn)}
	}
	a.core.mu.RLock()
	defer a.core.mu.RUnlock()
	if a.core.ptr == nil {
		return nil, ErrClosed
	}
	idBytes := []byte(id)
	p, n := bytesArg(idBytes)
	var out *C.CodeloopThread
	err := statusError(C.codeloop_agent_fork_thread(a.core.ptr, p, n, C.uint64_t(atTurn), &out))
	runtime.KeepAlive(idBytes)
	if err != nil {
		return nil, err
	}
	return newThread(a, out), nil
}

const (
	kindTool     = 1
	kindApproval = 2
	kindHook     = 3
)

// serve answers one host request; it runs on its own goroutine.
func (c *agentCore) serve(id uint64, kind int, payload []byte) {
	answer, err := c.dispatch(kind, payload)
	var body []byte
	if err == nil {
		body, err = json.Marshal(answer)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ptr == nil {
		// Closed: the library already failed the request.
		return
	}
	if err != nil {
		msg := []byte(err.Error())
		p, n := bytesArg(msg)
		// An error here means the turn stopped waiting: nothing to do.
		_ = statusError(C.codeloop_host_fail(c.ptr, C.uint64_t(id), p, n))
		runtime.KeepAlive(msg)
		return
	}
	p, n := bytesArg(body)
	_ = statusError(C.codeloop_host_reply(c.ptr, C.uint64_t(id), p, n))
	runtime.KeepAlive(body)
}

// dispatch runs the Go callback for a request; a panic becomes an error.
func (c *agentCore) dispatch(kind int, payload []byte) (answer any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r}
		}
	}()
	switch kind {
	case kindTool:
		var call struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
		}
		if err := json.Unmarshal(payload, &call); err != nil {
			return nil, err
		}
		tool, ok := c.tools[call.Name]
		if !ok {
			return map[string]string{"type": "error", "message": "no handler for tool " + call.Name}, nil
		}
		out, err := tool.Handler(c.ctx, call.Arguments)
		if err != nil {
			// The model sees a failed call and may try again.
			return map[string]string{"type": "error", "message": err.Error()}, nil
		}
		return map[string]string{"type": "output", "output": out}, nil
	case kindApproval:
		var req ApprovalRequest
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, err
		}
		if c.canUseTool == nil {
			return Deny, nil
		}
		return c.canUseTool(c.ctx, req)
	case kindHook:
		var ev struct {
			HookEvent
			CallbackID string `json:"callback_id"`
		}
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, err
		}
		fn := c.hooks[ev.CallbackID]
		if fn == nil {
			return nil, fmt.Errorf("no hook callback is registered as %q", ev.CallbackID)
		}
		return fn(c.ctx, ev.HookEvent)
	}
	return nil, fmt.Errorf("unknown host request kind %d", kind)
}
