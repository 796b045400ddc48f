package deploy

import "time"

// Image is one of an app's images that bluegreen keeps (GET
// /api/apps/{name}/images): an image its deployments used that is still
// present in Docker.
type Image struct {
	Image            string    `json:"image"`              // the reference the deployments used
	ID               string    `json:"id"`                 // Docker's image ID, "sha256:..."
	SizeBytes        int64     `json:"size_bytes"`         // as Docker reports it
	CreatedAt        time.Time `json:"created_at"`         // when the image was built
	InUse            bool      `json:"in_use"`             // a container (of any app) uses it
	LastDeploymentID int64     `json:"last_deployment_id"` // the app's newest deployment of it
}
