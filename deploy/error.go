package deploy

import (
	"errors"
	"fmt"
)

// Code says what kind of problem an Error is; API clients see it as the
// error's "code". Only the api package maps a code to an HTTP status.
type Code string

// Error codes.
const (
	EINVALID           Code = "invalid"            // a request or a value in it is wrong
	EINVALIDCONFIG     Code = "invalid_config"     // the app configs are invalid
	ENOTFOUND          Code = "not_found"          // no such app or deployment
	ECONFLICT          Code = "conflict"           // the request does not fit what the app does now
	EDOCKERUNAVAILABLE Code = "docker_unavailable" // the Docker daemon cannot be reached
	EUNAVAILABLE       Code = "unavailable"        // the supervisor cannot take it now (an upgrade hands over): retry
	ETIMEOUT           Code = "timeout"            // the supervisor did not answer in time
	EINTERNAL          Code = "internal"           // anything else
)

// Error is a problem the supervisor reports to whoever asked: what kind
// (Code), what happened and what to do (Message), and for some codes one
// line per detail (each problem of invalid configs).
type Error struct {
	Code    Code
	Message string
	Details []string
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain: EINTERNAL
// when there is none, "" for a nil err.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) && e.Code != "" {
		return e.Code
	}
	return EINTERNAL
}

// ErrorDetails returns the details of the first *Error in err's chain.
func ErrorDetails(err error) []string {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}
