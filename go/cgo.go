package codeloop

// The library is linked statically, so `go build` gives a self-contained
// binary. Build it first with `make go` (or `cargo build -p codeloop-ffi`)
// from the repository root; it lands in ../target/debug. To link another
// build, set CGO_LDFLAGS and build with -tags codeloop_custom_link.

/*
#cgo CFLAGS: -I${SRCDIR}/../bindings/ffi/include
#include <stdint.h>
#include <stdlib.h>
#include "codeloop.h"

// The Go functions exported in callbacks.go. Declared here, not there: a
// file with //export may not define C functions, and these trampolines
// must be C so that cgo.Handle values travel as integers.
extern void codeloopGoHost(void*, uint64_t, CodeloopHostKind, uint8_t*, size_t);
extern void codeloopGoEvent(void*, uint8_t*, size_t);
extern void codeloopGoDone(void*, CodeloopCode, uint8_t*, size_t);

static CodeloopStatus go_agent_new(const uint8_t *options, size_t len, uintptr_t handle,
                                   uint32_t mask, CodeloopAgent **out) {
	return codeloop_agent_new(options, len, (CodeloopHostCallback)codeloopGoHost,
	                          (void *)handle, mask, out);
}

static CodeloopStatus go_thread_run(const CodeloopThread *thread, const uint8_t *input,
                                    size_t len, const uint8_t *options, size_t options_len,
                                    int stream, uintptr_t handle, CodeloopRun **out) {
	return codeloop_thread_run_with(thread, input, len, options, options_len,
	                                stream ? (CodeloopEventCallback)codeloopGoEvent : NULL,
	                                (CodeloopDoneCallback)codeloopGoDone, (void *)handle, out);
}

static CodeloopStatus go_thread_compact(const CodeloopThread *thread, uintptr_t handle) {
	return codeloop_thread_compact(thread, (CodeloopDoneCallback)codeloopGoDone, (void *)handle);
}
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// bytesArg gives C a borrowed view of b for the duration of one call.
func bytesArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0])), C.size_t(len(b))
}

// statusError turns a status into an error (nil for OK) and frees its message.
func statusError(st C.CodeloopStatus) error {
	if st.code == C.CODELOOP_CODE_OK {
		return nil
	}
	msg := C.GoStringN((*C.char)(unsafe.Pointer(st.message.ptr)), C.int(st.message.len))
	C.codeloop_bytes_free(st.message)
	return newError(int(st.code), msg)
}

func cAgentNew(options []byte, handle uintptr, mask uint32) (*C.CodeloopAgent, error) {
	p, n := bytesArg(options)
	var out *C.CodeloopAgent
	err := statusError(C.go_agent_new(p, n, C.uintptr_t(handle), C.uint32_t(mask), &out))
	runtime.KeepAlive(options)
	return out, err
}

func cThreadRun(thread *C.CodeloopThread, input, options []byte, stream bool, handle uintptr) (*C.CodeloopRun, error) {
	p, n := bytesArg(input)
	op, on := bytesArg(options)
	s := C.int(0)
	if stream {
		s = 1
	}
	var out *C.CodeloopRun
	err := statusError(C.go_thread_run(thread, p, n, op, on, s, C.uintptr_t(handle), &out))
	runtime.KeepAlive(input)
	runtime.KeepAlive(options)
	return out, err
}

func cThreadCompact(thread *C.CodeloopThread, handle uintptr) error {
	return statusError(C.go_thread_compact(thread, C.uintptr_t(handle)))
}

func unsafePointer(p *C.uint8_t) unsafe.Pointer { return unsafe.Pointer(p) }
