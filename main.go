// Command terraform-provider-rsync is the Terraform provider for rsync: it
// pushes local directory trees to remote hosts over SSH, speaking the rsync
// protocol itself.
package main

import (
	"context"
	"flag"
	"log"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/rsyncprovider/terraform-provider-rsync/internal/provider"
)

// version is set at build time: go build -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	var debug bool
	flag.BoolVar(&debug, "debug", false, "run the provider with support for debuggers like delve")
	flag.Parse()
	if !debug {
		// With -debug the provider's stderr is the user's console.
		provider.QuietUnlessLogged()
	}

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address: "registry.terraform.io/rsyncprovider/rsync",
		Debug:   debug,
	})
	if err != nil {
		log.Fatal(err)
	}
}
