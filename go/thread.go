package codeloop

/*
#include "codeloop.h"
*/
import "C"

import (
	"context"
	"encoding/json"
	"iter"
	"reflect"
	"runtime"
	"runtime/cgo"
	"sync"
)

// Thread is one conversation. Runs on one thread are sequential (a second
// concurrent run fails with ErrBusy); different threads run in parallel.
// Close it when done (a finalizer is only a safety net).
type Thread struct {
	core *threadCore
	// agent keeps the agent (and its host callbacks) alive while the thread is.
	agent *Agent
}

type threadCore struct {
	mu  sync.RWMutex
	ptr *C.CodeloopThread // nil once closed
	id  string
	err error // set when the thread could not be made
}

func newThread(a *Agent, ptr *C.CodeloopThread) *Thread {
	core := &threadCore{ptr: ptr}
	var id C.CodeloopBytes
	if err := statusError(C.codeloop_thread_id(ptr, &id)); err == nil {
		core.id = C.GoStringN((*C.char)(unsafePointer(id.ptr)), C.int(id.len))
		C.codeloop_bytes_free(id)
	}
	t := &Thread{core: core, agent: a}
	runtime.SetFinalizer(t, (*Thread).Close)
	return t
}

// ID is the thread's id, to resume it by later.
func (t *Thread) ID() string { return t.core.id }

// Close frees the thread. Idempotent. A run in progress goes on to its end.
func (t *Thread) Close() error {
	t.core.mu.Lock()
	defer t.core.mu.Unlock()
	if t.core.ptr != nil {
		C.codeloop_thread_free(t.core.ptr)
		t.core.ptr = nil
		if t.core.err == nil {
			t.core.err = ErrClosed
		}
	}
	runtime.SetFinalizer(t, nil)
	return nil
}

// Interrupt interrupts the running turn, if any; its run returns an error
// matching ErrInterrupted.
func (t *Thread) Interrupt() {
	t.core.mu.RLock()
	defer t.core.mu.RUnlock()
	if t.core.ptr != nil {
		C.codeloop_thread_interrupt(t.core.ptr)
	}
}

// runState is what one run's cgo.Handle refers to: events queued by the
// library's threads (never blocking them) and the outcome.
type runState struct {
	mu     sync.Mutex
	queue  [][]byte
	notify chan struct{} // one pending wake-up at most
	done   chan struct{} // closed by finish
	code   int
	data   []byte
}

func (r *runState) push(event []byte) {
	r.mu.Lock()
	r.queue = append(r.queue, event)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

func (r *runState) take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := r.queue
	r.queue = nil
	return q
}

func (r *runState) finish(code int, data []byte) {
	r.mu.Lock()
	r.code, r.data = code, data
	r.mu.Unlock()
	close(r.done)
}

// start begins a turn; the returned cancel function interrupts it and
// release frees the run handle.
func (t *Thread) start(input string, opts []RunOptions, stream bool) (*runState, func(), func(), error) {
	body, err := json.Marshal(input)
	if err != nil {
		return nil, nil, nil, err
	}
	var options []byte
	if len(opts) > 0 {
		if options, err = json.Marshal(RunOptions{}.merge(opts)); err != nil {
			return nil, nil, nil, &Error{Code: CodeConfig, Message: err.Error(), cause: err}
		}
	}
	rs := &runState{notify: make(chan struct{}, 1), done: make(chan struct{})}
	h := cgo.NewHandle(rs)
	t.core.mu.RLock()
	if t.core.ptr == nil {
		err := t.core.err
		t.core.mu.RUnlock()
		h.Delete()
		if err == nil {
			err = ErrClosed
		}
		return nil, nil, nil, err
	}
	run, err := cThreadRun(t.core.ptr, body, options, stream, uintptr(h))
	t.core.mu.RUnlock()
	runtime.KeepAlive(t)
	if err != nil {
		// The library calls nothing when it refuses a run.
		h.Delete()
		return nil, nil, nil, err
	}
	var once sync.Once
	cancel := func() { C.codeloop_run_cancel(run) }
	release := func() { once.Do(func() { C.codeloop_run_free(run) }) }
	return rs, cancel, release, nil
}

// failure is a finished run's (or compaction's) error, nil on success;
// cause is the context's error when the context interrupted it.
func (r *runState) failure(cause error) (*Error, []byte) {
	r.mu.Lock()
	code, data := r.code, r.data
	r.mu.Unlock()
	if code == 0 {
		return nil, data
	}
	err := completionError(code, data)
	if err.Code == CodeInterrupted && cause != nil {
		err.cause = cause
	}
	return err, nil
}

// outcome reads a finished run's result or error.
func (r *runState) outcome(cause error) (*Result, error) {
	failed, data := r.failure(cause)
	if failed != nil {
		return nil, failed
	}
	var res Result
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, &Error{Code: CodeInternal, Message: "cannot decode the run result: " + err.Error(), cause: err}
	}
	if string(res.Output) == "null" {
		res.Output = nil
	}
	return &res, nil
}

// Run runs one turn to its end; opts (at most one is needed; later ones'
// non-zero fields win) set budgets or an output schema for this run only.
// Cancelling ctx interrupts the turn: the error then matches both
// ErrInterrupted and ctx's error.
func (t *Thread) Run(ctx context.Context, input string, opts ...RunOptions) (*Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rs, cancel, release, err := t.start(input, opts, false)
	if err != nil {
		return nil, err
	}
	defer release()
	var cause error
	select {
	case <-rs.done:
	case <-ctx.Done():
		cancel()
		<-rs.done
		cause = ctx.Err()
	}
	return rs.outcome(cause)
}

// RunTyped runs one turn whose final answer must be JSON matching the
// schema SchemaFor derives from T, and decodes it into a T. An answer that
// does not match fails with ErrOutputInvalid (Error.Errors says why).
// An OutputSchema in opts replaces the derived one.
func RunTyped[T any](ctx context.Context, t *Thread, input string, opts ...RunOptions) (T, *Result, error) {
	var out T
	opts = append([]RunOptions{{OutputSchema: SchemaFor[T]()}}, opts...)
	res, err := t.Run(ctx, input, opts...)
	if err != nil {
		return out, nil, err
	}
	if err := res.Decode(&out); err != nil {
		return out, res, &Error{Code: CodeOutputInvalid, Message: "cannot decode the output: " + err.Error(), Errors: []string{err.Error()}, cause: err}
	}
	return out, res, nil
}

// SchemaFor is the JSON Schema of T as RunTyped derives it, for
// Options.OutputSchema or RunOptions.OutputSchema: a struct's exported
// fields by their json names, described by `desc:"..."` tags, all
// required; the optional ones (omitempty or a pointer) may be null, as
// strict structured outputs want.
func SchemaFor[T any]() json.RawMessage {
	var zero T
	schema, err := json.Marshal(schemaOf(reflect.TypeOf(zero), true))
	if err != nil {
		// schemaOf builds maps of strings, bools and slices only.
		panic(err)
	}
	return schema
}

// Steer adds input to the running turn: the model gets it with the turn's
// next request. With no turn running it fails with ErrNoActiveTurn (the
// input is dropped, never kept for a later run).
func (t *Thread) Steer(input string) error {
	body, err := json.Marshal(input)
	if err != nil {
		return err
	}
	t.core.mu.RLock()
	defer t.core.mu.RUnlock()
	if t.core.ptr == nil {
		if t.core.err != nil {
			return t.core.err
		}
		return ErrClosed
	}
	p, n := bytesArg(body)
	err = statusError(C.codeloop_thread_steer(t.core.ptr, p, n))
	runtime.KeepAlive(body)
	return err
}

// Compact compacts the thread's history now: the model summarizes the
// conversation, which goes on from the summary and the recent user
// messages. It fails with ErrBusy while a turn runs. Cancelling ctx
// interrupts it (the error then matches ErrInterrupted and ctx's error);
// the history is then left as it was.
func (t *Thread) Compact(ctx context.Context) (*Compaction, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rs := &runState{done: make(chan struct{})}
	h := cgo.NewHandle(rs)
	t.core.mu.RLock()
	if t.core.ptr == nil {
		err := t.core.err
		t.core.mu.RUnlock()
		h.Delete()
		if err == nil {
			err = ErrClosed
		}
		return nil, err
	}
	err := cThreadCompact(t.core.ptr, uintptr(h))
	t.core.mu.RUnlock()
	runtime.KeepAlive(t)
	if err != nil {
		h.Delete()
		return nil, err
	}
	var cause error
	select {
	case <-rs.done:
	case <-ctx.Done():
		t.Interrupt()
		<-rs.done
		cause = ctx.Err()
	}
	failed, data := rs.failure(cause)
	if failed != nil {
		return nil, failed
	}
	var c Compaction
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, &Error{Code: CodeInternal, Message: "cannot decode the compaction: " + err.Error(), cause: err}
	}
	return &c, nil
}

// RunStreamed runs one turn and yields its events as they come; a failed
// turn ends with its error (after the turn.failed event). Cancelling ctx or
// breaking out of the loop interrupts the turn. opts as for Run.
func (t *Thread) RunStreamed(ctx context.Context, input string, opts ...RunOptions) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		if err := ctx.Err(); err != nil {
			yield(Event{}, err)
			return
		}
		rs, cancel, release, err := t.start(input, opts, true)
		if err != nil {
			yield(Event{}, err)
			return
		}
		defer release()
		var cause error
		ctxDone := ctx.Done()
		finished := false
		for {
			for _, raw := range rs.take() {
				var ev Event
				if err := json.Unmarshal(raw, &ev); err != nil {
					ev = Event{Type: "unknown"}
				}
				ev.Raw = raw
				if !yield(ev, nil) {
					// The caller stopped listening: stop the turn and wait for
					// its end, so nothing of it outlives the loop.
					cancel()
					<-rs.done
					return
				}
			}
			if finished {
				break
			}
			select {
			case <-rs.notify:
			case <-rs.done:
				// Every event came before the completion: one more drain.
				finished = true
			case <-ctxDone:
				cancel()
				cause = ctx.Err()
				ctxDone = nil
			}
		}
		if _, err := rs.outcome(cause); err != nil {
			yield(Event{}, err)
		}
	}
}
