//go:build cordon_init_image

package initimage

import _ "embed"

//go:embed cordon-init.bin
var image string
