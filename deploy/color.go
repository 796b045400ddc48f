// Package deploy is bluegreen's vocabulary: the words of the domain (colors,
// app and deployment statuses, health, trigger sources, event types, error
// codes) and the shapes that the supervisor, the store, the management API
// and ctl exchange (docs/deployments.md and docs/api.md, "Shapes"). Each word is defined here once.
//
// The package knows nothing of HTTP: the api package alone turns an error
// Code into an HTTP status.
package deploy

// Color names one of an app's two container slots.
type Color string

// The two colors.
const (
	Blue  Color = "blue"
	Green Color = "green"
)

// Colors are both colors, blue first.
var Colors = [...]Color{Blue, Green}

// Valid reports whether c is blue or green.
func (c Color) Valid() bool { return c == Blue || c == Green }

// Other returns the color that is not c, which is where a deployment goes
// while c is active; with no active color ("") it is blue.
func (c Color) Other() Color {
	if c == Blue {
		return Green
	}
	return Blue
}

// ParseColor reads a color a client sent; anything but blue or green is EINVALID.
func ParseColor(s string) (Color, error) {
	if c := Color(s); c.Valid() {
		return c, nil
	}
	return "", Errorf(EINVALID, "color %q is not blue or green", s)
}
