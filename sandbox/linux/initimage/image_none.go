//go:build !cordon_init_image

package initimage

const image = ""
