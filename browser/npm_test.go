package browser

import (
	"os"
	"path/filepath"

	g "github.com/onsi/ginkgo/v2"
)

// frontendDir is the pinned npm project of front-end wrappers, esbuild and
// @types/grecaptcha (fixtures/npm/frontend), relative to this package.
var frontendDir = filepath.Join("..", "fixtures", "npm", "frontend")

// requireFrontend returns frontendDir with its packages installed, or fails
// the spec (never skips it): `make tools` runs `npm ci` there.
func requireFrontend() string {
	g.GinkgoHelper()
	dir, err := filepath.Abs(frontendDir)
	if err != nil {
		g.Fail(err.Error())
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
		g.Fail("the pinned npm packages of " + dir + " are not installed: run make tools (it runs npm ci there)")
	}
	return dir
}
