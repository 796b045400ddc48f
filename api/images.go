package api

import (
	"net/http"

	"github.com/bluegreen/bluegreen/deploy"
)

// handleImages answers GET /api/apps/{name}/images: the app's images that
// bluegreen keeps, newest first (docs/api.md, "Images").
func (s *server) handleImages(w http.ResponseWriter, r *http.Request) {
	images, err := s.b.Images(r.Context(), r.PathValue("name"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if images == nil {
		images = []deploy.Image{}
	}
	writeJSON(w, http.StatusOK, images)
}
