package codeloop

// The C callbacks of the library. Each recovers any panic: a Go panic must
// never unwind into Rust frames. C holds only cgo.Handle values, never Go
// pointers.

/*
#include <stdint.h>
#include "codeloop.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

//export codeloopGoHost
func codeloopGoHost(userData unsafe.Pointer, id C.uint64_t, kind C.CodeloopHostKind, req *C.uint8_t, n C.size_t) {
	payload := C.GoBytes(unsafe.Pointer(req), C.int(n))
	defer func() { _ = recover() }()
	core, ok := cgo.Handle(uintptr(userData)).Value().(*agentCore)
	if !ok {
		return
	}
	// Answer on a goroutine: the handler may take long, and the library
	// waits for the answer, not for this call.
	go core.serve(uint64(id), int(kind), payload)
}

//export codeloopGoEvent
func codeloopGoEvent(userData unsafe.Pointer, event *C.uint8_t, n C.size_t) {
	data := C.GoBytes(unsafe.Pointer(event), C.int(n))
	defer func() { _ = recover() }()
	if rs, ok := cgo.Handle(uintptr(userData)).Value().(*runState); ok {
		rs.push(data)
	}
}

//export codeloopGoDone
func codeloopGoDone(userData unsafe.Pointer, code C.CodeloopCode, data *C.uint8_t, n C.size_t) {
	payload := C.GoBytes(unsafe.Pointer(data), C.int(n))
	defer func() { _ = recover() }()
	h := cgo.Handle(uintptr(userData))
	// The completion is the last call with this handle.
	defer h.Delete()
	if rs, ok := h.Value().(*runState); ok {
		rs.finish(int(code), payload)
	}
}
