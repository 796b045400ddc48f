package config

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that it gives either
// an app or problems that all have a place in the file.
func FuzzParse(f *testing.F) {
	f.Add(appYAML("", ""))
	f.Add(appYAML("docker", "docker:\n  expose_port: 1\n  environment: {A: 1, B: [x]}\n  volumes: [a:/b:ro]\n"))
	f.Add("\ufeffname: web\n")
	f.Add("? [a]\n: b\n")
	f.Add("a: &x\n  b: *x\n")
	f.Add("name: *nothing\n")
	f.Add("name: !!binary aGVsbG8=\n")
	f.Add("ports: {proxy: 1, <<: {blue: 2}}\n")
	f.Add("\t- a\n")
	f.Fuzz(func(t *testing.T, src string) {
		app, err := Parse(strings.NewReader(src), "f.yaml")
		if err == nil {
			if app == nil || app.Name == "" || app.Image == "" || app.Docker.ExposePort == 0 {
				t.Fatalf("valid app without required fields: %+v", app)
			}
			return
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("error is not Errors: %v", err)
		}
		for _, e := range errs {
			if e.Line < 1 || e.Col < 1 || e.File != "f.yaml" || e.Msg == "" {
				t.Fatalf("problem without a place: %#v", e)
			}
		}
	})
}
