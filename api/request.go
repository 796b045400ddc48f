package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
)

// decodeBody decodes a JSON body into v; an empty body leaves v as is.
// Unknown fields are refused so a misspelt field never passes silently.
func decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return Errorf(http.StatusBadRequest, "invalid", "read body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return Errorf(http.StatusBadRequest, "invalid", "bad JSON body: %v", err)
	}
	if dec.More() {
		return Errorf(http.StatusBadRequest, "invalid", "bad JSON body: more than one value")
	}
	return nil
}

func intQuery(r *http.Request, key string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, Errorf(http.StatusBadRequest, "invalid", "%s %q is not an integer in [%d, %d]", key, v, lo, hi)
	}
	return n, nil
}

func boolQuery(r *http.Request, key string) (bool, error) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, Errorf(http.StatusBadRequest, "invalid", "%s %q is not true or false", key, v)
	}
	return b, nil
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/json"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	buf, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		buf, _ = json.Marshal(ErrorBody{Error: ErrorDetail{Code: "internal", Message: fmt.Sprintf("encode answer: %v", err)}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(buf, '\n'))
}
