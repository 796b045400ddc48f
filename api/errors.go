package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/bluegreen/bluegreen/deploy"
)

// ErrorBody is the JSON shape of every API error.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail carries an error code and a human message.
type ErrorDetail struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []string `json:"details,omitempty"`
}

// Error is an error answer of the server with its HTTP status, code and
// message: its own refusals (a foreign Host, a body too large), and what a
// Backend returns when it picks a status itself. The Client returns a
// *ResponseError instead, which holds the *deploy.Error rebuilt from the wire.
type Error struct {
	Status  int
	Code    string
	Message string
	Details []string
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// writeError maps err to a status and writes the JSON error body.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toAPIError(err)
	if r.Context().Err() != nil {
		// The client left (e.g. Ctrl-C during ?wait=true): nobody reads the answer.
		s.log.Debug("api client gone", "method", r.Method, "path", r.URL.Path, "error", err)
		return
	}
	s.log.Warn("api error", "method", r.Method, "path", r.URL.Path, "status", e.Status, "code", e.Code, "error", err)
	writeJSON(w, e.Status, ErrorBody{Error: ErrorDetail{Code: e.Code, Message: e.Message, Details: e.Details}})
}

// toAPIError maps an error from a backend to an *Error with status and code:
// an *Error as it is, a deploy.Error's code to its status, a deadline to 504.
func toAPIError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		out := *e
		if out.Status == 0 {
			out.Status = http.StatusInternalServerError
		}
		if out.Code == "" {
			out.Code = codeFor(out.Status)
		}
		if out.Message == "" {
			out.Message = http.StatusText(out.Status)
		}
		return &out
	}
	code := deploy.ErrorCode(err)
	if code == deploy.EINTERNAL && errors.Is(err, context.DeadlineExceeded) {
		return &Error{Status: http.StatusGatewayTimeout, Code: codeFor(http.StatusGatewayTimeout), Message: err.Error()}
	}
	return &Error{Status: statusOf(code), Code: string(code), Message: err.Error(), Details: deploy.ErrorDetails(err)}
}

// statusOf is the HTTP status of an error with code: the one place where a
// kind of error becomes an HTTP status.
func statusOf(code deploy.Code) int {
	switch code {
	case deploy.EINVALID, deploy.EINVALIDCONFIG:
		return http.StatusBadRequest
	case deploy.ENOTFOUND:
		return http.StatusNotFound
	case deploy.ECONFLICT:
		return http.StatusConflict
	case deploy.EDOCKERUNAVAILABLE, deploy.EUNAVAILABLE, deploy.ETIMEOUT:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// codeFor returns the error code the API uses for an HTTP status: the
// server's own refusals, and the deploy codes for answers without a body.
func codeFor(status int) string {
	switch status {
	case http.StatusBadRequest:
		return string(deploy.EINVALID)
	case http.StatusForbidden:
		return "forbidden"
	case http.StatusNotFound:
		return string(deploy.ENOTFOUND)
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusUpgradeRequired:
		return "upgrade_required"
	case http.StatusConflict:
		return string(deploy.ECONFLICT)
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnsupportedMediaType:
		return "unsupported_media_type"
	case http.StatusServiceUnavailable:
		return string(deploy.EDOCKERUNAVAILABLE)
	case http.StatusGatewayTimeout:
		return string(deploy.ETIMEOUT)
	}
	return string(deploy.EINTERNAL)
}
