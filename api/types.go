// Package api is bluegreen's management API over HTTP (CONTRACT §5): the
// server that serves it over a Backend, the client that `bluegreen ctl`
// uses, the listener rules and the metrics. The shapes it sends are those of
// package deploy; this package alone maps an error's deploy.Code to an HTTP
// status.
package api

// SwitchRequest is the body of POST /api/apps/{name}/switch.
type SwitchRequest struct {
	Color string `json:"color"`
}

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
