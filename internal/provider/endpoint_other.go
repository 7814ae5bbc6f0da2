//go:build !windows

package provider

// windowsPaths: local paths follow Unix rules (parseEndpointFor), where
// "\" is an ordinary character of a file name.
const windowsPaths = false
