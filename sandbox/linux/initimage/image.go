// Package initimage carries the executable image of the in-sandbox init
// stage (sandbox/linux/initstage), when the build embedded one: `make
// build` compiles ./cordon-init and builds cordon with the tag
// cordon_init_image. The backend runs the image from a sealed memfd, so
// every command starts through a 1.5 MB program instead of re-executing
// the whole cordon binary; a plain `go build` leaves the image out and
// cordon re-executes itself, which works the same, a few milliseconds
// slower per command.
package initimage

// Image returns the stage's executable image, or "" when the build did
// not embed one.
func Image() string { return image }
