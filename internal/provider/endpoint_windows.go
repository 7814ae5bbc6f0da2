//go:build windows

package provider

// windowsPaths: local paths follow Windows rules (parseEndpointFor).
const windowsPaths = true
