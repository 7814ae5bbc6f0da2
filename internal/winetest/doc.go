// Package winetest holds the end-to-end test of the provider on a Windows
// runner, run under Wine (build tag "wine"; make test-wine): terraform.exe
// and the provider's .exe, both Windows binaries, push a tree named by a
// Windows path to a real sshd on this machine. Without the tag the package
// is empty, so that go test ./... neither builds Windows binaries nor needs
// Wine.
package winetest
